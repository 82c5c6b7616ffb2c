"""The live range's inventory, read from Docker labels alone: what sessions run, their health,
how to reach a node's network namespace, which bridges to capture on, and ``down``.

Nothing here depends on the process that ran ``up``: an orchestrator that restarted finds its
sessions, teams, layouts and bridges again from the labels every object carries.
"""
from __future__ import annotations

import ipaddress
import time
from concurrent.futures import ThreadPoolExecutor

from docker.errors import APIError
from docker.errors import NotFound as DockerNotFound

from range.core import RuntimeFault
from range.runtime import hostnet, netns, procs
from range.runtime.engine import (
    LABEL_BRIDGE,
    LABEL_ENV,
    LABEL_ENV_PATH,
    LABEL_NETWORK,
    LABEL_NODE,
    LABEL_SEED,
    LABEL_SESSION,
    LABEL_SUBNET,
    LABEL_TEAM,
)
from range.runtime.engine import client as docker_client
from range.runtime.probes import check
from range.topology import SERVICES, Layout, layout, load_environment


def session_objects(client, session: str | None = None):
    """(containers, networks) labelled with ``session`` (or with any session)."""
    flt = {"label": f"{LABEL_SESSION}={session}" if session else LABEL_SESSION}
    return client.containers.list(all=True, filters=flt), client.networks.list(filters=flt)


def status(session: str | None = None, *, health: bool = True, client=None) -> list[dict]:
    """Every live session (or one), from Docker labels only: teams, networks, nodes, health."""
    client = client or docker_client()
    containers, networks = session_objects(client, session)
    out: dict[str, dict] = {}
    for n in networks:
        lb = n.attrs.get("Labels") or {}
        s = out.setdefault(lb[LABEL_SESSION], _session_entry(lb))
        team = s["teams"].setdefault(lb.get(LABEL_TEAM, "?"), {"networks": {}, "nodes": {}})
        team["networks"][lb.get(LABEL_NETWORK, n.name)] = {"name": n.name, "bridge": lb.get(LABEL_BRIDGE),
                                                           "subnet": lb.get(LABEL_SUBNET)}
    for c in containers:
        lb = c.labels
        s = out.setdefault(lb[LABEL_SESSION], _session_entry(lb))
        team = s["teams"].setdefault(lb.get(LABEL_TEAM, "?"), {"networks": {}, "nodes": {}})
        nets = (c.attrs.get("NetworkSettings") or {}).get("Networks") or {}
        services = [x for x in _env_of(c).get("CR_SERVICES", "").split() if x]
        team["nodes"][lb.get(LABEL_NODE, c.name)] = {
            "container": c.name, "state": c.status, "image": (c.image.tags or [c.image.id])[0] if c.image else "?",
            "hostname": c.attrs["Config"].get("Hostname"), "services": services,
            "fqdn": f"{c.attrs['Config'].get('Hostname')}.{c.attrs['Config'].get('Domainname') or ''}".rstrip("."),
            "ips": {k: v.get("IPAddress") for k, v in nets.items()}, "pid": c.attrs["State"].get("Pid") or None}
    if health:
        _health(out, client)
    return [out[k] for k in sorted(out)]


def _session_entry(lb: dict) -> dict:
    return {"session": lb[LABEL_SESSION], "env": lb.get(LABEL_ENV), "env_path": lb.get(LABEL_ENV_PATH),
            "seed": int(lb[LABEL_SEED]) if lb.get(LABEL_SEED, "").isdigit() else None, "teams": {}}


def _env_of(c) -> dict[str, str]:
    return dict(e.split("=", 1) for e in c.attrs["Config"].get("Env") or [] if "=" in e)


def _health(sessions: dict[str, dict], client) -> None:
    jobs = []
    for s in sessions.values():
        for team in s["teams"].values():
            for node, info in team["nodes"].items():
                info["health"] = dict.fromkeys(info["services"], "unknown")
                for svc in info["services"]:
                    jobs.append((info, svc))

    def one(job):
        info, svc = job
        if info["state"] != "running" or not info["pid"]:
            info["health"][svc] = f"node {info['state']}"
            return
        ip = next(iter(info["ips"].values()), None)
        port = SERVICES[svc].port if svc in SERVICES else 0
        ctx = {"port": port, "host": info["fqdn"], "name": info["fqdn"], "expect": ip}
        try:
            info["health"][svc] = netns.call_in(info["pid"], check, svc, ip, 2.0, ctx) or "ok"
        except RuntimeFault as e:
            info["health"][svc] = str(e)

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(one, jobs))


