"""The event explorer: pages of a team's own ``events.db``, newest first.

The team's store holds only what its sensor has delivered so far (offline: what the session
clock has reached), so nothing here can show the future. Filters are ``field=value`` (exact;
``*`` is a wildcard) or ``field!=value`` on the table's Zeek columns, a time range on ``ts``
and a free-text search over every text column. Everything is parameterised SQL over a
whitelist of column names.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from range.core import InputError, NotFound, RangeError
from range.events.store import SCHEMA, open_readonly, record

MAX_LIMIT = 500
MAX_FILTERS = 10
HIDDEN = {"_seen"}


def tables() -> dict[str, list[dict]]:
    return {t: [{"name": c, "type": ty} for c, ty in cols if c not in HIDDEN] for t, cols in SCHEMA.items()}


def _open(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise RangeError("this team's event store does not exist yet (the session is still being prepared)")
    return open_readonly(path)


def counts(path: Path) -> dict[str, int]:
    db = _open(path)
    try:
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in SCHEMA}
    finally:
        db.close()


def parse_filter(table: str, text: str) -> tuple[str, list]:
    cols = dict(SCHEMA[table])
    i = text.find("=")
    if i <= 0:
        raise InputError(f"filter {text!r}: write field=value or field!=value")
    neg = text[i - 1] == "!"
    field, value = text[:i - 1 if neg else i].strip(), text[i + 1:]
    if field not in cols or field in HIDDEN:
        raise InputError(f"filter {text!r}: table {table} has no field {field!r}; its fields: "
                         f"{', '.join(c for c in cols if c not in HIDDEN)}")
    col = f"`{field}`"
    if "*" in value:
        like = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("*", "%")
        return (f"({col} IS NULL OR CAST({col} AS TEXT) NOT LIKE ? ESCAPE '\\')" if neg else
                f"CAST({col} AS TEXT) LIKE ? ESCAPE '\\'"), [like]
    if cols[field] in ("INTEGER", "REAL") and value.strip() != "":
        try:
            v: object = int(value) if cols[field] == "INTEGER" else float(value)
        except ValueError:
            raise InputError(f"filter {text!r}: {field} is a number") from None
        if isinstance(v, int) and not -2**63 <= v < 2**63:
            raise InputError(f"filter {text!r}: {field} holds no number that large")
    else:
        v = value
    return (f"({col} IS NULL OR {col} != ?)" if neg else f"{col} = ?"), [v]


def query(path: Path, table: str, filters: list[str] = (), since: float | None = None, until: float | None = None,
          text: str | None = None, limit: int = 50, offset: int = 0, after: int | None = None) -> dict:
    """One page, newest first. ``after`` (a rowid) returns only rows that arrived after it (live tail)."""
    if table not in SCHEMA:
        raise InputError(f"no table {table!r}; tables: {', '.join(SCHEMA)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"'limit' must be between 1 and {MAX_LIMIT}")
    if offset < 0:
        raise InputError("'offset' must not be negative")
    if len(filters) > MAX_FILTERS:
        raise InputError(f"at most {MAX_FILTERS} filters")
    where, args = [], []
    for f in filters:
        w, a = parse_filter(table, f)
        where.append(w)
        args += a
    if since is not None:
        where.append("ts >= ?")
        args.append(since)
    if until is not None:
        where.append("ts <= ?")
        args.append(until)
    if text:
        if len(text) > 200:
            raise InputError("the search text is longer than 200 characters")
        tcols = [c for c, ty in SCHEMA[table] if ty == "TEXT" and c not in HIDDEN]
        if "\x00" in text:  # SQLite's LIKE would stop at the NUL and match everything; no event holds one
            where.append("0")
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append("(" + " OR ".join(f"`{c}` LIKE ? ESCAPE '\\'" for c in tcols) + ")")
        args += [like] * len(tcols)
    if after is not None:
        where.append("rowid > ?")
        args.append(after)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    db = _open(path)
    try:
        total = db.execute(f"SELECT count(*) FROM {table}{clause}", args).fetchone()[0]
        rows = db.execute(f"SELECT rowid, * FROM {table}{clause} ORDER BY ts DESC, rowid DESC LIMIT ? OFFSET ?",
                          args + [limit, offset]).fetchall()
        latest = db.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0] or 0
    finally:
        db.close()
    out = []
    for r in rows:
        rec = record(table, r)
        rec["_rowid"] = r["rowid"]
        rec["_ts"] = r["ts"]
        out.append(rec)
    return {"table": table, "total": total, "offset": offset, "limit": limit, "latest_rowid": latest,
            "columns": [c for c, _ in SCHEMA[table] if c not in HIDDEN], "events": out}


def event(path: Path, table: str, rowid: int) -> dict:
    if table not in SCHEMA:
        raise InputError(f"no table {table!r}; tables: {', '.join(SCHEMA)}")
    db = _open(path)
    try:
        row = db.execute(f"SELECT rowid, * FROM {table} WHERE rowid = ?", (rowid,)).fetchone()
        if row is None:
            raise NotFound(f"no {table} event {rowid} in this team's events")
        conn = None
        if table != "conn" and table != "arp" and row["uid"]:
            conn = db.execute("SELECT rowid, * FROM conn WHERE uid = ?", (row["uid"],)).fetchone()
        return {"table": table, "row": dict(row), "conn": dict(conn) if conn else None}
    finally:
        db.close()
