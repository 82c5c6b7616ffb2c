"""JSON API of the instructor: the catalog, sessions (create, list, read, delete), their
lifecycle, steps, hints, results and live progress. Every route needs the instructor."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify

from range.sessions import commands as control
from scoreboard import actions, data, rng
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
    store = rng().store
    return jsonify({"sessions": [data.summary(store, row) for row in store.sessions()]})


@bp.post("/sessions")
@instructor_required
def create():
    return jsonify(actions.create(body())), 201


def _detail(name: str, r=None) -> dict:
    r = r or rng()
    out = data.session_detail(r.store, r.driver, name)
    out["preparing"] = r.progress.get(name) if out["status"] == "preparing" else None
    fn, why = actions.reset_available()
    out["reset"] = {"available": out["mode"] == "live" and fn is not None,
                    "reason": "only live sessions have team networks" if out["mode"] != "live" else why or None}
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
    resp = jsonify(control.results(rng().store, name))
    resp.headers["Content-Disposition"] = f'inline; filename="{name}-results.json"'
    return resp


@bp.get("/sessions/<name>/results.csv")
@instructor_required
def results_csv(name: str):
    text = data.results_csv(control.results(rng().store, name))
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}-results.csv"'})


@bp.get("/sessions/<name>/report")
@instructor_required
def report(name: str):
    from scoreboard.aar import report as aar_report
    return jsonify(aar_report(rng().store, name))


@bp.get("/sessions/<name>/stream")
@instructor_required
def session_stream(name: str):
    rng().store.session(name)  # 404 before the stream opens
    app_rng = rng()

    return stream(lambda: _detail(name, app_rng), share=("session", str(app_rng.store.path), name))