def down(session: str, *, client=None) -> dict[str, int]:
    """Stop the session's detached processes (sensors write what they captured first), remove
    every container and network labelled with ``session``, and the host rules; safe to repeat."""
    client = client or docker_client()
    procs.stop_session(session)
    containers, networks = session_objects(client, session)
    problems: list[str] = []

    def rm(c):
        try:
            c.remove(force=True)
        except DockerNotFound:
            pass
        except APIError as e:
            problems.append(f"container {c.name}: {e.explanation or e}")

    by_team: dict[str, list] = {}
    for c in containers:  # one team's containers one after the other (see up)
        by_team.setdefault(c.labels.get(LABEL_TEAM, ""), []).append(c)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda cs: [rm(c) for c in cs], by_team.values()))
    for n in networks:
        # the engine can report a removed container's endpoint for a moment: detach it and retry
        for attempt in range(20):
            try:
                n.remove()
                break
            except DockerNotFound:
                break
            except APIError as e:
                if attempt == 19 or "active endpoints" not in str(e):
                    problems.append(f"network {n.name}: {e.explanation or e}")
                    break
                try:
                    n.reload()
                    for cid in (n.attrs.get("Containers") or {}):
                        client.api.disconnect_container_from_network(cid, n.id, force=True)
                except (APIError, DockerNotFound):
                    pass
                time.sleep(0.25)
    rules = hostnet.unseal(session)
    if problems:
        raise RuntimeFault(f"session {session}: could not remove everything ({'; '.join(problems[:5])}); "
                           f"run 'cyberrange down {session}' again")
    return {"containers": len(containers), "networks": len(networks), "rules": rules}


# ---- for the live attack runner and the sensor -----------------------------------------------

def container(session: str, team: str, node: str, *, client=None):
    client = client or docker_client()
    found = client.containers.list(all=True, filters={"label": [f"{LABEL_SESSION}={session}", f"{LABEL_TEAM}={team}",
                                                                f"{LABEL_NODE}={node}"]})
    if not found:
        raise RuntimeFault(f"session {session}: team {team} has no node {node}")
    return found[0]


def netns_path(session: str, team: str, node: str, *, client=None) -> str:
    """``/proc/<pid>/ns/net`` of a running node: ``nsenter --net=<this>`` runs a program in its network."""
    c = container(session, team, node, client=client)
    pid = c.attrs["State"].get("Pid")
    if not pid:
        raise RuntimeFault(f"session {session}: team {team} node {node} is not running ({c.status})")
    return netns.path(pid)


def netns_exec(session: str, team: str, node: str, argv: list[str], *, client=None, **kwargs):
    """Run ``argv`` (a host program, e.g. the project's Python on an attack script) inside a node's
    network namespace; keyword arguments go to :func:`subprocess.run`."""
    path = netns_path(session, team, node, client=client)
    return netns.exec_in(int(path.split("/")[2]), argv, **kwargs)


def bridges(session: str, *, client=None) -> dict[str, dict[str, str]]:
    """team -> env network -> host bridge interface (what the sensor captures on)."""
    client = client or docker_client()
    out: dict[str, dict[str, str]] = {}
    for n in session_objects(client, session)[1]:
        lb = n.attrs.get("Labels") or {}
        out.setdefault(lb.get(LABEL_TEAM, "?"), {})[lb.get(LABEL_NETWORK, n.name)] = lb.get(LABEL_BRIDGE)
    return out


def layouts(session: str, *, client=None) -> dict[str, Layout]:
    """Each team's :class:`Layout` rebuilt from the labels (after an orchestrator restart)."""
    client = client or docker_client()
    nets = session_objects(client, session)[1]
    if not nets:
        raise RuntimeFault(f"no session named {session!r} is running")
    lb0 = nets[0].attrs.get("Labels") or {}
    env = load_environment(lb0[LABEL_ENV_PATH])
    subnets: dict[str, dict[str, ipaddress.IPv4Network]] = {}
    for n in nets:
        lb = n.attrs.get("Labels") or {}
        subnets.setdefault(lb[LABEL_TEAM], {})[lb[LABEL_NETWORK]] = ipaddress.IPv4Network(lb[LABEL_SUBNET])
    return {t: layout(env, t, int(lb0[LABEL_SEED]), subnets=s) for t, s in subnets.items()}
