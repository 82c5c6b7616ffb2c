"""What instructors and teams do to sessions: create, start, pause, move steps, release hints,
deploy and withdraw rules, dry-run a rule, and read scores and results.

Every function checks its input, writes one transaction to the state store, and leaves a line
in the audit table. Access control is the web app's job; these functions trust their caller.
"""
from __future__ import annotations

import json
import secrets
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from range.core.errors import InputError, NotFound, RangeError
from range.sessions.state import STATUSES, Store, check_name, check_secret, hash_secret, session_dir

MAX_RULE_BYTES = 64 * 1024
MAX_TEAMS = 12


def _scenario(row) -> Any:
    from range.scenario.catalog import catalog
    return catalog().scenario(row["scenario_path"])


def scenario_of(store: Store, session: str):
    row = store.session(session)
    scn = _scenario(row)
    schedule = {k: float(v) for k, v in json.loads(row["schedule"]).items()}
    return scn.with_overrides(start=row["scenario_start"], schedule=schedule)


def team_seed(seed: int, team: str) -> int:
    from range.exercise.offline import team_seed as ts
    return ts(seed, team)


# ---- sessions ---------------------------------------------------------------------------------

def create_session(store: Store, name: str, scenario: str, teams: list[str], mode: str = "offline",
                   seed: int = 1, speed: float = 1.0, actor: str = "instructor",
                   progress: Callable[[str], None] = lambda m: None, background: bool = False) -> dict:
    """Create a session and prepare each team's copy. Returns the team passwords (shown once)."""
    from range.scenario.catalog import catalog
    from range.sessions.feeds import FEEDS
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
                   "scenario_start, duration) VALUES (?, ?, ?, ?, ?, ?, ?, 'preparing', ?, ?, ?)",
                   (name, scn.env.name, scn.name, str(scn.path.resolve()), mode, seed, speed, time.time(), start,
                    scn.spec.duration))
        for t in teams:
            db.execute("INSERT INTO teams VALUES (?, ?, ?, ?)", (name, t, hash_secret(passwords[t]), team_seed(seed, t)))
        store.audit(db, name, actor, "create", {"scenario": scn.name, "teams": teams, "mode": mode})

    def prepare():
        try:
            feed = FEEDS[mode](name, {t: _team_dir(store, name, t) for t in teams}, store)
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


def _team_dir(store: Store, session: str, team: str) -> Path:
    d = store.team_dir(session, team)
    d.mkdir(parents=True, exist_ok=True)
    (d / "rules").mkdir(exist_ok=True)
    return d


def _set_status(store: Store, name: str, status: str, **extra) -> None:
    assert status in STATUSES
    sets = ", ".join(["status = ?"] + [f"{k} = ?" for k in extra])
    with store.tx() as db:
        db.execute(f"UPDATE sessions SET {sets} WHERE name = ?", (status, *extra.values(), name))


def start(store: Store, name: str, actor: str = "instructor") -> None:
    row = store.session(name)
    now = time.time()
    with store.tx() as db:
        if row["status"] == "ready":
            # live, scenario time is the wall clock (less pauses); offline it runs from the prepared start
            db.execute("UPDATE sessions SET status = 'running', started_wall = ?, scenario_start = "
                       "CASE WHEN mode = 'live' THEN ? ELSE scenario_start END WHERE name = ?", (now, now, name))
        elif row["status"] == "paused":
            db.execute("UPDATE sessions SET status = 'running', paused_wall = NULL, paused_total = paused_total + ? "
                       "WHERE name = ?", (now - row["paused_wall"], name))
        else:
            raise InputError(f"session {name} is {row['status']}; only a ready or paused session can start")
        store.audit(db, name, actor, "start")


def pause(store: Store, name: str, actor: str = "instructor") -> None:
    row = store.session(name)
    if row["status"] != "running":
        raise InputError(f"session {name} is {row['status']}; only a running session can pause")
    with store.tx() as db:
        db.execute("UPDATE sessions SET status = 'paused', paused_wall = ? WHERE name = ?", (time.time(), name))
        store.audit(db, name, actor, "pause")


def stop(store: Store, name: str, actor: str = "instructor") -> None:
    row = store.session(name)
    if row["status"] in ("finished", "failed"):
        return
    with store.tx() as db:
        if row["status"] == "paused":
            db.execute("UPDATE sessions SET paused_total = paused_total + ?, paused_wall = NULL WHERE name = ?",
                       (time.time() - row["paused_wall"], name))
        db.execute("UPDATE sessions SET status = 'finished', finished_at = ? WHERE name = ?", (time.time(), name))
        store.audit(db, name, actor, "stop")


