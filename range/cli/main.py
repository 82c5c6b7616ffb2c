"""The ``cyberrange`` command line.

Subcommands live with their stage in :mod:`range.commands`; user mistakes arrive as
:class:`range.errors.RangeError` and leave as ``file:line: message`` with exit code 2.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from range.cli import commands
from range.cli.commands import COMMANDS
from range.core.errors import RangeError, ValidationErrors


def _load_commands() -> None:
    for mod in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"range.cli.commands.{mod.name}")


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


if __name__ == "__main__":
    sys.exit(main())
