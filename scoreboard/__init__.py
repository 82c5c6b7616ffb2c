"""The exercise web app: instructor console, trainee workspace, public scoreboard and JSON API.

``create_app(config)`` builds the Flask app around one state store (:class:`range.sessions.StateStore`)
and one session driver (:class:`range.sessions.Driver`, a thread that moves every running
session; ``config={"DRIVER": False}`` leaves it stopped so tests tick it by hand). Served by
``cyberrange serve`` (gunicorn, one process with many threads, so every request and every
server-sent-event stream shares the driver).

Blueprints: :mod:`.auth` (logins, identities, CSRF policy), :mod:`.console` (instructor pages),
:mod:`.workspace` (team pages), :mod:`.board` (public scoreboard), :mod:`.api_sessions`,
:mod:`.api_team`, :mod:`.api_board` and :mod:`.api_reports` (the JSON API, documented by
:mod:`.openapi`), :mod:`.aar` (the after-action report as HTML and PDF, the programme view).
"""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import Flask, make_response, request
from werkzeug.exceptions import HTTPException

from range.core import RangeError
from range.sessions import Driver, StateStore
from range.sessions.accounts import ensure_instructor_password
from scoreboard import (
    aar,
    api_board,
    api_reports,
    api_sessions,
    api_team,
    auth,
    board,
    console,
    workspace,
)
from scoreboard.appstate import (
    MAX_BODY,
    Int,
    Range,
    error_response,
    status_of,
    wants_json,
)
from scoreboard.throttle import Failures

log = logging.getLogger("cyberrange.web")

def session_time(v) -> str:
    """A point in session time as every page writes it: ``T+07:05`` (seconds since the start)."""
    if v is None:
        return "–"
    v = max(0, int(v))
    return f"T+{v // 60:02d}:{v % 60:02d}"


def create_app(config: dict | None = None) -> Flask:
    config = dict(config or {})
    app = Flask(__name__)
    app.url_map.converters["int"] = Int
    store = config.pop("STORE", None) or StateStore(config.pop("STATE_DB", None))
    app.config.update(
        SECRET_KEY=store.secret("flask_secret_key"),
        SESSION_COOKIE_NAME="cyberrange_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=False,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        MAX_CONTENT_LENGTH=MAX_BODY,
        WTF_CSRF_CHECK_DEFAULT=False,  # auth.enforce_csrf decides per request (see auth.py)
        WTF_CSRF_TIME_LIMIT=None,  # valid as long as the login: exercises last hours
        API_TOKEN_MAX_AGE=12 * 3600,
        SSE_MAX_SECONDS=300,  # a stream ends after this; EventSource reconnects by itself
        SSE_WAIT=10.0,
        SSE_MIN_INTERVAL=0.25,  # seconds between one stream's snapshots (shared ones are cheap; the driver ticks 2/s)
        SSE_MAX_STREAMS=None,  # open streams at most (each holds a thread); cyberrange serve sets it
        DRIVER=True,
        BACKGROUND_PREPARE=True,
        LOGIN_MAX_FAILURES=5,  # failed logins as one account within the window, then 429 (see auth.py)
        LOGIN_MAX_FAILURES_PER_ADDRESS=20,  # failed logins from one client address (any account)
        LOGIN_FAILURE_WINDOW=300.0,
    )
    app.config.update(config)
    app.json.sort_keys = False
    driver = config.get("DRIVER_OBJECT") or Driver(store)
    app.extensions["cyberrange"] = Range(store, driver, background=app.config["BACKGROUND_PREPARE"])
    app.extensions["cyberrange_logins"] = Failures()
    if app.config["DRIVER"]:
        driver.start()
    generated = ensure_instructor_password(store)
    if generated:
        log.warning("instructor password (shown once): %s", generated)
        print(f"cyberrange: instructor password (shown once): {generated}", flush=True)

    auth.csrf.init_app(app)
    for bp in (
        auth.bp,
        console.bp,
        workspace.bp,
        board.bp,
        api_sessions.bp,
        api_team.bp,
        api_board.bp,
        api_reports.bp,
        aar.bp,
    ):
        app.register_blueprint(bp)
    app.before_request(auth.load_identity)
    app.before_request(auth.enforce_csrf)
    app.context_processor(auth.template_globals)
    app.jinja_env.filters["at"] = session_time

    @app.after_request
    def headers(resp):
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
        )
        if request.path.startswith("/api/") or request.endpoint in ("auth.login",):
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    @app.errorhandler(RangeError)
    def range_error(e: RangeError):
        return error_response(str(e), status_of(e))

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        msg = e.description or e.name
        if e.code == 413:
            msg = f"the request body is larger than {MAX_BODY // 1024} KiB"
        resp = make_response(error_response(msg, e.code or 400))
        if e.code == 401 and wants_json():
            resp.headers["WWW-Authenticate"] = 'Bearer realm="cyberrange"'
        retry = dict(e.get_headers()).get("Retry-After")
        if retry:
            resp.headers["Retry-After"] = retry
        return resp

    @app.errorhandler(Exception)
    def unexpected(e: Exception):
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(f"internal error ({type(e).__name__}); the server log has the details", 500)

    return app
