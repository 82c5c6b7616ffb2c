"""Replay a scenario offline: one team's capture (``capture.pcap``) and ground truth (``truth.json``).

Benign traffic and every step are generated as actions, synthesised into frames for the team's
layout, merged in time order and written as bytes. Everything random derives from (seed, team),
so the same seed gives byte-identical files and another team gets other addresses, names and
timing jitter.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from range.traffic.pcapfile import PcapWriter
from range.scenario.model import Scenario
from range.core.seeds import rng
from range.traffic.techniques import BENIGN, BenignContext, Names, StepContext
from range.topology.environment import Layout, layout
from range.traffic.actions import Synth
from range.scoring.truth import StepTruth, Truth, compact_flows, write_json, window_bounds
from range.core.errors import InputError, RangeError

BENIGN_OWNER = -1

Progress = Callable[[str], None]


@dataclass
class ReplayResult:
    truth: Truth
    packets: int
    seconds: float
    pcap: Path
    truth_path: Path


def step_context(scn: Scenario, lay: Layout, step, seed: int, team: str, t0: float) -> StepContext:
    r = rng("step", seed, team, scn.name, step.id)
    dns = next((lay.host(n) for n in scn.env.nodes_with("dns")), None)
    return StepContext(layout=lay, step_id=step.id, t0=t0, source=lay.host(step.spec.source),
                       targets=[lay.host(t) for t in step.spec.targets], params=step.params, rng=r,
                       names=Names(rng("names", seed, team, scn.name, step.id)), domain=scn.env.spec.domain,
                       dns_server=dns)


def step_start(scn: Scenario, step, seed: int, team: str) -> float:
    """Absolute start of a step: the scenario start + ``at`` + this team's jitter."""
    jitter = rng("jitter", seed, team, scn.name, step.id).uniform(0, scn.spec.jitter)
    return scn.start.timestamp() + step.spec.at + jitter


def generate(scn: Scenario, seed: int, team: str, progress: Progress | None = None):
    """All records (time, frame, flow key, owner) in time order, plus the team's layout."""
    lay = layout(scn.env, team, seed)
    synth = Synth(lay, rng("synth", seed, team, scn.name))
    t0 = scn.start.timestamp()
    owners: list[tuple[int, list]] = []
    clients = [lay.host(c) for c in scn.env.spec.benign.clients]
    for kind, params in scn.benign.items():
        synth.begin(("benign", kind))
        ctx = BenignContext(layout=lay, t0=t0, duration=scn.spec.duration, clients=clients, params=params,
                            rng=rng("benign", seed, team, scn.name, kind),
                            names=Names(rng("benign-names", seed, team, scn.name, kind)), domain=scn.env.spec.domain)
        for action in BENIGN.get(kind).generate(ctx):
            synth.add(action)
        owners.append((BENIGN_OWNER, synth.records))
        if progress:
            progress(f"benign {kind}: {len(synth.records)} packets")
    for step in scn.steps:
        synth.begin(("step", step.id))
        start = step_start(scn, step, seed, team)
        ctx = step_context(scn, lay, step, seed, team, start)
        for action in step.technique.generate(ctx):
            synth.add(action)
        if not synth.records:
            raise RangeError(f"{scn.path}: step {step.id!r} made no packet the sensor can see "
                             f"(sensor watches {', '.join(scn.env.spec.sensor.networks)}); "
                             f"check its source and targets")
        owners.append((step.index, synth.records))
        if progress:
            progress(f"step {step.id} ({step.technique.name}): {len(synth.records)} packets")
    merged = [(r[0], n, r[1], r[2], owner) for owner, recs in owners for n, r in enumerate(recs)]
    merged.sort(key=lambda r: r[0])  # stable: equal times keep generation order
    return merged, lay


def replay(scn: Scenario, out: str | Path, seed: int = 1, team: str = "blue",
           progress: Progress | None = None) -> ReplayResult:
    began = time.perf_counter()
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create the output directory: {e.strerror}", file=str(out)) from None
    merged, _ = generate(scn, seed, team, progress)
    ts = [r[0] for r in merged]
    keys = [r[3] for r in merged]
    owner = [r[4] for r in merged]
    pcap = out / "capture.pcap"
    with PcapWriter(pcap) as w:
        w.write_all((r[0], r[2]) for r in merged)
    truth = Truth(scn.name, seed, team, start=scn.start.timestamp(),
                  end=scn.start.timestamp() + scn.spec.duration, scoring=scn.spec.scoring.model_dump())
    by_step: dict[int, list[int]] = {}
    for i, o in enumerate(owner):
        if o != BENIGN_OWNER:
            by_step.setdefault(o, []).append(i)
    for step in scn.steps:
        idx = by_step[step.index]
        start, end = ts[idx[0]], ts[idx[-1]]
        lo, hi = window_bounds(ts, start, end)
        foreign = list({keys[i] for i in range(lo, hi + 1) if owner[i] != step.index})
        flows = compact_flows({keys[i] for i in idx}, foreign)
        truth.steps.append(StepTruth(step.id, step.technique.name, step.attack, step.tactic, step.spec.points,
                                     start, end, len(idx), flows, step.spec.briefing.strip()))
    truth.write(out / "truth.json")
    if progress:
        progress(f"wrote {len(merged)} packets to {pcap}")
    return ReplayResult(truth, len(merged), time.perf_counter() - began, pcap, out / "truth.json")


__all__ = ["replay", "generate", "ReplayResult", "write_json"]
