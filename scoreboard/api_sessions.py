"""JSON API of the instructor: the catalog, sessions (create, list, read, delete), their
lifecycle, steps, hints, results and live progress. Every route needs the instructor."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify

from range.results import after_action, disclosure, session_detail
from range.results import results as session_results
from range.results import results_csv as csv_of
from scoreboard import actions
from scoreboard.appstate import current_range
from scoreboard.auth import instructor_required
from scoreboard.sse import stream
from scoreboard.util import body

bp = Blueprint("api_sessions", __name__, url_prefix="/api")


@bp.get("/catalog")
@instructor_required
def catalog():
    return jsonify(actions.catalog_cards())


@bp.get("/sessions")
@instructor_required
def sessions():
    store = current_range().store
    return jsonify({"sessions": [disclosure.summary(store, row) for row in store.sessions()]})


@bp.post("/sessions")
@instructor_required
def create():
    return jsonify(actions.create(body())), 201


def _detail(name: str, r=None) -> dict:
    r = r or current_range()
    out = session_detail(r.store, r.driver, name)
    out["preparing"] = r.progress.get(name) if out["status"] == "preparing" else None
    live, why = actions.live_available() if out["mode"] == "live" else (False, "only live sessions have team networks")
    out["reset"] = {"available": live, "reason": why or None}
    return out


@bp.get("/sessions/<name>")
@instructor_required
def get(name: str):
    return jsonify(_detail(name))


@bp.delete("/sessions/<name>")
@instructor_required
def delete(name: str):
    actions.delete(name)
    return jsonify({"session": name, "deleted": True})


@bp.post("/sessions/<name>/start")
@instructor_required
def start(name: str):
    return jsonify(actions.lifecycle(name, "start"))


@bp.post("/sessions/<name>/pause")
@instructor_required
def pause(name: str):
    return jsonify(actions.lifecycle(name, "pause"))


@bp.post("/sessions/<name>/resume")
@instructor_required
def resume(name: str):
    return jsonify(actions.lifecycle(name, "resume"))


@bp.post("/sessions/<name>/stop")
@instructor_required
def stop(name: str):
    return jsonify(actions.lifecycle(name, "stop"))


@bp.post("/sessions/<name>/steps/<step>/move")
@instructor_required
def move(name: str, step: str):
    return jsonify(actions.move(name, step, body()))


@bp.post("/sessions/<name>/hints")
@instructor_required
def hint(name: str):
    return jsonify(actions.hint(name, body()))


@bp.post("/sessions/<name>/teams/<team>/reset")
@instructor_required
def reset(name: str, team: str):
    return jsonify(actions.reset(name, team))


@bp.get("/sessions/<name>/results")
@instructor_required
def results(name: str):
    resp = jsonify(session_results(current_range().store, name))
    resp.headers["Content-Disposition"] = f'inline; filename="{name}-results.json"'
    return resp


@bp.get("/sessions/<name>/results.csv")
@instructor_required
def results_csv(name: str):
    text = csv_of(session_results(current_range().store, name))
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}-results.csv"'})


@bp.get("/sessions/<name>/report")
@instructor_required
def report(name: str):
    return jsonify(after_action(current_range().store, name))


@bp.get("/sessions/<name>/stream")
@instructor_required
def session_stream(name: str):
    current_range().store.session(name)  # 404 before the stream opens
    app_rng = current_range()

    return stream(lambda: _detail(name, app_rng), share=("session", str(app_rng.store.path), name))