def delete_session(store: Store, name: str, actor: str = "instructor") -> None:
    import shutil
    row = store.session(name)
    if row["status"] in ("running", "paused"):
        raise InputError(f"session {name} is {row['status']}; stop it before deleting it")
    with store.tx() as db:
        for t in ("alerts", "rules", "hints", "teams", "reports", "report_comments", "indicators"):
            db.execute(f"DELETE FROM {t} WHERE session = ?", (name,))
        db.execute("DELETE FROM sessions WHERE name = ?", (name,))
        store.audit(db, name, actor, "delete")
    shutil.rmtree(session_dir(name), ignore_errors=True)


def move_step(store: Store, name: str, step: str, at: float | None = None, actor: str = "instructor") -> float:
    """Reschedule a step that has not begun (``at`` seconds after the start), or fire it now."""
    from range.sessions.feeds import FEEDS
    row = store.session(name)
    scn = scenario_of(store, name)
    st = scn.step(step)
    clock = store.clock(row)
    elapsed = clock.elapsed()
    if row["status"] in ("finished", "failed"):
        raise InputError(f"session {name} is {row['status']}")
    if elapsed >= st.spec.at:
        raise InputError(f"step {step!r} began at {st.spec.at:g}s; the session is at {elapsed:.0f}s")
    new_at = float(elapsed + 2 * row["speed"] + 1 if at is None else at)
    if new_at <= elapsed:
        raise InputError(f"step {step!r} cannot move to {new_at:g}s: the session is already at {elapsed:.0f}s")
    schedule = json.loads(row["schedule"])
    schedule[step] = new_at
    moved = scn.with_overrides(schedule={step: new_at})  # validates the bounds
    if row["mode"] == "offline":
        feed = FEEDS["offline"](name, {t: _team_dir(store, name, t) for t in store.teams(name)}, store)
        for t in store.teams(name):
            feed.rebuild(moved, t, team_seed(row["seed"], t), row["scenario_start"])
    with store.tx() as db:
        db.execute("UPDATE sessions SET schedule = ? WHERE name = ?", (json.dumps(schedule), name))
        store.audit(db, name, actor, "move_step", {"step": step, "at": new_at})
    return new_at


