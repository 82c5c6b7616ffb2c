"""The fast path for floods: whole Ethernet/IPv4/TCP frames from one :mod:`struct` call each.

``range.traffic.wire.tcp`` builds a segment and checksums it over a copy of its bytes (~10 us a packet);
a 200,000-packet flood needs better. Here the constant parts of both checksums (RFC 1071 sums
are plain additions of 16-bit words, so they can be split) are summed once per template, the
per-address part once per address, and each packet adds only its own ports, sequence numbers
and IP id before one ``Struct.pack``. ``tests/test_tech_network.py`` holds the result against
scapy's checksums.
"""
from __future__ import annotations

import ipaddress
import socket
import struct

from range.traffic import wire

# Ethernet (dst, src, type) + IPv4 (ver/ihl, tos, len, id, frag, ttl, proto, csum, src, dst) + TCP
_FRAME = struct.Struct("!6s6sHBBHHHBBH4s4sHHIIBBHHH")

# First octets never used by a plausible internet source: this-network, private, CGNAT, loopback,
# link-local, private 172.16/12, 192.0.0/24-192.168/16 and documentation, benchmarking, multicast.
_NOT_PUBLIC_FIRST = {0, 10, 100, 127, 169, 172, 192, 198, 203} | set(range(224, 256))
PUBLIC_FIRST = [a for a in range(1, 224) if a not in _NOT_PUBLIC_FIRST]


def addr_info(ip: str) -> tuple[bytes, int]:
    """(4 address bytes, sum of its two 16-bit words) for the checksums."""
    b = socket.inet_aton(ip)
    return b, (b[0] << 8 | b[1]) + (b[2] << 8 | b[3])


class TcpTemplate:
    """Frames of one kind (flags, window, options, DF) between arbitrary addresses and ports.

    :meth:`render` takes the MACs as 6 bytes and addresses as :func:`addr_info` pairs; it is
    meant to be bound once (``render = tpl.render``) inside a tight loop.
    """

    def __init__(self, flags: int, *, window: int, options: bytes = b"", df: bool = False, tos: int = 0):
        if len(options) % 4:
            options = options + b"\0" * (4 - len(options) % 4)
        self.options = options
        self.flags = flags
        self.window = window
        self.frag = 0x4000 if df else 0
        self.tos = tos
        self.tcp_len = 20 + len(options)
        self.total = 20 + self.tcp_len
        self.off = (self.tcp_len // 4) << 4
        opt_sum = sum(struct.unpack(f"!{len(options) // 2}H", options)) if options else 0
        # constant words of the IP header (protocol in the ttl word is added with the ttl)
        self.ip_base = (0x45 << 8 | tos) + self.total + self.frag + wire.PROTO_TCP
        # pseudo-header protocol and length + constant TCP words
        self.tcp_base = wire.PROTO_TCP + self.tcp_len + (self.off << 8 | flags) + window + opt_sum

    def render(self, smac: bytes, dmac: bytes, src: tuple[bytes, int], dst: tuple[bytes, int], ttl: int,
               ident: int, sport: int, dport: int, seq: int, ack: int) -> bytes:
        s = self.ip_base + (ttl << 8) + ident + src[1] + dst[1]
        s = (s & 0xFFFF) + (s >> 16)
        s = (s & 0xFFFF) + (s >> 16)
        t = (
            self.tcp_base
            + src[1]
            + dst[1]
            + sport
            + dport
            + (seq >> 16)
            + (seq & 0xFFFF)
            + (ack >> 16)
            + (ack & 0xFFFF)
        )
        t = (t & 0xFFFF) + (t >> 16)
        t = (t & 0xFFFF) + (t >> 16)
        f = _FRAME.pack(
            dmac,
            smac,
            wire.ETH_IPV4,
            0x45,
            self.tos,
            self.total,
            ident,
            self.frag,
            ttl,
            wire.PROTO_TCP,
            s ^ 0xFFFF,
            src[0],
            dst[0],
            sport,
            dport,
            seq,
            ack,
            self.off,
            self.flags,
            self.window,
            t ^ 0xFFFF,
            0,
        )
        return f + self.options if self.options else f


def public_prefixes(rng, n: int, avoid: list[ipaddress.IPv4Network]) -> list[tuple[int, int]]:
    """``n`` distinct public /16 prefixes (first two octets) outside every network in ``avoid``."""
    out: list[tuple[int, int]] = []
    while len(out) < n:
        a, b = rng.choice(PUBLIC_FIRST), rng.randint(0, 255)
        net = ipaddress.IPv4Network((a << 24 | b << 16, 16))
        if (a, b) in out or any(net.overlaps(x) for x in avoid):
            continue
        out.append((a, b))
    return out


def public_addresses(rng, n: int, avoid: list[ipaddress.IPv4Network]) -> list[str]:
    """``n`` random public unicast addresses outside ``avoid``: ``hping3 --rand-source``, minus
    the reserved ranges a real internet path would drop before they reach the victim."""
    ranges = [(int(x.network_address), int(x.broadcast_address)) for x in avoid]
    first = PUBLIC_FIRST
    choice, bits, ntoa, pack = rng.choice, rng.getrandbits, socket.inet_ntoa, struct.Struct("!I").pack
    out: list[str] = []
    while len(out) < n:
        v = choice(first) << 24 | bits(24)
        if v & 0xFF in (0, 255) or any(lo <= v <= hi for lo, hi in ranges):
            continue
        out.append(ntoa(pack(v)))
    return out
