"""JSON API of a team's workspace: its rules, alerts, score, hints, events, packets and saved searches.

Every route is ``/api/sessions/<name>/teams/<team>/...`` and answers the instructor or that very
team only (:func:`scoreboard.auth.team_required`). Before the session ends a team's score and
hints leave out the ground truth (:func:`range.results.disclosure.team_view`).
"""
from __future__ import annotations

import functools

from flask import Blueprint, Response, g, jsonify, request

from range import sessions
from range.core import InputError, iso
from range.detect import pipeline_tables
from range.events import explorer, packets
from range.results import disclosure, team_facts
from scoreboard.appstate import current_range
from scoreboard.auth import team_required
from scoreboard.sse import stream
from scoreboard.util import body, integer, text, when

bp = Blueprint("api_team", __name__, url_prefix="/api/sessions/<name>/teams/<team>")


def _reveal(row) -> bool:
    return g.who.instructor or disclosure.ended(row)


def _events_db(name: str, team: str):
    return current_range().store.team_dir(name, team).events


def _overview(r, name: str, team: str, reveal_always: bool) -> dict:
    row = r.store.session(name)
    reveal = reveal_always or disclosure.ended(row)
    f = team_facts(r.store, name, team)
    rules = r.store.rules(name, team)
    try:
        counts = explorer.counts(r.store.team_dir(name, team).events)
    except Exception:  # noqa: BLE001 - the store is still being prepared
        counts = {}
    return {"session": name, "team": team, "scenario": row["scenario"], "mode": row["mode"],
            **disclosure.clock(r.store, row),
            "score": disclosure.team_view(f, reveal) if f else None,
            "alerts": len(f.alerts) if f else 0,
            "rules_deployed": sum(1 for x in rules if x["withdrawn_at"] is None),
            "hints": disclosure.hints(r.store, name, team, reveal), "events": counts}


@bp.get("")
@team_required
def overview(name: str, team: str):
    return jsonify(_overview(current_range(), name, team, g.who.instructor))


@bp.get("/stream")
@team_required
def team_stream(name: str, team: str):
    r, instructor = current_range(), g.who.instructor
    r.store.session(name)
    return stream(lambda: _overview(r, name, team, instructor),
                  share=("team", str(r.store.path), name, team, instructor))


# ---- rules ----------------------------------------------------------------------------------

@bp.get("/rules")
@team_required
def rules(name: str, team: str):
    problems = current_range().driver.rule_problems(name)
    out = [{**r, "active": r["withdrawn_at"] is None, "problem": problems.get(r["pk"])}
           for r in current_range().store.rules(name, team)]
    return jsonify({"rules": out})


def _rule_text() -> str:
    rule = text(body(), "yaml", max_len=sessions.MAX_RULE_BYTES)
    if not rule.strip():
        raise InputError("'yaml' is empty: paste one Sigma rule")
    return rule


@bp.post("/rules")
@team_required
def deploy(name: str, team: str):
    actor = "instructor" if g.who.instructor else team
    out = sessions.deploy_rule(current_range().store, name, team, _rule_text(), actor=actor)
    current_range().changed()
    return jsonify(out), 201


@bp.delete("/rules/<int:pk>")
@team_required
def withdraw(name: str, team: str, pk: int):
    actor = "instructor" if g.who.instructor else team
    sessions.withdraw_rule(current_range().store, name, team, pk, actor=actor)
    current_range().changed()
    return jsonify({"pk": pk, "withdrawn": True})


@bp.post("/dry-run")
@team_required
def dry_run(name: str, team: str):
    if not _events_db(name, team).exists():
        raise InputError("this team's events are not ready yet (the session is being prepared)")
    out = sessions.dry_run(current_range().store, name, team, _rule_text())
    out["matches"] = len(out["alerts"])
    return jsonify(out)


# ---- saved searches --------------------------------------------------------------------------
# A team's saved searches of the hunting workspace (range.sessions.searches). Saving and deleting
# stay allowed after the session has ended: a saved search changes no score, and hunting through
# the finished session's events is what the debrief does.

@bp.get("/searches")
@team_required
def searches(name: str, team: str):
    return jsonify({"searches": sessions.saved_searches(current_range().store, name, team)})


@bp.post("/searches")
@team_required
def save_search(name: str, team: str):
    actor = "instructor" if g.who.instructor else team
    return jsonify(sessions.save_search(current_range().store, name, team, body(), actor=actor)), 201


@bp.delete("/searches/<int:id>")
@team_required
def delete_search(name: str, team: str, id: int):
    actor = "instructor" if g.who.instructor else team
    sessions.delete_search(current_range().store, name, team, id, actor=actor)
    return jsonify({"id": id, "deleted": True})


# ---- alerts, score, hints -------------------------------------------------------------------

@bp.get("/alerts")
@team_required
def alerts(name: str, team: str):
    return jsonify({"alerts": current_range().store.alerts(name, team)})


@bp.get("/score")
@team_required
def score(name: str, team: str):
    store = current_range().store
    f = team_facts(store, name, team)
    if f is None:
        raise InputError("the session is still being prepared: no score yet")
    return jsonify(disclosure.team_view(f, _reveal(store.session(name))))


