"""Service health probes: is a node's service really answering on its team address?

Each probe speaks the first words of its protocol (an SSH/FTP/SMTP banner, an HTTP response,
a DNS answer for the node's own name, an NTP reply) and returns ``None`` when healthy or a short
reason when not. They run inside the node's network namespace (:func:`range.runtime.netns.call_in`).
"""
from __future__ import annotations

import random
import socket
import struct
from typing import Callable

Probe = Callable[[str, float, dict], "str | None"]
USER_AGENT = "cyberrange-health"   # how the web server's log tells the range's probe (the host sensor leaves it out)


def _recv_some(s: socket.socket, n: int = 512) -> bytes:
    data = s.recv(n)
    if not data:
        raise ConnectionError("closed without a word")
    return data


def banner(prefix: bytes) -> Probe:
    def probe(ip: str, timeout: float, ctx: dict) -> str | None:
        with socket.create_connection((ip, ctx["port"]), timeout=timeout) as s:
            data = _recv_some(s)
            return None if data.startswith(prefix) else f"unexpected greeting {data[:40]!r}"
    return probe


def any_bytes(ip: str, timeout: float, ctx: dict) -> str | None:
    with socket.create_connection((ip, ctx["port"]), timeout=timeout) as s:
        _recv_some(s)  # telnetd opens with option negotiation
        return None


def connect(ip: str, timeout: float, ctx: dict) -> str | None:
    socket.create_connection((ip, ctx["port"]), timeout=timeout).close()
    return None


def http(ip: str, timeout: float, ctx: dict) -> str | None:
    with socket.create_connection((ip, ctx["port"]), timeout=timeout) as s:
        s.sendall(f"GET / HTTP/1.0\r\nHost: {ctx.get('host', ip)}\r\nUser-Agent: {USER_AGENT}\r\n\r\n".encode())
        head = _recv_some(s, 64)
        if not head.startswith(b"HTTP/1."):
            return f"not HTTP: {head[:40]!r}"
        status = int(head.split()[1])
        return None if status < 500 else f"HTTP {status}"


def dns_query(name: str, qid: int | None = None) -> bytes:
    qid = random.getrandbits(16) if qid is None else qid
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q + struct.pack("!HH", 1, 1)


def dns_answer(reply: bytes) -> tuple[int, list[str]]:
    """(rcode, A records) of a DNS reply to a single question."""
    _, flags, qd, an, _, _ = struct.unpack("!HHHHHH", reply[:12])
    i = 12
    for _ in range(qd):
        while reply[i] != 0:
            i += reply[i] + 1 if reply[i] < 0xC0 else 1
            if reply[i - 1] >= 0xC0:
                break
        i += 5
    out = []
    for _ in range(an):
        if reply[i] >= 0xC0:
            i += 2
        else:
            while reply[i] != 0:
                i += reply[i] + 1
            i += 1
        rtype, _, _, rdlen = struct.unpack("!HHIH", reply[i:i + 10])
        i += 10
        if rtype == 1 and rdlen == 4:
            out.append(socket.inet_ntoa(reply[i:i + 4]))
        i += rdlen
    return flags & 0xF, out


def resolve(server: str, name: str, timeout: float = 2.0) -> tuple[int, list[str]]:
    """Ask ``server`` for ``name``'s A records over UDP: (rcode, addresses)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(dns_query(name), (server, 53))
        return dns_answer(s.recv(2048))


def dns(ip: str, timeout: float, ctx: dict) -> str | None:
    name = ctx.get("name")
    rcode, addrs = resolve(ip, name, timeout)
    if rcode != 0 or ctx.get("expect") not in addrs:
        return f"{name} -> rcode {rcode} {addrs}, expected {ctx.get('expect')}"
    return None


def ntp(ip: str, timeout: float, ctx: dict) -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(b"\x23" + b"\0" * 47, (ip, 123))
        data = s.recv(512)
        return None if len(data) >= 48 else f"short NTP reply ({len(data)} bytes)"


PROBES: dict[str, Probe] = {
    "ssh": banner(b"SSH-"),
    "ftp": banner(b"220"),
    "smtp": banner(b"220"),
    "telnet": any_bytes,
    "http": http,
    "https": connect,
    "dns": dns,
    "ntp": ntp,
}


def check(service: str, ip: str, timeout: float, ctx: dict) -> str | None:
    """``None`` if ``service`` answers on ``ip``, else why not (never raises)."""
    try:
        return PROBES[service](ip, timeout, ctx)
    except (OSError, ValueError, IndexError, struct.error) as e:
        return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
