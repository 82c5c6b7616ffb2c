"""The CSIRT workflow's state: incident reports (with the instructor's comments and overrides) and
the session's shared indicators, kept in the state store, and the score lines they earn.

Like :mod:`range.control`, every change checks its input, writes one transaction and leaves a line
in the audit table; access control is the web app's job. Marks are computed, never stored: the
pure functions of :mod:`range.reports` and :mod:`range.sharing` over the answer key
(:mod:`range.answerkey`), so a mark always follows the ground truth and the latest override.
"""
from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from range.csirt import reports as rp
from range.csirt import sharing
from range.csirt.answerkey import answer_keys
from range.core.errors import InputError, NotFound
from range.scoring.score import Adjustment, event_in_step, event_key
from range.sessions.state import Store

MAX_REPORTS = 200  # per team and session
MAX_INDICATORS = 500
MAX_COMMENT = 2000
OPEN = ("ready", "running", "paused")


def _open(store: Store, session: str, team: str, what: str):
    row = store.session(session)
    if team not in store.teams(session):
        raise NotFound(f"session {session} has no team {team!r}")
    if row["status"] not in OPEN:
        raise InputError(f"session {session} is {row['status']}: {what} can no longer be filed")
    return row


# ---- reports ---------------------------------------------------------------------------------------

TABLES = ("conn", "dns", "http", "ssh", "ftp", "telnet", "arp")


def _cited_events(store: Store, session: str, team: str, evidence: list[str]) -> list[dict]:
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
            if table in TABLES and rowid.isdigit() and int(rowid) < 2**63:
                if db is None:
                    db = sqlite3.connect(f"file:{store.team_dir(session, team) / 'events.db'}?mode=ro", uri=True,
                                         timeout=30)
                try:
                    cur = db.execute(f"SELECT * FROM {table} WHERE rowid = ?", (int(rowid),))
                    row = cur.fetchone()
                except sqlite3.Error:
                    row = None
            if row is None:
                raise InputError(f"'evidence[{i}]' ({ref}) names none of your alerts or events: give an alert id "
                                 f"or an event reference such as conn:42 (table:rowid from the event explorer)")
            out.append(dict(zip([c[0] for c in cur.description], row), _path=table, _ref=ref))
    except sqlite3.Error as e:
        raise InputError(f"'evidence': this team's events cannot be read yet ({e})") from None
    finally:
        if db is not None:
            db.close()
    return out


def file_report(store: Store, session: str, team: str, data: Any, actor: str | None = None) -> dict:
    row = _open(store, session, team, "reports")
    body = rp.validate(data)
    cited = _cited_events(store, session, team, body["evidence"])
    at = store.clock(row).now()
    with store.tx() as db:
        n = db.execute("SELECT count(*) FROM reports WHERE session = ? AND team = ?", (session, team)).fetchone()[0]
        if n >= MAX_REPORTS:
            raise InputError(f"team {team} has filed {MAX_REPORTS} reports: that is the most a session keeps")
        pk = db.execute("INSERT INTO reports (session, team, filed_at, filed_wall, actor, body, evidence_events) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)", (session, team, at, time.time(), actor or team,
                                                         json.dumps(body), json.dumps(cited))).lastrowid
        store.audit(db, session, actor or team, "report", {"team": team, "report": pk, "title": body["title"]})
    return report(store, session, pk)


def _report_row(r: sqlite3.Row, comments: list[dict]) -> dict:
    body = json.loads(r["body"])
    out = {"pk": r["pk"], "session": r["session"], "team": r["team"], "filed_at": r["filed_at"],
           "filed_wall": r["filed_wall"], **rp.public(body), "comments": comments,
           "override": None}
    if r["override_points"] is not None:
        out["override"] = {"points": r["override_points"], "reason": r["override_reason"], "at": r["override_at"]}
    return out


