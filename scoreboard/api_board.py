"""JSON API of the public scoreboard (no login) and the OpenAPI document."""
from __future__ import annotations

from flask import Blueprint, jsonify

from range.results import disclosure
from scoreboard.appstate import current_range
from scoreboard.openapi import document
from scoreboard.sse import stream

bp = Blueprint("api_board", __name__, url_prefix="/api")


@bp.get("/board")
def sessions():
    store = current_range().store
    return jsonify({"sessions": [{"name": r["name"], "scenario": r["scenario"], "mode": r["mode"],
                                  "status": r["status"], "teams": store.teams(r["name"])}
                                 for r in store.sessions()]})


@bp.get("/board/<name>")
def board(name: str):
    r = current_range()
    return jsonify(disclosure.board(r.store, name, r.driver.version))


@bp.get("/board/<name>/stream")
def board_stream(name: str):
    r = current_range()
    r.store.session(name)  # 404 before the stream opens
    return stream(lambda: disclosure.board(r.store, name, r.driver.version), share=("board", str(r.store.path), name))


@bp.get("/openapi.json")
def openapi():
    return jsonify(document())
