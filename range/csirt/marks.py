"""The score lines a team's incident reports and shared indicators earn: pure marks
(:mod:`range.csirt.incidents`, :mod:`range.csirt.sharing`) over the team's answer key
(:mod:`range.csirt.answerkey`), computed from the state store each time they are read."""
from __future__ import annotations

import json

from range.csirt import incidents as rp
from range.csirt import sharing
from range.csirt.answerkey import answer_keys
from range.csirt.hub import indicators
from range.scoring import Adjustment, Truth, event_in_step, event_key
from range.sessions import StateStore


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


def team_marks(store: StateStore, session: str, team: str, truth, detection: dict, alerts: list[dict]) -> list[dict]:
    """The marks of a team's reports (see :mod:`range.csirt.incidents`)."""
    rows = store.q("SELECT * FROM reports WHERE session = ? AND team = ? AND withdrawn_at IS NULL ORDER BY pk",
                   (session, team))
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
        filed.append(rp.Filed(r["pk"], team, r["edited_at"] or r["filed_at"], body,
                              _evidence_steps(truth, body, json.loads(r["evidence_events"]), by_id), ov,
                              edited=r["edited_at"] is not None))
    return rp.mark_all(filed, keys, detected)


def session_share_marks(store: StateStore, session: str) -> list[dict]:
    inds = indicators(store, session)
    if not inds:
        return []
    keys = {}
    for t in {i["team"] for i in inds}:
        d = store.team_dir(session, t)
        if d.truth.exists():
            keys[t] = answer_keys(d, Truth.read(d.truth))
    return sharing.share_marks([dict(i, kind=i["type"]) for i in inds], keys)


def adjustments(
    store: StateStore, session: str, team: str, truth, detection: dict, alerts: list[dict]
) -> list[Adjustment]:
    """The score lines a team's reports and shared indicators earn."""
    out = [
        Adjustment(rp.earned(m), m["reason"], m["step"], "report", m["report"])
        for m in team_marks(store, session, team, truth, detection, alerts)
    ]
    out += [
        Adjustment(m["points"], m["reason"], m["step"], "sharing", m["pk"])
        for m in session_share_marks(store, session)
        if m["team"] == team
    ]
    return out
