"""The hunting workspace on a long session's store: 1,000,000 events (detect_speed's synthetic mix:
conn, dns, http, ssh... at ~200/s), each query timed as the workspace runs it (first page with its
total; histogram; facets of the hits) and side by side as plain SQL: the same WHERE clause with
``SELECT ... ORDER BY ts DESC LIMIT 50`` only, the floor any query language over this store has.

Usage: .venv/bin/python bench/explorer_speed.py [--events 1000000] [--repeat 7] [--store PATH]
"""
from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from detect_speed import synth_store  # noqa: E402
from timing import p95, timed  # noqa: E402

from range.events import explorer  # noqa: E402
from range.events.query import compile_query  # noqa: E402

QUERIES = [
    ("conn", "id.resp_p:22"),
    ("conn", "proto:tcp AND NOT conn_state:SF"),
    ("conn", "id.orig_h:10.1.0.4* AND orig_bytes>4000"),
    ("dns", "len(query)>20 OR qtype_name:TXT"),
    ("http", "user_agent:*sqlmap* OR status_code>=400"),
    ("conn", "10.1.0.42"),
]
FACETS = {"conn": ["id.orig_h", "id.resp_h", "id.resp_p", "service", "conn_state"],
          "dns": ["query", "qtype_name", "rcode_name", "id.orig_h"],
          "http": ["host", "method", "status_code", "user_agent"]}


SORTS = [("conn", "proto:tcp AND NOT conn_state:SF", "orig_bytes"),
         ("http", "user_agent:*sqlmap* OR status_code>=400", "uri"),
         ("dns", "len(query)>20 OR qtype_name:TXT", "query")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--store", type=Path, default=Path("/tmp/cr-explorer-1m.db"))
    a = ap.parse_args()
    if not a.store.exists():
        print(f"building a store of {a.events:,} events in {a.store} ...", flush=True)
        synth_store(a.store, a.events, seed=3, scan_share=0.1)
    db = sqlite3.connect(a.store)
    sizes = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("conn", "dns", "http")}
    print(f"store: {sum(sizes.values()):,} events in conn/dns/http ({sizes})\n")
    print(f"{'table':6} {'query':45} {'hits':>8} {'page p50/p95 ms':>16} {'SQL page p50/p95':>17} "
          f"{'hist+facets p50/p95 ms':>23}")
    pages, hunts = [], []
    for table, q in QUERIES:
        where, args = compile_query(table, q)
        plain = f"SELECT rowid, * FROM {table} WHERE {where} ORDER BY ts DESC LIMIT 50"
        page = timed(lambda: explorer.query(a.store, table, kql=q), a.repeat)
        sql = timed(lambda: db.execute(plain, args).fetchall(), a.repeat)

        def hunt():
            explorer.histogram(a.store, table, kql=q)
            explorer.facets(a.store, table, FACETS[table], kql=q)
        hist = timed(hunt, a.repeat)
        hits = explorer.query(a.store, table, kql=q, limit=1)["total"]
        pages += page
        hunts += hist
        print(f"{table:6} {q[:45]:45} {hits:8,} {statistics.median(page) * 1e3:7.0f} /{p95(page) * 1e3:6.0f} "
              f"{statistics.median(sql) * 1e3:8.0f} /{p95(sql) * 1e3:6.0f} "
              f"{statistics.median(hist) * 1e3:13.0f} /{p95(hist) * 1e3:6.0f}")
    print(f"\nsorted by a field (the newest {explorer.SORT_WINDOW:,} hits), side by side with plain SQL "
          "sorting every hit:")
    for table, q, field in SORTS:
        where, args = compile_query(table, q)
        plain = f"SELECT rowid, * FROM {table} WHERE {where} ORDER BY `{field}` DESC LIMIT 50"
        page = timed(lambda: explorer.query(a.store, table, kql=q, sort=field), a.repeat)
        sql = timed(lambda: db.execute(plain, args).fetchall(), a.repeat)
        pages += page
        print(f"{table:6} {(q + ' sort ' + field)[:45]:45} {'':8} {statistics.median(page) * 1e3:7.0f} /"
              f"{p95(page) * 1e3:6.0f} {statistics.median(sql) * 1e3:8.0f} /{p95(sql) * 1e3:6.0f}")
    print(f"\nover all queries: first page p95 {p95(pages) * 1e3:.0f} ms (goal <= 300), histogram + facets p95 "
          f"{p95(hunts) * 1e3:.0f} ms (goal <= 500)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
