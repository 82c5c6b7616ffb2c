"""One team on the live range: sensors on its bridges, actuators that act out the plan in its
nodes' network namespaces, the intruder's servers, and the ground truth of what was sent and
captured. The session layer (:mod:`range.sessions`) drives it through a live feed."""
from range.live.schedule import NodePlan, node_plan, ready_nodes
from range.live.setup import add_accounts, dns_answers, serve_dns, start_c2
from range.live.team import (
           LEAD,
           SETTLE,
           Actuation,
           LiveTeam,
           first_time,
           sensor_totals,
           split_by_node,
)
from range.live.truth import build_truth, capture_rows, detection_latency, sent_keys

__all__ = [
    "NodePlan",
    "node_plan",
    "ready_nodes",
    "add_accounts",
    "dns_answers",
    "serve_dns",
    "start_c2",
    "LEAD",
    "SETTLE",
    "Actuation",
    "LiveTeam",
    "first_time",
    "sensor_totals",
    "split_by_node",
    "build_truth",
    "capture_rows",
    "detection_latency",
    "sent_keys",
]
