"""Helpers for tests that build a one-step scenario in a temporary directory and replay it."""
from __future__ import annotations

import io
import subprocess
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import yaml

from range.cli import main
from range.replay import replay
from range.scenario import catalog, load_scenario


def one_step(tmp: Path, technique: str, source: str, targets: list[str], params: dict | None = None,
             env: str = "gov-office", benign: dict | None = None, duration: str = "10m", at: float = 5,
             seed: int = 1, team: str = "blue", name: str = "t"):
    """Write a scenario with one step, replay it and return (result, scenario, out dir)."""
    env_path = catalog().path_of("environment", env)
    data = {"kind": "scenario", "name": name, "description": "test", "environment": str(env_path),
            "duration": duration, "benign": benign or {},
            "steps": [{"id": "s1", "technique": technique, "source": source, "targets": targets, "at": at,
                       "briefing": "test step", "params": params or {}}]}
    p = tmp / f"{name}.yaml"
    p.write_text(yaml.safe_dump(data))
    scn = load_scenario(p)
    out = tmp / f"out-{name}-{team}-{seed}"
    return replay(scn, out, seed=seed, team=team), scn, out


def packets_of_flows(pcap: Path, flows: list[dict], start: float, end: float) -> int:
    """How many packets in [start, end] real tshark places in ``flows`` (either direction)."""
    from range.scoring import flow_matches
    from tests.conftest import tshark_fields
    rows = tshark_fields(pcap, ["frame.time_epoch", "ip.src", "ip.dst", "ip.proto", "tcp.srcport", "tcp.dstport",
                                "udp.srcport", "udp.dstport", "arp.src.proto_ipv4", "arp.dst.proto_ipv4", "eth.src"],
                         extra=["-E", "occurrence=f"])
    names = {"1": "icmp", "6": "tcp", "17": "udp"}
    n = 0
    for ts, src, dst, proto, tsp, tdp, usp, udp_, asrc, adst, esrc in rows:
        t = float(ts)
        if t < start - 1e-6 or t > end + 1e-6:
            continue
        if asrc:
            src, dst, p, sp, dp, mac = asrc, adst, "arp", None, None, esrc
        else:
            p = names.get(proto)
            sp = int(tsp or usp) if (tsp or usp) else None
            dp = int(tdp or udp_) if (tdp or udp_) else None
            mac = None
        for f in flows:
            if flow_matches(f, src, dst, p, sp, dp, mac) or flow_matches(f, dst, src, p, dp, sp, mac):
                n += 1
                break
    return n


def assert_truth_exact(out: Path) -> dict:
    """Every step's window and flows name exactly its packets, as tshark reads the capture."""
    import json

    from range.core import parse_iso
    truth = json.loads((out / "truth.json").read_text())
    for s in truth["steps"]:
        got = packets_of_flows(out / "capture.pcap", s["flows"], parse_iso(s["start"]), parse_iso(s["end"]))
        assert got == s["packets"], (
            f"step {s['id']}: {got} packets in its window match its flows, truth says {s['packets']}"
        )
    return truth


def run_cli(*args) -> "subprocess.CompletedProcess":
    """``cyberrange ARGS`` in this process (the very ``main()`` the console script runs, without
    an interpreter's start-up per call): exit code, standard output and standard error."""
    out, err = io.StringIO(), io.StringIO()
    argv = [str(a) for a in args]
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse's own refusals
            code = e.code if isinstance(e.code, int) else 2
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())
