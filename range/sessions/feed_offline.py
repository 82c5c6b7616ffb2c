"""The ``offline`` feed: each team's capture and host records are synthesised and ingested into
``source.db`` when the session is prepared; as the session clock passes the time at which the
sensor would have emitted a record (``_seen``; a host record's is its own time), the record is
copied into the team's ``events.db``, so detection, the explorer and scoring see exactly what a
live sensor and the nodes' logs would have delivered by then.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from range.core import RangeError, TeamDir
from range.events import SCHEMA, EventStore, columns, ingest
from range.replay import replay
from range.scenario import Scenario
from range.sessions.feed import Feed


def _cursor(db: sqlite3.Connection, table: str) -> int:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (f"fed:{table}",)).fetchone()
    return int(row[0]) if row else 0


def _tables(db: sqlite3.Connection, schema: str = "main") -> list[str]:
    """The store's tables among SCHEMA's (a store written before the host tables lacks them)."""
    have = {r[0] for r in db.execute(f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table'")}
    return [t for t in SCHEMA if t in have]


class OfflineFeed(Feed):
    mode = "offline"

    def prepare(self, scn, seed_of, start, progress) -> None:
        for team, d in self.teams.items():
            progress(f"[{team}] synthesising traffic")
            rep = replay(scn.with_overrides(start=start), d.path, seed=seed_of(team), team=team)
            progress(f"[{team}] ingesting {rep.packets:,} packets and {rep.host_records:,} host records")
            ingest(rep.pcap, d.source, host_log=rep.host_log)
            for p in (d.events, Path(f"{d.events}-wal"), Path(f"{d.events}-shm")):
                p.unlink(missing_ok=True)
            EventStore(d.events).close()

    def rebuild(self, scn: Scenario, team: str, seed: int, start: float) -> None:
        """Re-synthesise a team's traffic after a step moved; what was delivered stays delivered."""
        d = self.teams[team]
        nxt = d.next
        rep = replay(scn.with_overrides(start=start), nxt.path, seed=seed, team=team)
        ingest(rep.pcap, nxt.source, host_log=rep.host_log)
        with sqlite3.connect(d.events) as dst:
            delivered = {t: _cursor(dst, t) for t in SCHEMA}
            last = max(((dst.execute(f"SELECT max(_seen) FROM {t}").fetchone()[0] or 0) for t in _tables(dst)),
                       default=0)
            with sqlite3.connect(nxt.source) as src:
                for t in _tables(src):  # skip what the new source holds up to the time already delivered
                    n = src.execute(f"SELECT max(rowid) FROM {t} WHERE _seen <= ?", (last,)).fetchone()[0] or 0
                    delivered[t] = n
            for t, n in delivered.items():
                dst.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"fed:{t}", str(n)))
        for old, new in ((d.capture, nxt.capture), (d.host_log, nxt.host_log), (d.truth, nxt.truth),
                         (d.source, nxt.source)):
            new.replace(old)

    def advance(self, now: float) -> int:
        return sum(self._advance_team(d, now) for d in self.teams.values())

    @staticmethod
    def _advance_team(d: TeamDir, now: float) -> int:
        n = 0
        try:
            dst = sqlite3.connect(d.events, timeout=30)
            dst.execute("PRAGMA journal_mode=WAL")
            dst.execute("ATTACH DATABASE ? AS src", (f"file:{d.source.resolve()}?mode=ro",))
        except sqlite3.Error as e:
            raise RangeError(f"{d.path}: cannot open the team's event stores: {e}") from None
        try:
            with dst:
                both = set(_tables(dst, "src"))
                for t in [t for t in _tables(dst) if t in both]:
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
