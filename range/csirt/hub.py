"""The session's indicator hub as the state store keeps it: teams publish indicators with a TLP
marking, see what TLP allows (:func:`range.csirt.sharing.visible`), and turn any indicator they
may see into a Sigma rule, drafted or deployed."""
from __future__ import annotations

import sqlite3
import time
from typing import Any

from range.core import InputError, NotFound
from range.csirt import incidents as rp
from range.csirt import sharing
from range.csirt.filing import open_for, report
from range.sessions import StateStore, deploy_rule

MAX_INDICATORS = 500


def _ind_row(r: sqlite3.Row) -> dict:
    return {"pk": r["pk"], "team": r["team"], "type": r["kind"], "value": r["value"], "tlp": r["tlp"],
            "published_at": r["published_at"], "published_wall": r["published_wall"], "comment": r["comment"],
            "report": r["report"]}


def publish(store: StateStore, session: str, team: str, data: Any, actor: str | None = None) -> dict:
    row = open_for(store, session, team, "indicators")
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


def indicators(store: StateStore, session: str) -> list[dict]:
    return [_ind_row(r) for r in store.q("SELECT * FROM indicators WHERE session = ? ORDER BY published_at, pk",
                                          (session,))]


def visible_indicators(store: StateStore, session: str, team: str | None, instructor: bool) -> list[dict]:
    """The indicators this viewer may see (:func:`range.csirt.sharing.visible`)."""
    return [i for i in indicators(store, session) if sharing.visible(i["tlp"], i["team"], team, instructor)]


def indicator_rule(store: StateStore, session: str, team: str, pk: int, deploy: bool, instructor: bool,
                   actor: str | None = None) -> dict:
    """A Sigma rule for an indicator the team may see; deployed for the team when ``deploy``."""
    r = store.one("SELECT * FROM indicators WHERE pk = ? AND session = ?", (pk, session))
    if r is None or not sharing.visible(r["tlp"], r["team"], team, instructor):
        raise NotFound(f"the feed of session {session} holds no indicator {pk} that team {team} may see")
    text = sharing.sigma_rule(r["kind"], r["value"], pk, r["team"], r["tlp"])
    deployed = deploy_rule(store, session, team, text, actor=actor or team) if deploy else None
    with store.tx() as db:
        store.audit(db, session, actor or team, "import_indicator", {"team": team, "indicator": pk,
                                                                     "deployed": bool(deployed)})
    return {"indicator": pk, "yaml": text, "deployed": deployed}
