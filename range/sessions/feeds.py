"""How events reach a running session's team stores, one registered class per session mode.

``offline``: each team's capture was synthesised and ingested into ``source.db`` when the session
was prepared; as the session clock passes the capture time at which the sensor would have
emitted a record (``_seen``), the record is copied into the team's ``events.db``. Detection, the
event explorer and scoring read only ``events.db``, so they see exactly what a live sensor would
have delivered by then. ``live`` (range.live) fills ``events.db`` from the sensor on the bridge.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Callable, ClassVar

from range.core.errors import RangeError
from range.events.store import SCHEMA, Store, columns

FEEDS: dict[str, type["Feed"]] = {}


def feed(cls: type) -> type:
    FEEDS[cls.mode] = cls
    return cls


class Feed:
    mode: ClassVar[str]

    def __init__(self, session: str, teams: dict[str, Path], store=None):
        self.session = session
        self.teams = teams  # team -> its directory
        self.store = store  # the state store (range.sessions.Store), for feeds that need the session

    def prepare(self, scn, seed_of: Callable[[str], int], start: float, progress: Callable[[str], None]) -> None:
        raise NotImplementedError

    def start(self) -> None:
        pass

    def advance(self, now: float) -> int:
        """Deliver what the clock has reached; returns how many records arrived."""
        return 0

    def stop(self) -> None:
        """This process lets go of the session (it may be picked up again after a restart)."""

    def finish(self) -> None:
        """The session is over: release what it holds."""
        self.stop()


def _cursor(db: sqlite3.Connection, table: str) -> int:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (f"fed:{table}",)).fetchone()
    return int(row[0]) if row else 0


@feed
class OfflineFeed(Feed):
    mode = "offline"

    def prepare(self, scn, seed_of, start, progress) -> None:
        from range.events.ingest import ingest
        from range.replay.offline import replay
        for team, d in self.teams.items():
            progress(f"[{team}] synthesising traffic")
            rep = replay(scn.with_overrides(start=start), d, seed=seed_of(team), team=team)
            progress(f"[{team}] ingesting {rep.packets:,} packets")
            ingest(rep.pcap, d / "source.db")
            events = d / "events.db"
            for p in (events, Path(f"{events}-wal"), Path(f"{events}-shm")):
                p.unlink(missing_ok=True)
            Store(events).close()

    def rebuild(self, scn, team: str, seed: int, start: float) -> None:
        """Re-synthesise a team's traffic after a step moved; what was delivered stays delivered."""
        from range.events.ingest import ingest
        from range.replay.offline import replay
        d = self.teams[team]
        rep = replay(scn.with_overrides(start=start), d / "next", seed=seed, team=team)
        ingest(rep.pcap, d / "next" / "source.db")
        with sqlite3.connect(d / "events.db") as dst:
            delivered = {t: _cursor(dst, t) for t in SCHEMA}
            last = max((dst.execute(f"SELECT max(_seen) FROM {t}").fetchone()[0] or 0) for t in SCHEMA)
            with sqlite3.connect(d / "next" / "source.db") as src:
                for t in SCHEMA:  # skip what the new source holds up to the time already delivered
                    n = src.execute(f"SELECT max(rowid) FROM {t} WHERE _seen <= ?", (last,)).fetchone()[0] or 0
                    delivered[t] = n
            for t, n in delivered.items():
                dst.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"fed:{t}", str(n)))
        for name in ("capture.pcap", "truth.json", "source.db"):
            (d / "next" / name).replace(d / name)

    def advance(self, now: float) -> int:
        total = 0
        for team, d in self.teams.items():
            total += self._advance_team(d, now)
        return total

    @staticmethod
    def _advance_team(d: Path, now: float) -> int:
        n = 0
        try:
            dst = sqlite3.connect(d / "events.db", timeout=30)
            dst.execute("PRAGMA journal_mode=WAL")
            dst.execute("ATTACH DATABASE ? AS src", (f"file:{(d / 'source.db').resolve()}?mode=ro",))
        except sqlite3.Error as e:
            raise RangeError(f"{d}: cannot open the team's event stores: {e}") from None
        try:
            with dst:
                for t in SCHEMA:
                    cur = _cursor(dst, t)
                    cols = ", ".join(f"`{c}`" for c in columns(t))
                    rows = dst.execute(f"SELECT rowid FROM src.{t} WHERE rowid > ? AND _seen <= ? ORDER BY rowid",
                                       (cur, now)).fetchall()
                    if not rows:
                        continue
                    hi = rows[-1][0]
                    dst.execute(f"INSERT INTO main.{t} ({cols}) SELECT {cols} FROM src.{t} "
                                f"WHERE rowid > ? AND rowid <= ? ORDER BY rowid", (cur, hi))
                    dst.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"fed:{t}", str(hi)))
                    n += len(rows)
        finally:
            dst.close()
        return n


from range.live import exercise as _live  # noqa: E402,F401 - registers the live mode's feed (it imports this module)
