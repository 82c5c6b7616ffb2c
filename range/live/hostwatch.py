"""The session's host sensor (:mod:`range.events.hostsensor`) as a detached process: one for all
the session's teams, started before the first step, restarted when it died, stopped at the end."""
from __future__ import annotations

import signal
import sys
from pathlib import Path

from range.core import TeamDir
from range.events import EventStore
from range.runtime import procs

NAME = "hostsensor"


def status_path(teams: dict[str, TeamDir]) -> Path:
    """Where the host sensor reports: beside the teams' folders."""
    return next(iter(teams.values())).path.parent.parent / "host-sensor.json"


def start(session: str, teams: dict[str, TeamDir], skip: list[str]) -> tuple[procs.Proc, bool]:
    """The session's host sensor: the one running, else a new one. Returns it, and whether an
    earlier one had stopped (so it was started again). ``skip``: nodes no team is to see (the
    intruder's)."""
    running = procs.find(session, NAME)
    if running is not None:
        return running, False
    status = status_path(teams)
    for d in teams.values():   # readers can open a store before the sensor's first write
        if not d.events.exists():
            EventStore(d.events).close()
    argv = [sys.executable, "-m", "range.events.hostsensor", "--session", session, "--status", str(status)]
    argv += [f"--store={team}={d.events}" for team, d in teams.items()] + [f"--skip={n}" for n in skip]
    again = status.exists()
    return procs.spawn(session, NAME, argv, log=status.with_suffix(".err"), stop_signal=signal.SIGINT), again


def stop(session: str) -> None:
    proc = procs.find(session, NAME)
    if proc is not None:
        proc.stop(15.0)
