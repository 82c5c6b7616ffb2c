"""Zeek-shaped records from dissected packets: conn, dns, http, ssh, ftp, telnet, arp.

:class:`Assembler` consumes tshark rows (see :mod:`range.events.tshark`) in time order and emits
records the way Zeek writes its logs: a ``conn`` record per connection (ICMP included) with
``conn_state`` and ``history`` when it ends or times out; a ``dns`` record per query joined with
its response; an ``http`` record per request joined with its response; ``ssh`` per session;
``ftp`` per command with its reply; ``telnet`` per line; ``arp`` per packet. Offline, ingest
calls :meth:`Assembler.close` at the end; live, the sensor calls :meth:`Assembler.expire` with
the wall clock so that records leave within a second or two of their last packet.
"""
from __future__ import annotations

import operator
from typing import Callable

from range.events.apps import MARKS, AppLayers
from range.events.conn import ACK, FIN, RST, SYN, SYNACK, Conn, Uids
from range.events.tshark import AGG, F, first
from range.events.tshark import as_int as _int

Emit = Callable[[str, dict], None]

TCP_IDLE, UDP_IDLE, SYN_WAIT, LINGER = 300.0, 15.0, 2.5, 0.5

# field indices
_TS, _ESRC, _EDST = F["frame.time_epoch"], F["eth.src"], F["eth.dst"]
_IPS, _IPD, _PROTO, _IPLEN = F["ip.src"], F["ip.dst"], F["ip.proto"], F["ip.len"]
_TSP, _TDP, _TFL, _TLEN = F["tcp.srcport"], F["tcp.dstport"], F["tcp.flags"], F["tcp.len"]
_USP, _UDP, _ULEN = F["udp.srcport"], F["udp.dstport"], F["udp.length"]
_ICT, _ICC, _ICID, _DLEN = F["icmp.type"], F["icmp.code"], F["icmp.ident"], F["data.len"]
_ARP = F["arp.opcode"]
_APP_FIELDS = operator.itemgetter(*MARKS)


