"""Zeek-shaped records from dissected packets: conn, dns, http, ssh, ftp, telnet, arp.

:class:`Assembler` consumes tshark rows (:mod:`range.events.tshark`) in time order. Each packet's
IP layers (:mod:`range.events.layers`: tunnels included) go to the connection table
(:mod:`range.events.tracker`), whose TCP, UDP, ICMP and other-protocol handling follows Zeek's;
payloads go to the connection's application analyzers (:mod:`range.events.apps`) while any
reads them. A connection's conn.log line leaves when Zeek would remove it (its timers run on
packet time; live, :meth:`expire` also advances them by the wall clock).

Live (``live=True``), a connection is also written while it is open, as Zeek's long-connection
logging does: every :meth:`expire` writes the current line of each connection that changed
since to ``conn_open`` (range.events.store.INTERIM), so rules over conn see a scan, a flood or a
tunnel within a second or two; its final line goes to ``conn`` when it ends. Offline, each line
is written once, when the connection ends, with ``_seen`` the time of its last packet: when the
live sensor would have written that version.

Packets the builder cannot read (tshark's malformed ones, a field that does not parse) and IP
fragments that complete no datagram are counted (:attr:`Assembler.skipped`), never fatal.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Callable, Iterator

from range.events import apps
from range.events.checksums import LOOKAHEAD, Policy
from range.events.conn import Conn
from range.events.layers import Plan, plan
from range.events.ports import CLIENT_HELLO, FROM_RESPONDER, INSIDE, SERVICES, TUNNEL_PORTS
from range.events.tracker import Tracker
from range.events.tshark import AGG, F, first

Emit = Callable[..., None]

_TS, _PROTOS, _FLEN, _CAPLEN = F["frame.time_epoch"], F["frame.protocols"], F["frame.len"], F["frame.cap_len"]
_ESRC, _EDST = F["eth.src"], F["eth.dst"]
_IPS, _IPD, _IPP, _IPLEN, _IPHL = F["ip.src"], F["ip.dst"], F["ip.proto"], F["ip.len"], F["ip.hdr_len"]
_MF, _FOFF, _REASS = F["ip.flags.mf"], F["ip.frag_offset"], F["ip.reassembled.length"]
_IPID, _REASS6, _FRAG6ID = F["ip.id"], F["ipv6.reassembled.length"], F["ipv6.fraghdr.ident"]
MAX_PENDING_FRAGMENTS = 100_000
_6S, _6D, _6NXT, _6PLEN = F["ipv6.src"], F["ipv6.dst"], F["ipv6.nxt"], F["ipv6.plen"]
_EXT = {"ipv6.hopopts": F["ipv6.hopopts.len_oct"], "ipv6.dstopts": F["ipv6.dstopts.len_oct"]}
_TSP, _TDP, _TFL, _TSEQ, _TACK = F["tcp.srcport"], F["tcp.dstport"], F["tcp.flags"], F["tcp.seq_raw"], F["tcp.ack_raw"]
_TLEN, _TWIN, _TCK, _TPAY = F["tcp.len"], F["tcp.window_size_value"], F["tcp.checksum.status"], F["tcp.payload"]
_THL = F["tcp.hdr_len"]
_USP, _UDP, _ULEN, _UCK, _UPAY = F["udp.srcport"], F["udp.dstport"], F["udp.length"], F["udp.checksum.status"], \
    F["udp.payload"]
_ICT, _ICC, _ICK = F["icmp.type"], F["icmp.code"], F["icmp.checksum.status"]
_I6T, _I6C, _I6K = F["icmpv6.type"], F["icmpv6.code"], F["icmpv6.checksum.status"]
_ARP, _HELLO = F["arp.opcode"], F["tls.handshake.type"]
PROBLEMS_KEPT = 3  # per kind
NO_CONN = frozenset({50, 59, 135})  # ESP, IPv6 no next header, mobility: Zeek makes no connection


def nth(v: str, i: int) -> str:
    if i == 0 and AGG not in v:
        return v
    parts = v.split(AGG)
    return parts[i] if i < len(parts) else ""


_NET = {"ip": (_IPS, _IPD, _IPP, _IPLEN, _IPHL, _MF, _FOFF), "ipv6": (_6S, _6D, _6NXT, _6PLEN)}
_TRANSPORT = {"tcp": (_TSP, _TDP, _TFL, _TSEQ, _TACK, _TLEN, _TWIN, _THL, _TCK), "udp": (_USP, _UDP, _ULEN, _UCK),
              "icmp": (_ICT, _ICC, _ICK), "icmpv6": (_I6T, _I6C, _I6K)}
_PAYLOAD = {"tcp": (_TPAY, _TLEN, ("", "0")), "udp": (_UPAY, _ULEN, ("", "8"))}


def _flat(p: list[str], hop) -> list[str]:
    """The row as if the packet had only this layer: its occurrence of every per-layer field."""
    q = list(p)
    for f in _NET[hop.net]:
        q[f] = nth(p[f], hop.net_idx)
    fields = _TRANSPORT.get(hop.kind)
    if fields:
        j = hop.tr_idx
        for f in fields:
            q[f] = nth(p[f], j)
        if hop.kind in _PAYLOAD:  # payload fields exist only for non-empty payloads
            pay, lens, empty = _PAYLOAD[hop.kind]
            k = sum(1 for x in p[lens].split(AGG)[:j] if x not in empty)
            q[pay] = nth(p[pay], k)
    return q


@contextmanager
def quiet_gc() -> Iterator[None]:
    """Fewer collector passes while events are built: ended connections free themselves
    (Conn.release), so the default passes, each walking every live connection, only cost time
    (measured: a third of the builder's time on a SYN flood)."""
    old = gc.get_threshold()
    gc.set_threshold(20000, *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


class Assembler:
    def __init__(self, emit: Emit, live: bool = False, checksums: str = "auto"):
        self.emit = emit
        self.live = live
        self.policy = Policy("ignore" if live else checksums)
        self._held: list | None = [] if self.policy.deciding else None
        self.tracker = Tracker(self._ended, self._attach)
        self.tracker.live = live
        self.packets = 0
        self.skipped = {"malformed": 0, "incomplete fragments": 0, "unknown link type": 0}
        self.fragments: dict[tuple, int] = {}  # (src, dst, id) -> fragments waiting for their datagram
        self.problems: list[str] = []  # the first few packets that could not be read, and why
        self.now = 0.0

    # ---- packets --------------------------------------------------------------------------------
    def feed(self, p: list[str]) -> None:
        if self._held is not None:  # the checksum policy looks at the first packets before any counts
            self._held.append(p)
            self.policy.look(first(p[_IPS]) or first(p[_6S]),
                             (p[_TCK] + AGG + p[_UCK] + AGG + p[_ICK] + AGG + p[_I6K]).split(AGG))
            if len(self._held) >= LOOKAHEAD:
                self._release()
            return
        self._feed(p)

    def _release(self) -> None:
        held, self._held = self._held, None
        self.policy.decide()
        for p in held:
            self._feed(p)

    def _feed(self, p: list[str]) -> None:
        self.packets += 1
        try:
            ts = float(p[_TS])
        except ValueError:
            self._skip("malformed", "no timestamp")
            return
        if ts > self.now:
            self.now = ts
        self.tracker.advance(ts)
        pl = plan(p[_PROTOS])
        try:
            if pl.arp:
                self._arp(p, ts)
            elif pl.hops:
                self._hops(p, ts, pl)
            elif pl.undecoded:
                self._skip("unknown link type", "tshark cannot read its link layer")
            if pl.malformed:
                self._skip("malformed", "tshark: malformed packet")
        except (ValueError, IndexError):
            self._skip("malformed", f"{p[_PROTOS] or 'no protocol'}: a header field is missing or unreadable")

    def _skip(self, kind: str, why: str, n: int = 1, packet: bool = True) -> None:
        self.skipped[kind] += n
        if sum(1 for x in self.problems if x.startswith(kind)) < PROBLEMS_KEPT:
            self.problems.append(f"{kind}: packet {self.packets}: {why}" if packet else f"{kind}: {why}")

    def _hops(self, p: list[str], ts: float, pl: Plan) -> None:
        tr = self.tracker
        smac, dmac = first(p[_ESRC]) or None, first(p[_EDST]) or None
        parent = None
        for hop in pl.hops:
            q = _flat(p, hop) if pl.multi else p  # this layer's own values of every field
            if hop.net == "ip":
                src, dst = q[_IPS], q[_IPD]
                iplen, hdr = int(q[_IPLEN]), int(q[_IPHL])
                if q[_MF] == "1" or q[_FOFF] not in ("0", ""):
                    whole = first(p[_REASS])
                    if not self._fragment((src, dst, nth(p[_IPID], hop.net_idx)), hop.kind == "other" or not whole):
                        return
                    iplen = hdr + int(whole)  # the datagram this fragment completed
                ip_proto = int(q[_IPP])
                plen = iplen - hdr
            else:
                src, dst = q[_6S], q[_6D]
                plen = int(q[_6PLEN])
                iplen = plen + 40
                ip_proto = int(q[_6NXT])
                ext = sum(int(nth(p[_EXT[f]], k) or 0) for f, k in hop.ext)
                plen -= ext
                hdr = 40 + ext
                if hop.frag:
                    whole = first(p[_REASS6])
                    if not self._fragment((src, dst, first(p[_FRAG6ID])), hop.kind == "other" or not whole):
                        return
                    iplen, plen = hdr + 8 + int(whole), int(whole)
            if not src or not dst:
                raise ValueError("an IP header without its addresses")
            kind = hop.kind
            if kind == "tunnel":
                parent = tr.ip_tunnel(src, dst, ts)
            elif kind == "udp":
                parent = self._udp(q, ts, hop, src, dst, iplen, smac, dmac, parent)
                if parent is None:
                    return
            elif kind == "tcp":
                self._tcp(q, ts, hop, src, dst, iplen, hdr, smac, dmac, parent)
                return
            elif kind == "icmp" or kind == "icmpv6":
                t, k, ck = (_ICT, _ICC, _ICK) if kind == "icmp" else (_I6T, _I6C, _I6K)
                tr.icmp(ts, kind == "icmpv6", src, dst, int(q[t]), int(q[k] or 0), plen, iplen, smac, dmac,
                        self.policy.ok(q[ck], iplen), p[_CAPLEN] == p[_FLEN], parent)
                return
            else:
                if ip_proto not in NO_CONN:
                    tr.other(ts, ip_proto, src, dst, iplen, smac, dmac, parent)
                return

    def _fragment(self, key: tuple, waiting: bool) -> bool:
        """An IP fragment: tshark reassembles, the fragment that completes a datagram carries it
        (True: go on with it); the others wait for it. Those whose datagram never completes are
        counted as skipped at the end (Zeek discards them too)."""
        if waiting:
            if len(self.fragments) < MAX_PENDING_FRAGMENTS:
                self.fragments[key] = self.fragments.get(key, 0) + 1
            else:
                self._skip("incomplete fragments", "an IP fragment beyond the reassembly bound")
            return False
        self.fragments.pop(key, None)
        return True

    def _tcp(self, q, ts, hop, src, dst, iplen, hdr, smac, dmac, parent) -> None:
        fl = q[_TFL]
        sp, dp = int(q[_TSP]), int(q[_TDP])
        if fl and q[_CAPLEN] != q[_FLEN] and not hop.apps:  # a capture cut short: is the header whole?
            start = int(q[_FLEN]) - iplen + hdr
            if int(q[_CAPLEN]) - start < int(q[_THL] or 20):
                fl = ""
        tr = self.tracker
        if not fl:  # the header was cut short
            tr.tcp(ts, src, sp, dst, dp, None, 0, 0, 0, 1, iplen, smac, dmac, None, False, True, parent)
            return
        length = int(q[_TLEN] or 0)
        data = None
        hexdata = q[_TPAY] if length else ""
        if length:
            c = tr.conns.get((6, src, sp, dst, dp) if (src, sp) < (dst, dp) else (6, dst, dp, src, sp))
            if c is None or c.stream is not None:
                data = bytes.fromhex(hexdata)
        c = tr.tcp(ts, src, sp, dst, dp, int(fl, 16), int(q[_TSEQ]), int(q[_TACK] or 0), length,
                   int(q[_TWIN] or 1), iplen, smac, dmac, data, len(hexdata) >= 2 * length,
                   self.policy.ok(q[_TCK], iplen), parent)
        if hop.apps:
            self._services(c, hop, "tcp", src == c.orig_h and sp == c.orig_p, q)

    def _udp(self, q, ts, hop, src, dst, iplen, smac, dmac, parent) -> str | None:
        """A datagram; returns the uid of the tunnel its payload is, if it is one Zeek opens."""
        sp, dp = int(q[_USP]), int(q[_UDP])
        ulen = int(q[_ULEN])
        c, ok = self.tracker.udp(ts, src, sp, dst, dp, ulen, iplen, smac, dmac, self.policy.ok(q[_UCK], iplen), parent)
        if not ok:
            return None
        d = 0 if src == c.orig_h and sp == c.orig_p else 1
        if c.stream is not None and ulen > 8:
            c.stream.datagram(d == 0, ts, bytes.fromhex(q[_UPAY]))
        if hop.tunnel:
            return self._tunnel(c, hop.tunnel, d)
        if hop.apps:
            self._services(c, hop, "udp", d == 0, q)
        return None

    def _tunnel(self, c: Conn, name: str, d: int) -> str | None:
        ports = TUNNEL_PORTS[name]
        if ports and c.resp_p not in ports:
            return None  # Zeek hands a UDP payload to a tunnel by the responder's port
        if name == "teredo":  # confirmed once both sides spoke it
            if c.app is None:
                c.app = {}
            seen = c.app.setdefault("teredo", set())
            seen.add(d)
            if len(seen) == 2:
                c.confirm(name)
        else:
            c.confirm(name)
        return c.uid

    @staticmethod
    def _services(c: Conn, hop, transport: str, is_orig: bool, p: list[str]) -> None:
        for tok in hop.apps:
            svc = SERVICES.get((tok, transport)) or SERVICES.get(tok)
            if not svc:
                continue
            if tok in FROM_RESPONDER and is_orig:
                continue
            if tok in CLIENT_HELLO and not (is_orig and "1" in p[_HELLO].split(AGG)):
                continue
            if tok in INSIDE and INSIDE[tok].intersection(hop.apps):
                continue
            for name in (svc if isinstance(svc, tuple) else (svc,)):
                c.confirm(name)

    def _arp(self, p, ts) -> None:
        op = first(p[_ARP])
        self.emit("arp", {
            "ts": ts, "operation": {"1": "request", "2": "reply"}.get(op, op),
            "id.orig_h": first(p[F["arp.src.proto_ipv4"]]), "id.resp_h": first(p[F["arp.dst.proto_ipv4"]]),
            "src_mac": first(p[F["arp.src.hw_mac"]]), "dst_mac": first(p[F["arp.dst.hw_mac"]]),
            "orig_mac": first(p[_ESRC]), "resp_mac": first(p[_EDST]),
        })

    # ---- connections ----------------------------------------------------------------------------
    def _attach(self, c: Conn):
        return apps.attach(c, self.emit)

    def _ended(self, c: Conn) -> None:
        if self.live:
            self.emit("conn", c.record())
        else:
            self.emit("conn", c.record(), c.seen_at)

    def expire(self, now: float) -> None:
        """Live: time passed without packets. Fire the timers due and write the lines that changed."""
        self.now = max(self.now, now)
        self.tracker.advance(now)
        if self.live:
            touched, self.tracker.touched = self.tracker.touched, []
            for c in touched:
                c.dirty = False
                if not c.removed:
                    rec = c.record()
                    if rec != c.version:
                        c.version = rec
                        self.emit("conn_open", rec)

    def close(self) -> None:
        if self._held is not None:
            self._release()
        for (src, dst, ident), n in self.fragments.items():
            self._skip("incomplete fragments", f"{n} fragment(s) of datagram {ident} from {src} to {dst}: it "
                       "never completed", n, packet=False)
        self.fragments = {}
        if self.live:
            self.expire(self.now)
        self.tracker.close()
