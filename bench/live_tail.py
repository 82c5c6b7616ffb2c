"""What an open workspace's live tail costs the server: CPU of ``cyberrange serve`` per open workspace.

Starts the real server over a fresh state directory, runs an offline session of ministry-breach for
one team (events arrive all through it), and opens 0, 1 and 4 real workspaces (Debian's Chromium
through Playwright, the page's own scripts: the stream, the grid reloaded on every new event, the
histogram and facets at most every 5 s). The server's CPU time (every process of its group, from
/proc) is read over equal windows, the phases alternating so that the scenario's busy and quiet
minutes fall on each; the cost of a workspace is (CPU with N open - CPU with none) / N. Goal: at
most 5% of one core per open workspace (issue 12).
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.mdsection import write_section  # noqa: E402

PASSWORD = "bench-live-tail-Pa55"
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) of every live process in the process group."""
    total = 0.0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # after ")": state ppid pgrp ...; utime and stime are fields 14 and 15
            total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def call(base: str, method: str, path: str, body: dict | None = None) -> dict:
    auth = "Basic " + base64.b64encode(f"instructor:{PASSWORD}".encode()).decode()
    req = urllib.request.Request(base + path, data=json.dumps(body).encode() if body is not None else None,
                                 method=method, headers={"Authorization": auth, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--window", type=float, default=20.0, help="seconds per measured phase (default 20)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of the phases 0, 1, 4 (default 3)")
    ap.add_argument("--speed", type=float, default=4.0, help="session speed (default 4: 20 min in 5)")
    ap.add_argument("--write", action="store_true", help="write the section of BENCHMARKS.md")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    state = Path(tempfile.mkdtemp(prefix="cr-live-tail-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, CYBERRANGE_STATE=str(state), CYBERRANGE_INSTRUCTOR_PASSWORD=PASSWORD)
    log = open(state / "serve.log", "w")
    server = subprocess.Popen([str(ROOT / ".venv/bin/cyberrange"), "serve", "--host", "127.0.0.1", "--port", str(port)],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/api/board", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        out = call(base, "POST", "/api/sessions", {"name": "tail", "scenario": "ministry-breach", "teams": "blue",
                                                   "speed": args.speed})
        while call(base, "GET", "/api/sessions/tail")["status"] != "ready":
            time.sleep(0.5)
        call(base, "POST", "/api/sessions/tail/start")
        time.sleep(5)
        results = {0: [], 1: [], 4: []}
        events = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"])
            ctx = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
            login = ctx.new_page()
            login.goto("/login?session=tail")
            login.get_by_test_id("team-login-team").fill("blue")
            login.get_by_test_id("team-login-password").fill(out["teams"]["blue"])
            login.get_by_test_id("team-login-submit").click()
            login.wait_for_url("**/workspace/tail/blue")
            login.close()
            for r in range(args.rounds):
                for n in (0, 1, 4):
                    pages = [ctx.new_page() for _ in range(n)]
                    for pg in pages:
                        pg.goto("/workspace/tail/blue")
                    time.sleep(2)  # the pages' first loads are not the tail
                    c0, e0, t0 = group_cpu(server.pid), call(base, "GET", "/api/sessions/tail/teams/blue")["events"], \
                        time.monotonic()
                    time.sleep(args.window)
                    c1, e1, t1 = group_cpu(server.pid), call(base, "GET", "/api/sessions/tail/teams/blue")["events"], \
                        time.monotonic()
                    results[n].append((c1 - c0) / (t1 - t0))
                    events.append(sum(e1.values()) - sum(e0.values()))
                    print(f"round {r + 1}, {n} workspace(s): server {100 * results[n][-1]:.1f}% of a core, "
                          f"{events[-1]} new events", flush=True)
                    for pg in pages:
                        pg.close()
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
    base0 = statistics.median(results[0])
    per1 = statistics.median(results[1]) - base0
    per4 = (statistics.median(results[4]) - base0) / 4
    rate = statistics.median(events) / args.window
    body = (f"Command: `.venv/bin/python bench/live_tail.py --write` ({args.rounds} rounds of {args.window:.0f} s "
            f"phases with 0, 1 and 4 open workspaces, alternating; ministry-breach offline at speed {args.speed:g}, "
            f"one team, {rate:.0f} new events/s arriving). {time.strftime('%Y-%m-%d')}, {os.cpu_count()} vCPUs.\n\n"
            "| open workspaces | server CPU (median of rounds) | per open workspace |\n| ---: | ---: | ---: |\n"
            f"| 0 (the session alone) | {100 * base0:.1f}% of a core | – |\n"
            f"| 1 | {100 * statistics.median(results[1]):.1f}% | {100 * per1:.1f}% |\n"
            f"| 4 | {100 * statistics.median(results[4]):.1f}% | {100 * per4:.1f}% |\n\n"
            f"**Per open workspace: "
            f"{100 * max(per1, per4):.1f}% of a core at most** (goal ≤ 5%). Each page follows the "
            "team's stream (one shared snapshot per change), reloads its first page when its table's count moves, "
            "and the histogram with facets at most every 5 s; a page with the pointer on the grid or an event open "
            "asks only for the count of new events.")
    print("\n" + body)
    if args.write:
        write_section(ROOT / "BENCHMARKS.md", "live_tail", "The live tail's cost per open workspace "
                      "(bench/live_tail.py)", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
