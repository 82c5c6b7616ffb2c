"""Detection speed: events/s through the example rules and the SigmaHQ corpus, and the cost of a
port-scan correlation (value_count) at 10k / 100k / 1M events, ours against the SQL the pySigma
SQLite backend generates for it.

    .venv/bin/python bench/detect_speed.py [--quick] [--no-write]

Writes its figures into BENCHMARKS.md (section "Detection", replaced on each run).
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "bench"))
from mdsection import write_section  # noqa: E402

from range.detect import rules as detect  # noqa: E402
from range.detect import run  # noqa: E402
from range.events import EventStore  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "sigmahq"
T0 = 1_800_000_000.0
DOMAINS = ["www.example.org", "mail.gov.test", "intranet.gov.test", "cdn.vendor.test", "updates.os.test",
           "api.weather.test", "news.site.test", "login.portal.test"]
AGENTS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
          "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
          "Microsoft-CryptoAPI/10.0", "Windows-Update-Agent/10.0"]
URIS = ["/", "/index.html", "/news/today", "/static/app.js", "/img/logo.png", "/login", "/api/v1/items?page=2",
        "/search?q=budget+2027", "/docs/report.pdf"]


def synth_store(path: Path, n: int, seed: int = 1, scan_share: float = 0.0, mixed: bool = True) -> int:
    """``n`` events at ~200/s: benign traffic, with port scans making ``scan_share`` of the conn records
    and (mixed) a few attack records of the other kinds."""
    rnd = random.Random(seed)
    s = EventStore(path)
    rows = {t: [] for t in ("conn", "dns", "http", "ssh", "ftp", "telnet", "arp")}
    ts = T0
    scan_left, scanner, port = 0, None, 0
    for i in range(n):
        ts += rnd.expovariate(200.0)
        host = f"10.1.0.{rnd.randint(20, 90)}"
        r = rnd.random()
        if scan_left or rnd.random() < scan_share / 1000:
            if not scan_left:
                scan_left, scanner, port = 1000, f"10.1.0.{rnd.randint(200, 250)}", 0
            scan_left -= 1
            port += 1
            rows["conn"].append({"ts": ts, "uid": f"S{i}", "id.orig_h": scanner, "id.orig_p": 40000 + port % 20000,
                                 "id.resp_h": "10.1.0.10", "id.resp_p": port, "proto": "tcp", "conn_state": "REJ",
                                 "history": "Sr", "orig_pkts": 1, "resp_pkts": 1})
            continue
        if not mixed or r < 0.6:
            dport = rnd.choice([443, 443, 443, 80, 53, 22, 445, 8080])
            rows["conn"].append(
                {
                    "ts": ts,
                    "uid": f"C{i}",
                    "id.orig_h": host,
                    "id.orig_p": rnd.randint(30000, 60000),
                    "id.resp_h": f"10.1.1.{rnd.randint(1, 20)}",
                    "id.resp_p": dport,
                    "proto": "udp" if dport == 53 else "tcp",
                    "conn_state": "SF" if rnd.random() < 0.97 else "S0",
                    "duration": rnd.random(),
                    "orig_bytes": rnd.randint(0, 5000),
                    "resp_bytes": rnd.randint(0, 90000),
                    "history": "ShADadFf",
                }
            )
        elif r < 0.8:
            q = rnd.choice(DOMAINS)
            if rnd.random() < 0.002:
                q = "".join(rnd.choice("abcdef0123456789") for _ in range(60)) + ".exfil.test"
            rows["dns"].append(
                {
                    "ts": ts,
                    "uid": f"D{i}",
                    "id.orig_h": host,
                    "id.orig_p": rnd.randint(30000, 60000),
                    "id.resp_h": "10.1.1.2",
                    "id.resp_p": 53,
                    "proto": "udp",
                    "query": q,
                    "qtype_name": rnd.choice(["A", "A", "AAAA", "TXT"]),
                    "rcode_name": "NOERROR",
                    "answers": "10.9.8.7",
                    "Z": 0,
                    "rejected": 0,
                }
            )
        elif r < 0.95:
            ua = rnd.choice(AGENTS) if rnd.random() > 0.002 else "sqlmap/1.7.2#stable (https://sqlmap.org)"
            rows["http"].append(
                {
                    "ts": ts,
                    "uid": f"H{i}",
                    "id.orig_h": host,
                    "id.orig_p": rnd.randint(30000, 60000),
                    "id.resp_h": "10.1.1.5",
                    "id.resp_p": 80,
                    "method": rnd.choice(["GET", "GET", "POST"]),
                    "host": rnd.choice(DOMAINS),
                    "uri": rnd.choice(URIS),
                    "user_agent": ua,
                    "status_code": rnd.choice([200, 200, 200, 304, 404]),
                    "referrer": "-",
                }
            )
        else:
            t = rnd.choice(["ssh", "ftp", "telnet", "arp"])
            base = {"ts": ts, "id.orig_h": host, "id.resp_h": "10.1.1.9"}
            if t == "ssh":
                base |= {
                    "uid": f"X{i}",
                    "id.orig_p": 50000,
                    "id.resp_p": 22,
                    "auth_success": 1,
                    "client": "SSH-2.0-OpenSSH_9.2",
                }
            elif t == "ftp":
                base |= {
                    "uid": f"F{i}",
                    "id.orig_p": 50001,
                    "id.resp_p": 21,
                    "user": "anonymous",
                    "command": "RETR",
                    "arg": "/pub/a.txt",
                }
            elif t == "telnet":
                base |= {"uid": f"T{i}", "id.orig_p": 50002, "id.resp_p": 23, "direction": "orig", "line": "ls -la"}
            else:
                base |= {"operation": "request", "src_mac": "02:00:00:00:00:01", "dst_mac": "ff:ff:ff:ff:ff:ff"}
            rows[t].append(base)
        if i % 50000 == 49999:
            for t, rr in rows.items():
                s.add(t, rr)
                rr.clear()
            s.commit()
    for t, rr in rows.items():
        s.add(t, rr)
    s.close()
    return n


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def backend_sql(rule_file: Path) -> str:
    """The correlation query pySigma's own SQLite backend generates with our pipeline."""
    from sigma.backends.sqlite import sqliteBackend
    from sigma.collection import SigmaCollection
    from sigma.processing.pipeline import ProcessingPipeline

    pl = ProcessingPipeline.from_yaml(detect.PIPELINE.read_text())
    return sqliteBackend(processing_pipeline=pl).convert(SigmaCollection.load_ruleset([rule_file]))[-1]


