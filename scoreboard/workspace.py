"""The trainee workspace: one page per team (event explorer, packets, rules, alerts, score).

The page is a shell; its script drives the team API (``/api/sessions/<name>/teams/<team>``)
with the login cookie and the CSRF header.
"""
from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, url_for

from range.events import HOST_TABLES, NETWORK_TABLES, SCHEMA, columns
from scoreboard.appstate import current_range
from scoreboard.auth import team_required

bp = Blueprint("workspace", __name__)


@bp.get("/workspace")
def mine():
    who = g.who
    if who.role == "team":
        return redirect(url_for("workspace.home", name=who.session, team=who.team))
    if who.instructor:
        return redirect(url_for("console.index"))
    return redirect(url_for("auth.login", next="/workspace"))


@bp.get("/workspace/<name>/<team>")
@team_required
def home(name: str, team: str):
    row = current_range().store.session(name)
    if row is None:  # pragma: no cover - session() raises NotFound
        abort(404)
    return render_template("workspace.html", name=name, team=team, scenario=row["scenario"],
                           tables=list(SCHEMA), host_tables=list(HOST_TABLES),
                           uid_tables=[t for t in NETWORK_TABLES if "uid" in columns(t)])
