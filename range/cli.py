"""The ``cyberrange`` command line.

Each subcommand is a small function registered in :data:`COMMANDS`; user mistakes arrive as
:class:`range.errors.RangeError` and leave as ``file:line: message`` with exit code 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

from range.errors import RangeError, ValidationErrors

COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {}


def command(name: str, help: str):
    def wrap(fn):
        def setup(p: argparse.ArgumentParser) -> None:
            for args, kwargs in getattr(fn, "_args", []):
                p.add_argument(*args, **kwargs)
        COMMANDS[name] = (setup, fn, help)
        return fn
    return wrap


def arg(*args, **kwargs):
    def wrap(fn):
        fn._args = [(args, kwargs)] + getattr(fn, "_args", [])
        return fn
    return wrap


def progress(msg: str) -> None:
    print(f"  {msg}", file=sys.stderr, flush=True)


# ---- list, validate -------------------------------------------------------------------------

@command("list", "list techniques, benign traffic kinds, scenarios or environments")
@arg("what", choices=["techniques", "benign", "scenarios", "environments"])
@arg("--json", action="store_true", help="details as JSON")
def cmd_list(a) -> int:
    from range.catalog import catalog
    from range.techniques import BENIGN, TECHNIQUES
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
    from range.catalog import validate_file
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
    from range.catalog import catalog
    from range.replay import replay
    scn = catalog().scenario(a.scenario)
    res = replay(scn, a.out, seed=a.seed, team=a.team, progress=progress)
    print(f"{res.pcap}: {res.packets} packets in {res.seconds:.2f}s "
          f"({res.packets / max(res.seconds, 1e-9):,.0f} packets/s); truth: {res.truth_path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cyberrange", description="A cyber range for detection exercises: "
                                "replay attacks, detect them with Sigma rules, score teams.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, (setup, _fn, help_) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_, description=help_)
        setup(sp)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    if not a.command:
        parser.print_help()
        return 2
    try:
        return COMMANDS[a.command][1](a) or 0
    except ValidationErrors as e:
        print(str(e), file=sys.stderr)
        return e.exit_code
    except RangeError as e:
        print(f"cyberrange: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("cyberrange: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
