"""Wire-format frames as bytes: Ethernet, IPv4, TCP, UDP, ICMP, ARP.

Building packets through scapy's Packet objects runs at ~1,500-3,000 packets/s; a flood needs
far more. Headers here are packed from fixed templates with :mod:`struct` and checksummed over
an :class:`array.array` (C speed), which is what scapy computes, byte for byte
(``tests/test_wire.py`` holds each builder against scapy's own dissection). Application payloads
that need a real protocol encoder (DNS, NTP, SSH key exchange...) are built once with scapy's
layers by the technique that needs them, then carried as bytes.
"""
from __future__ import annotations

import ipaddress
import struct
import sys
from array import array
from functools import lru_cache

ETH_IPV4 = 0x0800
ETH_ARP = 0x0806
PROTO_ICMP, PROTO_TCP, PROTO_UDP = 1, 6, 17
PROTO_NAMES = {PROTO_ICMP: "icmp", PROTO_TCP: "tcp", PROTO_UDP: "udp"}

FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20

_LITTLE = sys.byteorder == "little"
_eth = struct.Struct("!6s6sH")
_ip = struct.Struct("!BBHHHBBH4s4s")
_tcp = struct.Struct("!HHIIBBHHH")
_udp = struct.Struct("!HHHH")
_icmp_echo = struct.Struct("!BBHHH")


@lru_cache(maxsize=65536)
def ip4(addr: str) -> bytes:
    """Dotted quad to 4 bytes (cached: the same few hundred addresses recur)."""
    return ipaddress.IPv4Address(addr).packed


@lru_cache(maxsize=4096)
def mac(addr: str) -> bytes:
    return bytes.fromhex(addr.replace(":", ""))


def checksum(data: bytes, initial: int = 0) -> int:
    """RFC 1071 Internet checksum of ``data`` (one's complement of the one's complement sum)."""
    if len(data) & 1:
        data = data + b"\0"
    words = array("H", data)
    s = sum(words) + initial
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    if _LITTLE:  # summed in host order; the one's complement sum is byte-order independent
        s = ((s & 0xFF) << 8) | (s >> 8)
    return (~s) & 0xFFFF


def _pseudo_sum(src: bytes, dst: bytes, proto: int, length: int) -> int:
    return sum(array("H", src + dst + struct.pack("!BBH", 0, proto, length)))


def ether(src_mac: str, dst_mac: str, ethertype: int, payload: bytes) -> bytes:
    return _eth.pack(mac(dst_mac), mac(src_mac), ethertype) + payload


def ipv4(src: str, dst: str, proto: int, payload: bytes, *, ttl: int = 64, ident: int = 0,
         df: bool = True, tos: int = 0) -> bytes:
    total = 20 + len(payload)
    hdr = _ip.pack(0x45, tos, total, ident & 0xFFFF, 0x4000 if df else 0, ttl, proto, 0,
                   ip4(src), ip4(dst))
    c = checksum(hdr)
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


