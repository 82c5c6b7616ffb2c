"""The event store: Zeek-shaped records in SQLite, one table per Zeek log (``_path``), and the
nodes' own host logs beside them.

Column names are Zeek's own (``id.orig_h``, ``qtype_name``, ``status_code``...), so a Sigma rule
written for Zeek, or mapped onto Zeek by ``detections/pipeline.yml``, runs unchanged. ``ts`` is
epoch seconds (REAL); lists (``answers``, ``resp_mime_types``) are stored comma-joined. The
database runs in WAL mode: the sensor appends while detection and the web app read.

The host tables (:data:`HOST_TABLES`) hold what a node's kernel and services log, with the field
names of Sigma's Linux log sources (``Image``, ``CommandLine``, ``TargetFilename``, auditd's
``type``/``a0``/``SYSCALL``, sudo's ``USER``...) and of its webserver category (``c-ip``,
``cs-method``, ``cs-uri-query``, ``sc-status``...), so that SigmaHQ's Linux and web rules run with
no renames; ``host`` is the node's name. A host record belongs to no connection: no Zeek ``uid``.
Their text is bounded and escaped as it is stored (:func:`bound_text`).
"""
from __future__ import annotations

import re
import sqlite3
from itertools import chain, repeat
from operator import itemgetter
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
    # ---- host logs: Sigma's Linux log sources (Sysmon for Linux's names for the first three) ----
    "process_creation": [("ts", "REAL"), ("host", "TEXT"), ("ProcessId", "INTEGER"), ("Image", "TEXT"),
                         ("CommandLine", "TEXT"), ("CurrentDirectory", "TEXT"), ("User", "TEXT"),
                         ("LogonId", "INTEGER"), ("ParentProcessId", "INTEGER"), ("ParentImage", "TEXT"),
                         ("ParentCommandLine", "TEXT"), ("ParentUser", "TEXT")],
    "file_event": [("ts", "REAL"), ("host", "TEXT"), ("ProcessId", "INTEGER"), ("Image", "TEXT"),
                   ("TargetFilename", "TEXT"), ("User", "TEXT")],
    "network_connection": [("ts", "REAL"), ("host", "TEXT"), ("ProcessId", "INTEGER"), ("Image", "TEXT"),
                           ("User", "TEXT"), ("Protocol", "TEXT"), ("Initiated", "TEXT"), ("SourceIp", "TEXT"),
                           ("SourcePort", "INTEGER"), ("SourceHostname", "TEXT"), ("DestinationIp", "TEXT"),
                           ("DestinationPort", "INTEGER"), ("DestinationHostname", "TEXT")],
    # one row per audit record (EXECVE, SYSCALL, PATH, CWD, PROCTITLE, SERVICE_STOP, USER_AUTH...);
    # the records of one event share ``serial``; EXECVE's arguments a0..a9 (later ones are not kept)
    "auditd": [("ts", "REAL"), ("host", "TEXT"), ("serial", "INTEGER"), ("type", "TEXT"), ("key", "TEXT"),
               ("SYSCALL", "TEXT"), ("success", "TEXT"), ("exit", "INTEGER"), ("pid", "INTEGER"), ("ppid", "INTEGER"),
               ("auid", "INTEGER"), ("euid", "INTEGER"), ("ses", "INTEGER"), ("tty", "TEXT"), ("comm", "TEXT"),
               ("exe", "TEXT"), ("cwd", "TEXT"), ("name", "TEXT"), ("nametype", "TEXT"), ("argc", "INTEGER"),
               *((f"a{i}", "TEXT") for i in range(10)), ("proctitle", "TEXT"), ("unit", "TEXT"), ("acct", "TEXT"),
               ("res", "TEXT")],
    # Linux's service logs (Sigma's services auth, sshd, sudo, cron, syslog, vsftpd, clamav, guacamole):
    # the syslog header's facility, severity and program (``sshd``, ``sudo``, ``CRON``...), the
    # message, and the fields sudo writes into it (``USER=root ; COMMAND=/bin/sh``)
    "syslog": [("ts", "REAL"), ("host", "TEXT"), ("facility", "TEXT"), ("severity", "TEXT"), ("program", "TEXT"),
               ("pid", "INTEGER"), ("message", "TEXT"), ("USER", "TEXT"), ("TTY", "TEXT"), ("PWD", "TEXT"),
               ("COMMAND", "TEXT")],
    # the web server's logs (Sigma's category webserver; the services nginx and apache): ``log`` says
    # which. An ``access`` line has the W3C names SigmaHQ's web rules use, each as nginx's
    # ``combined`` line shows it (``cs-uri``: the request target whole, ``$request_uri``;
    # ``cs-uri-stem`` its path, ``cs-uri-query`` what follows the ``?``; ``sc-bytes``:
    # ``$body_bytes_sent``; ``cs-bytes``: ``$request_length``); an ``error`` line its ``level``
    # (``error``, ``crit``, ``alert``...) and the worker's ``pid``, and the request's fields when it
    # names one. ``message``: the line as written, whole.
    "webserver": [("ts", "REAL"), ("host", "TEXT"), ("log", "TEXT"), ("c-ip", "TEXT"), ("cs-username", "TEXT"),
                  ("cs-method", "TEXT"), ("cs-uri-stem", "TEXT"), ("cs-uri-query", "TEXT"), ("cs-uri", "TEXT"),
                  ("cs-version", "TEXT"), ("sc-status", "INTEGER"), ("sc-bytes", "INTEGER"), ("cs-bytes", "INTEGER"),
                  ("cs-referer", "TEXT"), ("cs-user-agent", "TEXT"), ("cs-host", "TEXT"), ("level", "TEXT"),
                  ("pid", "INTEGER"), ("message", "TEXT")],
}
HOST_TABLES = ("process_creation", "file_event", "network_connection", "auditd", "syslog", "webserver")
NETWORK_TABLES = tuple(t for t in SCHEMA if t not in HOST_TABLES)   # Zeek's logs, from the packets

