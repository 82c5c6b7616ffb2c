"""A connection as Zeek's conn.log sees it, and Zeek-like connection uids.

:class:`Conn` holds one connection's identity (as first seen, turned round by :meth:`flip`),
its packet and IP-byte counters per direction, the history letters (with Zeek's rules for letters
that appear once, repeat, or appear at the 1st, 10th, 100th... event), the services confirmed in
it, the tunnels that carried it and the state of its transport: two TCP endpoints
(:mod:`range.events.tcp`), or UDP/ICMP payload counters. :meth:`record` is its conn.log line.
"""
from __future__ import annotations

import random

from range.events import tcp

H_X = 0x400  # HIST_UNKNOWN_PKT: 'X', upper case, once
MAX_TUNNEL_CHANGES = 5


class Uids:
    """Zeek-like connection uids ("C" + 17 alphanumerics): drawn from a generator seeded by the
    first packet's time, so the same capture always gives the same uids."""

    def __init__(self):
        self._rng: random.Random | None = None

    def next(self, ts: float, prefix: str = "C") -> str:
        if self._rng is None:
            self._rng = random.Random(repr(ts))
        return prefix + "%017x" % self._rng.getrandbits(68)


class Conn:
    # Rarely changed fields are class attributes until set: a SYN flood makes thousands of
    # connections a second, and each one only sets what it uses.
    hist_seen = 0
    services: list | tuple = ()
    app: dict | None = None
    parents: list | tuple = ()       # uids of the tunnels that carried it
    tunnel: str | None | bool = False  # the innermost tunnel of the latest packet (False: none yet)
    tunnel_changes = 0
    scaled: dict | None = None
    inactivity = 60.0
    gen = 0                          # generation of the timers (bumped to cancel them all)
    removed = False
    missed = 0
    is_partial = False
    first_packet_seen = 0
    is_active = True
    close_deferred = False
    deferred_gen = False
    synack_first = False
    stream = None                    # the application layer (range.events.apps.AppLayer)
    version = None                   # live: the line last written
    dirty = False
    seen_at = None                   # the time of its last packet
    orig = resp = None               # TCP endpoints
    ubytes: list | None = None       # UDP/ICMP payload bytes per direction (-1: no valid packet yet)

    def __init__(self, tracker, uid: str, key, ts: float, proto: str, ip_proto: int, oh, op, rh, rp, omac, rmac):
        self.tracker = tracker
        self.uid, self.key, self.ts, self.last = uid, key, ts, ts
        self.proto, self.ip_proto = proto, ip_proto
        self.orig_h, self.orig_p, self.resp_h, self.resp_p = oh, op, rh, rp
        self.pkts = [0, 0]
        self.ip_bytes = [0, 0]
        self.hist = ""
        self.macs = [omac, rmac]
        if proto == "tcp":
            self.orig, self.resp = tcp.Endpoint(self, True), tcp.Endpoint(self, False)
            self.orig.peer, self.resp.peer = self.resp, self.orig
        else:
            self.ubytes = [-1, -1]

    # ---- identity ---------------------------------------------------------------------------
    def ident(self) -> dict:
        return {"ts": self.ts, "uid": self.uid, "id.orig_h": self.orig_h, "id.orig_p": self.orig_p,
                "id.resp_h": self.resp_h, "id.resp_p": self.resp_p}

    def flip(self) -> None:
        """Zeek's FlipRoles: the responder becomes the originator; '^' goes into the history."""
        self.orig_h, self.orig_p, self.resp_h, self.resp_p = self.resp_h, self.resp_p, self.orig_h, self.orig_p
        self.pkts.reverse()
        self.ip_bytes.reverse()
        if self.ubytes is not None:
            self.ubytes.reverse()
        self.macs.reverse()
        if self.orig is not None:
            self.orig, self.resp = self.resp, self.orig
            self.orig.is_orig, self.resp.is_orig = True, False
            fp = self.first_packet_seen
            self.first_packet_seen = (2 if fp & 1 else 0) | (1 if fp & 2 else 0)
            self.is_partial = False
        self.hist_seen = ((self.hist_seen & 0xFFFF) << 16) | (self.hist_seen >> 16)
        self.hist += "^"
        if self.stream is not None:
            self.stream.flipped()

    # ---- history ----------------------------------------------------------------------------
    def check(self, mask: int, code: str, is_orig: bool) -> bool:
        """Zeek's CheckHistory: add ``code`` the first time; True if it was seen before."""
        if not is_orig:
            mask <<= 16
            code = code.lower()
        if self.hist_seen & mask:
            return True
        self.hist_seen |= mask
        self.hist += code
        return False

    def add(self, code: str, is_orig: bool) -> None:
        self.hist += code if is_orig else code.lower()

    def scaled_entry(self, code: str, is_orig: bool) -> None:
        """A UDP/ICMP letter at the 1st, 10th, 100th... event (TCP keeps these per endpoint)."""
        code = code if is_orig else code.lower()
        if self.scaled is None:
            self.scaled = {}
        c = self.scaled.setdefault(code, [0, 1])
        c[0] += 1
        if c[0] == c[1]:
            self.hist += code
            c[1] *= 10

    def weird_limit(self) -> None:
        """An analyzer limit was reached: 'X' once."""
        self.check(H_X, "X", True)

    # ---- tunnels ------------------------------------------------------------------------------
    def carried_by(self, parent: str | None) -> None:
        """The innermost tunnel of this packet (None: none). A change is logged as a new parent
        the first five times (Tunnel::max_changes_per_connection), then as 'X'."""
        if self.tunnel is False:  # the connection's first packet
            self.tunnel = parent
        elif parent == self.tunnel:
            return
        elif self.tunnel_changes >= MAX_TUNNEL_CHANGES:
            self.weird_limit()
            self.tunnel = parent
            return
        else:
            self.tunnel_changes += 1
            self.tunnel = parent
        if parent is not None and parent not in self.parents:
            self.parents = [*self.parents, parent]

    # ---- services -----------------------------------------------------------------------------
    def confirm(self, service: str) -> None:
        if service not in self.services:
            self.services = [*self.services, service]

    # ---- TCP hooks (range.events.tcp calls these) ----------------------------------------------
    def partial_status(self, fl: int, is_orig: bool) -> None:
        if is_orig:
            if not self.first_packet_seen & 1:
                self.is_partial = not fl & tcp.SYN or bool(fl & tcp.ACK)
        elif not self.first_packet_seen & 2 and not self.is_partial:
            self.is_partial = not fl & tcp.SYN

    def attempt_timer(self, t: float) -> None:
        self.tracker.timers.add(t + 5.0, self, "attempt")

    def is_closed(self) -> bool:
        return self.orig.did_close or self.resp.did_close

    def endpoint_eof(self, e) -> None:
        if self.close_deferred:
            self.tracker.tcp_closed(self, e, e.peer, self.deferred_gen)

    def release(self) -> None:
        """The connection ended: undo its reference cycles, so it is freed at once (no garbage
        collector pass over thousands of live connections)."""
        for e in (self.orig, self.resp):
            if e is not None:
                e.peer = e.conn = None
                if e.reasm is not None:
                    e.reasm.endpoint = None
                    e.reasm = None
        self.orig = self.resp = None
        self.stream = None

    # ---- the log line -------------------------------------------------------------------------
    def state(self) -> str:
        if self.proto == "tcp":
            return tcp.conn_state(self.orig, self.resp, self.hist)
        if self.proto == "udp":
            o, r = self.ubytes[0] >= 0, self.ubytes[1] >= 0
            return ("SF" if r else "S0") if o else ("SHR" if r else "OTH")
        return "OTH"

    def sizes(self) -> tuple[int, int]:
        if self.proto == "tcp":
            return self.orig.size(), self.resp.size()
        if self.proto == "unknown_transport":
            return 0, 0
        return max(self.ubytes[0], 0), max(self.ubytes[1], 0)

    def record(self) -> tuple:
        """The conn.log line, as a tuple in the conn table's column order (without ``_seen``)."""
        duration = round(self.last - self.ts, 6)
        ob = rb = None
        if duration > 0:
            ob, rb = self.sizes()
        else:
            duration = None
        return (self.ts, self.uid, self.orig_h, self.orig_p, self.resp_h, self.resp_p, self.proto,
                ",".join(self.services) or None, duration, ob, rb, self.state(), self.missed, self.hist or None,
                self.pkts[0], self.ip_bytes[0], self.pkts[1], self.ip_bytes[1], self.macs[0], self.macs[1],
                ",".join(self.parents) or None, self.ip_proto)
