"""Exercise sessions and their state: a SQLite store in WAL mode that survives restarts.

A session is one scenario played for several teams, offline (each team's traffic synthesised
and revealed as the session clock passes it) or live (the range on Docker). Everything the
instructor and the teams do (start, pause, deployed rules, released hints, alerts raised) is a
row here, written in a transaction before it is acknowledged: a crash loses nothing that was
acknowledged, and a failed write raises instead of being dropped.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from range.core import InputError, NotFound, StoreError, TeamDir, paths
from range.scenario import Scenario, catalog

CACHE_KIB = 256  # SQLite page cache per connection
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}\Z")
TEAM = re.compile(r"^[a-z0-9][a-z0-9_-]{0,30}\Z")

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
  name TEXT PRIMARY KEY, env TEXT NOT NULL, scenario TEXT NOT NULL, scenario_path TEXT NOT NULL,
  mode TEXT NOT NULL, seed INTEGER NOT NULL, speed REAL NOT NULL, status TEXT NOT NULL,
  created_at REAL NOT NULL, started_wall REAL, paused_wall REAL, paused_total REAL NOT NULL DEFAULT 0,
  scenario_start REAL NOT NULL, duration REAL NOT NULL, finished_at REAL, schedule TEXT NOT NULL DEFAULT '{}',
  error TEXT, options TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS teams (
  session TEXT NOT NULL, name TEXT NOT NULL, secret TEXT NOT NULL, seed INTEGER NOT NULL,
  PRIMARY KEY (session, name));
CREATE TABLE IF NOT EXISTS rules (
  pk INTEGER PRIMARY KEY AUTOINCREMENT, session TEXT NOT NULL, team TEXT NOT NULL, rule_id TEXT,
  title TEXT, yaml TEXT NOT NULL, deployed_at REAL NOT NULL, withdrawn_at REAL, deployed_wall REAL);
CREATE TABLE IF NOT EXISTS alerts (
  session TEXT NOT NULL, team TEXT NOT NULL, id TEXT NOT NULL, rule_pk INTEGER NOT NULL, rule_id TEXT,
  raised_at TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (session, team, id));
CREATE TABLE IF NOT EXISTS hints (
  session TEXT NOT NULL, team TEXT NOT NULL, step TEXT NOT NULL, idx INTEGER NOT NULL, cost REAL NOT NULL,
  text TEXT NOT NULL, released_at REAL NOT NULL, PRIMARY KEY (session, team, step, idx));
CREATE TABLE IF NOT EXISTS reports (
  pk INTEGER PRIMARY KEY AUTOINCREMENT, session TEXT NOT NULL, team TEXT NOT NULL, filed_at REAL NOT NULL,
  filed_wall REAL NOT NULL, actor TEXT NOT NULL, body TEXT NOT NULL, evidence_events TEXT NOT NULL DEFAULT '[]',
  override_points REAL, override_reason TEXT, override_at REAL, edited_at REAL, withdrawn_at REAL);
CREATE INDEX IF NOT EXISTS reports_team ON reports (session, team);
CREATE TABLE IF NOT EXISTS report_comments (
  pk INTEGER PRIMARY KEY AUTOINCREMENT, report INTEGER NOT NULL, session TEXT NOT NULL, author TEXT NOT NULL,
  text TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS indicators (
  pk INTEGER PRIMARY KEY AUTOINCREMENT, session TEXT NOT NULL, team TEXT NOT NULL, kind TEXT NOT NULL,
  value TEXT NOT NULL, tlp TEXT NOT NULL, published_at REAL NOT NULL, published_wall REAL NOT NULL,
  comment TEXT NOT NULL DEFAULT '', report INTEGER, UNIQUE (session, team, kind, value));
CREATE TABLE IF NOT EXISTS saved_searches (
  pk INTEGER PRIMARY KEY AUTOINCREMENT, session TEXT NOT NULL, team TEXT NOT NULL, name TEXT NOT NULL,
  folded TEXT NOT NULL, tbl TEXT NOT NULL, query TEXT NOT NULL, from_text TEXT, to_text TEXT, columns TEXT,
  created_at REAL NOT NULL, created_wall REAL NOT NULL, created_by TEXT NOT NULL,
  UNIQUE (session, team, folded));
CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (ts REAL NOT NULL, session TEXT, actor TEXT, action TEXT, detail TEXT);
"""

