"""One rule over one store, timed several times in one process: the engine's speed without the
rest of detect_speed.py's work around it. ``--tree`` names the checkout whose code runs (this one by
default), so two checkouts can be compared on the very same store.

Usage: .venv/bin/python bench/detect_once.py [--tree ../before] [--events 50000] [--repeat 5] [--rounds 6]
  (with --tree, the rounds alternate between that tree and this one)
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULE = "detections/rules/net_conn_port_scan.yml"


def child(tree: Path, db: Path, repeat: int) -> None:
    sys.path.insert(0, str(tree))
    from range.detect import load_rules
    rs = load_rules([tree / RULE])
    try:
        from range.detect import run
    except ImportError:  # before the stage packages: RuleSet.run
        def run(r, d):
            return r.run(d)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        run(rs, db)
        times.append(time.perf_counter() - t)
    print(statistics.median(times))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", type=Path)
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(Path(a.child[0]), Path(a.child[1]), a.repeat)
        return 0
    sys.path.insert(0, str(ROOT / "bench"))
    sys.path.insert(0, str(ROOT))
    from detect_speed import synth_store
    db = Path(tempfile.mkdtemp(prefix="detect-once-")) / "conn.db"
    synth_store(db, a.events, seed=2, scan_share=0.7, mixed=False)
    trees = [a.tree.resolve(), ROOT] if a.tree else [ROOT]
    got: dict[Path, list[float]] = {t: [] for t in trees}
    for rnd in range(a.rounds):
        for t in (trees if rnd % 2 == 0 else trees[::-1]):
            out = subprocess.run([sys.executable, __file__, "--repeat", str(a.repeat), "--child", str(t), str(db)],
                                 capture_output=True, text=True, check=True).stdout
            got[t].append(float(out.split()[-1]))
    for t, xs in got.items():
        print(f"{t}: median of {a.repeat} runs per process, over {a.rounds} processes: "
              f"{statistics.median(xs):.3f} s ({a.events / statistics.median(xs):,.0f} events/s); "
              f"per process {min(xs):.3f}–{max(xs):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
