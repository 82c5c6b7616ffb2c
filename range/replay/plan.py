"""One plan of a team's traffic, shared by the offline replay and the live range.

Everything random derives from (seed, team, scenario, purpose) here and only here: the benign
traffic of each kind, each step's start (the scenario's ``at`` plus this team's jitter), its
context (source, targets, names), its actions and the host records it writes beside them (their
own stream, purpose ``host``: they never move a packet). Offline, :mod:`range.replay.offline`
synthesises the actions into frames; live, :mod:`range.live` hands them to actuators in the
nodes' namespaces. Both read the same plan, so live and offline cannot drift apart.

``origin`` is the scenario's start in epoch seconds: the scenario file's ``start`` offline, the
wall time the session started live.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator

from range.core import rng
from range.scenario import Scenario, Step
from range.topology import Layout
from range.traffic import BENIGN, Action, BenignContext, HostLog, Names, StepContext


@dataclass
class StepPlan:
    step: Step
    t0: float  # absolute start (epoch seconds)
    actions: list[Action]
    accounts: list[tuple[str, str, str]] = field(default_factory=list)  # (node, login, password) it logs in with
    host: list[tuple[str, dict]] = field(default_factory=list)  # (table, record) its nodes log (range.traffic.hostlog)


def origin_of(scn: Scenario, origin: float | None) -> float:
    return scn.start.timestamp() if origin is None else origin


def step_start(scn: Scenario, step: Step, seed: int, team: str, origin: float | None = None) -> float:
    """Absolute start of a step: the scenario's start + ``at`` + this team's jitter."""
    jitter = rng("jitter", seed, team, scn.name, step.id).uniform(0, scn.spec.jitter)
    return origin_of(scn, origin) + step.spec.at + jitter


def step_context(scn: Scenario, lay: Layout, step: Step, seed: int, team: str, t0: float) -> StepContext:
    dns = next((lay.host(n) for n in scn.env.nodes_with("dns")), None)
    return StepContext(layout=lay, step_id=step.id, t0=t0, source=lay.host(step.spec.source),
                       targets=[lay.host(t) for t in step.spec.targets], params=step.params,
                       rng=rng("step", seed, team, scn.name, step.id),
                       names=Names(rng("names", seed, team, scn.name, step.id)), domain=scn.env.spec.domain,
                       dns_server=dns, host=HostLog(rng("host", seed, team, scn.name, step.id)))


def step_plan(scn: Scenario, lay: Layout, step: Step, seed: int, team: str, origin: float | None = None) -> StepPlan:
    """A step's start, its actions, the logins it needs on its targets and its host records."""
    t0 = step_start(scn, step, seed, team, origin)
    ctx = step_context(scn, lay, step, seed, team, t0)
    actions = list(step.technique.generate(ctx))
    return StepPlan(step, t0, actions, list(ctx.extra.get("accounts", [])), ctx.host.records)


def benign_actions(scn: Scenario, lay: Layout, seed: int, team: str,
                   origin: float | None = None) -> Iterator[tuple[str, Iterable[Action], HostLog]]:
    """Each benign kind of the scenario with its actions for the whole scenario (lazily) and the
    log its host records go to (complete once the actions have been read)."""
    clients = [lay.host(c) for c in scn.env.spec.benign.clients]
    for kind, params in scn.benign.items():
        log = HostLog(rng("benign-host", seed, team, scn.name, kind))
        ctx = BenignContext(layout=lay, t0=origin_of(scn, origin), duration=scn.spec.duration, clients=clients,
                            params=params, rng=rng("benign", seed, team, scn.name, kind),
                            names=Names(rng("benign-names", seed, team, scn.name, kind)), domain=scn.env.spec.domain,
                            host=log)
        yield kind, BENIGN.get(kind).generate(ctx), log
