"""What every request of the web app shares: the state store, the session driver and preparation
progress (:func:`current_range`), and how an error becomes a response."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app, jsonify, render_template, request
from werkzeug.routing import IntegerConverter

from range.core import (
    InputError,
    NotFound,
    RangeError,
    RuntimeFault,
    StoreError,
    ToolMissing,
)
from range.sessions import Driver, StateStore

MAX_BODY = 256 * 1024  # a rule is at most 64 KiB; nothing the app accepts is larger


class Int(IntegerConverter):
    """``<int:...>`` in routes: a number SQLite can hold (rule, report and indicator numbers, rows,
    frames); anything longer is no such resource (404), never an overflow inside a query."""

    def __init__(self, map, **kw):
        kw.setdefault("max", 2**63 - 1)
        super().__init__(map, **kw)


@dataclass
class Range:
    """What every request shares: the state store, the driver, preparation progress."""
    store: StateStore
    driver: Driver
    background: bool = True
    progress: dict[str, str] = field(default_factory=dict)

    def changed(self) -> None:
        """Wake the server-sent-event streams after an action changed the state."""
        self.driver.bump()


def current_range() -> Range:
    return current_app.extensions["cyberrange"]


def status_of(e: RangeError) -> int:
    if isinstance(e, NotFound):
        return 404
    if isinstance(e, InputError):
        return 400
    if isinstance(e, (ToolMissing, RuntimeFault, StoreError)):  # StoreError: the state store refused a write
        return 503
    return 409  # the action does not fit the session's state (e.g. it is running)


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_response(message: str, code: int):
    if wants_json():
        resp = jsonify({"error": message})
        resp.status_code = code
        return resp
    return render_template("error.html", message=message, code=code), code
