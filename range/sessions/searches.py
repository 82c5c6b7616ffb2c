"""Saved searches of the hunting workspace: a team names a query over one event table, with the time
range and the columns it was looking at, and finds it again later. Each session keeps a team's own
list (at most ``MAX_SEARCHES``), seen only by that team and the instructor (access control is the
web app's job). A saved search changes no score, so a team may keep saving after the session ends.

What is saved is checked strictly, each problem an InputError naming the field and the fix: the
query must compile for its table (:func:`range.events.query.compile_query`, whose message keeps the
character where it goes wrong), the columns must be fields of the table, and the times are kept as
typed (ISO-8601, epoch seconds, a time of day or relative to the session clock such as ``-15m``),
since a relative range means "the last 15 minutes" whenever the search is opened again.
"""
from __future__ import annotations

import json
import re
import sqlite3
import time
from typing import Any

from range.core import InputError, NotFound, RangeError, parse_when
from range.events import SCHEMA
from range.events.query import HIDDEN, MAX_QUERY, compile_query
from range.sessions.state import StateStore

MAX_SEARCHES = 50  # per team and session
MAX_NAME = 80
KEYS = ("name", "table", "query", "from", "to", "columns", "replace")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class NameTaken(RangeError):
    """The team already has a saved search of that name and the request did not ask to replace it
    (the web app answers 409)."""


def fields(table: str) -> list[str]:
    """The fields of an event table a search may show, in the store's order."""
    return [c for c, _ in SCHEMA[table] if c not in HIDDEN]


def _when(data: dict, key: str) -> str | None:
    """The time as typed (stripped; None when empty), once :func:`range.core.parse_when` reads it:
    any clock will do, only the form is checked (the time is read when the search runs)."""
    v = data.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        example = f"\"{v}\" or " if isinstance(v, (int, float)) and not isinstance(v, bool) else ""
        raise InputError(f"'{key}' must be a string as typed in the time box, e.g. {example}\"-15m\", "
                         f"or null for no bound")
    v = v.strip()
    if not v:
        return None
    try:
        parse_when(v, now=0.0)
    except ValueError as e:
        raise InputError(f"'{key}': {e}") from None
    return v


def _name(data: dict) -> str:
    v = data.get("name")
    if v is None:
        raise InputError(f"'name' is required: 1 to {MAX_NAME} characters naming the search")
    if not isinstance(v, str):
        raise InputError(f"'name' must be a string of 1 to {MAX_NAME} characters (got {type(v).__name__})")
    v = v.strip()
    if not v:
        raise InputError(f"'name' is empty: give the search a name of 1 to {MAX_NAME} characters")
    if len(v) > MAX_NAME:
        raise InputError(f"'name' is {len(v)} characters long: shorten it to at most {MAX_NAME}")
    if _CONTROL.search(v):
        raise InputError("'name' holds a control character (a new line or tab, say): use one line of plain text")
    return v


def _table(data: dict) -> str:
    v = data.get("table")
    if v is None or v == "":
        raise InputError(f"'table' is required: one of {', '.join(SCHEMA)}")
    if not isinstance(v, str) or v not in SCHEMA:
        got = repr(v[:40]) if isinstance(v, str) else type(v).__name__
        raise InputError(f"'table' must be one of {', '.join(SCHEMA)} (got {got})")
    return v


def _columns(data: dict, table: str) -> list[str] | None:
    v = data.get("columns")
    if v is None or v == []:
        return None
    have = fields(table)
    if not isinstance(v, list):
        raise InputError(f"'columns' must be a list of fields of table {table}, e.g. [\"ts\", \"uid\"], "
                         f"or left out for the table's default columns")
    if len(v) > len(have):
        raise InputError(f"'columns' lists {len(v)} entries; table {table} has {len(have)} fields")
    seen: set[str] = set()
    for i, c in enumerate(v):
        if not isinstance(c, str):
            raise InputError(f"'columns[{i}]' must be the name of a field (got {type(c).__name__})")
        if c not in have:
            raise InputError(f"'columns[{i}]': table {table} has no field {c[:40]!r}; its fields: {', '.join(have)}")
        if c in seen:
            raise InputError(f"'columns[{i}]': {c!r} is listed twice")
        seen.add(c)
    return list(v)


