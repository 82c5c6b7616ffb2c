"""The public pages: the landing page and each session's scoreboard (no login)."""
from __future__ import annotations

from flask import Blueprint, render_template

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
