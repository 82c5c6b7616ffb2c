"""The session driver: a loop that keeps every running session moving.

Each tick (half a second) it advances each running session's clock, lets its feed deliver the
events the clock has reached, runs every deployed rule incrementally over the new events, and
saves new or grown alerts. All state lives in the state store, so a driver that restarts (or a
second process) picks up where the last one stopped: deliveries resume from their cursors, and
detection reruns over delivered events with stable alert ids, keeping each alert's first
raise time, so nothing is lost or counted twice. Live, detection reads by the sensors' write
time (:meth:`range.detect.Detector.poll_seen`), so a rerun after a crash raises the same
alerts at the same times as a driver that never stopped. A change the state store cannot save
(disk full, read-only) is logged and kept in :attr:`Driver.problems`; the session's detectors
start again from the store, so the alerts are saved once the store accepts writes again.
Listeners (the scoreboard's server-sent events) wait on :meth:`Driver.wait` for a change.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field

from range.core import StoreError
from range.detect import Detector, load_rules
from range.sessions.feed import Feed
from range.sessions.feeds import FEEDS
from range.sessions.state import StateStore, session_dir

log = logging.getLogger("cyberrange.driver")
TICK = 0.5
PROGRESS_EVERY = 5.0  # seconds between writes of each session's detection progress (driver.json)


class _Claims:
    """One process drives a session at a time: a driver claims a session with an exclusive lock on
    ``<session>/driver.lock`` (released by the kernel when its process dies, so a restart takes
    over). Drivers of the same process share their claims; another process's driver leaves a
    claimed session alone (the web app and ``cyberrange exercise run --live`` on one state store)."""

    def __init__(self):
        self._held: dict[str, list] = {}  # session -> [open lock file, drivers holding it]
        self._mutex = threading.Lock()

    def take(self, name: str) -> bool:
        with self._mutex:
            if name in self._held:
                self._held[name][1] += 1
                return True
            d = session_dir(name)
            d.mkdir(parents=True, exist_ok=True)
            f = open(d / "driver.lock", "a")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.close()
                return False
            self._held[name] = [f, 1]
            return True

    def release(self, name: str) -> None:
        with self._mutex:
            held = self._held.get(name)
            if held is None:
                return
            held[1] -= 1
            if held[1] <= 0:
                held[0].close()
                del self._held[name]


CLAIMS = _Claims()


@dataclass
class Driven:
    """What the driver holds in memory for one session (rebuilt from the store after a restart)."""
    feed: Feed
    detectors: dict[int, object] = field(default_factory=dict)  # rule pk -> Detector
    teams: dict[int, str] = field(default_factory=dict)  # rule pk -> team
    broken: dict[int, str] = field(default_factory=dict)  # rule pk -> why it stopped
    floors: dict[int, float] = field(default_factory=dict)  # rule pk -> no alert before (its deployment)
    reported: float = 0.0  # when driver.json was last written


class Driver:
    def __init__(self, store: StateStore, tick: float = TICK):
        self.store = store
        self.tick_seconds = tick
        self.live: dict[str, Driven] = {}
        self.version = 0
        self.problems: dict[str, str] = {}  # session -> the state store's last failure, until a tick succeeds
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- lifecycle --------------------------------------------------------------------------
    def start(self) -> "Driver":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="cyberrange.driver", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        for name in list(self.live):
            self._drop(name)

    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the loop must survive; the error is logged
                log.exception("driver tick failed")
            self._stop.wait(max(0.05, self.tick_seconds - (time.monotonic() - began)))

    def wait(self, version: int, timeout: float = 15.0) -> int:
        """Block until the driver's version passes ``version`` (or the timeout); return it."""
        with self._cond:
            self._cond.wait_for(lambda: self.version > version, timeout=timeout)
            return self.version

    def bump(self) -> None:
        with self._cond:
            self.version += 1
            self._cond.notify_all()

    # ---- one tick ---------------------------------------------------------------------------
    def tick(self, wall: float | None = None) -> bool:
        changed = False
        active = {r["name"]: r for r in self.store.q("SELECT * FROM sessions WHERE status IN ('running', 'paused')")}
        for name in list(self.live):
            if name not in active:
                self._drop(name, finished=True)
                changed = True
        for name, row in active.items():
            try:
                changed |= self._tick_session(row, wall)
                self.problems.pop(name, None)
            except StoreError as e:  # reported; the detectors replay from the store once it accepts writes
                log.error("session %s: %s", name, e)
                self.problems[name] = str(e)
                self._restart_detection(name)
                changed = True
            except Exception as e:  # noqa: BLE001 - one broken session must not stop the others
                log.exception("session %s failed", name)
                with self.store.tx() as db:
                    db.execute("UPDATE sessions SET status = 'failed', error = ? WHERE name = ?", (str(e), name))
                self._drop(name)
                changed = True
        if changed:
            self.bump()
        return changed

    def _tick_session(self, row, wall) -> bool:
        name = row["name"]
        live = self.live.get(name)
        if live is None:
            if not CLAIMS.take(name):
                return False  # another process drives this session
            try:
                live = Driven(FEEDS[row["mode"]](name, self.store.team_dirs(name), self.store))
                live.feed.start()
            except BaseException:
                CLAIMS.release(name)
                raise
            self.live[name] = live
        clock = self.store.clock(row)
        now = clock.now(wall)
        changed = False
        # paused too: the clock stands still, so this delivers what fell due up to the pause
        changed |= live.feed.advance(now) > 0
        changed |= self._sync_rules(name, live)
        changed |= self._detect(name, live, now)
        self._report(name, live)
        if row["status"] == "running" and clock.elapsed(wall) >= row["duration"]:
            with self.store.tx() as db:
                db.execute(
                    "UPDATE sessions SET status = 'finished', finished_at = ? WHERE name = ? AND status = 'running'",
                    (time.time(), name),
                )
                self.store.audit(db, name, "driver", "finished", "the scenario's time is up")
            changed = True
        return changed

    def _sync_rules(self, name: str, live: Driven) -> bool:
        rows = self.store.q("SELECT * FROM rules WHERE session = ?", (name,))
        changed = False
        for r in rows:
            pk = r["pk"]
            if r["withdrawn_at"] is not None:
                if pk in live.detectors:
                    live.detectors.pop(pk).close()
                    changed = True
                continue
            if pk in live.detectors or pk in live.broken:
                continue
            d = self.store.team_dir(name, r["team"])
            path = d.rule(pk)
            if not path.exists():
                try:
                    path.write_text(r["yaml"])
                except OSError as e:  # disk full: tried again next tick
                    self.problems[name] = f"rule {pk}: cannot write {path}: {e.strerror or e}"
                    log.error("session %s: %s", name, self.problems[name])
                    continue
            rs = load_rules([path])
            if rs.errors:
                live.broken[pk] = "; ".join(e["message"] for e in rs.errors)
                continue
            live.detectors[pk] = Detector(rs, d.events)
            live.teams[pk] = r["team"]
            wall = r["deployed_wall"] if "deployed_wall" in r.keys() else None
            live.floors[pk] = wall if wall is not None else r["deployed_at"]
            changed = True
        return changed

    def _detect(self, name: str, live: Driven, now: float) -> bool:
        changed = False
        seen = live.feed.seen_detection
        for pk, det in list(live.detectors.items()):
            team = live.teams[pk]
            new = det.poll_seen(live.floors[pk]) if seen else det.poll(now)
            if det.errors and pk not in live.broken:
                live.broken[pk] = "; ".join(e["message"] for e in det.errors)
            if not new:
                continue
            with self.store.tx() as db:
                for a in new:
                    old = db.execute(
                        "SELECT raised_at FROM alerts WHERE session = ? AND team = ? AND id = ?", (name, team, a["id"])
                    ).fetchone()
                    if old is not None:
                        a = dict(a, raised_at=old["raised_at"])  # an alert is raised once; it may grow
                    db.execute(
                        "INSERT OR REPLACE INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (name, team, a["id"], pk, a["rule_id"], a["raised_at"], json.dumps(a)),
                    )
            changed = True
        return changed

    def _restart_detection(self, name: str) -> None:
        """Close the session's detectors: the next tick builds them again and they rerun over the
        store (stable ids, the same raise times), so alerts that could not be saved are not lost."""
        live = self.live.get(name)
        if live is None:
            return
        for det in live.detectors.values():
            det.close()
        live.detectors.clear()
        live.broken.clear()

    def _report(self, name: str, live: Driven, final: bool = False) -> None:
        """Each team's detection progress in ``<session>/driver.json`` (for operators and the benches):
        the oldest horizon of its detectors and the rows they have still to read; ``final`` once
        the session's last detection pass is saved."""
        if not final and time.time() - live.reported < PROGRESS_EVERY:
            return
        live.reported = time.time()
        teams: dict[str, dict] = {}
        for pk, det in live.detectors.items():
            t = teams.setdefault(live.teams[pk], {"rules": 0, "horizon": None, "backlog_rows": 0})
            t["rules"] += 1
            backlog = det.backlog()
            t["backlog_rows"] = max(t["backlog_rows"], backlog["rows"])
            h = backlog["horizon"]
            if h is not None and h != float("inf"):
                t["horizon"] = h if t["horizon"] is None else min(t["horizon"], h)
        out = session_dir(name) / "driver.json"
        try:
            tmp = out.with_name(".driver.json.tmp")
            tmp.write_text(
                json.dumps(
                    {
                        "updated": live.reported,
                        "pid": os.getpid(),
                        "teams": teams,
                        "problem": self.problems.get(name),
                        "final": final,
                    }
                )
            )
            os.replace(tmp, out)
        except OSError:
            pass

    def _drop(self, name: str, finished: bool = False) -> None:
        """Forget a session: at its end (``finished``) its feed releases what it holds (a live
        feed stops its sensors, which write what they captured) and detection reads the store a
        last time; when only this process stops, the feed lets go and a restarted driver picks
        the session up again."""
        live = self.live.pop(name, None)
        if live is None:
            return
        try:
            live.feed.finish() if finished else live.feed.stop()
        except Exception:  # noqa: BLE001 - logged; the session's state is already saved
            log.exception("session %s: releasing its feed failed", name)
        if finished:
            try:
                row = self.store.session(name)
                self._detect(name, live, self.store.clock(row).now(row["finished_at"]))
                self._report(name, live, final=True)
            except Exception:  # noqa: BLE001 - logged: the alerts saved so far stay
                log.exception("session %s: the last detection pass failed", name)
        for det in live.detectors.values():
            det.close()
        CLAIMS.release(name)

    def rule_problems(self, name: str) -> dict[int, str]:
        live = self.live.get(name)
        return dict(live.broken) if live else {}


def run_until_done(
    store: StateStore, name: str, driver: "Driver | None" = None, poll: float = TICK, progress=lambda m: None
) -> None:
    """Drive one session to its end in this thread (the CLI's path; the web app runs start())."""
    driver = driver or Driver(store)
    last = -1
    while True:
        driver.tick()
        row = store.session(name)
        if row["status"] not in ("running", "paused"):
            driver.tick()
            return
        elapsed = int(store.clock(row).elapsed())
        if elapsed // 60 != last:
            last = elapsed // 60
            progress(f"{name}: {elapsed}s of {int(row['duration'])}s")
        time.sleep(poll)
