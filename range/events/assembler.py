"""Zeek-shaped records from dissected packets: conn, dns, http, ssh, ftp, telnet, arp.

:class:`Assembler` consumes tshark rows (see :mod:`range.sensor`) in time order and emits
records the way Zeek writes its logs: a ``conn`` record per connection (ICMP included) with
``conn_state`` and ``history`` when it ends or times out; a ``dns`` record per query joined with
its response; an ``http`` record per request joined with its response; ``ssh`` per session;
``ftp`` per command with its reply; ``telnet`` per line; ``arp`` per packet. Offline, ingest
calls :meth:`Assembler.close` at the end; live, the sensor calls :meth:`Assembler.expire` with
the wall clock so that records leave within a second or two of their last packet.
"""
from __future__ import annotations

import operator
import random
from typing import Callable

from range.events.apps import AppLayers
from range.events.tshark import AGG, F, as_int as _int, first

Emit = Callable[[str, dict], None]

TCP_IDLE, UDP_IDLE, SYN_WAIT, LINGER = 300.0, 15.0, 2.5, 0.5

FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10

# field indices
_TS, _ESRC, _EDST = F["frame.time_epoch"], F["eth.src"], F["eth.dst"]
_IPS, _IPD, _PROTO, _IPLEN = F["ip.src"], F["ip.dst"], F["ip.proto"], F["ip.len"]
_TSP, _TDP, _TFL, _TLEN = F["tcp.srcport"], F["tcp.dstport"], F["tcp.flags"], F["tcp.len"]
_USP, _UDP, _ULEN = F["udp.srcport"], F["udp.dstport"], F["udp.length"]
_ICT, _ICC, _ICID, _DLEN = F["icmp.type"], F["icmp.code"], F["icmp.ident"], F["data.len"]
_ARP = F["arp.opcode"]
_DNS, _HREQ, _HRSP = F["dns.id"], F["http.request.method"], F["http.response.code"]
_SSHP, _SSHM, _FTPQ, _FTPR, _TEL, _NTP = (F["ssh.protocol"], F["ssh.message_code"], F["ftp.request.command"],
                                          F["ftp.response.code"], F["telnet.data"], F["ntp.flags.mode"])
_APP_FIELDS = operator.itemgetter(_DNS, _HREQ, _HRSP, _SSHP, _SSHM, _FTPQ, _FTPR, _TEL, _NTP)


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
        self.flags = [0, 0]  # flags seen per direction (0 orig, 1 resp); 0x100 marks a SYN-ACK
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
        syn, synack = o & SYN, r & 0x100
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
                c.flags[d] |= 0x100 if fl & ACK else SYN
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
                c = self.conns[k] = Conn(self.uids.next(ts), ts, "udp", src, sp, dst, dp, first(p[_ESRC]), first(p[_EDST]))
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
                    c = self.conns[k] = Conn(self.uids.next(ts), ts, "icmp", oh, 8, rh, 0, first(p[_ESRC]), first(p[_EDST]))
                d = 0 if src == oh else 1
            else:
                k = ("icmp", src, dst, t, code)
                c = self.conns.get(k)
                if c is None:
                    c = self.conns[k] = Conn(self.uids.next(ts), ts, "icmp", src, t, dst, code, first(p[_ESRC]), first(p[_EDST]))
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

    def _service(self, c: Conn, name: str) -> None:
        if name not in c.services:
            c.services.append(name)

    # ---- application layers -----------------------------------------------------------------
    def _apps(self, p, ts, c: Conn, d: int) -> None:
        if not c.services and not any(_APP_FIELDS(p)):
            return  # most packets of a scan or a flood: no application layer to read
        if p[_DNS]:
            self._service(c, "dns")
            self.apps.dns(p, ts, c, d)
        if p[_HREQ] or p[_HRSP]:
            self._service(c, "http")
            self.apps.http(p, ts, c, d)
        if p[_SSHP] or p[_SSHM] or "ssh" in c.services:
            self._service(c, "ssh")
            self.apps.ssh(p, ts, c, d, _int(p[_TLEN]) or 0)
        if p[_FTPQ] or p[_FTPR]:
            self._service(c, "ftp")
            self.apps.ftp(p, ts, c, d)
        if p[_TEL]:
            self._service(c, "telnet")
            self.apps.telnet(p, ts, c, d)
        if p[_NTP]:
            self._service(c, "ntp")

    def _arp(self, p, ts) -> None:
        op = _int(p[F["arp.opcode"]])
        self.emit("arp", {"ts": ts, "operation": {1: "request", 2: "reply"}.get(op, str(op)),
                          "id.orig_h": first(p[F["arp.src.proto_ipv4"]]), "id.resp_h": first(p[F["arp.dst.proto_ipv4"]]),
                          "src_mac": first(p[F["arp.src.hw_mac"]]), "dst_mac": first(p[F["arp.dst.hw_mac"]]),
                          "orig_mac": first(p[_ESRC]), "resp_mac": first(p[_EDST])})

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
        # a tuple in the conn table's column order (range.store.SCHEMA), without its _seen: the
        # commonest record, built without a dict
        self.emit("conn", (c.ts, c.uid, c.orig_h, c.orig_p, c.resp_h, c.resp_p, c.proto,
                           ",".join(c.services) or None, round(c.last - c.ts, 6), c.bytes[0], c.bytes[1],
                           c.state(), 0, c.hist or None, c.pkts[0], c.ip_bytes[0], c.pkts[1], c.ip_bytes[1],
                           c.macs[0], c.macs[1]))
