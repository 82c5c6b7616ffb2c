"""Ingest throughput, side by side on the same ~200k-packet capture, in one run.

  A. bare `tshark -T fields` with exactly the fields ingest asks for, output to /dev/null
  B. bare `tshark -T fields` with 14 fields (DESIGN.md's anchor)
  C. `range.events.ingest()`: tshark plus event building plus SQLite writes
  D. pyshark FileCapture (default and use_json) over the first few thousand packets

The paths take turns round by round (this VM's speed drifts over minutes); the ratio is the median
of A over C within each round.

Usage: .venv/bin/python bench/ingest_speed.py [--packets 200000] [--repeat 3] [--keep DIR]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from range.events import ingest  # noqa: E402
from range.events.tshark import command, tshark  # noqa: E402
from range.replay import replay  # noqa: E402
from range.scenario import load_scenario  # noqa: E402

FIELDS14 = ["frame.time_epoch", "ip.src", "ip.dst", "ip.proto", "tcp.srcport", "tcp.dstport", "tcp.flags",
            "udp.srcport", "udp.dstport", "dns.qry.name", "dns.flags.rcode", "http.request.method",
            "http.request.uri", "http.user_agent"]


def make_capture(d: Path, packets: int) -> Path:
    """The ddos-c2-campaign scenario with its flood scaled so the capture holds ~``packets``."""
    src = ROOT / "environments/dmz-lan/scenarios/ddos-c2-campaign.yaml"
    data = yaml.safe_load(src.read_text())
    data["environment"] = str(ROOT / "environments/dmz-lan/environment.yaml")
    for s in data["steps"]:
        if s["technique"] == "syn_flood":
            s["params"] = {"packets": max(1000, packets - 40000), "rate": 20000}
    p = d / "bench.yaml"
    p.write_text(yaml.safe_dump(data))
    res = replay(load_scenario(p), d / "cap", seed=1, team="bench")
    print(f"capture: {res.packets:,} packets ({res.pcap.stat().st_size / 1e6:.1f} MB)")
    return res.pcap


def interleaved(paths: dict, repeat: int) -> dict[str, list[float]]:
    """Each path once per round, in turn (the order rotates): this VM's speed drifts over minutes,
    so paths timed in blocks of their own would each see a different machine."""
    times: dict[str, list[float]] = {k: [] for k in paths}
    keys = list(paths)
    for r in range(repeat):
        for k in keys[r % len(keys):] + keys[:r % len(keys)]:
            t = time.perf_counter()
            paths[k]()
            times[k].append(time.perf_counter() - t)
    return times


def count_packets(pcap: Path) -> int:
    out = subprocess.run([tshark(), "-n", "-r", str(pcap), "-T", "fields", "-e", "frame.number"],
                         capture_output=True, text=True).stdout
    return len(out.splitlines())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packets", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pyshark-packets", type=int, default=3000)
    ap.add_argument("--keep", type=Path)
    a = ap.parse_args()
    d = a.keep or Path(tempfile.mkdtemp(prefix="cr-ingest-"))
    d.mkdir(parents=True, exist_ok=True)
    pcap = make_capture(d, a.packets)
    n = count_packets(pcap)
    rows = []

    def bare(cmd):
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)

    same = command(pcap)
    cmd14 = [tshark(), "-n", "-r", str(pcap), "-T", "fields"] + [x for f in FIELDS14 for x in ("-e", f)]
    paths = {"A": lambda: bare(same), "B": lambda: bare(cmd14), "C": lambda: ingest(pcap, d / "events.db")}
    times = interleaved(paths, a.repeat)
    t_a, t_b, t_c = (statistics.median(times[k]) for k in "ABC")
    rows.append(("A. tshark -T fields, ingest's %d fields" % (same.count("-e")), n / t_a, t_a))
    rows.append(("B. tshark -T fields, 14 fields", n / t_b, t_b))
    rows.append(("C. cyberrange ingest (tshark + events + SQLite)", n / t_c, t_c))
    paired = sorted(x / y for x, y in zip(times["A"], times["C"]))

    import pyshark
    for label, kw in (("default", {}), ("use_json", {"use_json": True})):
        k = a.pyshark_packets
        t = time.perf_counter()
        cap = pyshark.FileCapture(str(pcap), keep_packets=False, **kw)
        seen = 0
        for _pkt in cap:
            seen += 1
            if seen >= k:
                break
        cap.close()
        el = time.perf_counter() - t
        rows.append((f"D. pyshark FileCapture {label} (first {seen:,} packets)", seen / el, el))

    print(f"\n{'path':58} {'packets/s':>12} {'seconds':>9}")
    for name, rate, secs in rows:
        print(f"{name:58} {rate:12,.0f} {secs:9.2f}")
    print(f"\ningest / bare tshark (same fields): {statistics.median(paired):.2f}   (goal >= 0.8; median of "
          f"{len(paired)} rounds, A over C of the same round: {', '.join(f'{x:.2f}' for x in paired)})")
    print(f"ingest / pyshark default: {(n / t_c) / rows[3][1]:,.0f}x   ingest / pyshark use_json: "
          f"{(n / t_c) / rows[4][1]:,.0f}x")


if __name__ == "__main__":
    main()
