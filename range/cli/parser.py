"""The ``cyberrange`` command line: the subcommand registry and the parser built from it.

Each module of this package adds its subcommands with :func:`command` and :func:`arg`; user
mistakes arrive as :class:`range.core.errors.RangeError` and leave as ``file:line: message`` with
exit code 2. Commands import what they need when they run, so ``cyberrange --help`` and the quick
commands start without loading Docker, pySigma or Flask.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path
from typing import Callable

from range.core import RangeError, ValidationErrors

COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int], str]] = {}
NOT_COMMANDS = {"parser", "__main__"}


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


def _load_commands() -> None:
    for mod in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if mod.name not in NOT_COMMANDS:
            importlib.import_module(f"range.cli.{mod.name}")


def build_parser() -> argparse.ArgumentParser:
    _load_commands()
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
