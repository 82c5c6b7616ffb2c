"""Two checkouts side by side in one sitting: ingest, detection and replay speed of a "before" tree
(an earlier commit checked out with `git worktree add`) and of this one, run alternately so that
the machine's drift hits both alike.

Each round runs, in each tree, that tree's own bench/ingest_speed.py, bench/detect_speed.py
--quick --no-write and bench/replay_speed.py with the same arguments, and reads their printed
figures. Printed and written to BENCHMARKS.md (section ``compare_trees``) as a table of medians.

Usage: .venv/bin/python bench/compare_trees.py --before ../before [--rounds 3] [--label "..."]
       [--section compare_trees] [--only ingest_speed.py ...] [--no-write]
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mdsection import write_section  # noqa: E402

# (bench, arguments, {figure: regular expression of its value in the bench's output})
BENCHES = [
    ("ingest_speed.py", ["--packets", "100000", "--repeat", "3", "--pyshark-packets", "300"], {
        "ingest packets/s": r"C\. cyberrange ingest[^\n]*?\s([\d,]+)\s+[\d.]+\n",
        "bare tshark packets/s (same fields)": r"A\. tshark -T fields, ingest's[^\n]*?\s([\d,]+)\s+[\d.]+\n",
        "ingest / bare tshark": r"ingest / bare tshark \(same fields\): ([\d.]+)",
    }),
    ("detect_speed.py", ["--quick", "--no-write"], {
        "detection events/s, reference rules": r"\| detections/rules \(examples\) \| \d+ \| [\d.]+ s \| ([\d,]+) \|",
        "detection events/s, + SigmaHQ corpus": r"\| examples \+ SigmaHQ corpus[^|]*\| \d+ \| [\d.]+ s \| ([\d,]+) \|",
        "port-scan correlation events/s, 50k": r"\| 50,000 \| [\d.]+ s \(([\d,]+) events/s\)",
    }),
    ("replay_speed.py", ["--flood", "200000", "--scapy-packets", "5000", "--repeat", "3"], {
        "replay packets/s": r"\(b\) cyberrange replay[^\n]*= ([\d,]+) packets/s",
    }),
]


def run_bench(tree: Path, script: str, args: list[str]) -> str:
    """One bench of one tree (its own code: the bench puts its tree first on sys.path)."""
    r = subprocess.run([sys.executable, str(tree / "bench" / script), *args], capture_output=True, text=True,
                       cwd=tree, timeout=3600)
    if r.returncode != 0:
        raise SystemExit(f"{tree}/bench/{script} failed:\n{r.stderr[-2000:]}")
    return r.stdout


def figures(out: str, patterns: dict[str, str]) -> dict[str, float]:
    got = {}
    for name, rx in patterns.items():
        m = re.search(rx, out)
        if m is None:
            raise SystemExit(f"cannot read {name!r} in the bench's output:\n{out[-1500:]}")
        got[name] = float(m.group(1).replace(",", ""))
    return got


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, required=True, help="the earlier checkout (git worktree add DIR COMMIT)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--label", default="before and after")
    ap.add_argument("--section", default="compare_trees", help="the BENCHMARKS.md section to write")
    ap.add_argument("--only", nargs="*", help="these benches only (file names under bench/)")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    trees = {"before": a.before.resolve(), "after": ROOT}
    commits = {k: subprocess.run(["git", "-C", str(v), "rev-parse", "--short", "HEAD"], capture_output=True,
                                 text=True).stdout.strip() for k, v in trees.items()}
    benches = [b for b in BENCHES if not a.only or b[0] in a.only]
    seen: dict[tuple[str, str], list[float]] = {}
    began = time.time()
    for rnd in range(a.rounds):
        for script, args, patterns in benches:
            order = ("before", "after") if rnd % 2 == 0 else ("after", "before")
            for which in order:
                got = figures(run_bench(trees[which], script, args), patterns)
                for name, v in got.items():
                    seen.setdefault((name, which), []).append(v)
                print(f"round {rnd + 1} {which:6} {script}: " + ", ".join(f"{k} {v:,.2f}" for k, v in got.items()),
                      flush=True)
    lines = [f"{a.label}: `{commits['before']}` (before) and `{commits['after']}` (after), each bench run "
             f"{a.rounds} times per tree, alternating, on {os.cpu_count()} cores in {time.time() - began:.0f} s. "
             "Medians, with the spread (min–max) of the runs:", "",
             "| figure | before | after | after / before |", "| --- | --- | --- | --- |"]
    for script, _args, patterns in benches:
        for name in patterns:
            b, f = seen[(name, "before")], seen[(name, "after")]
            mb, mf = statistics.median(b), statistics.median(f)
            fmt = (lambda x: f"{x:.2f}") if max(b + f) < 10 else (lambda x: f"{x:,.0f}")
            lines.append(f"| {name} | {fmt(mb)} ({fmt(min(b))}–{fmt(max(b))}) | {fmt(mf)} ({fmt(min(f))}–"
                         f"{fmt(max(f))}) | {mf / mb:.2f} |")
    only = f" --only {' '.join(a.only)}" if a.only else ""
    lines += ["", "Command: `git worktree add ../before <commit> && .venv/bin/python bench/compare_trees.py "
              f"--before ../before --rounds {a.rounds}{only} --section {a.section}`; each bench with the arguments "
              "in bench/compare_trees.py."]
    print("\n".join(lines))
    if not a.no_write:
        write_section(ROOT / "BENCHMARKS.md", a.section, f"{a.label} (bench/compare_trees.py)", "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
