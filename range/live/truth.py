"""The ground truth of a live session: each step's packets as the sensor captured them.

A step's actuators log every flow they sent (``actuators/<step>-<node>.jsonl``); its truth is the
captured packets of those flows near the times they were sent (:func:`build_truth`), flows made
as coarse as they can be without naming anything else's packets, as offline.
"""
from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from range.core import parse_iso
from range.events import HOST_TABLES, open_readonly, tshark
from range.live.team import SETTLE, LiveTeam
from range.runtime import procs
from range.scenario import Scenario
from range.scoring import StepTruth, Truth, compact_flows, compact_host, event_in_step, event_key, host_key


def sent_keys(logs: list[Path]) -> tuple[set[tuple], float, float]:
    keys, first, last = set(), float("inf"), 0.0
    for log in logs:
        if not log.exists():
            continue
        for line in log.read_text().splitlines():
            r = json.loads(line)
            if r["packets"]:
                keys.add(tuple(r["key"]))
                first, last = min(first, r["first"]), max(last, r["last"])
    return keys, first, last


def capture_rows(pcaps: list[Path], lo: float | None = None, hi: float | None = None) -> list[tuple]:
    """(time, flow key as client->server is unknown: src, dst, proto, sport, dport, eth src) of every
    packet, or of those captured between ``lo`` and ``hi`` (files written last before ``lo`` are skipped)."""
    out = []
    names = {"1": "icmp", "6": "tcp", "17": "udp"}
    window = [] if lo is None else ["-Y", f"frame.time_epoch >= {lo:.6f} && frame.time_epoch <= {hi:.6f}"]
    for p in pcaps:
        try:
            if lo is not None and p.stat().st_mtime < lo - 5:
                continue
        except OSError:
            continue
        r = subprocess.run(
            [
                tshark(),
                "-n",
                "-r",
                str(p),
                *window,
                "-T",
                "fields",
                "-E",
                "occurrence=f",
                "-e",
                "frame.time_epoch",
                "-e",
                "ip.src",
                "-e",
                "ip.dst",
                "-e",
                "ip.proto",
                "-e",
                "tcp.srcport",
                "-e",
                "tcp.dstport",
                "-e",
                "udp.srcport",
                "-e",
                "udp.dstport",
                "-e",
                "arp.src.proto_ipv4",
                "-e",
                "arp.dst.proto_ipv4",
                "-e",
                "eth.src",
            ],
            capture_output=True,
            text=True,
        )
        for line in r.stdout.splitlines():
            ts, src, dst, proto, tsp, tdp, usp, udp_, asrc, adst, esrc = (line.split("\t") + [""] * 11)[:11]
            if asrc:
                out.append((float(ts), (asrc, adst, "arp", None, None, esrc)))
            elif proto in names:
                sp, dp = (tsp or usp), (tdp or udp_)
                out.append(
                    (float(ts), (src, dst, names[proto], int(sp) if sp else None, int(dp) if dp else None, None))
                )
    out.sort(key=lambda r: r[0])
    return out


def step_truth_live(step, keys: set[tuple], first: float, last: float, rows: list[tuple]) -> StepTruth | None:
    """The step's packets in the capture: those of the flows its actuators sent, near when they sent them."""

    def norm(k):
        return k if k[2] != "icmp" else (k[0], k[1], "icmp", None, None, None)

    want = {norm(k) for k in keys}
    rev = {(k[1], k[0], k[2], k[4], k[3], k[5]) for k in want}
    mine, times = set(), []
    lo, hi = first - 0.5, last + SETTLE
    window = [r for r in rows if lo <= r[0] <= hi]
    for t, k in window:
        k = norm(k)
        if k in want or (k[2] != "arp" and k in rev):
            times.append(t)
            mine.add(k if k in want else (k[1], k[0], k[2], k[4], k[3], k[5]))
    if not times:
        return None
    start, end = min(times), max(times)
    foreign = list({norm(k) for t, k in window if start <= t <= end} - want - rev)
    flows = compact_flows(mine, foreign)
    return StepTruth(
        step.id,
        step.technique.name,
        step.attack,
        step.tactic,
        step.spec.points,
        start,
        end,
        len(times),
        flows,
        step.spec.briefing.strip(),
    )


def add_host_truth(t: StepTruth, events: Path, nodes: list[str], lo: float, hi: float, clients: set[str]) -> None:
    """The step's host evidence: what the host sensor recorded on the step's target nodes while
    its packets flowed (and SETTLE after). The nodes' processes start for no one else there (the
    live range acts out benign activity over the network only), so the window and the node tell
    a step's records apart; a benign request that made a target start a process inside the window
    would be counted as the step's. A web server serves everyone: of its access lines only the
    step's ``clients``' (the source node's addresses) are the step's."""
    if not nodes or not events.exists():
        return
    keys = []
    db = open_readonly(events)
    try:
        marks = ",".join("?" * len(nodes))
        for table in HOST_TABLES:
            try:
                rows = db.execute(f"SELECT * FROM {table} WHERE host IN ({marks}) AND ts BETWEEN ? AND ?",
                                  (*nodes, lo, hi)).fetchall()
            except Exception:  # noqa: BLE001 - a store written before the host tables
                continue
            keys += [host_key(table, dict(r)) for r in rows if table != "webserver" or r["c-ip"] in clients]
    finally:
        db.close()
    if keys:
        t.host = compact_host(keys, [])
        t.host_records = len(keys)


def build_truth(
    scn: Scenario, team: LiveTeam, seed: int, start: float, rows: list[tuple] | None = None, done: dict | None = None
) -> Truth:
    """The truth of every step launched so far. Without ``rows`` each step reads only the packets
    of its own time window from the ring; steps whose actuators have ended and whose packets are
    all in are kept in ``done`` (step id -> StepTruth) and not read again."""
    truth = Truth(
        scn.name, seed, team.team, start=start, end=start + scn.spec.duration, scoring=scn.spec.scoring.model_dump()
    )
    for st in scn.steps:
        if done is not None and st.id in done:
            truth.steps.append(done[st.id])
            continue
        logs = team.sent.get(st.id, [])
        keys, first, last = sent_keys(logs)
        if keys:
            r = rows if rows is not None else capture_rows(team.pcaps(), first - 0.5, last + SETTLE)
            t = step_truth_live(st, keys, first, last, r)
            if t is not None:
                source = team.layout.hosts.get(st.spec.source)
                add_host_truth(t, team.dir.events, st.spec.targets, first - 0.5, last + SETTLE,
                               set(source.ips.values()) if source else set())
                truth.steps.append(t)
                ended = not any(procs.find(team.session, f"act-{team.team}-{log.stem}") for log in logs)
                if done is not None and ended and time.time() > last + SETTLE:
                    done[st.id] = t
    return truth


def detection_latency(alerts: list[dict], truth: Truth) -> list[float]:
    """Per true alert: seconds from the packet that completed its evidence (the last event it
    rests on that had ended by the raise; a connection ends with its last packet) to the raise."""
    out = []
    for a in alerts:
        raised = parse_iso(a["raised_at"])
        keys = [(event_key(ev), ev) for ev in a.get("events", [])]
        if not any(event_in_step(k, s) for k, _ev in keys for s in truth.steps):
            continue
        done = [k[0] + float(ev.get("duration") or 0) for k, ev in keys]
        before = [t for t in done if t <= raised]
        if before:
            out.append(round(raised - max(before), 3))
    return out
