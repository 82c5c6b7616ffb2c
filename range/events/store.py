"""The event store: Zeek-shaped records in SQLite, one table per Zeek log (``_path``).

Column names are Zeek's own (``id.orig_h``, ``qtype_name``, ``status_code``...), so a Sigma rule
written for Zeek, or mapped onto Zeek by ``detections/pipeline.yml``, runs unchanged. ``ts`` is
epoch seconds (REAL); lists (``answers``, ``resp_mime_types``) are stored comma-joined. The
database runs in WAL mode: the sensor appends while detection and the web app read.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Iterable
from urllib.parse import quote

from range.core import InputError, iso

ID = [("uid", "TEXT"), ("id.orig_h", "TEXT"), ("id.orig_p", "INTEGER"), ("id.resp_h", "TEXT"), ("id.resp_p", "INTEGER")]

SCHEMA: dict[str, list[tuple[str, str]]] = {
    "conn": [("ts", "REAL"), *ID, ("proto", "TEXT"), ("service", "TEXT"), ("duration", "REAL"),
             ("orig_bytes", "INTEGER"), ("resp_bytes", "INTEGER"), ("conn_state", "TEXT"), ("missed_bytes", "INTEGER"),
             ("history", "TEXT"), ("orig_pkts", "INTEGER"), ("orig_ip_bytes", "INTEGER"), ("resp_pkts", "INTEGER"),
             ("resp_ip_bytes", "INTEGER"), ("orig_l2_addr", "TEXT"), ("resp_l2_addr", "TEXT"),
             ("tunnel_parents", "TEXT"), ("ip_proto", "INTEGER")],
    "dns": [("ts", "REAL"), *ID, ("proto", "TEXT"), ("trans_id", "INTEGER"), ("rtt", "REAL"), ("query", "TEXT"),
            ("qclass", "INTEGER"), ("qclass_name", "TEXT"), ("qtype", "INTEGER"), ("qtype_name", "TEXT"),
            ("rcode", "INTEGER"), ("rcode_name", "TEXT"), ("AA", "INTEGER"), ("TC", "INTEGER"), ("RD", "INTEGER"),
            ("RA", "INTEGER"), ("Z", "INTEGER"), ("answers", "TEXT"), ("TTLs", "TEXT"), ("rejected", "INTEGER")],
    "http": [("ts", "REAL"), *ID, ("trans_depth", "INTEGER"), ("method", "TEXT"), ("host", "TEXT"), ("uri", "TEXT"),
             ("referrer", "TEXT"), ("version", "TEXT"), ("user_agent", "TEXT"), ("origin", "TEXT"),
             ("request_body_len", "INTEGER"), ("response_body_len", "INTEGER"), ("status_code", "INTEGER"),
             ("status_msg", "TEXT"), ("username", "TEXT"), ("password", "TEXT"), ("orig_mime_types", "TEXT"),
             ("resp_mime_types", "TEXT"), ("cookie", "TEXT"), ("content_type", "TEXT"), ("post_body", "TEXT"),
             ("uri_raw", "TEXT")],
    "ssh": [("ts", "REAL"), *ID, ("version", "INTEGER"), ("auth_success", "INTEGER"), ("auth_attempts", "INTEGER"),
            ("direction", "TEXT"), ("client", "TEXT"), ("server", "TEXT"), ("cipher_alg", "TEXT"), ("mac_alg", "TEXT"),
            ("compression_alg", "TEXT"), ("kex_alg", "TEXT"), ("host_key_alg", "TEXT")],
    "ftp": [("ts", "REAL"), *ID, ("user", "TEXT"), ("password", "TEXT"), ("command", "TEXT"), ("arg", "TEXT"),
            ("mime_type", "TEXT"), ("file_size", "INTEGER"), ("reply_code", "INTEGER"), ("reply_msg", "TEXT")],
    "telnet": [("ts", "REAL"), *ID, ("direction", "TEXT"), ("line", "TEXT"), ("user", "TEXT"), ("password", "TEXT")],
    "arp": [("ts", "REAL"), ("operation", "TEXT"), ("id.orig_h", "TEXT"), ("id.resp_h", "TEXT"), ("src_mac", "TEXT"),
            ("dst_mac", "TEXT"), ("orig_mac", "TEXT"), ("resp_mac", "TEXT")],
}

# Every table also has ``_seen``: the capture time at which the sensor emitted the record (a
# connection is emitted when it ends). Offline sessions reveal records by it; live, it measures
# the sensor's share of detection latency. Evidence records leave it out.
for _cols in SCHEMA.values():
    _cols.append(("_seen", "REAL"))

SERVICE_TABLES = tuple(t for t in SCHEMA if t != "conn")

# Tables a live sensor writes besides Zeek's logs: ``conn_open`` holds the line of each connection
# still open, written again each time it changed (Zeek's long-connection logging, every quarter
# second here), so that rules over conn see an open connection within a second; its final line
# goes to ``conn`` when it ends. Detection reads both as conn (range.detect), counting a
# connection once; everything else reads only the finished lines.
INTERIM = {"conn_open": "conn"}


def _q(col: str) -> str:
    return f"`{col}`"


def columns(table: str) -> list[str]:
    return [c for c, _ in SCHEMA[INTERIM.get(table, table)]]


def physical(table: str) -> list[str]:
    """The tables holding ``table``'s records: itself and its interim table, if any."""
    return [table] + [t for t, base in INTERIM.items() if base == table]


