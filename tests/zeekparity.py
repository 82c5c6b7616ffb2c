"""Our event store against Zeek's own logs, record by record.

The reference is ``../shared/corpus/zeek``: traces from Zeek's regression suite and the conn, dns
and http logs Zeek wrote for them (``manifest.json``). :func:`compare` ingests each trace and pairs
every Zeek record with one of ours that has the same key (the connection's 5-tuple, plus the
transaction id and query for dns, the method and URI for http), in order when several share a key,
then counts how often the paired records agree field by field. Used by
tests/integration/test_zeek_parity.py and bench/zeek_parity.py.
"""
from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "zeek"

KEYS = {
    "conn": ("id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "ip_proto"),
    "dns": ("id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "trans_id", "query"),
    "http": ("id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "method", "uri"),
}
# the fields the goal names (issue 11), and others watched for information
AGREE = {
    "conn": ("conn_state", "service", "orig_bytes", "resp_bytes"),
    "dns": ("qtype_name", "rcode_name", "answers"),
    "http": ("status_code",),
}
WATCH = {
    "conn": ("history", "orig_pkts", "resp_pkts", "orig_ip_bytes", "resp_ip_bytes", "missed_bytes", "tunnel_parents"),
    "dns": ("qclass_name", "AA", "TC", "RD", "RA", "rejected", "TTLs"),
    "http": ("host", "user_agent", "trans_depth", "version", "request_body_len", "response_body_len", "status_msg"),
}
SETS = {"service", "answers", "TTLs", "tunnel_parents"}  # compared as sets (order is not meaningful)
INTS = {"id.orig_p", "id.resp_p", "trans_id", "orig_bytes", "resp_bytes", "orig_pkts", "resp_pkts", "orig_ip_bytes",
        "resp_ip_bytes", "missed_bytes", "status_code", "trans_depth", "request_body_len", "response_body_len"}
BOOLS = {"AA", "TC", "RD", "RA", "rejected"}


def manifest() -> list[dict]:
    return json.loads((CORPUS / "manifest.json").read_text())


def read_log(path: Path) -> list[dict]:
    """A Zeek TSV log as dicts of Zeek's field names (``-`` unset, ``(empty)`` empty). Some baselines
    were cut to a few columns (zeek-cut): their first line names them instead of ``#fields``."""
    fields: list[str] = []
    out = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
            continue
        if not line or line.startswith("#"):
            continue
        if not fields:
            fields = line.split("\t")
            continue
        rec = {}
        for k, v in zip(fields, line.split("\t")):
            rec[k] = None if v == "-" else ("" if v == "(empty)" else v)
        out.append(rec)
    return out


def norm(name: str, v):
    """One field's value in a form both sides share."""
    if v is None or v == "":
        return None
    if name in SETS:
        parts = [p.strip() for p in (v if isinstance(v, (list, tuple)) else str(v).split(",")) if p.strip()]
        if name == "tunnel_parents":  # uids are ours and Zeek's own: how many parents is what compares
            return len(parts) or None
        if name == "TTLs":  # Zeek writes intervals (455.000000), the store whole seconds
            parts = [str(int(float(p))) for p in parts]
        return frozenset(parts) or None
    if name in BOOLS:
        return 1 if str(v) in ("T", "1", "True", "true") else 0
    if name in INTS:
        try:
            return int(float(v))
        except (TypeError, ValueError):
            return v
    if name == "query":
        return str(v)
    return str(v)


def ours(db: Path, table: str) -> list[dict]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(f"SELECT * FROM {table} ORDER BY ts, rowid")]
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


@dataclass
class Tally:
    zeek: int = 0
    matched: int = 0
    ours: int = 0
    extra: int = 0
    agree: dict = field(default_factory=lambda: defaultdict(lambda: [0, 0]))  # field -> [agree, compared]
    misses: list = field(default_factory=list)   # (test, key) of Zeek records we did not write
    extras: list = field(default_factory=list)   # (test, key) of ours Zeek did not write
    diffs: list = field(default_factory=list)    # (test, field, key, zeek, ours)

    def add(self, other: "Tally") -> None:
        self.zeek += other.zeek
        self.matched += other.matched
        self.ours += other.ours
        self.extra += other.extra
        for k, (a, n) in other.agree.items():
            self.agree[k][0] += a
            self.agree[k][1] += n
        self.misses += other.misses
        self.extras += other.extras
        self.diffs += other.diffs

    def rate(self, name: str) -> float | None:
        a, n = self.agree.get(name, (0, 0))
        return a / n if n else None


def pair(test: str, table: str, zeek: list[dict], mine: list[dict]) -> Tally:
    """Each Zeek record with the first of ours that has its key (the key fields the log has: a cut
    log without the connection's addresses pairs in order)."""
    t = Tally(zeek=len(zeek), ours=len(mine))
    keyf = tuple(k for k in KEYS[table] if zeek and k in zeek[0])
    pool: dict[tuple, list[dict]] = defaultdict(list)
    for r in mine:
        pool[tuple(norm(k, r.get(k)) for k in keyf)].append(r)
    for z in zeek:
        key = tuple(norm(k, z.get(k)) for k in keyf)
        cands = pool.get(key)
        if not cands:
            t.misses.append((test, key))
            continue
        if keyf:
            o = cands.pop(0)
        else:  # a log cut to a few columns, none of them a key: the record of ours most like it
            fields = [f for f in z if z.get(f) is not None]
            o = max(cands, key=lambda r: sum(norm(f, z[f]) == norm(f, r.get(f)) for f in fields))
            cands.remove(o)
        t.matched += 1
        for f in AGREE[table] + WATCH[table]:
            if f not in z:
                continue
            zv, ov = norm(f, z.get(f)), norm(f, o.get(f))
            t.agree[f][1] += 1
            if zv == ov:
                t.agree[f][0] += 1
            elif len(t.diffs) < 5000:
                t.diffs.append((test, f, key, zv, ov))
    for key, rest in pool.items():
        t.extra += len(rest)
        t.extras += [(test, key)] * len(rest)
    return t


def compare(work: Path, entries: list[dict] | None = None) -> tuple[dict[str, Tally], dict[str, str]]:
    """Ingest every trace of the manifest and pair its records with Zeek's. Returns the tallies per
    log and, per test, what went wrong if ingest refused the trace."""
    from range.events import ingest
    tallies = {t: Tally() for t in KEYS}
    failures: dict[str, str] = {}
    for e in entries or manifest():
        db = work / (e["test"].replace("/", "_") + ".db")
        try:
            ingest(CORPUS / e["trace"], db)
        except Exception as ex:  # noqa: BLE001 - reported by the caller: no trace may crash ingest
            failures[e["test"]] = f"{type(ex).__name__}: {ex}"
            continue
        for table, rel in e["logs"].items():
            tallies[table].add(pair(e["test"], table, read_log(CORPUS / rel), ours(db, table)))
    return tallies, failures


def summary(tallies: dict[str, Tally]) -> list[str]:
    lines = []
    for table, t in tallies.items():
        share = t.matched / t.zeek if t.zeek else 0
        extra = t.extra / t.ours if t.ours else 0
        agree = ", ".join(f"{f} {t.rate(f):.0%}" for f in AGREE[table] + WATCH[table] if t.rate(f) is not None)
        lines.append(f"{table}: {t.matched}/{t.zeek} Zeek records matched ({share:.0%}), "
                     f"{t.extra}/{t.ours} of ours not in Zeek's log ({extra:.0%}); agreement: {agree}")
    return lines