def release_hint(store: Store, name: str, step: str, index: int = 0, teams: list[str] | None = None,
                 actor: str = "instructor") -> dict:
    scn = scenario_of(store, name)
    st = scn.step(step)
    if not 0 <= index < len(st.spec.hints):
        raise InputError(f"step {step!r} has {len(st.spec.hints)} hint(s); there is no hint {index + 1}")
    hint = st.spec.hints[index]
    targets = teams or store.teams(name)
    for t in targets:
        if t not in store.teams(name):
            raise NotFound(f"session {name} has no team {t!r}")
    with store.tx() as db:
        for t in targets:
            db.execute("INSERT OR IGNORE INTO hints VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (name, t, step, index, hint.cost, hint.text, time.time()))
        store.audit(db, name, actor, "hint", {"step": step, "index": index, "teams": targets})
    return {"step": step, "text": hint.text, "cost": hint.cost, "teams": targets}


# ---- teams and rules --------------------------------------------------------------------------

def login_team(store: Store, session: str, team: str, password: str) -> bool:
    row = store.one("SELECT secret FROM teams WHERE session = ? AND name = ?", (session, team))
    return bool(row) and check_secret(password, row["secret"])


def _check_rule(text: str):
    """Load one team's rule text with pySigma; every problem becomes an InputError with its line."""
    from range.detect.rules import load_rules
    if len(text.encode()) > MAX_RULE_BYTES:
        raise InputError(f"a rule may be at most {MAX_RULE_BYTES // 1024} KiB")
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "rule.yml"
        p.write_text(text)
        rs = load_rules([p])
        if rs.errors:
            raise InputError("; ".join(e["message"] for e in rs.errors), file="rule")
        ids = [r.id for r in rs.rules.values() if r.output] + [c.id for c in rs.correlations]
        titles = [r.title for r in rs.rules.values() if r.output] + [c.title for c in rs.correlations]
        if not ids:
            raise InputError("the text holds no rule that raises alerts", file="rule")
        return rs, ids[0], titles[0], rs.warnings


def deploy_rule(store: Store, session: str, team: str, text: str, actor: str | None = None) -> dict:
    row = store.session(session)
    if team not in store.teams(session):
        raise NotFound(f"session {session} has no team {team!r}")
    if row["status"] in ("finished", "failed"):
        raise InputError(f"session {session} is {row['status']}: rules can no longer be deployed")
    _rs, rule_id, title, warnings = _check_rule(text)
    at = store.clock(row).now()
    with store.tx() as db:
        cur = db.execute("INSERT INTO rules (session, team, rule_id, title, yaml, deployed_at, deployed_wall) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)", (session, team, rule_id, title, text, at, time.time()))
        pk = cur.lastrowid
        store.audit(db, session, actor or team, "deploy", {"team": team, "rule": pk, "rule_id": rule_id})
    (store.team_dir(session, team) / "rules" / f"{pk}.yml").write_text(text)
    return {"pk": pk, "rule_id": rule_id, "title": title, "deployed_at": at, "warnings": warnings}


def withdraw_rule(store: Store, session: str, team: str, pk: int, actor: str | None = None) -> None:
    row = store.one("SELECT * FROM rules WHERE pk = ? AND session = ? AND team = ?", (pk, session, team))
    if row is None:
        raise NotFound(f"team {team} has no rule {pk}")
    if row["withdrawn_at"] is not None:
        return
    at = store.clock(store.session(session)).now()
    with store.tx() as db:
        db.execute("UPDATE rules SET withdrawn_at = ? WHERE pk = ?", (at, pk))
        store.audit(db, session, actor or team, "withdraw", {"team": team, "rule": pk})


def dry_run(store: Store, session: str, team: str, text: str) -> dict:
    """What a rule would match in the team's events so far; no alert is kept, no score changes."""
    rs, rule_id, title, warnings = _check_rule(text)
    alerts, errors = rs.run(store.team_dir(session, team) / "events.db")
    return {"rule_id": rule_id, "title": title, "alerts": alerts, "errors": errors, "warnings": warnings}


def rules(store: Store, session: str, team: str) -> list[dict]:
    return [dict(r) for r in store.q("SELECT * FROM rules WHERE session = ? AND team = ? ORDER BY pk", (session, team))]


def alerts(store: Store, session: str, team: str) -> list[dict]:
    return [json.loads(r["body"]) for r in
            store.q("SELECT body FROM alerts WHERE session = ? AND team = ? ORDER BY raised_at, id", (session, team))]


# ---- scores -----------------------------------------------------------------------------------

def team_facts(store: Store, session: str, team: str) -> tuple[Any, list[dict], dict]:
    """A team's ground truth, alerts and score, each read once (the web app needs all three).
    The score's ledger ends with the marks of the team's incident reports and shared indicators
    (lines with ``kind`` report or sharing; :mod:`range.csirt`)."""
    from range.csirt.workflow import adjustments
    from range.scoring.score import Adjustment, extend, score
    from range.scoring.truth import Truth
    truth = Truth.read(store.team_dir(session, team) / "truth.json")
    adj = [Adjustment(-h["cost"], f"hint for step {h['step']}: {h['text']}", h["step"])
           for h in store.q("SELECT * FROM hints WHERE session = ? AND team = ? ORDER BY released_at", (session, team))]
    found = alerts(store, session, team)
    detection = score(truth, found, adj)
    return truth, found, extend(detection, adjustments(store, session, team, truth, detection, found))


def team_score(store: Store, session: str, team: str) -> dict:
    return team_facts(store, session, team)[2]


def results(store: Store, session: str) -> dict:
    from range.exercise.offline import rank
    row = store.session(session)
    scores = [team_score(store, session, t) for t in store.teams(session)]
    clock = store.clock(row)
    elapsed = clock.elapsed(row["finished_at"]) if row["status"] == "finished" and row["finished_at"] else clock.elapsed()
    return {"session": session, "scenario": row["scenario"], "environment": row["env"], "mode": row["mode"],
            "status": row["status"], "elapsed": round(min(elapsed, row["duration"]), 1), "duration": row["duration"],
            "ranking": rank(scores), "scores": {s["team"]: s for s in scores}}


def require_status(store: Store, name: str, *allowed: str) -> None:
    row = store.session(name)
    if row["status"] not in allowed:
        raise RangeError(f"session {name} is {row['status']}")
