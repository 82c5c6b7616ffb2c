"""syslog: only named as the connection's service, as Zeek's syslog analyzer confirms it (a
message that starts with a ``<PRI>``, or over TCP an octet count before it); Zeek's syslog log
itself is not kept."""
from __future__ import annotations

import re

from range.events.analyzer import Analyzer

PRI = re.compile(rb"(\d{1,9} )?<\d{1,3}>")


class Syslog(Analyzer):
    service = "syslog"
    tcp_ports = frozenset({514})
    udp_ports = frozenset({514})

    def _message(self, data: bytes) -> None:
        if self.confirmed:
            return
        if PRI.match(data):
            self.confirmed = True
            self.conn.confirm("syslog_tcp" if self.conn.proto == "tcp" else "syslog")
        else:
            self.violation()

    def datagram(self, is_orig: bool, t: float, payload: bytes) -> None:
        self._message(payload)

    def data(self, is_orig: bool, t: float, data: bytes) -> None:
        if is_orig:
            self._message(data)