class EventStore:
    """Append-only writer of event records (one connection, batched in transactions).

    ``bulk``: a store being built from a capture file under a temporary name (range.events.ingest),
    renamed only when complete: it needs no journal while it is written, and its time indexes are
    built once at :meth:`close` instead of on every insert. Otherwise (a live team store that
    detection reads while the sensor writes) it runs in WAL mode from the start."""

    def __init__(self, path: str | Path, bulk: bool = False):
        self.path = Path(path)
        self.bulk = bulk
        self.db = sqlite3.connect(self.path, check_same_thread=False)  # written by one writer thread
        if bulk:
            self.db.execute("PRAGMA journal_mode=OFF")
            self.db.execute("PRAGMA synchronous=OFF")
        else:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
        for table, cols in [*SCHEMA.items(), *((i, SCHEMA[base]) for i, base in INTERIM.items())]:
            body = ", ".join(f"{_q(c)} {t}" for c, t in cols)
            self.db.execute(f"CREATE TABLE IF NOT EXISTS {table} ({body})")
            have = {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}
            for c, t in cols:  # a store written by an earlier version: the new columns join it, empty
                if c not in have:
                    self.db.execute(f"ALTER TABLE {table} ADD COLUMN {_q(c)} {t}")
            if not bulk:
                self._index(table)
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        self.db.commit()
        self._sql = {t: f"INSERT INTO {t} ({', '.join(_q(c) for c in columns(t))}) VALUES "
                        f"({', '.join('?' for _ in columns(t))})" for t in [*SCHEMA, *INTERIM]}
        self.counts = {t: 0 for t in [*SCHEMA, *INTERIM]}

    def add(self, table: str, records: Iterable[dict | tuple]) -> int:
        """Append records: dicts by field name, or tuples already in the table's column order."""
        cols = columns(table)
        rows = [r if type(r) is tuple else list(map(r.get, cols)) for r in records]
        if rows:
            self.db.executemany(self._sql[table], rows)
            self.counts[table] += len(rows)
        return len(rows)

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def commit(self) -> None:
        self.db.commit()

    def _index(self, table: str) -> None:
        self.db.execute(f"CREATE INDEX IF NOT EXISTS {table}_ts ON {table}(ts)")

    def close(self) -> None:
        self.db.commit()
        if self.bulk:  # ready for readers: time indexes, then WAL like every other store
            for table in SCHEMA:
                self._index(table)
            self.db.commit()
            self.db.execute("PRAGMA journal_mode=WAL")
        self.db.close()


def _no_attach(action: int, *_args) -> int:
    """SQLite authorizer of read-only stores: a statement can never ATTACH (or DETACH) another
    database, so whatever SQL a rule or a filter turns into, it reads this one store only."""
    return sqlite3.SQLITE_DENY if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH) else sqlite3.SQLITE_OK


def open_readonly(path: str | Path) -> sqlite3.Connection:
    """The store for reading only: detection and the web app can never alter events, nor reach
    another database from this connection (no ATTACH)."""
    p = Path(path)
    if not p.exists():
        raise InputError("no such event store; create it with 'cyberrange ingest'", file=str(path))
    if not p.is_file():
        raise InputError("not an event store: not a file", file=str(path))
    try:
        db = sqlite3.connect(f"file:{quote(str(p.resolve()))}?mode=ro", uri=True)
    except sqlite3.Error as e:
        raise InputError(f"cannot open the event store: {e}", file=str(path)) from None
    db.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    try:  # a live session holds one per rule and team: 512 KiB of page cache each, not 2 MiB
        db.execute("PRAGMA cache_size=-512")
    except sqlite3.DatabaseError as e:
        db.close()
        raise InputError(f"not an event store: {e}", file=str(path)) from None
    db.set_authorizer(_no_attach)
    db.row_factory = sqlite3.Row
    return db


def record(table: str, row: sqlite3.Row | dict) -> dict:
    """A stored row as an evidence record: Zeek field names, ``_path``, ISO ``ts``; empty fields dropped."""
    d = {"_path": table}
    for k in (row.keys() if hasattr(row, "keys") else row):
        if k in ("rowid", "_seen"):
            continue
        v = row[k]
        if v is None:
            continue
        d[k] = iso(v) if k == "ts" else v
    return d
