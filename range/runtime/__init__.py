"""The live range on the local Docker Engine: images built offline from Debian's packages, one
isolated network copy per team, its inventory read back from labels, the nodes' network
namespaces, service probes, and the detached processes that outlive the orchestrator.

Everything the rest of the range needs of Docker goes through this face: ``up``, ``down``,
``status``, ``reset_team``, ``container``, ``bridges``, ``layouts`` and :mod:`.procs`.
"""
from range.runtime import netns, procs
from range.runtime.engine import client, host_lock
from range.runtime.images import build as build_images
from range.runtime.images import ensure as ensure_image
from range.runtime.images import recipes, remove_unused
from range.runtime.inventory import (
           bridges,
           container,
           down,
           layouts,
           netns_exec,
           netns_path,
           status,
)
from range.runtime.lifecycle import Session, Team, dns_records, reset_team, up

__all__ = ["netns", "procs", "client", "host_lock", "build_images", "ensure_image", "recipes", "remove_unused",
           "bridges", "container", "down", "layouts", "netns_exec", "netns_path", "status", "Session", "Team",
           "dns_records", "reset_team", "up"]
