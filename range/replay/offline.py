"""Replay a scenario offline: one team's capture (``capture.pcap``), the host records its nodes
logged (``host.jsonl``) and ground truth (``truth.json``).

Benign traffic and every step are planned (:mod:`range.replay.plan`), synthesised into frames for
the team's layout, merged in time order and written as bytes; their host records are merged in
time order beside them. The same seed gives byte-identical files; another team gets other
addresses, names and timing jitter.
"""
from __future__ import annotations

import time
from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from range.core import InputError, RangeError, TeamDir, rng
from range.events import write_host_log
from range.replay.plan import benign_actions, step_plan
from range.scenario import Scenario
from range.scoring import StepTruth, Truth, compact_flows, compact_host, host_key
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
    host_records: int = 0
    host_log: Path | None = None


def generate(scn: Scenario, seed: int, team: str, progress: Progress | None = None):
    """All records (time, frame, flow key, owner) in time order, the team's layout, and every
    host record (table, record, owner) in time order."""
    lay = layout(scn.env, team, seed)
    synth = Synth(lay, rng("synth", seed, team, scn.name))
    owners: list[tuple[int, list]] = []
    host: list[tuple[str, dict, int]] = []
    for kind, actions, log in benign_actions(scn, lay, seed, team):
        synth.begin(("benign", kind))
        for action in actions:
            synth.add(action)
        owners.append((BENIGN_OWNER, synth.records))
        host += [(t, r, BENIGN_OWNER) for t, r in log.records]
        if progress:
            progress(f"benign {kind}: {len(synth.records)} packets" +
                     (f", {len(log.records)} host records" if log.records else ""))
    for step in scn.steps:
        synth.begin(("step", step.id))
        plan = step_plan(scn, lay, step, seed, team)
        for action in plan.actions:
            synth.add(action)
        host += [(t, r, step.index) for t, r in plan.host]
        if not synth.records:
            raise RangeError(f"{scn.path}: step {step.id!r} made no packet the sensor can see "
                             f"(sensor watches {', '.join(scn.env.spec.sensor.networks)}); "
                             f"check its source and targets")
        owners.append((step.index, synth.records))
        if progress:
            progress(f"step {step.id} ({step.technique.name}): {len(synth.records)} packets" +
                     (f", {len(plan.host)} host records" if plan.host else ""))
    merged = [(r[0], n, r[1], r[2], owner) for owner, recs in owners for n, r in enumerate(recs)]
    merged.sort(key=lambda r: r[0])  # stable: equal times keep generation order
    host.sort(key=lambda h: h[1]["ts"])
    return merged, lay, host


def _truth(scn: Scenario, seed: int, team: str, merged: list, host: list | None = None) -> Truth:
    ts = [r[0] for r in merged]
    keys = [r[3] for r in merged]
    owner = [r[4] for r in merged]
    truth = Truth(scn.name, seed, team, start=scn.start.timestamp(),
                  end=scn.start.timestamp() + scn.spec.duration, scoring=scn.spec.scoring.model_dump())
    by_step: dict[int, list[int]] = {}
    for i, o in enumerate(owner):
        if o != BENIGN_OWNER:
            by_step.setdefault(o, []).append(i)
    mine_of: dict[int, list] = defaultdict(list)  # a step's host records' keys
    at_place: dict[tuple, list] = defaultdict(list)  # (node, table) -> every record's (key, owner) there
    for t, r, o in host or []:
        k = host_key(t, r)
        at_place[(k[1], k[2])].append((k, o))
        if o != BENIGN_OWNER:
            mine_of[o].append(k)
    for step in scn.steps:
        idx = by_step[step.index]
        start, end = ts[idx[0]], ts[idx[-1]]
        lo, hi = bisect_left(ts, start), bisect_right(ts, end) - 1
        foreign = list({keys[i] for i in range(lo, hi + 1) if owner[i] != step.index})
        flows = compact_flows({keys[i] for i in idx}, foreign)
        mine = mine_of.get(step.index, [])
        places = {(k[1], k[2]) for k in mine}
        evidence = compact_host(mine, [k for p in places for k, o in at_place[p] if o != step.index])
        truth.steps.append(StepTruth(step.id, step.technique.name, step.attack, step.tactic, step.spec.points,
                                     start, end, len(idx), flows, step.spec.briefing.strip(), evidence, len(mine)))
    return truth


def replay(scn: Scenario, out: str | Path, seed: int = 1, team: str = "blue",
           progress: Progress | None = None) -> ReplayResult:
    began = time.perf_counter()
    d = TeamDir(out)
    try:
        d.path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create the output directory: {e.strerror}", file=str(out)) from None
    merged, _, host = generate(scn, seed, team, progress)
    with PcapWriter(d.capture) as w:
        w.write_all((r[0], r[2]) for r in merged)
    write_host_log(d.host_log, ((t, r) for t, r, _ in host))
    truth = _truth(scn, seed, team, merged, host)
    truth.write(d.truth)
    if progress:
        progress(f"wrote {len(merged)} packets to {d.capture}" +
                 (f", {len(host)} host records to {d.host_log}" if host else ""))
    return ReplayResult(truth, len(merged), time.perf_counter() - began, d.capture, d.truth, len(host), d.host_log)



