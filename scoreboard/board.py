"""The public pages: the landing page, each session's scoreboard (no login) and the site's icon."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, send_from_directory

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
    """A session's scoreboard; ``?projector=1``: the projector mode (no site header, the whole board
    fitted to the window, 1280x720 and up). Its link, and the way back, keep the session and ``?theme=``."""
    row = current_range().store.session(name)
    projector = request.args.get("projector", "").lower() in ("1", "true", "yes", "on")
    keep = {"theme": request.args["theme"]} if request.args.get("theme") in ("dark", "light") else {}
    return render_template("board.html", name=name, scenario=row["scenario"], projector=projector, keep=keep)


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico whatever the page links: the same SVG icon base.html links."""
    return send_from_directory(current_app.static_folder, "favicon.svg", mimetype="image/svg+xml", max_age=86400)
