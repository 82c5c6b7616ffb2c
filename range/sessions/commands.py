"""What the instructor does to sessions: create, start, pause, stop, delete, move a step, release
a hint.

Every function checks its input, writes one transaction to the state store, and leaves a line
in the audit table. Access control is the web app's job; these functions trust their caller.
What teams do (rules) is in :mod:`range.sessions.rules`; what everyone reads (scores, results,
what each audience may see) is in :mod:`range.results`.
"""
from __future__ import annotations

import json
import secrets
import shutil
import threading
import time
from typing import Callable

from range import runtime
from range.core import InputError, NotFound, team_seed
from range.scenario import catalog
from range.sessions.feed_offline import OfflineFeed
from range.sessions.feeds import FEEDS
from range.sessions.state import (
    STATUSES,
    StateStore,
    check_name,
    hash_secret,
    session_dir,
)

MAX_TEAMS = 12


def create_session(store: StateStore, name: str, scenario: str, teams: list[str], mode: str = "offline",
                   seed: int = 1, speed: float = 1.0, actor: str = "instructor",
                   progress: Callable[[str], None] = lambda m: None, background: bool = False,
                   keep_range: bool = False) -> dict:
    """Create a session and prepare each team's copy. Returns the team passwords (shown once).
    ``keep_range``: a live session's range stays up when it ends (``cyberrange down`` removes it)."""
    check_name(name)
    teams = [check_name(t, "team") for t in teams]
    if not teams or len(teams) > MAX_TEAMS or len(set(teams)) != len(teams):
        raise InputError(f"give 1 to {MAX_TEAMS} different team names")
    if mode not in FEEDS:
        raise InputError(f"mode {mode!r}: choose {' or '.join(FEEDS)}")
    if not 0.1 <= speed <= 100:
        raise InputError("speed must be between 0.1 and 100 (scenario seconds per wall second)")
    if mode == "live" and speed != 1:
        raise InputError("a live session runs in real time (speed 1)")
    if mode == "live" and (len(name) > 20 or any(len(t) > 20 or "_" in t for t in teams)):
        raise InputError("a live session's name and team names are at most 20 letters, digits or '-' "
                         "(they name its containers and networks)")
    scn = catalog().scenario(scenario)
    start = float(int(time.time()))
    passwords = {t: secrets.token_urlsafe(9) for t in teams}
    with store.tx() as db:
        if db.execute("SELECT 1 FROM sessions WHERE name = ?", (name,)).fetchone():
            raise InputError(f"a session named {name!r} already exists; choose another name or delete it")
        db.execute("INSERT INTO sessions (name, env, scenario, scenario_path, mode, seed, speed, status, created_at, "
                   "scenario_start, duration, options) VALUES (?, ?, ?, ?, ?, ?, ?, 'preparing', ?, ?, ?, ?)",
                   (name, scn.env.name, scn.name, str(scn.path.resolve()), mode, seed, speed, time.time(), start,
                    scn.spec.duration, json.dumps({"keep_range": True} if keep_range else {})))
        for t in teams:
            db.execute(
                "INSERT INTO teams VALUES (?, ?, ?, ?)", (name, t, hash_secret(passwords[t]), team_seed(seed, t))
            )
        store.audit(db, name, actor, "create", {"scenario": scn.name, "teams": teams, "mode": mode})

    def prepare():
        try:
            feed = FEEDS[mode](name, {t: store.team_dir(name, t).make() for t in teams}, store)
            feed.prepare(scn, lambda t: team_seed(seed, t), start, progress)
            _set_status(store, name, "ready")
        except Exception as e:  # noqa: BLE001 - reported on the session, never lost
            with store.tx() as db:
                db.execute("UPDATE sessions SET status = 'failed', error = ? WHERE name = ?", (str(e), name))
            if not background:
                raise

    if background:
        threading.Thread(target=prepare, name=f"prepare-{name}", daemon=True).start()
    else:
        prepare()
    return {"session": name, "teams": passwords}


def _set_status(store: StateStore, name: str, status: str, **extra) -> None:
    assert status in STATUSES
    sets = ", ".join(["status = ?"] + [f"{k} = ?" for k in extra])
    with store.tx() as db:
        db.execute(f"UPDATE sessions SET {sets} WHERE name = ?", (status, *extra.values(), name))


def start(store: StateStore, name: str, actor: str = "instructor") -> None:
    row = store.session(name)
    now = time.time()
    with store.tx() as db:
        if row["status"] == "ready":
            # live, scenario time is the wall clock (less pauses); offline it runs from the prepared start
            db.execute(
                "UPDATE sessions SET status = 'running', started_wall = ?, scenario_start = "
                "CASE WHEN mode = 'live' THEN ? ELSE scenario_start END WHERE name = ?",
                (now, now, name),
            )
        elif row["status"] == "paused":
            db.execute(
                "UPDATE sessions SET status = 'running', paused_wall = NULL, paused_total = paused_total + ? "
                "WHERE name = ?",
                (now - row["paused_wall"], name),
            )
        else:
            raise InputError(f"session {name} is {row['status']}; only a ready or paused session can start")
        store.audit(db, name, actor, "start")


