"""Server-sent events: a stream that sends a fresh snapshot whenever the driver reports a change.

Each stream waits on :meth:`range.driver.Driver.wait`, rebuilds its snapshot, and sends it as an
``update`` event only when something other than the clock changed (clients run the clock
themselves from ``elapsed`` and ``speed``); otherwise a comment keeps the connection alive. A
stream ends after ``SSE_MAX_SECONDS`` and the browser's EventSource reconnects, so a server
thread is never held by a client that vanished.
"""
from __future__ import annotations

import json
import time
from typing import Callable

from flask import Response, current_app

from range.errors import RangeError

VOLATILE = ("elapsed", "now", "now_iso")
KEEPALIVE = 15.0


def _stable(payload: dict) -> str:
    return json.dumps({k: v for k, v in payload.items() if k not in VOLATILE}, sort_keys=True, default=str)


def stream(make: Callable[[], dict]) -> Response:
    from scoreboard import rng
    driver = rng().driver
    cfg = current_app.config
    max_seconds, wait, gap = cfg["SSE_MAX_SECONDS"], cfg["SSE_WAIT"], cfg.get("SSE_MIN_INTERVAL", 1.0)

    def gen():
        began = time.monotonic()
        version = driver.version
        last, last_sent, last_made = None, began, 0.0
        yield "retry: 2000\n\n"
        while True:
            pause = gap - (time.monotonic() - last_made)
            if pause > 0:
                time.sleep(pause)  # the driver ticks twice a second: one snapshot a second is plenty
            last_made = time.monotonic()
            try:
                payload = make()
            except RangeError as e:
                yield f"event: gone\ndata: {json.dumps({'error': str(e)})}\n\n"
                return
            key = _stable(payload)
            if key != last:
                last, last_sent = key, time.monotonic()
                yield f"event: update\ndata: {json.dumps(payload, default=str)}\n\n"
            elif time.monotonic() - last_sent >= KEEPALIVE:
                last_sent = time.monotonic()
                yield ": keepalive\n\n"
            if time.monotonic() - began >= max_seconds:
                return
            version = driver.wait(version, timeout=wait)

    resp = Response(gen(), mimetype="text/event-stream")
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["X-Accel-Buffering"] = "no"
    return resp
