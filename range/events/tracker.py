"""The connection table: which packet belongs to which connection, and when a connection ends.

:class:`Tracker` keys connections as Zeek does (the 5-tuple for TCP and UDP; type and code, or
the request/reply pair, for ICMP; the address pair and protocol number for other IP protocols),
decides who originated a connection it picks up midway (likely server ports, the SYN-ACK turned
round at the second packet), counts packets and bytes, and ends connections by Zeek's timers:
an unanswered SYN after 5 s, a closed connection 5 s after its last packet, DNS over UDP idle 9 s,
any connection idle 60 s (5 min once a TCP handshake completed). An ended connection goes to
``emit`` as its conn.log line after its application analyzers flushed what they held.
"""
from __future__ import annotations

from typing import Callable

from range.events import tcp
from range.events.apps import LAZY, AppLayer
from range.events.conn import Conn, Uids
from range.events.ports import ICMP6_PAIRS, ICMP_PAIRS, likely_server
from range.events.timers import Timers

H_DATA = 64
BROADCAST = "255.255.255.255"


class Tracker:
    def __init__(self, emit: Callable, apps: Callable[[Conn], AppLayer | None]):
        self.emit = emit            # emit(conn) once a connection ends
        self.apps = apps            # the application layer for a new connection, or None
        self.conns: dict[tuple, Conn] = {}
        self.timers = Timers()
        self.uids = Uids()
        self.tunnels: dict[tuple, str] = {}
        self.now = 0.0
        self.live = False
        self.touched: list[Conn] = []   # live: connections changed since their line was last written
        self.expected: dict[tuple, tuple] = {}  # (resp_h, resp_p) -> (orig_h, service, until)

    def expect(self, orig_h: str, resp_h: str, resp_p: int, service: str, until: float) -> None:
        """A connection an application announced (an FTP data channel): it gets ``service``."""
        if len(self.expected) > 10000:
            self.expected = {k: v for k, v in self.expected.items() if v[2] > self.now}
        self.expected[(resp_h, resp_p)] = (orig_h, service, until)

    def _touch(self, c: Conn, ts: float) -> None:
        c.seen_at = ts
        if self.live and not c.dirty:
            c.dirty = True
            self.touched.append(c)

    # ---- time -----------------------------------------------------------------------------------
    def advance(self, t: float) -> None:
        """Fire every timer due at ``t`` (before the packet of time ``t`` is processed)."""
        if t > self.now:
            self.now = t
        if self.timers.heap and self.timers.heap[0][0] <= t:
            for conn, kind in self.timers.due(t):
                getattr(self, "_t_" + kind)(conn, t)

    def _t_inactivity(self, c: Conn, t: float) -> None:
        if c.last + c.inactivity <= t:
            self.remove(c)
        else:
            self.timers.add(c.last + c.inactivity, c, "inactivity")

    def _t_attempt(self, c: Conn, t: float) -> None:
        if not c.is_active:
            return
        if c.orig.state in (tcp.SYN_SENT, tcp.SYN_ACK_SENT) and c.resp.state == tcp.INACTIVE:
            c.is_active = False
            self.remove(c)
        else:  # Zeek's ExpireTimer, first due with this one, checks again in 6 s
            self.timers.add(t + 6.0, c, "expire")

    def _t_expire(self, c: Conn, t: float) -> None:
        if c.last + c.inactivity <= t:  # TCP's inactivity timeout is checked here and at each packet
            self.remove(c)
            return
        if not c.is_active:
            return
        o, r = c.orig, c.resp
        if c.last + 5.0 < t:
            if o.did_close or r.did_close:
                if ((o.did_close and r.did_close) or tcp.RESET in (o.state, r.state)
                        or tcp.INACTIVE in (o.state, r.state)):
                    c.is_active = False
                    self.remove(c)
                    return
            if o.state == tcp.INACTIVE and r.state == tcp.INACTIVE:
                self.remove(c)
                return
        self.timers.add(t + 6.0, c, "expire")

    def _t_delete(self, c: Conn, t: float) -> None:
        self.remove(c)

    def _t_dns(self, c: Conn, t: float) -> None:
        if t - c.last >= 9.0:
            self.remove(c)
        else:
            self.timers.add(t + 10.0, c, "dns")

    # ---- connections ------------------------------------------------------------------------------
    def _new(self, key, ts, proto, ip_proto, src, sp, dst, dp, smac, dmac, flip: bool, parent) -> Conn:
        c = Conn(self, self.uids.next(ts), key, ts, proto, ip_proto, src, sp, dst, dp, smac, dmac)
        self.conns[key] = c
        if flip:
            c.flip()
        c.carried_by(parent)
        if proto == "tcp":
            c.stream = LAZY
        else:
            self.timers.add(ts + c.inactivity, c, "inactivity")
            c.stream = self.apps(c)
        return c

    def remove(self, c: Conn) -> None:
        if c.removed:
            return
        c.removed = True
        if self.conns.get(c.key) is c:
            del self.conns[c.key]
        if c.stream is not None:
            c.stream.done()
        self.emit(c)
        c.release()

    def close(self) -> None:
        """End of input: every connection still open ends now."""
        for c in list(self.conns.values()):
            self.remove(c)

    def ip_tunnel(self, src: str, dst: str, ts: float) -> str:
        """The uid of an IP tunnel (GRE, IP in IP): it has no connection of its own."""
        k = (src, dst)
        uid = self.tunnels.get(k)
        if uid is None:
            uid = self.tunnels[k] = self.uids.next(ts)
        return uid

    # ---- TCP ------------------------------------------------------------------------------------
    def tcp(self, ts, src, sp, dst, dp, fl, seq, ack, length, win, ipbytes, smac, dmac, data, captured,
            cksum_ok, parent) -> Conn:
        key = (6, src, sp, dst, dp) if (src, sp) < (dst, dp) else (6, dst, dp, src, sp)
        c = self.conns.get(key)
        if c is not None and (c.last + c.inactivity <= ts
                              or (fl is not None and cksum_ok and tcp.is_reuse(c, fl, seq))):
            self.remove(c)  # idle past its timeout, or a new connection on the same ports
            c = None
        if c is None:
            flip = False
            if fl is not None and not fl & tcp.SYN and likely_server("tcp", sp):
                flip = not likely_server("tcp", dp) or sp < dp
            c = self._new(key, ts, "tcp", 6, src, sp, dst, dp, smac, dmac, flip and dst != BROADCAST, parent)
            c.synack_first = fl is not None and fl & tcp.SYN and fl & tcp.ACK and not c.hist
            if not (fl is not None and fl & tcp.SYN and cksum_ok):  # a SYN's attempt timer comes first
                self.timers.add(ts + 5.0, c, "expire")
            if self.expected:
                want = self.expected.get((c.resp_h, c.resp_p))
                if want and want[0] == c.orig_h and ts <= want[2]:
                    del self.expected[(c.resp_h, c.resp_p)]
                    c.confirm(want[1])
        else:
            c.carried_by(parent)
        if fl is None:
            return c  # a header cut short: the connection exists, the packet counts for nothing
        is_orig = src == c.orig_h and sp == c.orig_p
        e = c.orig if is_orig else c.resp
        if not cksum_ok:
            e.scaled_entry("C")
            return c
        if c.synack_first and (c.pkts[0] or c.pkts[1]):
            c.synack_first = False
            if not fl & tcp.SYN:  # SYN-ACK, then more: its sender was the responder after all
                old = c.hist
                c.flip()
                c.hist = "^" + old.swapcase()
                is_orig = not is_orig
        d = 0 if is_orig else 1
        c.pkts[d] += 1
        c.ip_bytes[d] += ipbytes
        self._touch(c, ts)
        if length and c.stream is LAZY:  # the first payload: the application layer joins
            c.stream = self.apps(c)
        out = tcp.process(c, e, fl, seq, ack, length, win, ts, data, captured)
        if out:
            self.tcp_closed(c, e, e.peer, bool(out & tcp.EVENT))
        if fl & tcp.RST and c.stream is not None:  # a reset ends the stream whatever the timers say
            c.stream.closed()
        return c

    def tcp_closed(self, c: Conn, e, peer, gen_event: bool) -> None:
        """Zeek's ConnectionClosed: one side closed (FIN or RST); when both did, or it was a reset,
        the connection ends 5 s after its last packet."""
        if e.pending():
            c.close_deferred = True
            c.deferred_gen = c.deferred_gen or gen_event
            return
        c.close_deferred = False
        if e.did_close:
            return
        e.did_close = True
        if e.state == tcp.RESET or peer.did_close or peer.state == tcp.INACTIVE:
            if e.prev_state != tcp.INACTIVE or peer.state != tcp.INACTIVE:
                if c.deferred_gen:
                    gen_event, c.deferred_gen = True, False
                if gen_event:
                    c.is_active = False
            c.gen += 1  # cancel every timer of the connection
            self.timers.add(c.last + 5.0, c, "delete")
            if c.stream is not None:
                c.stream.closed()
        elif e.prev_state != tcp.INACTIVE:
            self.timers.add(c.last + 6.0, c, "expire")

    # ---- UDP, ICMP, others -----------------------------------------------------------------------
    def udp(self, ts, src, sp, dst, dp, ulen, ipbytes, smac, dmac, cksum_ok, parent) -> tuple[Conn, bool]:
        """A datagram; returns its connection and whether it counted (a bad checksum does not)."""
        key = (17, src, sp, dst, dp) if (src, sp) < (dst, dp) else (17, dst, dp, src, sp)
        c = self.conns.get(key)
        if c is None:
            flip = likely_server("udp", sp) and not likely_server("udp", dp) and dst != BROADCAST
            c = self._new(key, ts, "udp", 17, src, sp, dst, dp, smac, dmac, flip, parent)
        else:
            c.carried_by(parent)
        is_orig = src == c.orig_h and sp == c.orig_p
        if not cksum_ok:
            c.scaled_entry("C", is_orig)
            return c, False
        c.last = ts
        d = 0 if is_orig else 1
        c.pkts[d] += 1
        c.ip_bytes[d] += ipbytes
        c.check(H_DATA, "D", is_orig)
        n = max(ulen - 8, 0)
        c.ubytes[d] = n if c.ubytes[d] < 0 else c.ubytes[d] + n
        self._touch(c, ts)
        return c, True

    def icmp(self, ts, v6, src, dst, itype, code, plen, ipbytes, smac, dmac, cksum_ok, captured, parent) -> Conn:
        pairs = ICMP6_PAIRS if v6 else ICMP_PAIRS
        proto = 58 if v6 else 1
        other = pairs.get(itype)
        if other is None:  # one-way: the code stands in the responder's port, the key is not turned
            other = code
            key = (proto, src, itype, dst, other, 1)
        elif (src, itype) < (dst, other):
            key = (proto, src, itype, dst, other)
        else:
            key = (proto, dst, other, src, itype)
        c = self.conns.get(key)
        if c is None:
            c = self._new(key, ts, "icmp", proto, src, itype, dst, other, smac, dmac, False, parent)
        else:
            c.carried_by(parent)
        if not cksum_ok:
            return c
        c.last = ts
        d = 0 if src == c.orig_h and itype == c.orig_p else 1
        n = plen - 8
        c.ubytes[d] = n if c.ubytes[d] < 0 else c.ubytes[d] + n
        if captured:
            c.pkts[d] += 1
            c.ip_bytes[d] += ipbytes
        self._touch(c, ts)
        return c

    def other(self, ts, ip_proto, src, dst, ipbytes, smac, dmac, parent) -> Conn:
        """An IP protocol Zeek has no analyzer for: ``unknown_transport``, ports 0."""
        key = (ip_proto, src, dst) if src < dst else (ip_proto, dst, src)
        c = self.conns.get(key)
        if c is None:
            c = self._new(key, ts, "unknown_transport", ip_proto, src, 0, dst, 0, smac, dmac, False, parent)
        else:
            c.carried_by(parent)
        c.last = ts
        d = 0 if src == c.orig_h else 1
        c.pkts[d] += 1
        c.ip_bytes[d] += ipbytes
        self._touch(c, ts)
        return c
