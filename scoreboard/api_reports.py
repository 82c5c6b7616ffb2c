"""JSON API of the CSIRT workflow: incident reports (filed, edited and withdrawn while the session is
open), the shared indicator feed, rules made from indicators, STIX and MISP exports, and the
instructor's review (comments, overridden marks).

Team routes live under ``/api/sessions/<name>/teams/<team>`` and answer the instructor or that
very team (:func:`scoreboard.auth.team_required`). A report's mark (and an indicator's) reaches the
team only once the session has ended: before, it would say which claims match the ground truth.
The feed shows each viewer what TLP allows (:func:`range.csirt.sharing.visible`).
"""
from __future__ import annotations

from flask import Blueprint, Response, g, jsonify

from range import csirt
from range.core import InputError
from range.csirt import exports, rsit
from range.csirt.filing import OPEN
from range.csirt.incidents import override_message
from range.results import disclosure
from scoreboard.appstate import current_range
from scoreboard.auth import instructor_required, team_required
from scoreboard.util import body, number, text

bp = Blueprint("api_reports", __name__, url_prefix="/api")
T = "/sessions/<name>/teams/<team>"


def _actor(team: str) -> str:
    return "instructor" if g.who.instructor else team


def _reveal(name: str) -> bool:
    return g.who.instructor or disclosure.ended(current_range().store.session(name))


# ---- the taxonomy --------------------------------------------------------------------------------

@bp.get("/rsit")
def taxonomy():
    return jsonify({"classes": rsit.classes(), "severities": list(csirt.incidents.SEVERITIES),
                    "indicator_types": list(csirt.sharing.KINDS), "tlp": list(csirt.sharing.TLPS)})


# ---- a team's reports ----------------------------------------------------------------------------

@bp.get(T + "/reports")
@team_required
def team_reports(name: str, team: str):
    store = current_range().store
    marks = disclosure.report_marks(store, name, team) if _reveal(name) else None
    return jsonify(
        {"reports": disclosure.with_marks(csirt.reports(store, name, team), marks), "revealed": marks is not None,
         "open": store.session(name)["status"] in OPEN}
    )


@bp.post(T + "/reports")
@team_required
def file_report(name: str, team: str):
    out = csirt.file_report(current_range().store, name, team, body(), actor=_actor(team))
    current_range().changed()
    return jsonify(disclosure.with_marks([out], None)[0]), 201


@bp.get(T + "/reports/<int:pk>")
@team_required
def team_report(name: str, team: str, pk: int):
    store = current_range().store
    r = csirt.report(store, name, pk, team)
    marks = disclosure.report_marks(store, name, team) if _reveal(name) else None
    return jsonify(disclosure.with_marks([r], marks)[0])


@bp.put(T + "/reports/<int:pk>")
@team_required
def edit_report(name: str, team: str, pk: int):
    out = csirt.edit_report(current_range().store, name, team, pk, body(), actor=_actor(team))
    current_range().changed()
    return jsonify(disclosure.with_marks([out], None)[0])


@bp.delete(T + "/reports/<int:pk>")
@team_required
def withdraw_report(name: str, team: str, pk: int):
    out = csirt.withdraw_report(current_range().store, name, team, pk, actor=_actor(team))
    current_range().changed()
    return jsonify(out)


# ---- the shared feed -----------------------------------------------------------------------------


@bp.get(T + "/indicators")
@team_required
def feed(name: str, team: str):
    store = current_range().store
    inst = g.who.instructor
    items = csirt.visible_indicators(store, name, team, inst)
    marks = disclosure.indicator_marks(store, name) if _reveal(name) else {}
    out = []
    for i in items:
        m = marks.get(i["pk"]) if (inst or i["team"] == team) else None
        out.append(
            dict(
                i,
                mine=i["team"] == team,
                mark=None
                if m is None
                else {
                    "points": m["points"],
                    "correct": m["correct"],
                    "first": m["first"],
                    "step": m["step"],
                    "reason": m["reason"],
                },
            )
        )
    return jsonify({"indicators": out, "revealed": _reveal(name)})