@bp.get("/hints")
@team_required
def hints(name: str, team: str):
    store = current_range().store
    return jsonify({"hints": disclosure.hints(store, name, team, _reveal(store.session(name)))})


# ---- events and packets ---------------------------------------------------------------------

@functools.cache
def _mapping() -> list[tuple[str, list[dict]]]:
    """The pipeline's table mapping, in its order (:func:`range.detect.pipeline_tables`)."""
    return pipeline_tables()


@bp.get("/events/tables")
@team_required
def event_tables(name: str, team: str):
    tables = explorer.tables()
    return jsonify({"tables": tables, "counts": explorer.counts(_events_db(name, team)),
                    "logsources": {t: [ls for m, lss in _mapping() if m == t for ls in lss] for t in tables},
                    "mapping": [{"table": t, "logsources": lss} for t, lss in _mapping() if t in tables]})


@bp.get("/events")
@team_required
def events(name: str, team: str):
    a = request.args
    since, until = _span(name)
    page = explorer.query(
        _events_db(name, team), a.get("table", "conn"), filters=a.getlist("filter"),
        since=since, until=until, text=a.get("q") or None,
        limit=integer(a, "limit", default=50, lo=1, hi=explorer.MAX_LIMIT),
        offset=integer(a, "offset", default=0, lo=0, hi=10**9),
        after=integer(a, "after", default=None, lo=0), kql=a.get("query") or None,
        sort=a.get("sort") or None, order=a.get("order", "desc"))
    return jsonify(page)


@bp.get("/events/histogram")
@team_required
def event_histogram(name: str, team: str):
    a = request.args
    since, until = _span(name)
    return jsonify(explorer.histogram(
        _events_db(name, team), a.get("table", "conn"), since=since, until=until, kql=a.get("query") or None,
        buckets=integer(a, "buckets", default=60, lo=1, hi=explorer.MAX_BUCKETS)))


@bp.get("/events/facets")
@team_required
def event_facets(name: str, team: str):
    a = request.args
    since, until = _span(name)
    return jsonify(explorer.facets(
        _events_db(name, team), a.get("table", "conn"), a.getlist("field"), since=since, until=until,
        kql=a.get("query") or None))


def _clock_now(name: str) -> float:
    store = current_range().store
    return disclosure.now(store, store.session(name))


def _span(name: str) -> tuple[float | None, float | None]:
    """The request's from/to: absolute, a time of day, or relative to the session clock ("-5m"). The
    clock is read from the store only for a relative time or a time of day, and then once for both."""
    a = request.args
    now = functools.cache(lambda: _clock_now(name))
    return when(a.get("from"), "from", now), when(a.get("to"), "to", now)


@bp.get("/events/<table>/<int:rowid>/packets")
@team_required
def event_packets(name: str, team: str, table: str, rowid: int):
    ev = explorer.event(_events_db(name, team), table, rowid)
    flt, since, until = packets.conversation(ev)
    until = min(until, _clock_now(name))
    conn = packets.ends(ev)
    out = packets.list_packets(current_range().store.team_dir(name, team).capture, flt, since, until, only=conn)
    return jsonify({"table": table, "rowid": rowid, "filter": flt, "proto": conn.proto if conn else "arp",
                    "from": since, "to": until, "event_ts": ev["row"].get("ts"), **out})


@bp.get("/events/<table>/<int:rowid>/stream")
@team_required
def event_stream(name: str, team: str, table: str, rowid: int):
    """Follow TCP stream: the event's connection as each side sent it, up to the session clock."""
    ev = explorer.event(_events_db(name, team), table, rowid)
    conn = packets.tcp_ends(ev)
    _flt, since, until = packets.conversation(ev)
    until = min(until, _clock_now(name))
    out = packets.follow(current_range().store.team_dir(name, team).capture, conn, since, until)
    return jsonify({"table": table, "rowid": rowid, "from": since, "to": until, **out})


@bp.get("/packets/<int:frame>")
@team_required
def packet(name: str, team: str, frame: int):
    return jsonify(packets.dissect(current_range().store.team_dir(name, team).capture, frame, _clock_now(name)))


@bp.get("/pcap")
@team_required
def pcap(name: str, team: str):
    store = current_range().store
    row = store.session(name)
    now = disclosure.now(store, row)
    a = request.args
    since = when(a.get("from"), "from", now)
    until = when(a.get("to"), "to", now)
    since = row["scenario_start"] if since is None else since
    until = now if until is None else min(until, now)
    if since > now:
        raise InputError(f"'from' is later than the session clock ({iso(now)}): nothing was captured there yet")
    bpf = a.get("bpf", "")
    chunks = packets.cut(store.team_dir(name, team).capture, since, until, bpf)
    fname = f"{name}-{team}-{int(since)}-{int(until)}.pcap"
    return Response(chunks, mimetype="application/vnd.tcpdump.pcap",
                    headers={"Content-Disposition": f'attachment; filename="{fname}"'})