WINDOWED_SQL = """
WITH base AS (SELECT rowid AS id, ts, `id.orig_h` AS src, `id.resp_p` AS port FROM conn
              WHERE proto='tcp' AND conn_state NOT IN ('SF','S1','S2','S3'))
SELECT a.src, a.ts, COUNT(DISTINCT b.port) AS n FROM base a JOIN base b
  ON b.src = a.src AND b.ts > a.ts - 10 AND b.ts <= a.ts
GROUP BY a.id HAVING n >= 20"""


def run_sql(db: Path, sql: str, limit: float) -> tuple[int | None, float]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    deadline = time.monotonic() + limit
    con.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 100000)
    t = time.perf_counter()
    try:
        rows = con.execute(sql).fetchall()
        return len(rows), time.perf_counter() - t
    except sqlite3.OperationalError:
        return None, time.perf_counter() - t
    finally:
        con.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller stores (10k mixed; 10k/100k correlation)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    a = ap.parse_args()
    lines = []

    def say(s=""):
        print(s, flush=True)
        lines.append(s)

    say(
        f"Machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} when the run started "
        "(other jobs share the machine: figures vary by about ±30% between runs)."
    )
    say()
    tmp = Path(tempfile.mkdtemp(prefix="detect-bench-"))
    n_mixed = 10_000 if a.quick else 100_000
    db = tmp / "mixed.db"
    _, t_build = timed(lambda: synth_store(db, n_mixed, scan_share=0.02))
    examples = detect.load_rules([ROOT / "detections" / "rules"])
    (corpus, t_load) = timed(lambda: detect.load_rules([ROOT / "detections" / "rules", CORPUS]))
    (res_ex, t_ex) = timed(lambda: run(examples, db))
    (res_all, t_all) = timed(lambda: run(corpus, db))
    n_rules = len(corpus.rules) + len(corpus.correlations)
    say(
        f"Synthetic mixed store: {n_mixed:,} events (60% conn, 20% dns, 15% http, 5% ssh/ftp/telnet/arp), "
        f"built in {t_build:.1f} s."
    )
    say()
    say("| rule set | rules | time | events / s | alerts |")
    say("| --- | --- | --- | --- | --- |")
    say(
        f"| detections/rules (examples) | {len(examples.rules) + len(examples.correlations)} | {t_ex:.2f} s | "
        f"{n_mixed / t_ex:,.0f} | {len(res_ex[0])} |"
    )
    say(
        f"| examples + SigmaHQ corpus (all that load) | {n_rules} | {t_all:.2f} s | {n_mixed / t_all:,.0f} | "
        f"{len(res_all[0])} |"
    )
    say()
    say(
        f"Loading + converting the {n_rules} rules (and reporting {len(corpus.errors)} that cannot run) "
        f"takes {t_load:.2f} s."
    )
    say()
    scan_rule = ROOT / "detections" / "rules" / "net_conn_port_scan.yml"
    rs = detect.load_rules([scan_rule])
    bsql = backend_sql(scan_rule)
    say(
        "Port-scan correlation (value_count of id.resp_p by id.orig_h >= 20 in 10 s) on conn-only stores, "
        "about 40% of them scan probes in bursts of 1,000:"
    )
    say()
    say("| events | ours (range.detect.correlate) | alerts | backend SQL as generated | windowed SQL (self-join) |")
    say("| --- | --- | --- | --- | --- |")
    sizes = [10_000, 50_000] if a.quick else [10_000, 50_000, 100_000, 1_000_000]
    for n in sizes:
        cdb = tmp / f"conn{n}.db"
        synth_store(cdb, n, seed=2, scan_share=0.7, mixed=False)
        (res, t_ours) = timed(lambda: run(rs, cdb))
        rows_b, t_b = run_sql(cdb, bsql, 300)
        b = f"{t_b:.2f} s ({rows_b} rows)" if rows_b is not None else f"stopped after {t_b:.0f} s"
        if n <= 50_000:
            rows_w, t_w = run_sql(cdb, WINDOWED_SQL, 300)
            w = f"{t_w:.2f} s ({rows_w} rows)" if rows_w is not None else f"stopped after {t_w:.0f} s"
        else:
            w = "not run (quadratic: see 10k and 50k)"
        say(f"| {n:,} | {t_ours:.2f} s ({n / t_ours:,.0f} events/s) | {len(res[0])} | {b} | {w} |")
        os.remove(cdb)
    say()
    say(
        "The backend's value_count SQL (pySigma-backend-sqlite 1.2.4) is one GROUP BY over the whole store: it "
        "ignores the timespan, so it reports one row per source for all time, with no window and no evidence. "
        "Honouring the 10 s window in SQL takes a self-join whose cost grows with the square of a burst's "
        "length (1,000 probes in a burst: ~1M pairs per burst). range.detect.correlate honours the window, keeps the "
        "evidence and is linear. The backend's temporal SQL reads every rule from the last table set by the "
        "pipeline and a `timestamp` column the store does not have, so it does not run on this store at all."
    )
    say()
    say(f"Command: `.venv/bin/python bench/detect_speed.py{' --quick' if a.quick else ''}` (2-core machine).")
    shutil.rmtree(tmp, ignore_errors=True)
    if not a.no_write:
        write_section(ROOT / "BENCHMARKS.md", "detect_speed", "Detection (bench/detect_speed.py)", "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