STATUSES = ("preparing", "ready", "running", "paused", "finished", "failed")


def hash_secret(password: str, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    dk = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 200_000)
    return f"pbkdf2${salt.hex()}${dk.hex()}"


def check_secret(password: str, stored: str) -> bool:
    try:
        _, salt, want = stored.split("$")
    except ValueError:
        return False
    got = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), 200_000).hex()
    return hmac.compare_digest(got, want)


@dataclass
class Clock:
    """Scenario time of a session: its scenario start plus the wall time it has run, x speed."""
    scenario_start: float
    started_wall: float | None
    paused_wall: float | None
    paused_total: float
    speed: float
    duration: float

    def now(self, wall: float | None = None) -> float:
        if self.started_wall is None:
            return self.scenario_start
        wall = time.time() if wall is None else wall
        if self.paused_wall is not None:
            wall = self.paused_wall
        return self.scenario_start + max(0.0, wall - self.started_wall - self.paused_total) * self.speed

    def elapsed(self, wall: float | None = None) -> float:
        return self.now(wall) - self.scenario_start


class StateStore:
    """The state database (one file; connections per thread)."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path or paths.STATE / "cyberrange.db")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        try:
            self.db().executescript(SCHEMA)
            self._migrate()
        except sqlite3.Error as e:
            raise StoreError(f"cannot open the state store {self.path}: {e}") from None

    def _migrate(self) -> None:
        """Columns added since a store was created (its data kept). Tables added since (saved_searches)
        come from SCHEMA's CREATE TABLE IF NOT EXISTS."""
        have = {r["name"] for r in self.db().execute("PRAGMA table_info(rules)")}
        if "deployed_wall" not in have:  # the wall time of a deployment: a live retro-hunt raises from it
            self.db().execute("ALTER TABLE rules ADD COLUMN deployed_wall REAL")
        have = {r["name"] for r in self.db().execute("PRAGMA table_info(sessions)")}
        if "options" not in have:  # a session's options (keep_range: leave the live range up at the end)
            self.db().execute("ALTER TABLE sessions ADD COLUMN options TEXT NOT NULL DEFAULT '{}'")
        have = {r["name"] for r in self.db().execute("PRAGMA table_info(reports)")}
        for col in ("edited_at", "withdrawn_at"):  # a team edits or withdraws its report (session clock)
            if col not in have:
                self.db().execute(f"ALTER TABLE reports ADD COLUMN {col} REAL")

    def db(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=FULL")  # an acknowledged write survives power loss
            con.execute("PRAGMA foreign_keys=ON")
            # one connection per thread (the web app has 256): a small page cache each, the OS caches the file
            con.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            self._local.con = con
        return con

    class _Tx:
        def __init__(self, con):
            self.con = con

        def __enter__(self):
            try:
                self.con.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                raise StoreError(f"could not save the session state ({e}); nothing was changed") from None
            return self.con

        def __exit__(self, exc_type, exc, tb):
            if exc_type is None:
                try:
                    self.con.execute("COMMIT")
                except sqlite3.Error as e:
                    _rollback(self.con)
                    raise StoreError(f"could not save the session state ({e}); nothing was changed") from None
            else:
                _rollback(self.con)
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"could not save the session state ({exc}); nothing was changed") from None
            return False

    def tx(self) -> "_Tx":
        return self._Tx(self.db())

    def q(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        return self.db().execute(sql, args).fetchall()

    def one(self, sql: str, args: tuple = ()) -> sqlite3.Row | None:
        return self.db().execute(sql, args).fetchone()

    def audit(self, db: sqlite3.Connection, session: str | None, actor: str, action: str, detail: Any = "") -> None:
        db.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?)",
                   (time.time(), session, actor, action, json.dumps(detail) if not isinstance(detail, str) else detail))

    # ---- secrets (instructor password, app key) --------------------------------------------
    def secret(self, name: str, make=lambda: secrets.token_urlsafe(32)) -> str:
        row = self.one("SELECT value FROM secrets WHERE name = ?", (name,))
        if row:
            return row["value"]
        with self.tx() as db:
            row = db.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()
            if row:
                return row["value"]
            value = make()
            db.execute("INSERT INTO secrets VALUES (?, ?)", (name, value))
            return value

    def set_secret(self, name: str, value: str) -> None:
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO secrets VALUES (?, ?)", (name, value))

    # ---- sessions ---------------------------------------------------------------------------
    def session(self, name: str) -> sqlite3.Row:
        row = self.one("SELECT * FROM sessions WHERE name = ?", (name,))
        if row is None:
            raise NotFound(f"no session named {name!r}")
        return row

    def sessions(self) -> list[sqlite3.Row]:
        return self.q("SELECT * FROM sessions ORDER BY created_at DESC")

    def clock(self, row: sqlite3.Row) -> Clock:
        return Clock(row["scenario_start"], row["started_wall"], row["paused_wall"], row["paused_total"],
                     row["speed"], row["duration"])

    def teams(self, session: str) -> list[str]:
        return [r["name"] for r in self.q("SELECT name FROM teams WHERE session = ? ORDER BY name", (session,))]

    def team_dir(self, session: str, team: str) -> TeamDir:
        return TeamDir(session_dir(session) / "teams" / team)

    def team_dirs(self, session: str) -> dict[str, TeamDir]:
        return {t: self.team_dir(session, t) for t in self.teams(session)}

    def scenario(self, session: str) -> Scenario:
        """The session's scenario as it plays: its start and every step the instructor moved."""
        row = self.session(session)
        scn = catalog().scenario(row["scenario_path"])
        schedule = {k: float(v) for k, v in json.loads(row["schedule"]).items()}
        return scn.with_overrides(start=row["scenario_start"], schedule=schedule)

    # ---- what teams did ---------------------------------------------------------------------
    def rules(self, session: str, team: str) -> list[dict]:
        return [dict(r) for r in self.q("SELECT * FROM rules WHERE session = ? AND team = ? ORDER BY pk",
                                        (session, team))]

    def alerts(self, session: str, team: str) -> list[dict]:
        return [json.loads(r["body"]) for r in self.q("SELECT body FROM alerts WHERE session = ? AND team = ? "
                                                      "ORDER BY raised_at, id", (session, team))]

    def hints(self, session: str, team: str | None = None) -> list[sqlite3.Row]:
        """Hints released (to ``team``, or to every team), in the order they were released."""
        if team is None:
            return self.q("SELECT * FROM hints WHERE session = ? ORDER BY released_at, step, idx", (session,))
        return self.q("SELECT * FROM hints WHERE session = ? AND team = ? ORDER BY released_at, step, idx",
                      (session, team))


def _rollback(con: sqlite3.Connection) -> None:
    """Undo the open transaction (SQLite may have rolled it back already, e.g. on a full disk)."""
    if con.in_transaction:
        try:
            con.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def session_dir(name: str) -> Path:
    check_name(name)
    return paths.STATE / "sessions" / name


def check_name(name: str, what: str = "session") -> str:
    rx = NAME if what == "session" else TEAM
    if not isinstance(name, str) or not rx.fullmatch(name):
        raise InputError(f"{what} name {name!r}: use 1-31 lower-case letters, digits and '-'"
                         + (" or '_'" if what == "team" else "") + ", starting with a letter or digit")
    return name
