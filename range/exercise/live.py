"""A live exercise in one command: a live session driven to its end, its files written like an
offline exercise's.

It is the same machinery as a session the instructor runs from the web console: the session is
created in the state store (the range comes up, one copy per team), every team's rules are
deployed, the session starts, and the session driver ticks its live feed until the scenario's
time is up (:func:`range.sessions.run_until_done`); the feed takes the range down at the end
unless ``keep``. The session stays in the state store, so ``cyberrange serve`` shows it too.
``DIR/<team>/`` then holds capture.pcap, truth.json, events.db, alerts.json and score.json (with
the sensors' figures and each true alert's latency), ``DIR/results.json`` the ranking.
"""
from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path
from typing import Callable

from range.core import InputError, TeamDir, write_json
from range.detect import rule_files
from range.exercise.teams import TeamSpec
from range.live import detection_latency, sensor_totals
from range.results import results, team_facts
from range.scenario import Scenario
from range.sessions import (
    StateStore,
    create_session,
    deploy_rule,
    run_until_done,
    start,
)

Progress = Callable[[str], None]


def run_live(scn: Scenario, teams: list[TeamSpec], out: str | Path, seed: int = 1, keep: bool = False,
             progress: Progress = lambda m: None, store: StateStore | None = None) -> dict:
    names = [t.name for t in teams]
    if len(set(names)) != len(names):
        raise InputError(f"team names must differ: {', '.join(names)}")
    began = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    store = store or StateStore()
    session = f"ex{int(time.time() * 10) % 10**9}"
    progress(f"bringing the range up: session {session}, teams {', '.join(names)}")
    create_session(store, session, str(scn.path), names, mode="live", seed=seed, actor="cli", progress=progress,
                   keep_range=keep)
    for t in teams:
        for f in rule_files(t.rules):
            deploy_rule(store, session, t.name, f.read_text(), actor="cli")
    start(store, session, actor="cli")
    progress(f"scenario {scn.name} runs {scn.spec.duration:.0f}s in real time")
    run_until_done(store, session, progress=progress)
    if keep:
        progress(f"session {session} kept running: 'cyberrange down {session}' removes it")
    res = results(store, session)
    for t in names:
        _export_team(store, session, t, TeamDir(out / t), scn.env.spec.sensor.networks)
    out_res = {"scenario": scn.name, "environment": scn.env.name, "mode": "live", "seed": seed, "session": session,
               "seconds": round(time.perf_counter() - began, 2), "ranking": res["ranking"],
               "sensor": {t: sensor_totals(store.team_dir(session, t), scn.env.spec.sensor.networks) for t in names}}
    write_json(out / "results.json", out_res)
    return out_res


def _export_team(store: StateStore, session: str, team: str, dst: TeamDir, networks: list[str]) -> None:
    """A team's files from its session folder into ``dst``, laid out as an offline exercise's."""
    src = store.team_dir(session, team)
    dst.path.mkdir(parents=True, exist_ok=True)
    for name in ("capture", "truth"):
        if getattr(src, name).exists():
            shutil.copyfile(getattr(src, name), getattr(dst, name))
    dst.events.unlink(missing_ok=True)
    with sqlite3.connect(src.events) as a, sqlite3.connect(dst.events) as b:
        a.backup(b)  # a consistent copy of a WAL database
    f = team_facts(store, session, team)
    write_json(dst.alerts, {"alerts": f.alerts, "errors": []})
    write_json(dst.score, {**f.score, "sensor": sensor_totals(src, networks),
                           "latency": detection_latency(f.alerts, f.truth)})
