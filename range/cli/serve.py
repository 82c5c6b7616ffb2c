"""The serve command: the exercise web app (console, workspace, scoreboard, API) under gunicorn.

One gunicorn worker process with many threads (the gthread worker): every request and every
server-sent-event stream shares the one session driver the app starts, and each open stream
holds one thread for as long as the page stays open. Requests that find every thread busy wait
in a queue, so the streams are capped below the thread count (``--max-streams``, default: all but
an eighth of the threads, at least 4 kept free): a page refused a stream polls instead, and the
console, the workspaces and the API always find a thread. bench/scoreboard_load.py measures it:
200 scoreboard viewers on the default 256 threads.
"""
from __future__ import annotations

import os

from range.cli.parser import arg, command


def default_max_streams(threads: int) -> int:
    """All but an eighth of the threads (at least 4 kept for other requests), and at least one."""
    return max(1, threads - max(4, threads // 8))


def _gunicorn_app(options: dict, factory):
    from gunicorn.app.base import BaseApplication

    class App(BaseApplication):
        def load_config(self):
            for k, v in options.items():
                self.cfg.set(k, v)

        def load(self):
            return factory()
    return App()


def _few_malloc_arenas(n: int = 2) -> None:
    """glibc gives each thread that allocates its own malloc arena (up to 8 per core), and memory
    freed in one arena is not reused by another: with 256 request threads the worker's memory kept
    growing over a long session (bench/sustained.py). Two arenas, set before gunicorn forks its worker."""
    import ctypes
    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, n)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass  # not glibc: nothing to tune


@command("serve", "serve the exercise web app: instructor console, team workspaces, scoreboard, JSON API")
@arg("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for the classroom)")
@arg("--port", type=int, default=8000)
@arg("--threads", type=int, default=256, help="request threads; each live scoreboard or workspace holds one")
@arg("--max-streams", type=int, default=None,
     help="live streams at most (default: --threads minus an eighth, at least 4 left for other requests); "
          "pages refused a stream poll every 3 s instead")
@arg("--secure-cookies", action="store_true", help="mark the login cookie Secure (behind an HTTPS proxy)")
@arg("--reset-password", action="store_true", help="generate and print a new instructor password")
def cmd_serve(a) -> int:
    from range.core import InputError
    from range.sessions import StateStore
    from range.sessions.accounts import ENV_PASSWORD, ensure_instructor_password
    if not 1 <= a.port <= 65535:
        raise InputError(f"--port {a.port}: choose 1 to 65535")
    if not 2 <= a.threads <= 1000:
        raise InputError(f"--threads {a.threads}: choose 2 to 1000")
    streams = default_max_streams(a.threads) if a.max_streams is None else a.max_streams
    if not 1 <= streams < a.threads:
        raise InputError(f"--max-streams {streams}: choose 1 to {a.threads - 1} (fewer than --threads, so other "
                         f"requests always find a thread)")
    store = StateStore()
    if os.environ.get(ENV_PASSWORD):
        print(f"instructor password: the value of {ENV_PASSWORD}")
    else:
        new = ensure_instructor_password(store, reset=a.reset_password)
        if new:
            print(f"instructor password (shown once, stored hashed in {store.path}): {new}")
        else:
            print("instructor password: as printed when the server first started "
                  "(cyberrange serve --reset-password prints a new one)")
    host = f"[{a.host}]" if ":" in a.host else a.host
    print(f"cyberrange: http://{host}:{a.port}/  (scoreboard /, console /console, API /api/openapi.json); "
          f"{a.threads} threads, live streams at most {streams}", flush=True)

    _few_malloc_arenas()

    def factory():
        from scoreboard import create_app
        return create_app({"SESSION_COOKIE_SECURE": bool(a.secure_cookies), "SSE_MAX_STREAMS": streams})

    _gunicorn_app({
        "bind": f"{host}:{a.port}", "workers": 1, "worker_class": "gthread", "threads": a.threads,
        "timeout": 120, "graceful_timeout": 5, "keepalive": 5, "accesslog": "-", "errorlog": "-",
        "loglevel": "info", "proc_name": "cyberrange-serve",
    }, factory).run()
    return 0
