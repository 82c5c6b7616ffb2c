"""What reading DNS and HTTP with our own parsers (range.events.dnswire, httpmsg) saves in tshark,
side by side in one run: tshark with ingest's fields (payload as hex, no application fields)
against the same plus the DNS and HTTP dissector fields the earlier ingest asked for, alternating.

Usage: .venv/bin/python bench/own_parsers.py PCAP [--rounds 5]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from range.events.tshark import command  # noqa: E402

DISSECTOR_FIELDS = [
    "dns.id", "dns.flags.response", "dns.qry.name", "dns.qry.type", "dns.qry.class", "dns.flags.rcode",
    "dns.flags.authoritative", "dns.flags.truncated", "dns.flags.recdesired", "dns.flags.recavail", "dns.flags.z",
    "dns.count.answers", "dns.resp.type", "dns.resp.ttl", "dns.a", "dns.aaaa", "dns.cname", "dns.txt",
    "dns.mx.mail_exchange", "dns.ptr.domain_name", "dns.ns", "http.request.method", "http.request.uri",
    "http.request.version", "http.host", "http.user_agent", "http.referer", "http.cookie", "http.content_type",
    "http.content_length", "http.file_data", "http.response.code", "http.response.phrase",
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pcap", type=Path)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    ours = command(a.pcap)
    theirs = ours + [x for f in DISSECTOR_FIELDS for x in ("-e", f)]
    times: dict[str, list[float]] = {"ours": [], "dissectors": []}
    for r in range(a.rounds):
        for k, cmd in (("ours", ours), ("dissectors", theirs))[:: 1 if r % 2 == 0 else -1]:
            t = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            times[k].append(time.perf_counter() - t)
    m = {k: statistics.median(v) for k, v in times.items()}
    print(f"tshark, ingest's {ours.count('-e')} fields: {m['ours']:.2f} s (median of {a.rounds})")
    print(f"tshark, + {len(DISSECTOR_FIELDS)} DNS/HTTP dissector fields: {m['dissectors']:.2f} s")
    print(f"the dissector fields cost tshark {100 * (m['dissectors'] / m['ours'] - 1):.0f}% more")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
