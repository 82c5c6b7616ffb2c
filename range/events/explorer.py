"""The event explorer: pages of a team's own ``events.db``, newest first.

The team's store holds only what its sensor has delivered so far (offline: what the session
clock has reached), so nothing here can show the future. Filters are ``field=value`` (exact;
``*`` is a wildcard) or ``field!=value`` on the table's Zeek columns, a time range on ``ts``
and a free-text search over every text column. Everything is parameterised SQL over a
whitelist of column names.
"""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from range.core import InputError, NotFound, RangeError
from range.events.query import compile_query
from range.events.store import SCHEMA, SERVICE_TABLES, open_readonly, record

MAX_LIMIT = 500
MAX_FILTERS = 10
HIDDEN = {"_seen"}


def tables() -> dict[str, list[dict]]:
    return {t: [{"name": c, "type": ty} for c, ty in cols if c not in HIDDEN] for t, cols in SCHEMA.items()}


def _open(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise RangeError("this team's event store does not exist yet (the session is still being prepared)")
    return open_readonly(path)


def _present(db: sqlite3.Connection) -> set[str]:
    """The tables this store has (a store written before the host tables has none of them)."""
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def counts(path: Path) -> dict[str, int]:
    db = _open(path)
    try:
        have = _present(db)
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] if t in have else 0 for t in SCHEMA}
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
          text: str | None = None, limit: int = 50, offset: int = 0, after: int | None = None,
          kql: str | None = None, sort: str | None = None, order: str = "desc") -> dict:
    """One page, newest first. ``after`` (a rowid) returns only rows that arrived after it (live tail);
    ``kql``: a query in the hunting language (:mod:`range.events.query`); ``sort``/``order``: a column
    to sort by (``ts`` over every hit, any other column over the newest SORT_WINDOW hits)."""
    if table not in SCHEMA:
        raise InputError(f"no table {table!r}; tables: {', '.join(SCHEMA)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"'limit' must be between 1 and {MAX_LIMIT}")
    if offset < 0:
        raise InputError("'offset' must not be negative")
    if len(filters) > MAX_FILTERS:
        raise InputError(f"at most {MAX_FILTERS} filters")
    where, args = _conditions(table, since, until, kql)
    for f in filters:
        w, a = parse_filter(table, f)
        where.append(w)
        args += a
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
    page_sql, windowed = _page_sql(table, clause, sort, order)
    db = _open(path)
    try:
        if table not in _present(db):
            return {"table": table, "total": 0, "total_capped": False, "total_partial": False, "offset": offset,
                    "limit": limit, "latest_rowid": 0, "sort": sort or "ts", "order": order,
                    "sort_window": SORT_WINDOW if windowed else None,
                    "columns": [c for c, _ in SCHEMA[table] if c not in HIDDEN], "events": []}
        total, partial = _count(db, table, where, args)
        rows = db.execute(page_sql, args + [limit, offset]).fetchall()
        latest = db.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0] or 0
    finally:
        db.close()
    out = []
    for r in rows:
        rec = record(table, r)
        rec["_rowid"] = r["rowid"]
        rec["_ts"] = r["ts"]
        out.append(rec)
    return {"table": table, "total": min(total, TOTAL_CAP), "total_capped": total > TOTAL_CAP or partial,
            "total_partial": partial,
            "offset": offset, "limit": limit, "latest_rowid": latest,
            "sort": sort or "ts", "order": order, "sort_window": SORT_WINDOW if windowed else None,
            "columns": [c for c, _ in SCHEMA[table] if c not in HIDDEN], "events": out}


def _page_sql(table: str, clause: str, sort: str | None, order: str) -> tuple[str, bool]:
    """A page's SELECT (its last two parameters: limit, offset) and whether it sorts a window of hits.
    Sorting by time walks the ts index either way; any other column sorts the newest SORT_WINDOW
    hits, so a sort costs the same on a store of a million events as on a small one."""
    if order not in ("asc", "desc"):
        raise InputError("'order' must be asc or desc")
    cols = [c for c, _ in SCHEMA[table] if c not in HIDDEN]
    if sort not in (None, "", "ts") and sort not in cols:
        raise InputError(f"cannot sort by {sort!r}: table {table} has no such field; its fields: {', '.join(cols)}")
    d = order.upper()
    if sort in (None, "", "ts"):
        return f"SELECT rowid, * FROM {table}{clause} ORDER BY ts {d}, rowid {d} LIMIT ? OFFSET ?", False
    return (f"SELECT * FROM (SELECT rowid AS rowid, * FROM {table}{clause} ORDER BY ts DESC, rowid DESC "
            f"LIMIT {SORT_WINDOW}) ORDER BY `{sort}` {d} NULLS LAST, ts DESC, rowid DESC LIMIT ? OFFSET ?"), True


SORT_WINDOW = 10_000  # sorting by a column other than ts sorts the newest 10,000 hits (as TOTAL_CAP counts)
SCAN_BUDGET = 0.2    # seconds a page may spend counting its hits (the histogram 1.5 times that), newest first
CHUNK = 50_000       # rows per step of a bounded scan
MAX_BUCKETS = 200
MAX_FACETS = 8
FACET_TOP = 5
FACET_SAMPLE = 500   # facets are the top values of the newest 500 hits, as Kibana Discover's field list
TOTAL_CAP = 10_000   # a page counts its hits up to 10,000 ("10,000+"), as Elasticsearch's track_total_hits


def _chunks(db, table: str):
    """Rowid ranges of CHUNK rows, newest first (records are appended in time order)."""
    hi = db.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0] or 0
    while hi > 0:
        lo = max(hi - CHUNK + 1, 1)
        yield lo, hi
        hi = lo - 1


