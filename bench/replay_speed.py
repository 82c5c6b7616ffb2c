"""Packets per second: plain scapy against the whole offline replay of a 200,000-packet SYN flood.

(a) scapy the usual way: one ``Ether()/IP()/TCP()`` Packet object per SYN (random source,
    port and sequence), then ``wrpcap()``;
(b) ``range.replay.replay()`` of a scenario (written to a temporary directory, on the shipped
    gov-office environment) holding one ``syn_flood`` step of ``--flood`` packets plus benign DNS,
    ICMP, ARP and NTP over ten minutes: generation of every step and benign kind, the merge by
    time, the pcap and the truth computation, i.e. all of ``cyberrange replay``.

Usage: ``.venv/bin/python bench/replay_speed.py [--scapy-packets N] [--flood N] [--repeat R]``.
Each figure is the best of ``--repeat`` runs.
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENIGN = {"dns": {"rate": 1}, "icmp": {"rate": 1}, "arp": {"rate": 1}, "ntp": {"rate": 0.5}}


def bench_scapy(n: int, tmp: Path) -> float:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap
    r = random.Random(1)
    began = time.perf_counter()
    pkts = []
    for i in range(n):
        p = (
            Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
            / IP(
                src=f"{r.randint(1, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
                dst="10.20.99.77",
                id=r.getrandbits(16),
            )
            / TCP(sport=r.randint(1024, 65535), dport=80, seq=r.getrandbits(32), flags="S", window=64)
        )
        p.time = 1_800_000_000 + i / 5000
        pkts.append(p)
    wrpcap(str(tmp / "scapy.pcap"), pkts)
    return time.perf_counter() - began


def bench_replay(flood: int, tmp: Path) -> tuple[int, float]:
    from range.replay import replay
    from range.scenario import load_scenario

    rate = 5000
    data = {
        "kind": "scenario",
        "name": "flood-bench",
        "description": "replay speed benchmark",
        "environment": str(ROOT / "environments" / "gov-office" / "environment.yaml"),
        "duration": "10m",
        "benign": BENIGN,
        "steps": [
            {
                "id": "flood",
                "technique": "syn_flood",
                "source": "attacker",
                "targets": ["web"],
                "at": 60,
                "briefing": "SYN flood",
                "params": {"packets": flood, "rate": rate},
            }
        ],
    }
    p = tmp / "flood-bench.yaml"
    p.write_text(yaml.safe_dump(data))
    scn = load_scenario(p)
    res = replay(scn, tmp / "out", seed=1, team="blue")
    return res.packets, res.seconds


def main(argv: list[str] | None = None) -> int:
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument("--scapy-packets", type=int, default=20000)
    a.add_argument("--flood", type=int, default=200000)
    a.add_argument("--repeat", type=int, default=3)
    args = a.parse_args(argv)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f} at start"
    )
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        s = min(bench_scapy(args.scapy_packets, tmp) for _ in range(args.repeat))
        scapy_pps = args.scapy_packets / s
        print(
            f"(a) scapy Packet objects + wrpcap: {args.scapy_packets:,} SYNs in {s:.2f}s = {scapy_pps:,.0f} packets/s"
        )
        runs = [bench_replay(args.flood, tmp) for _ in range(args.repeat)]
        packets, secs = min(runs, key=lambda x: x[1])
        replay_pps = packets / secs
        print(
            f"(b) cyberrange replay, {args.flood:,}-SYN flood + benign: {packets:,} packets in {secs:.2f}s "
            f"= {replay_pps:,.0f} packets/s"
        )
        print(
            f"ratio (b)/(a): {replay_pps / scapy_pps:.1f}x; requirement >= 50,000 packets/s: "
            f"{'met' if replay_pps >= 50000 else 'NOT met'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
