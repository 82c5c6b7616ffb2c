"""The command registry: each stage's module in this package adds its subcommands with
:func:`command` and :func:`arg`; :mod:`range.cli` builds the parser from :data:`COMMANDS`."""
from __future__ import annotations

import argparse
import sys
from typing import Callable


COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int], str]] = {}


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
