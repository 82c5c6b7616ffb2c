"""An offline exercise in one command: every team's copy of a scenario, detected with that team's
rules and scored, as fast as the machine goes (no session clock).

Each team gets its own replay (its own seed, addresses, names and timing), its capture and the
host records its nodes logged are ingested into its own event store, its rules run over it, and
its alerts are scored against its truth. ``DIR/<team>/`` holds capture.pcap, host.jsonl,
truth.json, events.db, alerts.json, score.json; ``DIR/results.json`` the ranking.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from range.core import InputError, TeamDir, team_seed, write_json
from range.detect import load_rules, run
from range.events import ingest
from range.exercise.teams import TeamSpec
from range.replay import replay
from range.scenario import Scenario
from range.scoring import rank, score

Progress = Callable[[str], None]


def run_team(scn: Scenario, team: TeamSpec, out: Path, seed: int, progress: Progress) -> dict:
    d = TeamDir(out / team.name)
    s = team_seed(seed, team.name)
    progress(f"[{team.name}] replay (seed {s})")
    rep = replay(scn, d.path, seed=s, team=team.name, progress=lambda m: progress(f"[{team.name}]   {m}"))
    progress(f"[{team.name}] ingest {rep.packets:,} packets and {rep.host_records:,} host records")
    ing = ingest(rep.pcap, d.events, progress=lambda m: progress(f"[{team.name}]   {m}"), host_log=rep.host_log)
    progress(f"[{team.name}] detect with {', '.join(map(str, team.rules))}")
    alerts, errors = run(load_rules(team.rules), d.events)
    write_json(d.alerts, {"alerts": alerts, "errors": errors})
    result = score(rep.truth, alerts)
    write_json(d.score, result)
    progress(f"[{team.name}] {len(alerts)} alerts, {len(errors)} rule errors, "
             f"{sum(ing.records.values()):,} events -> score {result['score']}")
    return result


def run_offline(scn: Scenario, teams: list[TeamSpec], out: str | Path, seed: int = 1,
                progress: Progress = lambda m: None) -> dict:
    names = [t.name for t in teams]
    if len(set(names)) != len(names):
        raise InputError(f"team names must differ: {', '.join(names)}")
    began = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    scores = [run_team(scn, t, out, seed, progress) for t in teams]
    results = {"scenario": scn.name, "environment": scn.env.name, "mode": "offline", "seed": seed,
               "seconds": round(time.perf_counter() - began, 2), "ranking": rank(scores)}
    write_json(out / "results.json", results)
    return results
