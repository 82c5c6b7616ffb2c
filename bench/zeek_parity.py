"""Our event store against Zeek's own logs on the regression traces of ../shared/corpus/zeek: how
many of Zeek's conn, dns and http records we write, how many of ours Zeek does not, and how often
the paired records agree field by field (tests/zeekparity.py pairs them).

Usage: .venv/bin/python bench/zeek_parity.py [--diffs FIELD] [--misses LOG] [--extras LOG] [--test SUBSTRING]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.zeekparity import compare, manifest, summary  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--diffs", action="append", default=[], help="show the disagreements on this field")
    ap.add_argument("--misses", action="append", default=[], help="show Zeek's records of this log we lack")
    ap.add_argument("--extras", action="append", default=[], help="show our records of this log Zeek lacks")
    ap.add_argument("--test", help="only the manifest's tests whose name holds this")
    a = ap.parse_args()
    entries = [e for e in manifest() if not a.test or a.test in e["test"]]
    with tempfile.TemporaryDirectory() as d:
        tallies, failures = compare(Path(d), entries)
    print("\n".join(summary(tallies)))
    for test, why in failures.items():
        print(f"INGEST FAILED {test}: {why}")
    for log in a.misses:
        print(f"\n{log}: Zeek's records we lack, by test: {Counter(t for t, _ in tallies[log].misses).most_common()}")
        for t, key in tallies[log].misses[:40]:
            print(f"  {t}: {key}")
    for log in a.extras:
        print(f"\n{log}: our records Zeek lacks, by test: {Counter(t for t, _ in tallies[log].extras).most_common()}")
        for t, key in tallies[log].extras[:40]:
            print(f"  {t}: {key}")
    for f in a.diffs:
        rows = [d for t in tallies.values() for d in t.diffs if d[1] == f]
        print(f"\n{f}: {len(rows)} disagreements, by test: {Counter(r[0] for r in rows).most_common(12)}")
        for test, _f, key, z, o in rows[:40]:
            print(f"  {test}: {key}: zeek={z!r} ours={o!r}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
