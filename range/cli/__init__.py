"""The ``cyberrange`` command line: :func:`main` is the console script."""
from range.cli.parser import main

__all__ = ["main"]
