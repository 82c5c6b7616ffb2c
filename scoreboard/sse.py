"""Server-sent events: a stream that sends a fresh snapshot whenever the driver reports a change.

Each stream waits on :meth:`range.sessions.Driver.wait`, takes a fresh snapshot, and sends it as an
``update`` event only when something other than the clock changed (clients run the clock
themselves from ``elapsed`` and ``speed``); otherwise a comment keeps the connection alive.
Streams of the same thing (``share``: e.g. every viewer of one scoreboard) share one snapshot per
driver version, built once and encoded once (at most ``SNAPSHOT_MAX_AGE`` old, so the clock in
it stays fresh): a change wakes every viewer, but only one of them does the work. A
stream ends after ``SSE_MAX_SECONDS`` and the browser's EventSource reconnects, so a server
thread is never held by a client that vanished.

Each open stream holds one server thread. ``SSE_MAX_STREAMS`` (set by ``cyberrange serve`` a
little below its thread count) bounds them: beyond it a stream request gets 503 with
``Retry-After`` and the page polls the JSON twin instead (``CR.follow``), so viewers can never
take every thread and starve the console, the workspaces and the API (which queue behind busy
threads under gunicorn's gthread worker).
"""
from __future__ import annotations

import json
import threading
import time
from typing import Callable

from flask import Response, current_app, jsonify

from range.core import RangeError
from scoreboard.appstate import current_range

VOLATILE = ("elapsed", "now", "now_iso")
KEEPALIVE = 15.0
RETRY_AFTER = 30  # seconds: when a refused viewer's page tries a stream again

SNAPSHOT_MAX_AGE = 0.5  # seconds a shared snapshot is reused for one driver version

_open = 0
_open_lock = threading.Lock()
_snaps: dict[tuple, tuple[int, float, str, str]] = {}  # share key -> (version, made at, stable part, event)
_snap_locks: dict[tuple, threading.Lock] = {}


def open_streams() -> int:
    return _open


def _claim(limit: int | None) -> bool:
    global _open
    with _open_lock:
        if limit is not None and _open >= limit:
            return False
        _open += 1
        return True


def _release() -> None:
    global _open
    with _open_lock:
        _open -= 1


def _stable(payload: dict) -> str:
    return json.dumps({k: v for k, v in payload.items() if k not in VOLATILE}, sort_keys=True, default=str)


def _encode(payload: dict) -> tuple[str, str]:
    return _stable(payload), f"event: update\ndata: {json.dumps(payload, default=str)}\n\n"


def _snapshot(share: tuple | None, version: int, make: Callable[[], dict]) -> tuple[str, str]:
    """(stable part, encoded event) of a fresh snapshot; one build per share key and driver version."""
    if share is None:
        return _encode(make())
    with _open_lock:
        if len(_snap_locks) > 1024:
            _snap_locks.clear()
            _snaps.clear()
        lock = _snap_locks.setdefault(share, threading.Lock())
    with lock:
        hit = _snaps.get(share)
        now = time.monotonic()
        if hit and hit[0] == version and now - hit[1] < SNAPSHOT_MAX_AGE:
            return hit[2], hit[3]
        stable, event = _encode(make())  # a RangeError (the session is gone) is not cached
        _snaps[share] = (version, now, stable, event)
        return stable, event


def stream(make: Callable[[], dict], share: tuple | None = None) -> Response:
    """An event stream of ``make()`` snapshots; streams with the same ``share`` key see the same
    snapshot (give one only when ``make`` answers every caller alike)."""
    driver = current_range().driver
    cfg = current_app.config
    max_seconds, wait, gap = cfg["SSE_MAX_SECONDS"], cfg["SSE_WAIT"], cfg["SSE_MIN_INTERVAL"]
    if not _claim(cfg.get("SSE_MAX_STREAMS")):
        resp = jsonify({"error": f"the server follows {cfg['SSE_MAX_STREAMS']} live streams already; "
                                 f"poll the JSON twin of this stream instead (the page does so by itself)"})
        resp.status_code = 503
        resp.headers["Retry-After"] = str(RETRY_AFTER)
        return resp

    def gen():
        began = time.monotonic()
        version = driver.version
        last, last_sent, last_made = None, began, 0.0
        yield "retry: 2000\n\n"
        while True:
            pause = gap - (time.monotonic() - last_made)
            if pause > 0:
                time.sleep(pause)  # bounds a stream's snapshots when changes come thick and fast
            last_made = time.monotonic()
            try:
                key, event = _snapshot(share, driver.version, make)
            except RangeError as e:
                yield f"event: gone\ndata: {json.dumps({'error': str(e)})}\n\n"
                return
            if key != last:
                last, last_sent = key, time.monotonic()
                yield event
            elif time.monotonic() - last_sent >= KEEPALIVE:
                last_sent = time.monotonic()
                yield ": keepalive\n\n"
            if time.monotonic() - began >= max_seconds:
                return
            version = driver.wait(version, timeout=wait)

    resp = Response(gen(), mimetype="text/event-stream")
    released = []

    def release():  # once, when the server closes the response (also if the body never started)
        if not released:
            released.append(True)
            _release()
    resp.call_on_close(release)
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["X-Accel-Buffering"] = "no"
    return resp
