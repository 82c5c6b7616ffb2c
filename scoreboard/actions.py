"""The instructor's actions, shared by the console's forms and the JSON API.

Each takes the request's fields as a dict, checks them (InputError names the field), calls
:mod:`range.sessions`, and wakes the live streams.
"""
from __future__ import annotations

import os
from functools import lru_cache

from flask import abort

from range import sessions
from range.core import InputError, NotFound, RangeError
from range.runtime import client
from range.scenario import catalog
from scoreboard.appstate import current_range
from scoreboard.util import integer, names, number, text

LIFECYCLE = ("start", "pause", "resume", "stop")


def live_available() -> tuple[bool, str]:
    """Live sessions need the Docker Engine; without it they are refused with the reason."""
    try:
        client()
    except RangeError as e:
        return False, f"live sessions need the Docker Engine: {e}; run the session offline"
    return True, ""


@lru_cache(maxsize=64)
def _scenario_card(path: str, mtime: float) -> dict:
    scn = catalog().scenario(path)
    return {"name": scn.name, "environment": scn.env.name, "description": scn.spec.description,
            "duration": scn.spec.duration, "steps": len(scn.steps)}


def catalog_cards() -> dict:
    cat = catalog()
    cards = []
    for e in cat.entries():
        if e.kind == "scenario":
            try:
                cards.append(_scenario_card(str(e.path), os.path.getmtime(e.path)))
            except Exception as err:  # noqa: BLE001 - a broken scenario is listed with its problem
                cards.append({"name": e.name, "environment": None, "error": str(err)})
    live, why = live_available()
    return {"environments": cat.environments(), "scenarios": sorted(cards, key=lambda c: c["name"]),
            "modes": {"offline": True, "live": live}, "live_unavailable": why or None}


def create(data: dict) -> dict:
    r = current_range()
    name = text(data, "name", max_len=31)
    scenario = text(data, "scenario", max_len=200)
    teams = names(data, "teams")
    mode = text(data, "mode", default="offline", choices=("offline", "live"))
    seed = integer(data, "seed", default=1, lo=0, hi=2**31 - 1)
    speed = number(data, "speed", default=1.0, lo=0.1, hi=100)
    env = data.get("environment")
    if mode == "live":
        ok, why = live_available()
        if not ok:
            abort(501, description=why)
    if "/" in scenario or scenario.endswith((".yaml", ".yml")):
        raise InputError("'scenario' is a scenario name from the catalog (GET /api/catalog)")
    if env:
        card = next((c for c in catalog_cards()["scenarios"] if c["name"] == scenario), None)
        if card is None:
            raise NotFound(f"no scenario named {scenario!r}")
        if card.get("environment") != env:
            raise InputError(f"scenario {scenario!r} runs on environment {card.get('environment')!r}, not {env!r}")
    out = sessions.create_session(r.store, name, scenario, teams, mode=mode, seed=seed, speed=speed,
                                 actor="instructor", background=r.background,
                                 progress=lambda m: r.progress.__setitem__(name, m))
    r.changed()
    return {**out, "status": r.store.session(name)["status"]}


def lifecycle(name: str, action: str) -> dict:
    r = current_range()
    if action not in LIFECYCLE:
        raise InputError(f"unknown action {action!r}; choose {', '.join(LIFECYCLE)}")
    row = r.store.session(name)
    if action == "resume" and row["status"] != "paused":
        raise InputError(f"session {name} is {row['status']}; only a paused session can resume")
    if action == "start" and row["status"] == "paused":
        action = "resume"
    {"start": sessions.start, "resume": sessions.start, "pause": sessions.pause, "stop": sessions.stop}[action](
        r.store, name, actor="instructor")
    r.changed()
    return {"session": name, "status": r.store.session(name)["status"]}


def delete(name: str) -> None:
    r = current_range()
    sessions.delete_session(r.store, name, actor="instructor")
    r.progress.pop(name, None)
    r.changed()


def move(name: str, step: str, data: dict) -> dict:
    r = current_range()
    at = number(data, "at", default=None, lo=0)
    new_at = sessions.move_step(r.store, name, step, at=at, actor="instructor")
    r.changed()
    return {"session": name, "step": step, "at": new_at, "fired": at is None}


def hint(name: str, data: dict) -> dict:
    r = current_range()
    step = text(data, "step", max_len=64)
    index = integer(data, "index", default=0, lo=0, hi=100)
    teams = names(data, "teams", required=False)
    out = sessions.release_hint(r.store, name, step, index, teams, actor="instructor")
    r.changed()
    return out


def reset(name: str, team: str) -> dict:
    r = current_range()
    sessions.reset_team(r.store, name, team, actor="instructor")
    r.changed()
    return {"session": name, "team": team, "reset": True}