def reports(store: Store, session: str, team: str | None = None) -> list[dict]:
    args: tuple = (session,) if team is None else (session, team)
    rows = store.q("SELECT * FROM reports WHERE session = ?" + (" AND team = ?" if team else "") + " ORDER BY pk", args)
    comments: dict[int, list[dict]] = {}
    for c in store.q("SELECT * FROM report_comments WHERE session = ? ORDER BY pk", (session,)):
        comments.setdefault(c["report"], []).append({"pk": c["pk"], "author": c["author"], "text": c["text"],
                                                     "at": c["at"]})
    return [_report_row(r, comments.get(r["pk"], [])) for r in rows]


def report(store: Store, session: str, pk: int, team: str | None = None) -> dict:
    r = store.one("SELECT * FROM reports WHERE pk = ? AND session = ?", (pk, session))
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


def comment(store: Store, session: str, pk: int, text: Any, actor: str = "instructor") -> dict:
    report(store, session, pk)
    _note(text, "text", "the comment")
    with store.tx() as db:
        cpk = db.execute("INSERT INTO report_comments (report, session, author, text, at) VALUES (?, ?, ?, ?, ?)",
                         (pk, session, actor, text.strip(), time.time())).lastrowid
        store.audit(db, session, actor, "comment", {"report": pk, "comment": cpk})
    return report(store, session, pk)


