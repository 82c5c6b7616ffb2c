"""Replay a scenario offline: one team's capture (``capture.pcap``) and ground truth (``truth.json``).

Benign traffic and every step are planned (:mod:`range.replay.plan`), synthesised into frames for
the team's layout, merged in time order and written as bytes. The same seed gives byte-identical
files; another team gets other addresses, names and timing jitter.
"""
from __future__ import annotations

import time
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from range.core import InputError, RangeError, TeamDir, rng
from range.replay.plan import benign_actions, step_plan
from range.scenario import Scenario
from range.scoring import StepTruth, Truth, compact_flows
from range.topology import layout
from range.traffic import PcapWriter, Synth

BENIGN_OWNER = -1

Progress = Callable[[str], None]


@dataclass
class ReplayResult:
    truth: Truth
    packets: int
    seconds: float
    pcap: Path
    truth_path: Path


def generate(scn: Scenario, seed: int, team: str, progress: Progress | None = None):
    """All records (time, frame, flow key, owner) in time order, plus the team's layout."""
    lay = layout(scn.env, team, seed)
    synth = Synth(lay, rng("synth", seed, team, scn.name))
    owners: list[tuple[int, list]] = []
    for kind, actions in benign_actions(scn, lay, seed, team):
        synth.begin(("benign", kind))
        for action in actions:
            synth.add(action)
        owners.append((BENIGN_OWNER, synth.records))
        if progress:
            progress(f"benign {kind}: {len(synth.records)} packets")
    for step in scn.steps:
        synth.begin(("step", step.id))
        for action in step_plan(scn, lay, step, seed, team).actions:
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


def _truth(scn: Scenario, seed: int, team: str, merged: list) -> Truth:
    ts = [r[0] for r in merged]
    keys = [r[3] for r in merged]
    owner = [r[4] for r in merged]
    truth = Truth(scn.name, seed, team, start=scn.start.timestamp(),
                  end=scn.start.timestamp() + scn.spec.duration, scoring=scn.spec.scoring.model_dump())
    by_step: dict[int, list[int]] = {}
    for i, o in enumerate(owner):
        if o != BENIGN_OWNER:
            by_step.setdefault(o, []).append(i)
    for step in scn.steps:
        idx = by_step[step.index]
        start, end = ts[idx[0]], ts[idx[-1]]
        lo, hi = bisect_left(ts, start), bisect_right(ts, end) - 1
        foreign = list({keys[i] for i in range(lo, hi + 1) if owner[i] != step.index})
        flows = compact_flows({keys[i] for i in idx}, foreign)
        truth.steps.append(StepTruth(step.id, step.technique.name, step.attack, step.tactic, step.spec.points,
                                     start, end, len(idx), flows, step.spec.briefing.strip()))
    return truth


def replay(scn: Scenario, out: str | Path, seed: int = 1, team: str = "blue",
           progress: Progress | None = None) -> ReplayResult:
    began = time.perf_counter()
    d = TeamDir(out)
    try:
        d.path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create the output directory: {e.strerror}", file=str(out)) from None
    merged, _ = generate(scn, seed, team, progress)
    with PcapWriter(d.capture) as w:
        w.write_all((r[0], r[2]) for r in merged)
    truth = _truth(scn, seed, team, merged)
    truth.write(d.truth)
    if progress:
        progress(f"wrote {len(merged)} packets to {d.capture}")
    return ReplayResult(truth, len(merged), time.perf_counter() - began, d.capture, d.truth)



