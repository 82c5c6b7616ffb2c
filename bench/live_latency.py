"""Live range: detection latency (packet on the wire -> alert raised) and sensor throughput.

Runs the live-check scenario (every technique of the library in five minutes) on the real Docker
range with the reference rules, its SYN flood scaled up (``--flood-packets`` at ``--flood-rate``),
then reports, from the run's own files:

  * latency per true alert: from the packet that completed the alert's evidence (the end of the
    last connection or the last event it rests on) to the raise; p50, p95, max, by rule
  * the sensor: packets dissected, records written, packets dropped (dumpcap and tshark report
    their kernel drops), against the frames the actuators sent in the flood

Usage: .venv/bin/python bench/live_latency.py [--flood-packets 60000] [--flood-rate 10000] [--keep DIR]
       .venv/bin/python bench/live_latency.py --report DIR   (the report again, from a kept run)
Needs root and the Docker Engine (it builds the images if they are missing).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from range.core import parse_iso  # noqa: E402
from range.core.paths import STATE  # noqa: E402
from range.exercise import TeamSpec, run_live  # noqa: E402
from range.scenario import load_scenario  # noqa: E402
from range.scoring import (  # noqa: E402
    Truth,  # noqa: E402
    event_in_step,
    event_key,
)


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--flood-packets", type=int, default=60000)
    ap.add_argument("--flood-rate", type=int, default=10000)
    ap.add_argument("--keep", type=Path)
    ap.add_argument("--report", type=Path, help="only report on the run kept in this folder (--keep)")
    a = ap.parse_args()
    if a.report:
        report(a.report, a.flood_rate)
        return
    d = a.keep or Path(tempfile.mkdtemp(prefix="cr-live-"))
    d.mkdir(parents=True, exist_ok=True)
    data = yaml.safe_load((ROOT / "environments/gov-office/scenarios/live-check.yaml").read_text())
    data["environment"] = str(ROOT / "environments/gov-office/environment.yaml")
    for s in data["steps"]:
        if s["technique"] == "syn_flood":
            s["params"] = {"packets": a.flood_packets, "rate": a.flood_rate}
    p = d / "bench.yaml"
    p.write_text(yaml.safe_dump(data))
    res = run_live(load_scenario(p), [TeamSpec("bench", [ROOT / "detections/rules"])], d / "run", seed=1,
                   progress=lambda m: print(m, file=sys.stderr, flush=True))
    json.dump(res, (d / "results.json").open("w"))
    report(d, a.flood_rate)


def done_at(ev: dict, ts: float, raised: float) -> float | None:
    """When an evidence event was there to be matched (None: after the raise, evidence gathered
    later). A connection's line holds its last packet (ts + duration); an open connection's later
    version may have replaced the one an alert was raised on, and then only its start (ts) is
    known to precede the raise: the latency computed from it is an upper bound."""
    end = ts + float(ev.get("duration") or 0)
    return end if end <= raised else ts if ts <= raised else None


def report(d: Path, flood_rate: int) -> None:
    res = json.loads((d / "results.json").read_text())
    team = d / "run" / "bench"
    truth = Truth.read(team / "truth.json")
    alerts = json.loads((team / "alerts.json").read_text())["alerts"]
    score = json.loads((team / "score.json").read_text())
    by_rule: dict[str, list[float]] = {}
    for al in alerts:
        raised = parse_iso(al["raised_at"])
        keys = [(event_key(ev), ev) for ev in al["events"]]
        if not any(event_in_step(k, s) for k, _ in keys for s in truth.steps):
            continue
        before = [t for k, ev in keys if (t := done_at(ev, k[0], raised)) is not None]
        if before:
            by_rule.setdefault(al["rule_title"], []).append(raised - max(before))
    every = [x for xs in by_rule.values() for x in xs]
    sent = 0
    for log in (STATE / "sessions" / res["session"] / "teams" / "bench" / "actuators").glob("flood-*.jsonl"):
        sent += sum(json.loads(line)["packets"] for line in log.read_text().splitlines())
    flood = next((s for s in truth.steps if s.technique == "syn_flood"), None)
    print(f"\nrecall {score['recall']}, precision {score['precision']}, {len(alerts)} alerts, "
          f"{len(every)} true alerts timed")
    print(f"latency over all true alerts: p50 {pct(every, 50):.2f} s, p95 {pct(every, 95):.2f} s, "
          f"max {max(every):.2f} s")
    print(f"\n{'rule':70} {'n':>3} {'p50 s':>7} {'max s':>7}")
    for rule, xs in sorted(by_rule.items(), key=lambda kv: statistics.median(kv[1])):
        print(f"{rule[:70]:70} {len(xs):3} {statistics.median(xs):7.2f} {max(xs):7.2f}")
    sen = res["sensor"]["bench"]
    print(f"\nsensor: {sen['packets']:,} packets dissected, {sen['records']:,} records, {sen['dropped']:,} dropped "
          f"(kernel drops reported by dumpcap and tshark)")
    print(f"flood: {sent:,} frames sent by the actuator at {flood_rate:,}/s; the truth's flood window holds "
          f"{flood.packets if flood else 0:,} captured packets (SYNs and the victim's answers)")


if __name__ == "__main__":
    main()
