"""The ``cyberrange`` command line: :func:`main` is the console script."""
from range.cli.main import main

__all__ = ["main"]
