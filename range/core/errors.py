"""One exception tree for the whole orchestrator.

Every error a user can cause derives from :class:`RangeError`; the CLI turns it into
``file:line: message`` and exit code 2. Anything else that escapes is a bug.
"""
from __future__ import annotations


class RangeError(Exception):
    """Root of every error cyberrange raises on purpose."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        return f"{where}{self.message}"


class InputError(RangeError):
    """A file the user gave is malformed or inconsistent (YAML, Sigma, pcap, JSON)."""


class ValidationErrors(InputError):
    """Several problems found in one file; each is an :class:`InputError`."""

    def __init__(self, errors: list[InputError]):
        self.errors = errors
        first = errors[0]
        super().__init__(first.message, file=first.file, line=first.line)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class NotFound(RangeError):
    """A named scenario, environment, technique or session does not exist."""


class ToolMissing(RangeError):
    """An external program (tshark, docker, mmdebstrap) is missing or unusable."""


class RuntimeFault(RangeError):
    """The range could not do what was asked (Docker refused, a node never became healthy)."""


class StoreError(RangeError):
    """The state store could not save a change (disk full, read-only, I/O error): nothing of it was kept."""
