"""A connection as the event builder tracks it, and Zeek-like connection uids.

:class:`Conn` holds one connection's counters, history letters, TCP flags per direction, the
services seen in it and each application analyzer's state (``app``); :meth:`Conn.state` gives
Zeek's ``conn_state``. The analyzers (:mod:`range.events.apps`) and the assembler share it.
"""
from __future__ import annotations

import random

FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
SYNACK = 0x100  # marks a SYN-ACK in a direction's flags


class Uids:
    """Zeek-like connection uids ("C" + 17 alphanumerics): drawn from a generator seeded by the
    first packet's time, so the same capture always gives the same uids."""

    def __init__(self):
        self._rng: random.Random | None = None

    def next(self, ts: float) -> str:
        if self._rng is None:
            self._rng = random.Random(repr(ts))
        return "C%017x" % self._rng.getrandbits(68)


class Conn:
    __slots__ = ("uid", "ts", "last", "proto", "orig_h", "orig_p", "resp_h", "resp_p", "pkts", "bytes", "ip_bytes",
                 "hist", "flags", "services", "macs", "closed", "app", "http_depth", "queue")

    def __init__(self, uid, ts, proto, oh, op, rh, rp, omac, rmac):
        self.uid = uid
        self.ts = self.last = ts
        self.proto, self.orig_h, self.orig_p, self.resp_h, self.resp_p = proto, oh, op, rh, rp
        self.pkts = [0, 0]
        self.bytes = [0, 0]
        self.ip_bytes = [0, 0]
        self.hist = ""
        self.flags = [0, 0]  # flags seen per direction (0 orig, 1 resp); SYNACK marks a SYN-ACK
        self.services: list[str] = []
        self.macs = (omac, rmac)
        self.closed: float | None = None
        self.app: dict = {}
        self.http_depth = 0
        self.queue: float | None = None

    def ident(self) -> dict:
        return {"ts": self.ts, "uid": self.uid, "id.orig_h": self.orig_h, "id.orig_p": self.orig_p,
                "id.resp_h": self.resp_h, "id.resp_p": self.resp_p}

    def state(self) -> str:
        if self.proto == "icmp":
            return "OTH"
        o, r = self.flags
        if self.proto == "udp":
            return "SF" if self.pkts[1] and self.pkts[0] else ("S0" if self.pkts[0] else "SHR")
        syn, synack = o & SYN, r & SYNACK
        if not syn and not synack:
            return "OTH"
        if syn and not synack:
            if r & RST:
                return "REJ"
            if o & RST:
                return "RSTOS0"
            if o & FIN:
                return "SH"
            return "S0"
        if synack and not syn:
            return "RSTRH" if r & RST else ("SHR" if r & FIN else "OTH")
        if (o | r) & RST:
            return "RSTO" if self.app.get("first_rst") == 0 else "RSTR"
        if o & FIN and r & FIN:
            return "SF"
        return "S2" if o & FIN else ("S3" if r & FIN else "S1")
