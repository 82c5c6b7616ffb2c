"""The application-layer analyzers, in the order they look at a packet.

Adding a protocol is one module with an :class:`~range.events.analyzer.Analyzer` and one line
here; the assembler (:mod:`range.events.assembler`) hands each packet that carries application
fields to every analyzer that wants it, after adding the analyzer's service to the connection.
"""
from __future__ import annotations

from range.events.analyzer import Analyzer, Emit
from range.events.conn import Conn
from range.events.dns import Dns
from range.events.ftp import Ftp
from range.events.http import Http
from range.events.ssh import Ssh
from range.events.telnet import Telnet
from range.events.tshark import F


class Ntp(Analyzer):
    """NTP is only named as the connection's service (Zeek's ntp log is not kept)."""
    service = "ntp"
    fields = ("ntp.flags.mode",)


ANALYZERS: list[type[Analyzer]] = [Dns, Http, Ssh, Ftp, Telnet, Ntp]
MARKS = [F[f] for cls in ANALYZERS for f in cls.fields]  # a packet with none of these has no application layer


class AppLayers:
    """One instance of every analyzer for one stream of packets."""

    def __init__(self, emit: Emit):
        self.analyzers = [cls(emit) for cls in ANALYZERS]

    def packet(self, p: list[str], ts: float, c: Conn, d: int) -> None:
        for a in self.analyzers:
            if a.wants(p, c):
                if a.service not in c.services:
                    c.services.append(a.service)
                a.packet(p, ts, c, d)

    def finish(self, c: Conn) -> None:
        for a in self.analyzers:
            a.finish(c)

    def expire(self, now: float) -> None:
        for a in self.analyzers:
            a.expire(now)