@bp.post(T + "/indicators")
@team_required
def publish(name: str, team: str):
    out = csirt.publish(current_range().store, name, team, body(), actor=_actor(team))
    current_range().changed()
    return jsonify(dict(out, mine=True, mark=None)), 201


@bp.post(T + "/indicators/<int:pk>/rule")
@team_required
def indicator_rule(name: str, team: str, pk: int):
    data_ = body()
    deploy = data_.get("deploy", False)
    if deploy in ("true", "1", "on"):
        deploy = True
    elif deploy in ("false", "0", "", None):
        deploy = False
    if not isinstance(deploy, bool):
        raise InputError("'deploy' must be true or false")
    out = csirt.indicator_rule(current_range().store, name, team, pk, deploy, g.who.instructor, actor=_actor(team))
    if deploy:
        current_range().changed()
    return jsonify(out), 201 if deploy else 200


# ---- exports -------------------------------------------------------------------------------------


def _own(store, name: str, team: str) -> tuple[list, list]:
    store.session(name)
    return csirt.reports(store, name, team), [i for i in csirt.indicators(store, name) if i["team"] == team]


@bp.get(T + "/export/stix")
@team_required
def export_stix(name: str, team: str):
    reports, inds = _own(current_range().store, name, team)
    return Response(
        exports.stix_bundle(name, team, reports, inds),
        mimetype="application/stix+json",
        headers={"Content-Disposition": f'attachment; filename="{name}-{team}-stix.json"'},
    )


@bp.get(T + "/export/misp")
@team_required
def export_misp(name: str, team: str):
    reports, inds = _own(current_range().store, name, team)
    return Response(
        exports.misp_events(name, team, reports, inds),
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}-{team}-misp.json"'},
    )


# ---- the instructor's review ---------------------------------------------------------------------


@bp.get("/sessions/<name>/reports")
@instructor_required
def all_reports(name: str):
    store = current_range().store
    out = []
    for t in store.teams(name):
        out += disclosure.with_marks(csirt.reports(store, name, t), disclosure.report_marks(store, name, t))
    return jsonify({"reports": sorted(out, key=lambda r: r["pk"])})


@bp.post("/sessions/<name>/reports/<int:pk>/comments")
@instructor_required
def comment(name: str, pk: int):
    out = csirt.comment(current_range().store, name, pk, text(body(), "text", max_len=csirt.MAX_COMMENT))
    current_range().changed()
    return jsonify(out), 201


def override(name: str, pk: int, data_: dict) -> dict:
    """Set or clear the mark; the answer's ``message`` says whether the mark now counts (only the
    best report per step does) and which report counts instead."""
    store = current_range().store
    points = number(data_, "points", default=None, lo=-1000, hi=1000)
    out = csirt.override(store, name, pk, points, text(data_, "reason", default="", max_len=csirt.MAX_COMMENT))
    current_range().changed()
    marks = disclosure.report_marks(store, name, out["team"])
    out = disclosure.with_marks([out], marks)[0]
    displaced = [k for k, m in marks.items() if (m.get("beaten_by") or {}).get("report") == pk]
    return dict(out, message=override_message(out, displaced))


@bp.post("/sessions/<name>/reports/<int:pk>/mark")
@instructor_required
def mark(name: str, pk: int):
    return jsonify(override(name, pk, body()))


@bp.get("/sessions/<name>/indicators")
@instructor_required
def all_indicators(name: str):
    store = current_range().store
    marks = disclosure.indicator_marks(store, name)
    return jsonify(
        {
            "indicators": [
                dict(
                    i,
                    mine=False,
                    mark=None
                    if marks.get(i["pk"]) is None
                    else {k: marks[i["pk"]][k] for k in ("points", "correct", "first", "step", "reason")},
                )
                for i in csirt.indicators(store, name)
            ]
        }
    )
