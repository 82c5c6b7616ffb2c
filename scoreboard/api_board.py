"""JSON API of the public scoreboard (no login) and the OpenAPI document."""
from __future__ import annotations

from flask import Blueprint, jsonify

from scoreboard import data, rng
from scoreboard.sse import stream

bp = Blueprint("api_board", __name__, url_prefix="/api")


@bp.get("/board")
def sessions():
    store = rng().store
    return jsonify({"sessions": [{"name": r["name"], "scenario": r["scenario"], "mode": r["mode"],
                                  "status": r["status"], "teams": store.teams(r["name"])}
                                 for r in store.sessions()]})


@bp.get("/board/<name>")
def board(name: str):
    r = rng()
    return jsonify(data.board(r.store, name, r.driver.version))


@bp.get("/board/<name>/stream")
def board_stream(name: str):
    r = rng()
    r.store.session(name)  # 404 before the stream opens
    return stream(lambda: data.board(r.store, name, r.driver.version), share=("board", str(r.store.path), name))


@bp.get("/openapi.json")
def openapi():
    from scoreboard.openapi import document
    return jsonify(document())
