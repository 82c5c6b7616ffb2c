"""A team's plan (:mod:`range.replay.plan`) split by the node that acts each action out, and what
the team's nodes must be given before it plays (names for its resolver, logins, the intruder's
servers, sensors)."""
from __future__ import annotations

from dataclasses import dataclass

from range.live.setup import add_accounts, dns_answers, serve_dns, start_c2
from range.live.team import LiveTeam, split_by_node
from range.replay import StepPlan, benign_actions, step_plan
from range.scenario import Scenario


@dataclass
class NodePlan:
    """A team's whole plan: benign actions per node, and each step with its actions per node."""
    benign: dict[str, list]
    steps: list[tuple[StepPlan, dict[str, list]]]

    def actions(self) -> list:
        return [a for acts in self.benign.values() for a in acts] + \
            [a for _sp, per in self.steps for acts in per.values() for a in acts]

    def accounts(self) -> list:
        return [acc for sp, _per in self.steps for acc in sp.accounts]


def node_plan(scn: Scenario, lt: LiveTeam, seed: int, origin: float) -> NodePlan:
    lay = lt.layout
    default = lay.host(scn.env.spec.benign.clients[0]).name
    benign: dict[str, list] = {}
    for _kind, actions, _synthesised in benign_actions(scn, lay, seed, lt.team, origin):  # live: the nodes log
        for node, acts in split_by_node(list(actions), lay, default).items():
            benign.setdefault(node, []).extend(acts)
    steps = []
    for st in scn.steps:
        sp = step_plan(scn, lay, st, seed, lt.team, origin)
        steps.append((sp, split_by_node(sp.actions, lay, st.spec.source)))
    return NodePlan(benign, steps)


def ready_nodes(scn: Scenario, lt: LiveTeam, plan: NodePlan, bridges: dict[str, str]) -> list[str]:
    """Everything the plan needs on the team's nodes: the names its scripts resolve, the logins its
    steps use, the intruder's servers, and a sensor on every watched bridge (those already
    running are kept). Returns the sensors that had died and were started again."""
    serve_dns(lt.session, lt.team, lt.layout, dns_answers(plan.actions()))
    add_accounts(lt.session, lt.team, plan.accounts())
    start_c2(lt.session, lt.team, scn.env.spec.attacker, lt.dir.actuators)
    return lt.start_sensors(bridges)
