"""The feed contract: how events reach a running session's team stores.

``offline`` (:class:`range.sessions.feed_offline.OfflineFeed`): each team's capture was
synthesised and ingested into ``source.db`` when the session was prepared; records are copied
into the team's ``events.db`` as the session clock passes the time a sensor would have emitted
them. ``live`` (:class:`range.sessions.feed_live.LiveFeed`): the range on Docker, its sensors
writing ``events.db`` themselves. Detection, the explorer and scoring read only ``events.db``.

The driver (:mod:`range.sessions.driver`) holds one feed per active session: ``start`` once,
``advance`` every tick, ``stop`` when this process lets go, ``finish`` at the session's end.
"""
from __future__ import annotations

from typing import Callable, ClassVar

from range.core import TeamDir
from range.scenario import Scenario
from range.sessions.state import StateStore

Progress = Callable[[str], None]


class Feed:
    mode: ClassVar[str]
    seen_detection: ClassVar[bool] = False  # detection reads by the sensors' write time (Detector.poll_seen)

    def __init__(self, session: str, teams: dict[str, TeamDir], store: StateStore):
        self.session = session
        self.teams = teams
        self.store = store

    def prepare(self, scn: Scenario, seed_of: Callable[[str], int], start: float, progress: Progress) -> None:
        """Make each team's copy ready before the session starts."""
        raise NotImplementedError

    def start(self) -> None:
        """This process takes the session over (at its start, or after a restart)."""

    def advance(self, now: float) -> int:
        """Deliver what the clock has reached; returns how many changes happened."""
        return 0

    def stop(self) -> None:
        """This process lets go of the session (it may be picked up again after a restart)."""

    def finish(self) -> None:
        """The session is over: release what it holds."""
        self.stop()
