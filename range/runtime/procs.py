"""The live session's processes that outlive the orchestrator: sensors, actuators, the intruder's servers.

Each is started in a session and process group of its own, so neither the web app's death nor
a signal to its process group reaches it, and is recorded in ``<state>/procs/<session>/<name>.json``
(its pid, the kernel's start time of that pid, the command). A restarted orchestrator finds the
records there and reattaches to the processes that still run instead of starting duplicates;
``finish`` and ``cyberrange down`` stop them through the same records. Each process also watches
what it works on and ends by itself when that is gone (a sensor when its bridge is removed, an
actuator or server when its node's network namespace is), so none outlives the range even when
the orchestrator never comes back.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from range.core import RuntimeFault, paths

_children: dict[int, subprocess.Popen] = {}  # processes this process started (reaped when polled)


def registry(session: str) -> Path:
    return paths.STATE / "procs" / session


def _start_ticks(pid: int) -> int | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), or None if it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = stat[stat.rindex(")") + 2:].split()
    if rest[0] in ("Z", "X"):
        return None
    return int(rest[19])


@dataclass
class Proc:
    session: str
    name: str
    pid: int
    ticks: int
    argv: list[str]
    started: float
    stop_signal: int = signal.SIGTERM
    meta: dict = field(default_factory=dict)

    def alive(self) -> bool:
        child = _children.get(self.pid)
        if child is not None and child.poll() is not None:
            _children.pop(self.pid, None)
            return False
        return _start_ticks(self.pid) == self.ticks

    def signal(self, sig: int) -> None:
        if self.alive():
            try:
                os.killpg(self.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    def wait(self, timeout: float) -> bool:
        """True once the process has ended (within ``timeout`` seconds)."""
        end = time.monotonic() + timeout
        while self.alive():
            if time.monotonic() >= end:
                return False
            time.sleep(0.05)
        return True

    def stop(self, timeout: float = 10.0, sig: int | None = None) -> bool:
        """Ask it to end (its stop signal), kill its process group after ``timeout``; forget it.
        Returns whether it ended on its own."""
        self.signal(self.stop_signal if sig is None else sig)
        clean = self.wait(timeout)
        if not clean:
            self.signal(signal.SIGKILL)
            self.wait(5)
        _path(self.session, self.name).unlink(missing_ok=True)
        return clean

    def rss(self) -> int:
        """Resident memory of the process and its descendants, bytes (0 when gone)."""
        return sum(rss_of(p) for p in [self.pid, *descendants(self.pid)]) if self.alive() else 0


def _reap() -> None:
    """Collect the exit status of processes this process started that have ended (no zombies)."""
    for pid, child in list(_children.items()):
        if child.poll() is not None:
            _children.pop(pid, None)


def _path(session: str, name: str) -> Path:
    return registry(session) / f"{name}.json"


def spawn(session: str, name: str, argv: list[str], *, log: Path, stop_signal: int = signal.SIGTERM,
          meta: dict | None = None) -> Proc:
    """Start ``argv`` detached (own session and process group, stdin closed, output to ``log``) and record it."""
    _reap()
    reg = registry(session)
    reg.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        try:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
                                 close_fds=True)
        except OSError as e:
            raise RuntimeFault(f"cannot start {name} ({argv[0]}): {e.strerror or e}") from None
    _children[p.pid] = p
    ticks = _start_ticks(p.pid)
    proc = Proc(session, name, p.pid, ticks if ticks is not None else -1, list(argv), time.time(), int(stop_signal),
                meta or {})
    tmp = reg / f".{name}.json.tmp"
    tmp.write_text(json.dumps(asdict(proc)))
    os.replace(tmp, _path(session, name))
    return proc


def find(session: str, name: str) -> Proc | None:
    """The recorded process ``name`` if it still runs (a stale record is removed)."""
    _reap()
    p = _path(session, name)
    try:
        proc = Proc(**json.loads(p.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if proc.alive():
        return proc
    p.unlink(missing_ok=True)
    return None


def recorded(session: str, prefix: str = "") -> list[Proc]:
    """Every recorded process of ``session`` whose name starts with ``prefix`` and that still runs."""
    reg = registry(session)
    if not reg.is_dir():
        return []
    out = []
    for p in sorted(reg.glob(f"{prefix}*.json")):
        proc = find(session, p.stem)
        if proc is not None:
            out.append(proc)
    return out


def stop_session(session: str, timeout: float = 15.0) -> int:
    """Stop every recorded process of ``session`` (sensors get time to write what they captured)."""
    procs = recorded(session)
    for p in procs:
        p.signal(p.stop_signal)
    end = time.monotonic() + timeout
    for p in procs:
        p.stop(max(0.1, end - time.monotonic()))
    reg = registry(session)
    if reg.is_dir():
        for f in reg.glob("*.json"):
            f.unlink(missing_ok=True)
        try:
            reg.rmdir()
        except OSError:
            pass
    return len(procs)


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        out += map(int, kids)
        todo += map(int, kids)
    return out


def rss_of(pid: int) -> int:
    """Resident memory of one process, bytes (0 when gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def same_netns_as(pid: int) -> bool:
    """Whether this process is in ``pid``'s network namespace (false once ``pid`` is gone)."""
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat("/proc/self/ns/net").st_ino
    except OSError:
        return False


def watch_netns(pid: int, every: float = 1.0) -> None:
    """End this process when ``pid`` (a container's init, whose network this process works in) is gone."""
    import threading

    def loop():
        while True:
            time.sleep(every)
            if not same_netns_as(pid):
                os._exit(0)
    threading.Thread(target=loop, name="netns-watch", daemon=True).start()