def check_search(data: Any) -> tuple[dict, bool]:
    """A saved search as the API sends it, checked strictly: (its normal form, whether to replace a
    search of the same name). Unknown keys are errors; ``csrf_token`` (a form's) is ignored."""
    if not isinstance(data, dict):
        raise InputError('a saved search is a JSON object {"name": ..., "table": ..., "query": ...}')
    extra = sorted(set(data) - set(KEYS) - {"csrf_token"})
    if extra:
        raise InputError(f"unknown field(s) {', '.join(repr(k[:40]) for k in extra)}; a saved search has "
                         f"{', '.join(KEYS[:-1])} and replace")
    replace = data.get("replace", False)
    if replace is None:
        replace = False
    if not isinstance(replace, bool):
        raise InputError(f"'replace' must be true or false (got {str(replace)[:20]!r})")
    name = _name(data)
    table = _table(data)
    query = data.get("query")
    if query is None:
        query = ""
    if not isinstance(query, str):
        raise InputError(f"'query' must be a string in the hunting language, e.g. \"status_code>=400\" "
                         f"(got {type(query).__name__})")
    query = query.strip()
    if len(query) > MAX_QUERY:
        raise InputError(f"'query' is {len(query)} characters long: at most {MAX_QUERY}")
    compile_query(table, query)  # a QueryError (400) names the character where it goes wrong
    return {"name": name, "table": table, "query": query, "from": _when(data, "from"), "to": _when(data, "to"),
            "columns": _columns(data, table)}, replace


def _row(r: sqlite3.Row) -> dict:
    return {"id": r["pk"], "name": r["name"], "table": r["tbl"], "query": r["query"], "from": r["from_text"],
            "to": r["to_text"], "columns": json.loads(r["columns"]) if r["columns"] else None,
            "created_at": r["created_at"], "created_by": r["created_by"]}


def _team(store: StateStore, session: str, team: str) -> sqlite3.Row:
    row = store.session(session)
    if team not in store.teams(session):
        raise NotFound(f"session {session} has no team {team!r}")
    return row


def saved_searches(store: StateStore, session: str, team: str) -> list[dict]:
    """The team's saved searches, by name (case-insensitive)."""
    _team(store, session, team)
    return [_row(r) for r in store.q("SELECT * FROM saved_searches WHERE session = ? AND team = ? "
                                     "ORDER BY folded, pk", (session, team))]


def save_search(store: StateStore, session: str, team: str, data: Any, actor: str | None = None) -> dict:
    """Save a search for the team (any session state: it changes no score). A name the team already
    uses (case-insensitive) is a :class:`NameTaken` unless ``replace`` is true: then that search
    keeps its id and takes the new content."""
    row = _team(store, session, team)
    spec, replace = check_search(data)
    folded = spec["name"].casefold()
    at = store.clock(row).now()
    cols = json.dumps(spec["columns"]) if spec["columns"] else None
    values = (spec["name"], folded, spec["table"], spec["query"], spec["from"], spec["to"], cols, at, time.time(),
              actor or team)
    with store.tx() as db:
        old = db.execute("SELECT pk, name FROM saved_searches WHERE session = ? AND team = ? AND folded = ?",
                         (session, team, folded)).fetchone()
        if old is not None:
            if not replace:
                raise NameTaken(f"'name': your team already has a saved search named {old['name']!r} (#{old['pk']}); "
                                f"send \"replace\": true to overwrite it, or choose another name")
            pk = old["pk"]
            db.execute("UPDATE saved_searches SET name = ?, folded = ?, tbl = ?, query = ?, from_text = ?, "
                       "to_text = ?, columns = ?, created_at = ?, created_wall = ?, created_by = ? WHERE pk = ?",
                       (*values, pk))
        else:
            n = db.execute("SELECT count(*) FROM saved_searches WHERE session = ? AND team = ?",
                           (session, team)).fetchone()[0]
            if n >= MAX_SEARCHES:
                raise InputError(f"team {team} has {MAX_SEARCHES} saved searches, the most a session keeps: "
                                 f"delete one, or save over one of them with \"replace\": true")
            pk = db.execute("INSERT INTO saved_searches (session, team, name, folded, tbl, query, from_text, "
                            "to_text, columns, created_at, created_wall, created_by) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (session, team, *values)).lastrowid
        store.audit(db, session, actor or team, "save_search", {"team": team, "search": pk, "name": spec["name"],
                                                                "replaced": old is not None})
    return _row(store.one("SELECT * FROM saved_searches WHERE pk = ?", (pk,)))


def delete_search(store: StateStore, session: str, team: str, pk: int, actor: str | None = None) -> None:
    """Delete one of the team's saved searches (any session state)."""
    _team(store, session, team)
    with store.tx() as db:
        cur = db.execute("DELETE FROM saved_searches WHERE pk = ? AND session = ? AND team = ?", (pk, session, team))
        if cur.rowcount == 0:
            raise NotFound(f"team {team} has no saved search {pk}")
        store.audit(db, session, actor or team, "delete_search", {"team": team, "search": pk})
