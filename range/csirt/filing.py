"""Incident reports as the state store keeps them: filed, edited and withdrawn by teams while the
session is open, commented and overridden by the instructor. Every change checks its input, writes
one transaction and leaves a line in the audit table; access control is the web app's job. A
withdrawn report stays in the store (and the audit) but no longer shows, counts or exports. The
marks are computed, never stored (:mod:`range.csirt.marks`), so a mark always follows the ground
truth, the report's last edit and the latest override.
"""
from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from range.core import InputError, NotFound
from range.csirt import incidents as rp
from range.events import SCHEMA
from range.sessions import StateStore

MAX_REPORTS = 200  # per team and session
MAX_COMMENT = 2000
OPEN = ("ready", "running", "paused")



def open_for(store: StateStore, session: str, team: str, what: str, done: str = "filed"):
    row = store.session(session)
    if team not in store.teams(session):
        raise NotFound(f"session {session} has no team {team!r}")
    if row["status"] not in OPEN:
        raise InputError(f"session {session} is {row['status']}: {what} can no longer be {done}")
    return row


def _cited_events(store: StateStore, session: str, team: str, evidence: list[str]) -> list[dict]:
    """The events a report cites as ``table:rowid`` (read now: they never change once delivered);
    every reference must name one of the team's alerts or delivered events."""
    alerts = {r["id"] for r in store.q("SELECT id FROM alerts WHERE session = ? AND team = ?", (session, team))}
    out, db = [], None
    try:
        for i, ref in enumerate(evidence):
            if ref in alerts:
                continue
            table, _, rowid = ref.partition(":")
            row = None
            if table in SCHEMA and rowid.isdigit() and int(rowid) < 2**63:
                if db is None:
                    db = sqlite3.connect(f"file:{store.team_dir(session, team).events}?mode=ro", uri=True,
                                         timeout=30)
                try:
                    cur = db.execute(f"SELECT * FROM {table} WHERE rowid = ?", (int(rowid),))
                    row = cur.fetchone()
                except sqlite3.Error:
                    row = None
            if row is None:
                raise InputError(f"'evidence[{i}]' ({ref}) names none of your alerts or events: give an alert id "
                                 f"or an event reference such as conn:42 (table:row: the table and the number "
                                 f"in the 'row' column of the Events tab)")
            out.append(dict(zip([c[0] for c in cur.description], row), _path=table, _ref=ref))
    except sqlite3.Error as e:
        raise InputError(f"'evidence': this team's events cannot be read yet ({e})") from None
    finally:
        if db is not None:
            db.close()
    return out


def file_report(store: StateStore, session: str, team: str, data: Any, actor: str | None = None) -> dict:
    row = open_for(store, session, team, "reports")
    body = rp.validate(data)
    cited = _cited_events(store, session, team, body["evidence"])
    at = store.clock(row).now()
    with store.tx() as db:
        n = db.execute("SELECT count(*) FROM reports WHERE session = ? AND team = ?", (session, team)).fetchone()[0]
        if n >= MAX_REPORTS:
            raise InputError(f"team {team} has filed {MAX_REPORTS} reports (withdrawn ones included): that is "
                             f"the most a session keeps")
        pk = db.execute("INSERT INTO reports (session, team, filed_at, filed_wall, actor, body, evidence_events) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)", (session, team, at, time.time(), actor or team,
                                                         json.dumps(body), json.dumps(cited))).lastrowid
        store.audit(db, session, actor or team, "report", {"team": team, "report": pk, "title": body["title"]})
    return report(store, session, pk)


def edit_report(store: StateStore, session: str, team: str, pk: int, data: Any, actor: str | None = None) -> dict:
    """Replace a report's content (the whole report, checked as when it is filed); it is then
    marked as it stands, as of now (:mod:`range.csirt.incidents`)."""
    row = open_for(store, session, team, "reports", "edited")
    old = report(store, session, pk, team)
    body = rp.validate(data)
    cited = _cited_events(store, session, team, body["evidence"])
    now = rp.public(body)
    changed = sorted(k for k in body if now[k] != old[k])
    if not changed:
        return old  # nothing to write: it keeps its time
    with store.tx() as db:
        _still(db.execute("UPDATE reports SET body = ?, evidence_events = ?, edited_at = ? WHERE pk = ? "
                          "AND withdrawn_at IS NULL", (json.dumps(body), json.dumps(cited), store.clock(row).now(),
                                                       pk)), team, pk)
        store.audit(db, session, actor or team, "report_edited", {"team": team, "report": pk, "title": body["title"],
                                                                  "changed": changed})
    return report(store, session, pk)


