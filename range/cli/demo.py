"""The demonstration: one exercise for three teams, run end to end and shown on the scoreboard.

``cyberrange demo`` (what ``scripts/demo`` runs) creates a session of a story scenario for three
teams with different rule sets (detections/demo/README.md), live on the Docker range when an
engine is reachable (it says so), otherwise offline (it says why), starts it, and serves the web
app: the scoreboard changes as the teams detect the attack, and the after-action report is ready
when the session ends.
"""
from __future__ import annotations

import argparse
import time

from range.cli.parser import arg, command, progress
from range.core import paths

TEAMS = {
    "albania": sorted((paths.DETECTIONS / "rules").glob("*.yml")),
    "serbia": [paths.DETECTIONS / "rules" / f for f in ("net_conn_port_scan.yml", "http_sqlmap_user_agent.yml",
                                                         "dns_long_query.yml", "ssh_bruteforce.yml")],
    "kosovo": [paths.DETECTIONS / "rules" / "net_conn_port_scan.yml",
               paths.DETECTIONS / "demo" / "careless_dns_any_txt.yml",
               paths.DETECTIONS / "demo" / "careless_http_any_post.yml"],
}


def choose_mode(requested: str) -> tuple[str, str]:
    """live where a Docker Engine answers, offline elsewhere; with the reason either way."""
    from range.core import RangeError
    from range.runtime import client
    if requested == "offline":
        return "offline", "offline, as asked"
    try:
        client()
    except RangeError as e:
        if requested == "live":
            raise
        return "offline", f"offline: {e}"
    return "live", "live on the Docker range: one isolated copy of the network per team"


@command("demo", "run a demonstration exercise for three teams and show it on the scoreboard")
@arg("--scenario", default="ministry-breach", help="the scenario (default ministry-breach)")
@arg("--mode", choices=["auto", "live", "offline"], default="auto",
     help="auto: live where a Docker Engine is reachable, offline elsewhere")
@arg("--speed", type=float, default=10.0, help="offline: scenario seconds per wall second (default 10)")
@arg("--host", default="127.0.0.1")
@arg("--port", type=int, default=8000)
@arg("--no-serve", action="store_true", help="run the exercise to its end without the web app and print the ranking")
def cmd_demo(a) -> int:
    from range.results import results
    from range.scoring import ranking_table
    from range.sessions import (
        StateStore,
        create_session,
        deploy_rule,
        run_until_done,
        start,
    )
    mode, why = choose_mode(a.mode)
    print(f"cyberrange demo: {why}", flush=True)
    store = StateStore()
    name = f"demo-{time.strftime('%H%M%S')}"
    speed = 1.0 if mode == "live" else a.speed
    created = create_session(store, name, a.scenario, list(TEAMS), mode=mode, speed=speed, seed=7,
                              actor="demo", progress=progress)
    for team, files in TEAMS.items():
        for f in files:
            deploy_rule(store, name, team, f.read_text(), actor="demo")
    row = store.session(name)
    print(f"session {name}: scenario {row['scenario']} on {row['env']}, {mode}, "
          f"{row['duration'] / speed / 60:.1f} minutes of wall time", flush=True)
    for team, pw in created["teams"].items():
        print(f"  team {team:8} password {pw}   ({len(TEAMS[team])} rule files deployed)")
    start(store, name, actor="demo")
    if a.no_serve:
        run_until_done(store, name, progress=progress)
        print(ranking_table(results(store, name)))
        return 0
    print(f"scoreboard: http://{a.host}:{a.port}/board/{name}   after-action report (instructor): "
          f"http://{a.host}:{a.port}/console/{name}/report", flush=True)
    from range.cli.serve import cmd_serve
    return cmd_serve(argparse.Namespace(host=a.host, port=a.port, threads=256, max_streams=None,
                                        secure_cookies=False, reset_password=False))
