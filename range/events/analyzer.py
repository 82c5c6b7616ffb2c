"""The contract of an application-layer analyzer, and helpers they share.

An analyzer reads one connection's bytes: a TCP stream in order, one direction at a time as it
is reassembled (:meth:`Analyzer.data`, with :meth:`Analyzer.gap` for bytes that never came), or
UDP datagrams (:meth:`Analyzer.datagram`). It is attached when the connection's responder port
is one of its ports, or when its signature (:meth:`Analyzer.signature`, Zeek's DPD) matches the
first bytes of the stream. It names its service once it understood a message (:meth:`confirm`)
and gives up on bytes it cannot parse (:meth:`violation`: an unconfirmed analyzer is removed).
Records go out through ``emit(table, record)``; :meth:`done` flushes what waited for more when
the connection ends. :data:`range.events.apps.ANALYZERS` lists them.
"""
from __future__ import annotations

from typing import Callable, ClassVar

Emit = Callable[[str, dict], None]
BODY_KEEP = 1024  # characters of a body or a line kept in a record


def text(b: bytes) -> str:
    """Bytes of a log field as text: UTF-8 where it is, Zeek's ``\\xNN`` for the other bytes."""
    return b.decode("utf-8", "backslashreplace")


class Analyzer:
    service: ClassVar[str]
    tcp_ports: ClassVar[frozenset] = frozenset()
    udp_ports: ClassVar[frozenset] = frozenset()
    dpd: ClassVar[bool] = False  # found by content on any TCP port (see signature)
    both_sides: ClassVar[bool] = False  # the signature must match both directions

    def __init__(self, conn, emit: Emit):
        self.conn = conn
        self.emit = emit
        self.confirmed = False
        self.failed = False

    @staticmethod
    def signature(is_orig: bool, head: bytes) -> bool:
        """Do the first bytes of this direction look like the protocol?"""
        return False

    def confirm(self) -> None:
        self.confirmed = True
        self.conn.confirm(self.service)

    def violation(self) -> None:
        """Bytes this analyzer cannot parse: before confirmation it leaves the connection."""
        if not self.confirmed:
            self.failed = True

    def data(self, is_orig: bool, t: float, data: bytes) -> None:
        """The next bytes of one direction of a TCP stream."""

    def gap(self, is_orig: bool, n: int) -> None:
        """``n`` bytes of one direction that were never seen."""

    def eof(self, is_orig: bool) -> None:
        """One direction ended (FIN) with everything before it delivered."""

    def datagram(self, is_orig: bool, t: float, payload: bytes) -> None:
        """One UDP datagram's payload."""

    def flipped(self) -> None:
        """The connection's roles were turned round."""

    def closed(self) -> None:
        """Both sides closed, or one reset: the connection ends after Zeek's close delay. An
        analyzer whose line can no longer change may write it now (live: the rule fires sooner)."""

    def done(self) -> None:
        """The connection ended: emit what waited for more."""