def _still(cur: sqlite3.Cursor, team: str, pk: int) -> None:
    """A report withdrawn meanwhile (another request of the team's) is not changed."""
    if cur.rowcount != 1:
        raise NotFound(f"team {team} has no report {pk} (it was just withdrawn)")


def withdraw_report(store: StateStore, session: str, team: str, pk: int, actor: str | None = None) -> dict:
    """Withdraw a report: it no longer shows, counts or exports (the store and the audit keep it)."""
    row = open_for(store, session, team, "reports", "withdrawn")
    old = report(store, session, pk, team)
    with store.tx() as db:
        _still(db.execute("UPDATE reports SET withdrawn_at = ? WHERE pk = ? AND withdrawn_at IS NULL",
                          (store.clock(row).now(), pk)), team, pk)
        store.audit(db, session, actor or team, "report_withdrawn", {"team": team, "report": pk,
                                                                     "title": old["title"]})
    return {"pk": pk, "withdrawn": True}


def _report_row(r: sqlite3.Row, comments: list[dict]) -> dict:
    body = json.loads(r["body"])
    out = {"pk": r["pk"], "session": r["session"], "team": r["team"], "filed_at": r["filed_at"],
           "filed_wall": r["filed_wall"], "edited_at": r["edited_at"], **rp.public(body), "comments": comments,
           "override": None}
    if r["override_points"] is not None:
        out["override"] = {"points": r["override_points"], "reason": r["override_reason"], "at": r["override_at"]}
    return out


def reports(store: StateStore, session: str, team: str | None = None) -> list[dict]:
    args: tuple = (session,) if team is None else (session, team)
    rows = store.q("SELECT * FROM reports WHERE session = ? AND withdrawn_at IS NULL"
                   + (" AND team = ?" if team else "") + " ORDER BY pk", args)
    comments: dict[int, list[dict]] = {}
    for c in store.q("SELECT * FROM report_comments WHERE session = ? ORDER BY pk", (session,)):
        comments.setdefault(c["report"], []).append({"pk": c["pk"], "author": c["author"], "text": c["text"],
                                                     "at": c["at"]})
    return [_report_row(r, comments.get(r["pk"], [])) for r in rows]


def report(store: StateStore, session: str, pk: int, team: str | None = None) -> dict:
    r = store.one("SELECT * FROM reports WHERE pk = ? AND session = ? AND withdrawn_at IS NULL", (pk, session))
    if r is None or (team is not None and r["team"] != team):
        raise NotFound(f"{'team ' + team if team else 'session ' + session} has no report {pk}")
    comments = [{"pk": c["pk"], "author": c["author"], "text": c["text"], "at": c["at"]}
                for c in store.q("SELECT * FROM report_comments WHERE report = ? ORDER BY pk", (pk,))]
    return _report_row(r, comments)


def _note(value: Any, key: str, what: str) -> None:
    """The instructor's free text (a comment, an override's reason): required, bounded, plain."""
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"'{key}' is required: {what}")
    if len(value) > MAX_COMMENT:
        raise InputError(f"'{key}' is longer than {MAX_COMMENT} characters")
    rp.plain_text(value, key)


def comment(store: StateStore, session: str, pk: int, text: Any, actor: str = "instructor") -> dict:
    report(store, session, pk)
    _note(text, "text", "the comment")
    with store.tx() as db:
        cpk = db.execute("INSERT INTO report_comments (report, session, author, text, at) VALUES (?, ?, ?, ?, ?)",
                         (pk, session, actor, text.strip(), time.time())).lastrowid
        store.audit(db, session, actor, "comment", {"report": pk, "comment": cpk})
    return report(store, session, pk)


def override(store: StateStore, session: str, pk: int, points: float | None, reason: Any,
             actor: str = "instructor") -> dict:
    """Set (or with ``points`` None, clear) the instructor's mark of a report; the reason is kept
    on the report and every change in the audit table."""
    old = report(store, session, pk)
    _note(reason, "reason", "say why the mark changes (it is kept and shown to the team)")
    with store.tx() as db:
        db.execute("UPDATE reports SET override_points = ?, override_reason = ?, override_at = ? WHERE pk = ?",
                   (points, reason.strip() if points is not None else None, time.time() if points is not None else None,
                    pk))
        store.audit(db, session, actor, "override" if points is not None else "override_cleared",
                    {"report": pk, "team": old["team"], "points": points, "reason": reason.strip(),
                     "was": old["override"]})
    return report(store, session, pk)