# Every table also has ``_seen``: the capture time at which the sensor emitted the record (a
# connection is emitted when it ends). Offline sessions reveal records by it; live, it measures
# the sensor's share of detection latency. Evidence records leave it out.
for _cols in SCHEMA.values():
    _cols.append(("_seen", "REAL"))

SERVICE_TABLES = tuple(t for t in NETWORK_TABLES if t != "conn")

# Tables a live sensor writes besides Zeek's logs: ``conn_open`` holds the line of each connection
# still open, written again each time it changed (Zeek's long-connection logging, every quarter
# second here), so that rules over conn see an open connection within a second; its final line
# goes to ``conn`` when it ends. Detection reads both as conn (range.detect), counting a
# connection once; everything else reads only the finished lines.
INTERIM = {"conn_open": "conn"}


# Host text is written by the nodes themselves: a command line of a megabyte of arguments, NULs,
# bytes that are not UTF-8. Each text field of a host record keeps at most TEXT_KEEP characters:
# its head and its last TEXT_TAIL characters, the number cut said between them (a rule on how a
# command line starts or ends still sees it); a NUL and a byte that is not UTF-8 are written as
# Zeek writes them (``\x00``, ``\xNN``). Each cut field is counted in the store's meta table
# (key ``clipped:<table>``).
TEXT_KEEP = 16384
TEXT_TAIL = 4096
_SURROGATE = re.compile("[\ud800-\udfff]")
_PLAIN = frozenset({str, int, float, bool, type(None)})

# An absent field, as bound for SQLite: a NaN, which SQLite stores as NULL. The sqlite3 module binds
# None only after looking for an adapter for it, a cost that dominates a sparse row (auditd's 32
# columns, most of them empty: 12 us a row with None, 1.5 us with NaN); a float it binds directly.
NULL = float("nan")


def _escape_surrogate(m: re.Match) -> str:
    c = ord(m.group())
    return f"\\x{c - 0xdc00:02x}" if 0xdc80 <= c <= 0xdcff else f"\\u{c:04x}"  # surrogateescape'd bytes


def bound_text(v):
    """A host record's text value as stored: ``(value, was it cut)``. Bytes are decoded (UTF-8
    where they are, ``\\xNN`` for the rest), lone surrogates (undecodable bytes a reader kept with
    ``surrogateescape``) and NULs escaped, and a value longer than TEXT_KEEP cut in the middle.
    Anything but text and bytes is returned as it is."""
    if isinstance(v, (bytes, bytearray, memoryview)):
        v = bytes(v).decode("utf-8", "backslashreplace")
    elif not isinstance(v, str):
        return v, False
    elif not v.isascii():
        v = _SURROGATE.sub(_escape_surrogate, v)
    if "\x00" in v:
        v = v.replace("\x00", "\\x00")
    if len(v) <= TEXT_KEEP:
        return v, False
    return f"{v[:TEXT_KEEP - TEXT_TAIL]}[...{len(v) - TEXT_KEEP:,} characters cut...]{v[-TEXT_TAIL:]}", True


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
        self._texts = {t: [i for i, (_, ty) in enumerate(SCHEMA[t]) if ty == "TEXT"] for t in HOST_TABLES}

    def add(self, table: str, records: Iterable[dict | tuple]) -> int:
        """Append records: dicts by field name, or tuples already in the table's column order.
        A host table's text is bounded and escaped first (:func:`bound_text`)."""
        cols = columns(table)
        rows = [r if type(r) is tuple else list(map(r.get, cols, repeat(NULL))) for r in records]
        if table in self._texts:
            rows = self._bound(table, rows)
        if rows:
            self.db.executemany(self._sql[table], rows)
            self.counts[table] += len(rows)
        return len(rows)

    def _bound(self, table: str, rows: list) -> list:
        texts, clipped = self._texts[table], 0
        if rows and texts:   # the common case, checked for the whole batch at once: short ASCII text, no NUL
            vals = list(chain.from_iterable(map(itemgetter(*texts, texts[0]), rows)))   # (always a tuple)
            if _PLAIN.issuperset(map(type, vals)):   # text, numbers and nothing: only the text may need bounding
                strs = [v for v in vals if type(v) is str]
                joined = "".join(strs)
                if joined.isascii() and "\x00" not in joined and max(map(len, strs), default=0) <= TEXT_KEEP:
                    return rows
        for n, row in enumerate(rows):
            for i in texts:
                v = row[i]
                if type(v) is str:
                    if len(v) <= TEXT_KEEP and v.isascii() and "\x00" not in v:
                        continue
                elif not isinstance(v, (bytes, bytearray, memoryview)):
                    continue
                v, cut = bound_text(v)
                if type(row) is tuple:
                    row = rows[n] = list(row)
                row[i] = v
                clipped += cut
        if clipped:
            self.db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
                            "value = CAST(value AS INTEGER) + excluded.value", (f"clipped:{table}", str(clipped)))
        return rows

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