def tcp(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int, *,
        window: int = 64240, payload: bytes = b"", options: bytes = b"") -> bytes:
    """A TCP segment (header, options, payload) with its checksum over the pseudo-header."""
    if len(options) % 4:
        options = options + b"\0" * (4 - len(options) % 4)
    off = (20 + len(options)) // 4
    hdr = _tcp.pack(sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, off << 4, flags,
                    window, 0, 0) + options
    seg = hdr + payload
    c = checksum(seg, _pseudo_sum(ip4(src), ip4(dst), PROTO_TCP, len(seg)))
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def udp(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    length = 8 + len(payload)
    seg = _udp.pack(sport, dport, length, 0) + payload
    c = checksum(seg, _pseudo_sum(ip4(src), ip4(dst), PROTO_UDP, length)) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def icmp(icmp_type: int, code: int, rest: bytes, payload: bytes = b"") -> bytes:
    """An ICMP message; ``rest`` is the 4 bytes after the checksum (id/seq for echo)."""
    msg = struct.pack("!BBH", icmp_type, code, 0) + rest + payload
    c = checksum(msg)
    return msg[:2] + struct.pack("!H", c) + msg[4:]


def icmp_echo(icmp_type: int, ident: int, seq: int, payload: bytes) -> bytes:
    return icmp(icmp_type, 0, struct.pack("!HH", ident, seq), payload)


def arp(op: int, sender_mac: str, sender_ip: str, target_mac: str, target_ip: str) -> bytes:
    """An ARP payload (op 1 request, 2 reply) for Ethernet/IPv4."""
    return struct.pack("!HHBBH6s4s6s4s", 1, ETH_IPV4, 6, 4, op, mac(sender_mac), ip4(sender_ip),
                       mac(target_mac), ip4(target_ip))


def frame(src_mac: str, dst_mac: str, src: str, dst: str, proto: int, l4: bytes, *, ttl: int = 64,
          ident: int = 0, df: bool = True, tos: int = 0) -> bytes:
    """Ethernet + IPv4 around a finished layer-4 segment."""
    return ether(src_mac, dst_mac, ETH_IPV4, ipv4(src, dst, proto, l4, ttl=ttl, ident=ident, df=df, tos=tos))


# ---- TCP option blocks, built once ---------------------------------------------------------

def tcp_options(*opts: tuple[str, int | None]) -> bytes:
    """Encode TCP options: ("mss", 1460), ("nop", None), ("sackok", None), ("ws", 7), ("eol", None)."""
    out = bytearray()
    for kind, val in opts:
        if kind == "mss":
            out += struct.pack("!BBH", 2, 4, val)
        elif kind == "nop":
            out += b"\x01"
        elif kind == "sackok":
            out += b"\x04\x02"
        elif kind == "ws":
            out += struct.pack("!BBB", 3, 3, val)
        elif kind == "eol":
            out += b"\x00"
        else:
            raise ValueError(f"unknown TCP option {kind}")
    while len(out) % 4:
        out += b"\x00"
    return bytes(out)


# Client SYN options of a typical Windows/Linux host without timestamps, and nmap's SYN probe.
SYN_OPTIONS = tcp_options(("mss", 1460), ("nop", None), ("ws", 8), ("nop", None), ("nop", None), ("sackok", None))
SYNACK_OPTIONS = tcp_options(("mss", 1460), ("nop", None), ("nop", None), ("sackok", None), ("nop", None), ("ws", 7))
NMAP_SYN_OPTIONS = tcp_options(("mss", 1460))


class SynTemplate:
    """A fixed Ethernet/IPv4/TCP SYN frame whose addresses, ports and sequence are patched in place.

    The flood path: one frame built once, then per packet five fields written with
    ``struct.pack_into`` and both checksums recomputed over the 20-byte headers only.
    """

    def __init__(self, src_mac: str, dst_mac: str, dst: str, dport: int, *, window: int = 1024,
                 options: bytes = b"", ttl: int = 64):
        l4 = tcp("0.0.0.0", dst, 0, dport, 0, 0, SYN, window=window, options=options)
        self.buf = bytearray(frame(src_mac, dst_mac, "0.0.0.0", dst, PROTO_TCP, l4, ttl=ttl, df=False))
        self.dst = ip4(dst)
        self.tcp_len = len(l4)
        self._ip_hdr_sum_base = None

    def render(self, src: str, sport: int, seq: int, ident: int) -> bytes:
        b = self.buf
        src_b = ip4(src)
        # IP: id, checksum zero, src
        struct.pack_into("!H", b, 18, ident & 0xFFFF)
        struct.pack_into("!H", b, 24, 0)
        b[26:30] = src_b
        struct.pack_into("!H", b, 24, checksum(bytes(b[14:34])))
        # TCP: sport, seq, checksum
        struct.pack_into("!HHI", b, 34, sport, struct.unpack_from("!H", b, 36)[0], seq & 0xFFFFFFFF)
        struct.pack_into("!H", b, 50, 0)
        seg = bytes(b[34:34 + self.tcp_len])
        c = checksum(seg, _pseudo_sum(src_b, self.dst, PROTO_TCP, self.tcp_len))
        struct.pack_into("!H", b, 50, c)
        return bytes(b)
