"""The instructor console: sessions, their controls, every team's progress, the report.

Forms post here (with the CSRF token) and come back to the session page with a message; the
page then follows the session live through ``/api/sessions/<name>/stream``.
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from range import csirt
from range.core import InputError, RangeError
from range.csirt.incidents import counting
from range.results import after_action, disclosure
from scoreboard import actions
from scoreboard.api_reports import override
from scoreboard.api_sessions import _detail
from scoreboard.appstate import current_range
from scoreboard.auth import instructor_required

bp = Blueprint("console", __name__, url_prefix="/console")


def _form_error(e: Exception) -> str:
    return e.description if isinstance(e, HTTPException) else str(e)


@bp.get("")
@instructor_required
def index():
    store = current_range().store
    return render_template("console_index.html", sessions=[disclosure.summary(store, r) for r in store.sessions()],
                           catalog=actions.catalog_cards(), form={})


@bp.post("/sessions")
@instructor_required
def create():
    form = request.form.to_dict()
    try:
        out = actions.create(form)
    except (RangeError, HTTPException) as e:
        store = current_range().store
        return render_template("console_index.html", sessions=[disclosure.summary(store, r) for r in store.sessions()],
                               catalog=actions.catalog_cards(), form=form, error=_form_error(e)), \
            getattr(e, "code", 400) if isinstance(e, HTTPException) else 400
    return render_template("console_created.html", created=out), 201


@bp.get("/<name>")
@instructor_required
def session(name: str):
    return render_template("console_session.html", s=_detail(name))


def _back(name: str):
    return redirect(url_for("console.session", name=name), code=303)


@bp.post("/<name>/action")
@instructor_required
def action(name: str):
    what = request.form.get("action", "")
    try:
        if what == "delete":
            actions.delete(name)
            flash(f"session {name} deleted")
            return redirect(url_for("console.index"), code=303)
        out = actions.lifecycle(name, what)
        flash(f"session {name}: {out['status']}")
    except (RangeError, HTTPException) as e:
        flash(_form_error(e), "error")
    return _back(name)


@bp.post("/<name>/move")
@instructor_required
def move(name: str):
    form = request.form.to_dict()
    step = form.pop("step", "")
    fire = form.pop("intent", "move") == "fire"
    try:
        if fire:
            form["at"] = None
        elif not form.get("at", "").strip():
            raise InputError(f"step {step}: give the second it should start at, or use Fire now")
        out = actions.move(name, step, form)
        flash(f"step {step} {'fires now' if out['fired'] else 'moved'}: it starts at {out['at']:.0f} s")
    except (RangeError, HTTPException) as e:
        flash(_form_error(e), "error")
    return _back(name)


@bp.post("/<name>/hint")
@instructor_required
def hint(name: str):
    try:
        form = request.form.to_dict()
        form["teams"] = request.form.getlist("teams")
        out = actions.hint(name, form)
        flash(f"hint for {out['step']} released to {', '.join(out['teams'])} (costs {out['cost']:g} points)")
    except (RangeError, HTTPException) as e:
        flash(_form_error(e), "error")
    return _back(name)


@bp.post("/<name>/teams/<team>/reset")
@instructor_required
def reset(name: str, team: str):
    try:
        actions.reset(name, team)
        flash(f"team {team}'s network is being reset")
    except (RangeError, HTTPException) as e:
        flash(_form_error(e), "error")
    return _back(name)


@bp.get("/<name>/reports")
@instructor_required
def reports(name: str):
    store = current_range().store
    row = store.session(name)
    teams = store.teams(name)
    items = []
    for t in teams:
        items += disclosure.with_marks(csirt.reports(store, name, t), disclosure.report_marks(store, name, t))
    items = [dict(x, counts=counting(x["mark"]) if x["mark"] else "") for x in items]  # and what counts instead
    marks = disclosure.indicator_marks(store, name)
    inds = [dict(i, mark=marks.get(i["pk"])) for i in csirt.indicators(store, name)]
    return render_template("console_reports.html", name=name, scenario=row["scenario"], teams=teams,
                           reports=sorted(items, key=lambda r: r["pk"]), indicators=inds, origin=row["scenario_start"])


def _back_reports(name: str):
    return redirect(url_for("console.reports", name=name), code=303)


@bp.post("/<name>/reports/<int:pk>/comment")
@instructor_required
def comment(name: str, pk: int):
    try:
        csirt.comment(current_range().store, name, pk, request.form.get("text", ""))
        current_range().changed()
        flash(f"comment added to report #{pk}")
    except (RangeError, HTTPException) as e:
        flash(_form_error(e), "error")
    return _back_reports(name)


@bp.post("/<name>/reports/<int:pk>/mark")
@instructor_required
def mark(name: str, pk: int):
    form = request.form.to_dict()
    if form.get("clear"):
        form["points"] = None
    try:
        flash(override(name, pk, form)["message"])  # says whether the mark counts, and what counts instead
    except (RangeError, HTTPException) as e:
        flash(_form_error(e), "error")
    return _back_reports(name)


@bp.get("/<name>/report")
@instructor_required
def report(name: str):
    return render_template("report.html", r=after_action(current_range().store, name), pdf=False)
