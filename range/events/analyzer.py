"""The contract of an application-layer analyzer, and helpers they share.

An analyzer reads the tshark fields of its protocol from each packet of a connection whose
packets carry them (:meth:`Analyzer.wants`), emits Zeek-shaped records as they complete, and
emits what waited for more when the connection ends (:meth:`Analyzer.finish`) or time passes
(:meth:`Analyzer.expire`). :data:`range.events.apps.ANALYZERS` lists them.
"""
from __future__ import annotations

from typing import Callable, ClassVar

from range.events.conn import Conn
from range.events.tshark import F, first

Emit = Callable[[str, dict], None]
BODY_KEEP = 1024  # characters of a body or a line kept in a record
_ESC = {"\\r": "\r", "\\n": "\n", "\\t": "\t"}


def flag(v: str) -> int | None:
    v = first(v)
    if not v:
        return None
    return 1 if v in ("1", "True", "true") else 0


def unescape(text: str) -> str:
    """tshark's escaped control characters (``\\r``, ``\\n``, ``\\t``) back to themselves."""
    for k, v in _ESC.items():
        text = text.replace(k, v)
    return text


class Analyzer:
    service: ClassVar[str]
    fields: ClassVar[tuple[str, ...]]  # tshark fields whose presence marks a packet of this protocol

    def __init__(self, emit: Emit):
        self.emit = emit
        self._marks = [F[f] for f in self.fields]

    def wants(self, p: list[str], c: Conn) -> bool:
        """Does this packet (of a connection that carries application data) concern this protocol?"""
        return any(p[i] for i in self._marks)

    def packet(self, p: list[str], ts: float, c: Conn, d: int) -> None:
        """One packet of the protocol, in direction ``d`` (0 from the originator)."""

    def finish(self, c: Conn) -> None:
        """The connection ended: emit what waited for more."""

    def expire(self, now: float) -> None:
        """Time passed: emit what waited too long (an unanswered query)."""