def pause(store: StateStore, name: str, actor: str = "instructor") -> None:
    row = store.session(name)
    if row["status"] != "running":
        raise InputError(f"session {name} is {row['status']}; only a running session can pause")
    with store.tx() as db:
        db.execute("UPDATE sessions SET status = 'paused', paused_wall = ? WHERE name = ?", (time.time(), name))
        store.audit(db, name, actor, "pause")


def stop(store: StateStore, name: str, actor: str = "instructor") -> None:
    row = store.session(name)
    if row["status"] in ("finished", "failed"):
        return
    with store.tx() as db:
        if row["status"] == "paused":
            db.execute(
                "UPDATE sessions SET paused_total = paused_total + ?, paused_wall = NULL WHERE name = ?",
                (time.time() - row["paused_wall"], name),
            )
        db.execute("UPDATE sessions SET status = 'finished', finished_at = ? WHERE name = ?", (time.time(), name))
        store.audit(db, name, actor, "stop")


def delete_session(store: StateStore, name: str, actor: str = "instructor") -> None:
    row = store.session(name)
    if row["status"] in ("running", "paused"):
        raise InputError(f"session {name} is {row['status']}; stop it before deleting it")
    with store.tx() as db:
        for t in ("alerts", "rules", "hints", "teams", "reports", "report_comments", "indicators",
                  "saved_searches"):
            db.execute(f"DELETE FROM {t} WHERE session = ?", (name,))
        db.execute("DELETE FROM sessions WHERE name = ?", (name,))
        store.audit(db, name, actor, "delete")
    shutil.rmtree(session_dir(name), ignore_errors=True)


def move_step(store: StateStore, name: str, step: str, at: float | None = None, actor: str = "instructor") -> float:
    """Reschedule a step that has not begun (``at`` seconds after the start), or fire it now."""
    row = store.session(name)
    scn = store.scenario(name)
    st = scn.step(step)
    clock = store.clock(row)
    elapsed = clock.elapsed()
    if row["status"] in ("finished", "failed"):
        raise InputError(f"session {name} is {row['status']}; its steps can no longer move")
    if at is None and row["status"] not in ("running", "paused"):
        raise InputError(f"session {name} is {row['status']}; start it before firing a step now, "
                         "or give the second the step should start at")
    if elapsed >= st.spec.at:
        raise InputError(f"step {step!r} began at {st.spec.at:g}s; the session is at {elapsed:.0f}s")
    new_at = float(elapsed + 2 * row["speed"] + 1 if at is None else at)
    if new_at <= elapsed:
        raise InputError(f"step {step!r} cannot move to {new_at:g}s: the session is already at {elapsed:.0f}s")
    schedule = json.loads(row["schedule"])
    schedule[step] = new_at
    moved = scn.with_overrides(schedule={step: new_at})  # validates the bounds
    if row["mode"] == "offline":
        feed = OfflineFeed(name, {t: d.make() for t, d in store.team_dirs(name).items()}, store)
        for t in store.teams(name):
            feed.rebuild(moved, t, team_seed(row["seed"], t), row["scenario_start"])
    with store.tx() as db:
        db.execute("UPDATE sessions SET schedule = ? WHERE name = ?", (json.dumps(schedule), name))
        store.audit(db, name, actor, "move_step", {"step": step, "at": new_at})
    return new_at


def release_hint(
    store: StateStore, name: str, step: str, index: int = 0, teams: list[str] | None = None, actor: str = "instructor"
) -> dict:
    row = store.session(name)
    if row["status"] in ("finished", "failed"):
        raise InputError(f"session {name} is {row['status']}; hints can no longer be released (its results are final)")
    st = store.scenario(name).step(step)
    if not 0 <= index < len(st.spec.hints):
        raise InputError(f"step {step!r} has {len(st.spec.hints)} hint(s); there is no hint {index + 1}")
    hint = st.spec.hints[index]
    targets = teams or store.teams(name)
    for t in targets:
        if t not in store.teams(name):
            raise NotFound(f"session {name} has no team {t!r}")
    with store.tx() as db:
        for t in targets:
            db.execute(
                "INSERT OR IGNORE INTO hints VALUES (?, ?, ?, ?, ?, ?, ?)",
                (name, t, step, index, hint.cost, hint.text, time.time()),
            )
        store.audit(db, name, actor, "hint", {"step": step, "index": index, "teams": targets})
    return {"step": step, "text": hint.text, "cost": hint.cost, "teams": targets}


def reset_team(store: StateStore, name: str, team: str, actor: str = "instructor") -> None:
    """Give a live team a fresh copy of its network (every node recreated from its clean image)."""
    row = store.session(name)
    if team not in store.teams(name):
        raise NotFound(f"session {name} has no team {team!r}")
    if row["mode"] != "live":
        raise InputError("only a live session has a team network to reset")
    runtime.reset_team(name, team)
    with store.tx() as db:
        store.audit(db, name, actor, "reset", {"team": team})
