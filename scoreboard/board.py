"""The public pages: the landing page, each session's scoreboard (no login) and the site's icon."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, send_from_directory

from scoreboard.appstate import current_range

bp = Blueprint("board", __name__)


@bp.get("/")
def index():
    store = current_range().store
    sessions = [{"name": r["name"], "scenario": r["scenario"], "status": r["status"], "mode": r["mode"],
                 "teams": store.teams(r["name"])} for r in store.sessions()]
    return render_template("index.html", sessions=sessions)


@bp.get("/board/<name>")
def board(name: str):
    row = current_range().store.session(name)
    return render_template("board.html", name=name, scenario=row["scenario"])


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico whatever the page links: the same SVG icon base.html links."""
    return send_from_directory(current_app.static_folder, "favicon.svg", mimetype="image/svg+xml", max_age=86400)
