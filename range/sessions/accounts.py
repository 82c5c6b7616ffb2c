"""Who may log in: the instructor's password and each team's, kept hashed in the state store.

The instructor has one password: ``CYBERRANGE_INSTRUCTOR_PASSWORD`` if set, else a generated one
stored hashed (PBKDF2) in the secrets table and printed once by ``cyberrange serve``. Each team of
a session has the password shown when the session was created. Logins ignore the case of session
and team names (:func:`login_name`) and spaces pasted around a password.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading

from range.sessions.state import StateStore, check_secret, hash_secret

ENV_PASSWORD = "CYBERRANGE_INSTRUCTOR_PASSWORD"
SECRET_NAME = "instructor_password"


def ensure_instructor_password(store: StateStore, reset: bool = False) -> str | None:
    """Generate and store (hashed) the instructor password on first start; return it then, else None."""
    if os.environ.get(ENV_PASSWORD):
        return None
    row = store.one("SELECT value FROM secrets WHERE name = ?", (SECRET_NAME,))
    if row and not reset:
        return None
    password = secrets.token_urlsafe(12)
    store.set_secret(SECRET_NAME, hash_secret(password))
    return password


_ok_cache: dict[str, bool] = {}
_cache_lock = threading.Lock()


def _check_cached(password: str, stored: str) -> bool:
    """check_secret (PBKDF2, ~0.1 s) remembered for passwords that matched: Basic auth sends it each time."""
    key = hashlib.sha256(f"{stored}\x00{password}".encode()).hexdigest()
    if _ok_cache.get(key):
        return True
    ok = check_secret(password, stored)
    if ok:
        with _cache_lock:
            if len(_ok_cache) > 1024:
                _ok_cache.clear()
            _ok_cache[key] = True
    return ok


def instructor_basis(store: StateStore) -> str:
    """What changes whenever the instructor password changes (login cookies and tokens carry a MAC of it)."""
    env = os.environ.get(ENV_PASSWORD)
    if env:
        return "env:" + env
    row = store.one("SELECT value FROM secrets WHERE name = ?", (SECRET_NAME,))
    return row["value"] if row else ""


def login_name(name) -> str:
    """A session or team name as typed at login, as it is stored: names are created lower case
    (:func:`range.sessions.state.check_name`), so 'Blue ' is 'blue'."""
    return name.strip().lower() if isinstance(name, str) else ""


def _typed(password: str) -> list[str]:
    """The password as typed, then without the spaces a paste adds around it (the generated
    passwords never hold spaces; one set in the environment may, and is tried as it is first)."""
    bare = password.strip()
    return [password, bare] if bare and bare != password else [password]


def check_instructor(store: StateStore, password: str) -> bool:
    if not isinstance(password, str) or not password:
        return False
    env = os.environ.get(ENV_PASSWORD)
    if env:
        return any(hmac.compare_digest(p.encode(), env.encode()) for p in _typed(password))
    row = store.one("SELECT value FROM secrets WHERE name = ?", (SECRET_NAME,))
    return bool(row) and any(_check_cached(p, row["value"]) for p in _typed(password))


def check_team(store: StateStore, session: str, team: str, password: str) -> bool:
    if not all(isinstance(x, str) and x for x in (session, team, password)):
        return False
    row = store.one("SELECT secret FROM teams WHERE session = ? AND name = ?", (session, team))
    return bool(row) and any(_check_cached(p, row["secret"]) for p in _typed(password))


def team_exists(store: StateStore, session: str, team: str) -> bool:
    return store.one("SELECT 1 FROM teams WHERE session = ? AND name = ?", (session, team)) is not None
