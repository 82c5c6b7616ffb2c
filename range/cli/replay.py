"""Commands of the replay stage: list, validate, replay."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from range.cli.parser import arg, command, progress
from range.core import RangeError


@command("list", "list techniques, benign traffic kinds, scenarios or environments")
@arg("what", choices=["techniques", "benign", "scenarios", "environments"])
@arg("--json", action="store_true", help="details as JSON")
def cmd_list(a) -> int:
    from range.scenario import catalog
    from range.traffic import BENIGN, TECHNIQUES
    if a.what in ("techniques", "benign"):
        reg = TECHNIQUES if a.what == "techniques" else BENIGN
        items = {n: t.describe() for n, t in reg.all().items()}
    else:
        cat = catalog()
        kind = a.what[:-1]
        items = {}
        for e in cat.entries():
            if e.kind == kind:
                items[e.name] = {"name": e.name, "path": str(e.path)}
    if a.json:
        print(json.dumps(list(items.values()), indent=1))
    else:
        for n in items:
            print(n)
    return 0


@command("validate", "check environment and scenario files strictly")
@arg("paths", nargs="+", metavar="PATH")
def cmd_validate(a) -> int:
    from range.scenario import validate_file
    bad = 0
    for p in a.paths:
        try:
            obj = validate_file(p)
            print(f"{p}: ok ({type(obj).__name__.lower()} {obj.name})")
        except RangeError as e:
            bad += 1
            print(str(e), file=sys.stderr)
    return 2 if bad else 0


# ---- replay ---------------------------------------------------------------------------------

@command("replay", "synthesise a scenario's capture and ground truth for one team (offline)")
@arg("scenario", help="a scenario name or path")
@arg("--out", required=True, type=Path, help="output directory")
@arg("--seed", type=int, default=1)
@arg("--team", default="blue")
def cmd_replay(a) -> int:
    from range.replay import replay
    from range.scenario import catalog
    from range.sessions import check_name
    check_name(a.team, "team")
    scn = catalog().scenario(a.scenario)
    res = replay(scn, a.out, seed=a.seed, team=a.team, progress=progress)
    print(f"{res.pcap}: {res.packets} packets in {res.seconds:.2f}s "
          f"({res.packets / max(res.seconds, 1e-9):,.0f} packets/s); {res.host_records} host records: "
          f"{res.host_log}; truth: {res.truth_path}")
    return 0