class Assembler:
    def __init__(self, emit: Emit):
        self.emit = emit
        self.conns: dict[tuple, Conn] = {}
        # one queue per timeout, each ordered by last activity: expire() reads only idle fronts
        self.queues: dict[float, dict[tuple, Conn]] = {LINGER: {}, SYN_WAIT: {}, UDP_IDLE: {}, TCP_IDLE: {}}
        self.apps = AppLayers(emit)
        self.uids = Uids()
        self.packets = 0
        self.now = 0.0
        self._next_sweep = 0.0

    # ---- packets ----------------------------------------------------------------------------
    def feed(self, p: list[str]) -> None:
        self.packets += 1
        ts = float(p[_TS])
        self.now = ts
        if p[_ARP]:
            self._arp(p, ts)
        elif p[_PROTO]:
            conn, d, k = self._conn(p, ts)
            if conn is not None:
                self._apps(p, ts, conn, d)
                if k in self.conns:
                    self._requeue(k, conn)
        if ts >= self._next_sweep:
            self.expire(ts)
            self._next_sweep = ts + 1.0

    def _conn(self, p, ts):
        proto, src, dst, iplen = p[_PROTO], p[_IPS], p[_IPD], p[_IPLEN]
        if AGG in proto:  # an ICMP error quotes the packet it is about: keep the outer header
            proto, src, dst, iplen = first(proto), first(src), first(dst), first(iplen)
        iplen = int(iplen) if iplen else 0
        if proto == "6":
            sp, dp, fl = int(p[_TSP]), int(p[_TDP]), int(p[_TFL], 16)
            k = ("tcp", src, sp, dst, dp) if (src, sp) < (dst, dp) else ("tcp", dst, dp, src, sp)
            c = self.conns.get(k)
            if c is not None and c.closed is not None and fl & SYN and not fl & ACK:
                self._finish(k)  # a new connection on the same ports
                c = None
            if c is None:
                if fl & SYN and fl & ACK:  # we missed the SYN: the sender of SYN-ACK is the responder
                    c = Conn(self.uids.next(ts), ts, "tcp", dst, dp, src, sp, p[_EDST], p[_ESRC])
                else:
                    c = Conn(self.uids.next(ts), ts, "tcp", src, sp, dst, dp, p[_ESRC], p[_EDST])
                self.conns[k] = c
            d = 0 if (src == c.orig_h and sp == c.orig_p) else 1
            plen = int(p[_TLEN]) if p[_TLEN] else 0
            c.last = ts  # counted inline: this is the hottest path of a flood
            c.pkts[d] += 1
            c.bytes[d] += plen
            c.ip_bytes[d] += iplen
            if fl & SYN:
                letter = "H" if fl & ACK else "S"
                c.flags[d] |= SYNACK if fl & ACK else SYN
            elif fl & RST:
                letter = "R"
                c.flags[d] |= RST
                c.app.setdefault("first_rst", d)
                c.closed = c.closed or ts
            elif fl & FIN:
                letter = "F"
                c.flags[d] |= FIN
                if c.flags[1 - d] & FIN:
                    c.closed = ts
            elif plen:
                letter = "D"
            else:
                letter = "A"
            if plen and letter != "D":
                self._hist(c, d, "D")
            ch = letter if d == 0 else letter.lower()
            if ch not in c.hist:
                c.hist += ch
            return c, d, k
        if proto == "17":
            sp, dp = int(first(p[_USP])), int(first(p[_UDP]))  # first: ICMP errors quote UDP too
            k = ("udp", src, sp, dst, dp) if (src, sp) < (dst, dp) else ("udp", dst, dp, src, sp)
            c = self.conns.get(k)
            if c is None:
                c = self.conns[k] = Conn(
                    self.uids.next(ts), ts, "udp", src, sp, dst, dp, first(p[_ESRC]), first(p[_EDST])
                )
            d = 0 if (src == c.orig_h and sp == c.orig_p) else 1
            self._count(c, d, ts, max((_int(p[_ULEN]) or 8) - 8, 0), iplen)
            self._hist(c, d, "D")
            return c, d, k
        if proto == "1":
            t, code = _int(p[_ICT]) or 0, _int(p[_ICC]) or 0
            ident = _int(p[_ICID])
            if t in (0, 8):  # echo: request and reply are one conn, oriented by the request
                oh, rh = (src, dst) if t == 8 else (dst, src)
                k = ("icmp", oh, rh, ident)
                c = self.conns.get(k)
                if c is None:
                    c = self.conns[k] = Conn(
                        self.uids.next(ts), ts, "icmp", oh, 8, rh, 0, first(p[_ESRC]), first(p[_EDST])
                    )
                d = 0 if src == oh else 1
            else:
                k = ("icmp", src, dst, t, code)
                c = self.conns.get(k)
                if c is None:
                    c = self.conns[k] = Conn(
                        self.uids.next(ts), ts, "icmp", src, t, dst, code, first(p[_ESRC]), first(p[_EDST])
                    )
                d = 0
            self._count(c, d, ts, _int(p[_DLEN]) or max(iplen - 28, 0), iplen)
            return c, d, k
        return None, 0, None

    def _requeue(self, k: tuple, c: Conn) -> None:
        if c.closed is not None:
            q = LINGER
        elif c.proto != "tcp":
            q = UDP_IDLE
        else:
            q = TCP_IDLE if c.pkts[1] else SYN_WAIT
        if c.queue != q:
            if c.queue is not None:
                del self.queues[c.queue][k]
            c.queue = q
        else:
            del self.queues[q][k]
        self.queues[q][k] = c

    @staticmethod
    def _count(c: Conn, d: int, ts: float, plen: int, iplen: int) -> None:
        c.last = ts
        c.pkts[d] += 1
        c.bytes[d] += plen
        c.ip_bytes[d] += iplen

    @staticmethod
    def _hist(c: Conn, d: int, letter: str) -> None:
        ch = letter if d == 0 else letter.lower()
        if ch not in c.hist:
            c.hist += ch

    # ---- application layers -----------------------------------------------------------------
    def _apps(self, p, ts, c: Conn, d: int) -> None:
        if not c.services and not any(_APP_FIELDS(p)):
            return  # most packets of a scan or a flood: no application layer to read
        self.apps.packet(p, ts, c, d)

    def _arp(self, p, ts) -> None:
        op = _int(p[F["arp.opcode"]])
        self.emit(
            "arp",
            {
                "ts": ts,
                "operation": {1: "request", 2: "reply"}.get(op, str(op)),
                "id.orig_h": first(p[F["arp.src.proto_ipv4"]]),
                "id.resp_h": first(p[F["arp.dst.proto_ipv4"]]),
                "src_mac": first(p[F["arp.src.hw_mac"]]),
                "dst_mac": first(p[F["arp.dst.hw_mac"]]),
                "orig_mac": first(p[_ESRC]),
                "resp_mac": first(p[_EDST]),
            },
        )

    # ---- ending -----------------------------------------------------------------------------
    def expire(self, now: float) -> None:
        """Emit every connection that has ended: closed a second ago, or idle past its timeout
        (2.5 s for an unanswered SYN, 15 s for UDP and ICMP, 5 min for an open TCP connection)."""
        self.now = max(self.now, now)
        for timeout, queue in self.queues.items():
            done = []
            for k, c in queue.items():
                if now - c.last < timeout:
                    break
                done.append(k)
            for k in done:
                self._finish(k)
        self.apps.expire(now)

    def close(self) -> None:
        for k in list(self.conns):
            self._finish(k)
        self.apps.expire(float("inf"))

    def _finish(self, k) -> None:
        c = self.conns.pop(k)
        if c.queue is not None:
            del self.queues[c.queue][k]
        if c.app:
            self.apps.finish(c)
        # a tuple in the conn table's column order (range.events.store.SCHEMA), without its _seen: the
        # commonest record, built without a dict
        self.emit(
            "conn",
            (
                c.ts,
                c.uid,
                c.orig_h,
                c.orig_p,
                c.resp_h,
                c.resp_p,
                c.proto,
                ",".join(c.services) or None,
                round(c.last - c.ts, 6),
                c.bytes[0],
                c.bytes[1],
                c.state(),
                0,
                c.hist or None,
                c.pkts[0],
                c.ip_bytes[0],
                c.pkts[1],
                c.ip_bytes[1],
                c.macs[0],
                c.macs[1],
            ),
        )