def override(store: Store, session: str, pk: int, points: float | None, reason: Any,
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


# ---- indicators ------------------------------------------------------------------------------------

def _ind_row(r: sqlite3.Row) -> dict:
    return {"pk": r["pk"], "team": r["team"], "type": r["kind"], "value": r["value"], "tlp": r["tlp"],
            "published_at": r["published_at"], "published_wall": r["published_wall"], "comment": r["comment"],
            "report": r["report"]}


def publish(store: Store, session: str, team: str, data: Any, actor: str | None = None) -> dict:
    row = _open(store, session, team, "indicators")
    if not isinstance(data, dict):
        raise InputError("an indicator is a JSON object {\"type\": ..., \"value\": ..., \"tlp\": ...}")
    extra = sorted(set(data) - {"type", "value", "tlp", "comment", "report", "csrf_token"})
    if extra:
        raise InputError(f"unknown field(s) {', '.join(map(repr, extra))}; an indicator has type, value, tlp, "
                         f"comment and report")
    kind, value = sharing.indicator(data.get("type"), data.get("value"), "indicator")
    marking = sharing.tlp(data.get("tlp", "GREEN"))
    note = data.get("comment") or ""
    if not isinstance(note, str) or len(note) > 500:
        raise InputError("'comment' must be a string of at most 500 characters")
    rp.plain_text(note, "comment")
    ref = data.get("report")
    if ref not in (None, ""):
        if isinstance(ref, bool) or not (isinstance(ref, int) or (isinstance(ref, str) and ref.isascii()
                                                                  and ref.isdigit())) or not 0 < int(ref) < 2**63:
            raise InputError("'report' must be the number of one of your reports")
        ref = int(ref)
        report(store, session, ref, team)
    else:
        ref = None
    at = store.clock(row).now()
    with store.tx() as db:
        n = db.execute("SELECT count(*) FROM indicators WHERE session = ? AND team = ?", (session, team)).fetchone()[0]
        if n >= MAX_INDICATORS:
            raise InputError(f"team {team} has published {MAX_INDICATORS} indicators: the most a session keeps")
        dup = db.execute("SELECT pk FROM indicators WHERE session = ? AND team = ? AND kind = ? AND value = ?",
                         (session, team, kind, value)).fetchone()
        if dup:
            raise InputError(f"'value': your team already published this {kind} (indicator #{dup[0]})")
        pk = db.execute("INSERT INTO indicators (session, team, kind, value, tlp, published_at, published_wall, "
                        "comment, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (session, team, kind, value, marking, at, time.time(), note.strip(), ref)).lastrowid
        store.audit(db, session, actor or team, "publish", {"team": team, "indicator": pk, "type": kind,
                                                            "tlp": marking})
    return _ind_row(store.one("SELECT * FROM indicators WHERE pk = ?", (pk,)))


def indicators(store: Store, session: str) -> list[dict]:
    return [_ind_row(r) for r in store.q("SELECT * FROM indicators WHERE session = ? ORDER BY published_at, pk",
                                          (session,))]


def feed(store: Store, session: str, team: str | None, instructor: bool) -> list[dict]:
    """The indicators this viewer may see (:func:`range.sharing.visible`)."""
    return [i for i in indicators(store, session) if sharing.visible(i["tlp"], i["team"], team, instructor)]


def indicator_rule(store: Store, session: str, team: str, pk: int, deploy: bool, instructor: bool,
                   actor: str | None = None) -> dict:
    """A Sigma rule for an indicator the team may see; deployed for the team when ``deploy``."""
    from range.sessions import commands as control
    r = store.one("SELECT * FROM indicators WHERE pk = ? AND session = ?", (pk, session))
    if r is None or not sharing.visible(r["tlp"], r["team"], team, instructor):
        raise NotFound(f"the feed of session {session} holds no indicator {pk} that team {team} may see")
    text = sharing.sigma_rule(r["kind"], r["value"], pk, r["team"], r["tlp"])
    deployed = control.deploy_rule(store, session, team, text, actor=actor or team) if deploy else None
    with store.tx() as db:
        store.audit(db, session, actor or team, "import_indicator", {"team": team, "indicator": pk,
                                                                     "deployed": bool(deployed)})
    return {"indicator": pk, "yaml": text, "deployed": deployed}


# ---- marks and score lines -------------------------------------------------------------------------

def _evidence_steps(truth, body: dict, cited: list[dict], alerts: dict) -> frozenset:
    """The steps whose traffic a report's evidence holds: its alerts' events and the events it cites."""
    events = list(cited)
    for ref in body["evidence"]:
        a = alerts.get(ref)
        if a is not None:
            events.extend(a.get("events", []))
    steps: set[str] = set()
    for ev in events:
        k = event_key(ev)
        steps.update(s.id for s in truth.steps if event_in_step(k, s))
    return frozenset(steps)


def team_marks(store: Store, session: str, team: str, truth, detection: dict, alerts: list[dict]) -> list[dict]:
    """The marks of a team's reports (see :mod:`range.reports`)."""
    rows = store.q("SELECT * FROM reports WHERE session = ? AND team = ? ORDER BY pk", (session, team))
    if not rows:
        return []
    keys = answer_keys(store.team_dir(session, team), truth)
    by_id = {a["id"]: a for a in alerts}
    detected = {s["id"]: (next(x.start for x in truth.steps if x.id == s["id"]) + s["ttd_seconds"])
                if s["detected"] else None for s in detection["steps"]}
    filed = []
    for r in rows:
        body = json.loads(r["body"])
        ov = {"points": r["override_points"], "reason": r["override_reason"]} \
            if r["override_points"] is not None else None
        filed.append(rp.Filed(r["pk"], team, r["filed_at"], body,
                              _evidence_steps(truth, body, json.loads(r["evidence_events"]), by_id), ov))
    return rp.mark_all(filed, keys, detected)


def session_share_marks(store: Store, session: str) -> list[dict]:
    from range.scoring.truth import Truth
    inds = indicators(store, session)
    if not inds:
        return []
    keys = {}
    for t in {i["team"] for i in inds}:
        d = store.team_dir(session, t)
        if (d / "truth.json").exists():
            keys[t] = answer_keys(d, Truth.read(d / "truth.json"))
    return sharing.share_marks([dict(i, kind=i["type"]) for i in inds], keys)


def adjustments(store: Store, session: str, team: str, truth, detection: dict, alerts: list[dict]) -> list[Adjustment]:
    """The score lines a team's reports and shared indicators earn."""
    out = [Adjustment(rp.earned(m), m["reason"], m["step"], "report", m["report"])
           for m in team_marks(store, session, team, truth, detection, alerts)]
    out += [Adjustment(m["points"], m["reason"], m["step"], "sharing", m["pk"])
            for m in session_share_marks(store, session) if m["team"] == team]
    return out
