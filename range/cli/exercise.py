"""The exercise command: a whole exercise for several teams in one run, offline or live."""
from __future__ import annotations

from pathlib import Path

from range.cli.parser import arg, command, progress


@command("exercise", "run an exercise for several teams and rank them (exercise run SCENARIO ...)")
@arg("action", choices=["run"])
@arg("scenario", help="a scenario name or path")
@arg("--team", action="append", required=True, metavar="NAME=RULES",
     help="a team and its Sigma rules (file or folder; several separated by commas); repeat per team")
@arg("--out", required=True, type=Path, help="output directory")
@arg("--seed", type=int, default=1)
@arg("--offline", action="store_true", help="synthesise each team's traffic (no Docker needed)")
@arg("--live", action="store_true", help="run on the live range (Docker)")
@arg("--keep", action="store_true", help="live: leave the session running afterwards")
def cmd_exercise(a) -> int:
    from range.core import InputError
    from range.exercise import parse_team, run_live, run_offline
    from range.scenario import catalog
    from range.scoring import ranking_table
    if a.offline == a.live:
        raise InputError("choose one of --offline or --live")
    teams = [parse_team(t) for t in a.team]
    scn = catalog().scenario(a.scenario)
    if a.live:
        results = run_live(scn, teams, a.out, seed=a.seed, keep=a.keep, progress=progress)
    else:
        results = run_offline(scn, teams, a.out, seed=a.seed, progress=progress)
    print(f"{results['scenario']} ({results['mode']}, seed {results['seed']}, {results['seconds']} s)")
    print(ranking_table(results))
    print(f"results: {a.out / 'results.json'}")
    return 0