def _count(db, table: str, where: list[str], args: list) -> tuple[int, bool]:
    """Hits up to TOTAL_CAP + 1, newest chunks first, within SCAN_BUDGET (True: it stopped there)."""
    cond = " AND ".join([*where, "rowid BETWEEN ? AND ?"])
    total, began = 0, time.perf_counter()
    for lo, hi in _chunks(db, table):
        total += db.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {cond} LIMIT ?)",
                            [*args, lo, hi, TOTAL_CAP + 1 - total]).fetchone()[0]
        if total > TOTAL_CAP:
            return total, False
        if time.perf_counter() - began > SCAN_BUDGET and lo > 1:
            return total, True
    return total, False


def _conditions(table: str, since, until, kql) -> tuple[list[str], list]:
    """The conditions of a time range and a hunting query, and their parameters."""
    if table not in SCHEMA:
        raise InputError(f"no table {table!r}; tables: {', '.join(SCHEMA)}")
    where, args = [], []
    if since is not None:
        where.append("ts >= ?")
        args.append(since)
    if until is not None:
        where.append("ts <= ?")
        args.append(until)
    if kql:
        w, a = compile_query(table, kql)
        where.append(w)
        args += a
    return where, args


def _where(table: str, since, until, kql) -> tuple[str, list]:
    where, args = _conditions(table, since, until, kql)
    return (" WHERE " + " AND ".join(where)) if where else "", args


def histogram(path: Path, table: str, since: float | None = None, until: float | None = None,
              kql: str | None = None, buckets: int = 60) -> dict:
    """Hits per time bucket over [since, until] (the table's span when open): one scan of the hits."""
    if not 1 <= buckets <= MAX_BUCKETS:
        raise InputError(f"'buckets' must be between 1 and {MAX_BUCKETS}")
    clause, args = _where(table, since, until, kql)
    db = _open(path)
    try:  # the span is the time range asked for, or the table's (its ts index answers at once)
        present = table in _present(db)
        lo, hi = db.execute(f"SELECT min(ts), max(ts) FROM {table}").fetchone() if present else (None, None)
        start = since if since is not None else lo
        end = until if until is not None else hi
        if start is None or end is None or not present:
            return {"table": table, "total": 0, "start": start, "end": end, "width": None, "counts": []}
        width = max((end - start) / buckets, 1e-3)
        counts = [0] * buckets
        cond = (clause + " AND " if clause else " WHERE ") + "rowid BETWEEN ? AND ?"
        partial, began = False, time.perf_counter()
        for lo, hi in _chunks(db, table):
            for b, c in db.execute(f"SELECT CAST((ts - ?) / ? AS INTEGER) AS b, count(*) FROM {table}{cond} "
                                   "GROUP BY b", [start, width, *args, lo, hi]):
                counts[min(max(int(b), 0), buckets - 1)] += c
            if time.perf_counter() - began > SCAN_BUDGET * 1.5 and lo > 1:
                partial = True
                break
    finally:
        db.close()
    return {"table": table, "total": sum(counts), "partial": partial, "start": start, "end": end, "width": width,
            "counts": counts}


def facets(path: Path, table: str, fields: list[str], since: float | None = None, until: float | None = None,
           kql: str | None = None, top: int = FACET_TOP) -> dict:
    """The most frequent values of ``fields`` among the newest FACET_SAMPLE hits."""
    cols = {c for c, _ in SCHEMA.get(table, ()) if c not in HIDDEN}
    if len(fields) > MAX_FACETS:
        raise InputError(f"at most {MAX_FACETS} facet fields")
    for f in fields:
        if table in SCHEMA and f not in cols:
            raise InputError(f"table {table} has no field {f!r}; its fields: {', '.join(sorted(cols))}")
    clause, args = _where(table, since, until, kql)
    db = _open(path)
    try:
        if table not in _present(db):
            return {"table": table, "sampled": 0, "sample_limit": FACET_SAMPLE, "facets": {f: [] for f in fields}}
        db.execute(f"CREATE TEMP TABLE hits AS SELECT {', '.join(f'`{f}`' for f in fields) or 'ts'} FROM {table}"
                   f"{clause} ORDER BY ts DESC LIMIT ?", [*args, FACET_SAMPLE])
        n = db.execute("SELECT count(*) FROM hits").fetchone()[0]
        out = {}
        for f in fields:
            out[f] = [{"value": v, "count": c} for v, c in db.execute(
                f"SELECT `{f}`, count(*) AS c FROM hits WHERE `{f}` IS NOT NULL GROUP BY `{f}` "
                "ORDER BY c DESC, `{f}` LIMIT ?".replace("{f}", f), [top])]
    finally:
        db.close()
    return {"table": table, "sampled": n, "sample_limit": FACET_SAMPLE, "facets": out}


def event(path: Path, table: str, rowid: int) -> dict:
    if table not in SCHEMA:
        raise InputError(f"no table {table!r}; tables: {', '.join(SCHEMA)}")
    db = _open(path)
    try:
        row = None
        if table in _present(db):
            row = db.execute(f"SELECT rowid, * FROM {table} WHERE rowid = ?", (rowid,)).fetchone()
        if row is None:
            raise NotFound(f"no {table} event {rowid} in this team's events")
        conn = None   # a Zeek log's connection; a host record (HOST_TABLES) belongs to none
        if table in SERVICE_TABLES and "uid" in row.keys() and row["uid"]:
            conn = db.execute("SELECT rowid, * FROM conn WHERE uid = ?", (row["uid"],)).fetchone()
        return {"table": table, "row": dict(row), "conn": dict(conn) if conn else None}
    finally:
        db.close()
