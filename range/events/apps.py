"""The application layer of one connection: which analyzers read it, and what they are fed.

:class:`AppLayer` attaches the analyzers whose ports the responder uses, and keeps the first
:data:`DPD_BUFFER` bytes of each direction of a TCP stream for the others' signatures (Zeek's
dynamic protocol detection): an analyzer whose signature matches is attached and replayed what
was kept. Once no analyzer reads the connection and detection gave up, the layer detaches itself
and the connection's payloads are no longer decoded. Adding a protocol is one module with an
:class:`~range.events.analyzer.Analyzer` and one line in :data:`ANALYZERS`.
"""
from __future__ import annotations

from range.events.analyzer import Analyzer, Emit
from range.events.dns import Dns
from range.events.ftp import Ftp
from range.events.http import Http
from range.events.ssh import Ssh
from range.events.syslog import Syslog
from range.events.telnet import Telnet

ANALYZERS: list[type[Analyzer]] = [Dns, Http, Ssh, Ftp, Telnet, Syslog]
DPD_BUFFER = 1024
DNS_TIMER = 10.0
_DPD = [a for a in ANALYZERS if a.dpd]


class _Lazy:
    """The application layer of a TCP connection before its first payload (a scan or a flood
    never gets one)."""

    def flipped(self) -> None:
        pass

    def done(self) -> None:
        pass

    def deliver(self, is_orig: bool, t: float, data, n: int) -> None:
        pass

    def undelivered(self, is_orig: bool, seq: int, n: int) -> None:
        pass

    def eof(self, is_orig: bool) -> None:
        pass

    def closed(self) -> None:
        pass


LAZY = _Lazy()


def attach(conn, emit: Emit) -> "AppLayer | None":
    """The application layer of a new connection (None when no analyzer could ever read it)."""
    if conn.proto == "tcp":
        by_port = [a for a in ANALYZERS if conn.resp_p in a.tcp_ports]
        dpd = [a for a in _DPD if a not in by_port]
    elif conn.proto == "udp":
        by_port = [a for a in ANALYZERS if conn.resp_p in a.udp_ports]
        dpd = []
    else:
        return None
    if not by_port and not dpd:
        return None
    return AppLayer(conn, emit, by_port, dpd)


class AppLayer:
    def __init__(self, conn, emit: Emit, by_port: list, dpd: list):
        self.conn = conn
        self.emit = emit
        self.analyzers: list[Analyzer] = [cls(conn, emit) for cls in by_port]
        self.dpd = dpd
        self.kept: list = []          # (is_orig, t, data) for the signatures, in arrival order
        self.kept_size = [0, 0]
        self.matched: dict = {}       # analyzer class -> directions whose signature matched
        if conn.proto == "udp" and any(a.service == "dns" for a in self.analyzers):
            conn.tracker.timers.add(conn.ts + DNS_TIMER, conn, "dns")

    # ---- TCP ------------------------------------------------------------------------------------
    def deliver(self, is_orig: bool, t: float, data: bytes | None, n: int) -> None:
        if data is None or len(data) < n:
            self.undelivered(is_orig, 0, n)
            return
        for a in self.analyzers:
            a.data(is_orig, t, data)
        if self.dpd:
            self._detect(is_orig, t, data)
        self._prune()

    def undelivered(self, is_orig: bool, seq: int, n: int) -> None:
        for a in self.analyzers:
            a.gap(is_orig, n)
        if self.dpd:  # signatures match at the start of a stream only
            self.kept_size[0 if is_orig else 1] = DPD_BUFFER
            self._detect(is_orig, 0.0, b"")
        self._prune()

    def eof(self, is_orig: bool) -> None:
        for a in self.analyzers:
            a.eof(is_orig)
        self._prune()

    def _detect(self, is_orig: bool, t: float, data: bytes) -> None:
        d = 0 if is_orig else 1
        if data and self.kept_size[d] < DPD_BUFFER:
            self.kept.append((is_orig, t, data))
            self.kept_size[d] += len(data)
        head = b"".join(c[2] for c in self.kept if c[0] == is_orig)[:DPD_BUFFER]
        for cls in list(self.dpd):
            if head and cls.signature(is_orig, head):
                sides = self.matched.setdefault(cls, set())
                sides.add(is_orig)
                if not cls.both_sides or len(sides) == 2:
                    self.dpd.remove(cls)
                    a = cls(self.conn, self.emit)
                    self.analyzers.append(a)
                    for o, ct, chunk in self.kept:
                        a.data(o, ct, chunk)
        if self.kept_size[0] >= DPD_BUFFER and self.kept_size[1] >= DPD_BUFFER:
            self.dpd = []
            self.kept = []

    def _prune(self) -> None:
        if any(a.failed for a in self.analyzers):
            for a in self.analyzers:
                if a.failed:
                    a.done()  # what it holds is written now
            self.analyzers = [a for a in self.analyzers if not a.failed]
        if not self.analyzers and not self.dpd:
            self.conn.stream = None  # nobody reads this connection any more

    # ---- UDP ------------------------------------------------------------------------------------
    def datagram(self, is_orig: bool, t: float, payload: bytes) -> None:
        for a in self.analyzers:
            a.datagram(is_orig, t, payload)
        self._prune()

    # ---- the connection -----------------------------------------------------------------------
    def flipped(self) -> None:
        self.kept = [(not o, t, d) for o, t, d in self.kept]
        self.kept_size.reverse()
        for a in self.analyzers:
            a.flipped()

    def closed(self) -> None:
        """The connection closed or was reset: it ends in 5 s (Zeek's close delay)."""
        for a in self.analyzers:
            a.closed()

    def done(self) -> None:
        for a in self.analyzers:
            a.done()
