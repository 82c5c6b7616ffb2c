"""Synthesis: actions turned into complete, well-formed conversations as seen on the sensor's segment.

Handshakes, segmentation at the MSS, ACKs, FIN/RST teardown, per-host IP ids and TTLs. Every
packet is tagged with its flow key ``(src, dst, proto, sport, dport, src_mac)`` oriented client to
server, so the replay can state exactly which packets each step made.
"""
from __future__ import annotations

from typing import Iterable

from range.topology import Layout
from range.traffic import wire
from range.traffic.actions import (
    Action,
    FlowKey,
    IcmpEcho,
    RawFrames,
    TcpSession,
    UdpExchange,
)

MSS = 1448

PORT_REUSE = 120.0  # seconds a client port stays taken (TIME_WAIT and a margin)


class Synth:
    """Synthesise actions into (time, frame, flow key) records for one team's layout.

    Like a host's network stack, the synthesiser never lets two traffic sources (benign kinds,
    steps) use the same client port of the same host within :data:`PORT_REUSE` seconds of each
    other: a source whose port is taken gets another, consistently for all its actions. Without
    this a step's packets could share a flow key with benign ones, and no truth could tell them
    apart.
    """

    def __init__(self, layout: Layout, rng, watched: Iterable[str] | None = None):
        self.layout = layout
        self.rng = rng
        self.watched = set(watched if watched is not None else layout.env.spec.sensor.networks)
        self._ipid: dict[str, int] = {}
        self._ttl: dict[str, int] = {}
        self.records: list[tuple[float, bytes, FlowKey]] = []
        self.owner: object = None
        self._ports: dict[tuple[str, int], list[tuple[float, object]]] = {}
        self._remap: dict[tuple[str, int], int] = {}

    def begin(self, owner: object) -> None:
        """Start a new traffic source: its records and its port mapping are its own."""
        self.owner = owner
        self.records = []
        self._remap = {}

    def client_port(self, client: str, port: int, t: float) -> int:
        """The port this source really uses for (client, port) at time ``t``."""
        k = (client, port)
        if k in self._remap:
            port = self._remap[k]
        elif self._taken(client, port, t):
            new = port
            while self._taken(client, new, t) or new == port:
                new = self.rng.randint(32768, 60999)
            self._remap[k] = port = new
        else:
            self._remap[k] = port
        self._ports.setdefault((client, port), []).append((t, self.owner))
        return port

    def _taken(self, client: str, port: int, t: float) -> bool:
        return any(o != self.owner and abs(t - u) < PORT_REUSE for u, o in self._ports.get((client, port), ()))

    # -- per-host details --------------------------------------------------------------------
    def ttl(self, ip: str) -> int:
        t = self._ttl.get(ip)
        if t is None:
            h = self.layout.by_ip.get(ip)
            if h is not None:
                t = 128 if h.role == "workstation" else 64
            else:
                t = self.rng.choice((64, 128)) - self.rng.randint(8, 20)  # from afar, hops away
            self._ttl[ip] = t
        return t

    def ipid(self, ip: str) -> int:
        v = self._ipid.get(ip)
        if v is None:
            v = self.rng.randint(0, 0xFFFF)
        v = (v + 1) & 0xFFFF
        self._ipid[ip] = v
        return v

    def l2(self, src: str, dst: str) -> tuple[str, str, int] | None:
        """(source MAC, destination MAC, TTL decrement) on the watched segment, or None if the
        packet crosses no watched network."""
        lay = self.layout
        snet, dnet = lay.network_of(src), lay.network_of(dst)
        shost, dhost = lay.by_ip.get(src), lay.by_ip.get(dst)
        if snet in self.watched and shost is not None:
            if snet == dnet and dhost is not None:
                return shost.macs[snet], dhost.macs[dnet], 0
            gw = lay.env.networks[snet].gateway
            gmac = lay.hosts[gw].macs[snet] if gw else lay.mac_for(dst)
            return shost.macs[snet], gmac, 0
        if dnet in self.watched and dhost is not None:
            gw = lay.env.networks[dnet].gateway
            gmac = lay.hosts[gw].macs[dnet] if gw else lay.mac_for(src)
            if snet == dnet and shost is not None:
                return shost.macs[snet], dhost.macs[dnet], 0
            return gmac, dhost.macs[dnet], 1
        return None

    def ip_frame(self, ts: float, src: str, dst: str, proto: int, l4: bytes, key: FlowKey,
                 tos: int = 0, df: bool = True) -> None:
        hop = self.l2(src, dst)
        if hop is None:
            return
        smac, dmac, dec = hop
        f = wire.frame(smac, dmac, src, dst, proto, l4, ttl=self.ttl(src) - dec, ident=self.ipid(src), tos=tos, df=df)
        self.records.append((ts, f, key))

    # -- actions -----------------------------------------------------------------------------
    def add(self, action: Action) -> None:
        try:
            handle = self._HANDLERS[type(action)]
        except KeyError:  # pragma: no cover - a programming error in a traffic script
            raise TypeError(f"not a traffic action: {action!r}") from None
        handle(self, action)

    def _raw(self, a: RawFrames) -> None:
        self.records.extend(a.frames)

    def _tcp(self, a: TcpSession) -> None:
        cp, sp = self.client_port(a.client, a.sport, a.t), a.dport
        key = (a.client, a.server, "tcp", cp, sp, None)
        c, s = a.client, a.server
        half = a.rtt / 2
        isn_c = self.rng.getrandbits(32)
        isn_s = self.rng.getrandbits(32)
        t = a.t
        F = self.ip_frame
        tcp = wire.tcp
        syn = tcp(c, s, cp, sp, isn_c, 0, wire.SYN, window=a.window, options=a.syn_options)
        F(t, c, s, wire.PROTO_TCP, syn, key)
        if a.handshake == "silent":
            back = 1.0
            for _ in range(a.syn_retries):
                t += back
                back *= 2
                F(t, c, s, wire.PROTO_TCP, syn, key)
            return
        if a.handshake == "refused":
            F(t + half, s, c, wire.PROTO_TCP, tcp(s, c, sp, cp, 0, isn_c + 1, wire.RST | wire.ACK, window=0), key)
            return
        F(t + half, s, c, wire.PROTO_TCP,
          tcp(s, c, sp, cp, isn_s, isn_c + 1, wire.SYN | wire.ACK, window=65160, options=wire.SYNACK_OPTIONS), key)
        if a.handshake == "half":
            F(t + a.rtt, c, s, wire.PROTO_TCP, tcp(c, s, cp, sp, isn_c + 1, 0, wire.RST, window=0), key)
            return
        t += a.rtt
        cseq, sseq = isn_c + 1, isn_s + 1
        F(t, c, s, wire.PROTO_TCP, tcp(c, s, cp, sp, cseq, sseq, wire.ACK, window=a.window), key)
        for delay, side, data in a.messages:
            t += delay
            if side == "c":
                src, dst, spt, dpt, seq, ack = c, s, cp, sp, cseq, sseq
            else:
                src, dst, spt, dpt, seq, ack = s, c, sp, cp, sseq, cseq
            n = len(data)
            off = 0
            segs = 0
            while off < n:
                chunk = data[off:off + MSS]
                off += len(chunk)
                flags = wire.ACK | (wire.PSH if off >= n else 0)
                seg = tcp(src, dst, spt, dpt, seq, ack, flags, window=a.window, payload=chunk)
                F(t, src, dst, wire.PROTO_TCP, seg, key)
                seq += len(chunk)
                segs += 1
                t += 0.00002 * len(chunk) / 100 + 0.00001
                if segs % 2 == 0 and off < n:  # receiver acks every second full segment
                    F(
                        t + half,
                        dst,
                        src,
                        wire.PROTO_TCP,
                        tcp(dst, src, dpt, spt, ack, seq, wire.ACK, window=a.window),
                        key,
                    )
            if n:
                F(t + half, dst, src, wire.PROTO_TCP, tcp(dst, src, dpt, spt, ack, seq, wire.ACK, window=a.window), key)
                t += half
            if side == "c":
                cseq = seq
            else:
                sseq = seq
        t += 0.0005
        if a.close in ("client_fin", "server_fin"):
            if a.close == "client_fin":
                x, y, xp, yp, xs, ys = c, s, cp, sp, cseq, sseq
            else:
                x, y, xp, yp, xs, ys = s, c, sp, cp, sseq, cseq
            F(t, x, y, wire.PROTO_TCP, tcp(x, y, xp, yp, xs, ys, wire.FIN | wire.ACK, window=a.window), key)
            F(t + half, y, x, wire.PROTO_TCP, tcp(y, x, yp, xp, ys, xs + 1, wire.FIN | wire.ACK, window=a.window), key)
            F(t + a.rtt, x, y, wire.PROTO_TCP, tcp(x, y, xp, yp, xs + 1, ys + 1, wire.ACK, window=a.window), key)
        elif a.close == "client_rst":
            F(t, c, s, wire.PROTO_TCP, tcp(c, s, cp, sp, cseq, sseq, wire.RST | wire.ACK, window=0), key)
        elif a.close == "server_rst":
            F(t, s, c, wire.PROTO_TCP, tcp(s, c, sp, cp, sseq, cseq, wire.RST | wire.ACK, window=0), key)

    def _udp(self, a: UdpExchange) -> None:
        sport = self.client_port(a.client, a.sport, a.t)
        key = (a.client, a.server, "udp", sport, a.dport, None)
        t = a.t
        for delay, side, data in a.messages:
            t += delay
            if side == "c":
                self.ip_frame(
                    t,
                    a.client,
                    a.server,
                    wire.PROTO_UDP,
                    wire.udp(a.client, a.server, sport, a.dport, data),
                    key,
                    df=False,
                )
            else:
                self.ip_frame(
                    t,
                    a.server,
                    a.client,
                    wire.PROTO_UDP,
                    wire.udp(a.server, a.client, a.dport, sport, data),
                    key,
                    df=False,
                )

    def _icmp(self, a: IcmpEcho) -> None:
        key = (a.client, a.server, "icmp", None, None, None)
        t = a.t
        for i, (delay, payload) in enumerate(a.payloads):
            t += delay
            seq = i + 1
            self.ip_frame(t, a.client, a.server, wire.PROTO_ICMP, wire.icmp_echo(8, a.ident, seq, payload), key)
            if a.answered:
                reply = payload if a.replies is None else a.replies[i]
                self.ip_frame(
                    t + a.rtt,
                    a.server,
                    a.client,
                    wire.PROTO_ICMP,
                    wire.icmp_echo(0, a.ident, seq, reply),
                    key,
                    df=False,
                )

    _HANDLERS = {TcpSession: _tcp, UdpExchange: _udp, IcmpEcho: _icmp, RawFrames: _raw}
