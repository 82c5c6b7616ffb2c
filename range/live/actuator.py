"""Carry out traffic actions on a real network, from inside a node's network namespace.

The live range runs the same attack and benign scripts as offline: they describe actions
(range.traffic); here a client acts them out against real services at the times they name:

- ``TcpSession`` with a full handshake: a real socket connection; the client's messages are sent
  with their delays, the real server answers whatever it answers (its scripted replies are
  ignored); closed by FIN, or by RST (``SO_LINGER`` 0), or left to the server.
- ``TcpSession`` half-open, refused or silent (scans): a SYN from a raw socket; the real target
  answers and the node's kernel resets open ports, exactly as for nmap.
- ``UdpExchange``: a UDP socket; ``IcmpEcho``: a raw ICMP socket (the real peer's kernel replies).
- ``RawFrames``: written to the node's interface (``AF_PACKET``), IPv4 frames re-addressed to the
  node's own MAC and the next hop on its segment.

Each action's real flow key (the port the kernel really gave) and send times are appended to a
JSON-lines log: the live ground truth is built from it and the capture.
"""
from __future__ import annotations

import asyncio
import json
import os
import pickle
import re
import socket
import struct
import sys
import time
from pathlib import Path

from range.runtime.netns import call_in
from range.runtime.procs import watch_netns
from range.traffic import IcmpEcho, RawFrames, TcpSession, UdpExchange, wire

CONNECT_TIMEOUT = 3.0
READ_WAIT = 0.3
MAX_CONCURRENT = 64


class Log:
    def __init__(self, path: Path):
        self.f = open(path, "a", buffering=1)

    def sent(self, key: tuple, first: float, last: float, packets: int, ok: bool = True, note: str = "") -> None:
        self.f.write(json.dumps({"key": list(key), "first": first, "last": last, "packets": packets, "ok": ok,
                                 "note": note}) + "\n")


async def _until(t: float) -> None:
    d = t - time.time()
    if d > 0:
        await asyncio.sleep(d)


def _raw_ip() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    return s


class Actuator:
    def __init__(self, log: Log, iface: str | None = None, mac: str | None = None, next_hop: dict | None = None):
        self.log = log
        self.iface = iface
        self.mac = mac
        self.next_hop = next_hop or {}  # destination IP -> MAC on this node's segment (else "default")
        self.sem = asyncio.Semaphore(MAX_CONCURRENT)
        self.redirect: dict[tuple[str, int], int] = {}  # (server, scripted port) -> the real server's port
        self.passive: set[tuple[str, int]] = set()
        self._raw: socket.socket | None = None
        self._pkt: socket.socket | None = None

    # ---- dispatch ---------------------------------------------------------------------------
    async def run(self, actions: list) -> None:
        for a in actions:  # the data ports scripted FTP sessions expect: the real server picks others
            if isinstance(a, TcpSession) and a.dport == 21:
                for _d, side, data in a.messages:
                    port = _data_port(data) if side == "s" else None
                    if port:
                        self.passive.add((a.server, port))
        tasks = []
        for a in sorted(actions, key=_start):
            await _until(_start(a) - 0.05)
            tasks.append(asyncio.create_task(self._one(a)))
        if tasks:
            await asyncio.gather(*tasks)

    async def _one(self, a) -> None:
        async with self.sem:
            try:
                if isinstance(a, TcpSession):
                    await (self._tcp(a) if a.handshake == "full" else self._syn(a))
                elif isinstance(a, UdpExchange):
                    await self._udp(a)
                elif isinstance(a, IcmpEcho):
                    await self._icmp(a)
                elif isinstance(a, RawFrames):
                    await self._frames(a)
            except OSError as e:
                self.log.sent(_key(a), time.time(), time.time(), 0, ok=False, note=str(e))

    # ---- TCP --------------------------------------------------------------------------------
    async def _tcp(self, a: TcpSession) -> None:
        await _until(a.t)
        first = time.time()
        s, sport = _bound(socket.SOCK_STREAM, a.sport)
        if (a.server, a.dport) in self.passive:  # an FTP data connection: wait for the real port
            for _ in range(300):
                if (a.server, a.dport) in self.redirect:
                    break
                await asyncio.sleep(0.1)
        dport = self.redirect.get((a.server, a.dport), a.dport)
        key = (a.client, a.server, "tcp", sport, dport, None)
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.sock_connect(s, (a.server, dport)), CONNECT_TIMEOUT)
        except (OSError, asyncio.TimeoutError) as e:
            s.close()
            self.log.sent(key, first, time.time(), 1, ok=False, note=f"connect: {e}")
            return
        talk = TALKERS.get(a.dport, Talker)()
        talk.redirect = self.redirect
        talk.server = a.server
        sent, note = 1, ""
        try:
            for delay, side, data in a.messages:
                if side == "c":
                    if delay:
                        await _drain(loop, s, delay, talk)
                    data = talk.outgoing(data)
                    if data:
                        await loop.sock_sendall(s, data)
                        sent += 1
                else:  # the server's turn: wait for its answer, not longer than the script allows
                    talk.expect(data)
                    await _drain(loop, s, max(delay, READ_WAIT) + 2.0, talk, quiet=0.05)
            if a.close == "client_rst":
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif a.close == "client_fin":
                s.shutdown(socket.SHUT_WR)
                await _drain(loop, s, 1.0, talk)
            elif a.close in ("server_fin", "server_rst"):
                await _drain(loop, s, 5.0, talk)
        except OSError as e:  # the real server hung up first (sshd after our scripted key exchange)
            note = f"server closed: {e.strerror or e}"
        s.close()
        self.log.sent(key, first, time.time(), sent, note=note)

    async def _syn(self, a: TcpSession) -> None:
        await _until(a.t)
        if self._raw is None:
            self._raw = _raw_ip()
        seq = int.from_bytes(os.urandom(4), "big")
        seg = wire.tcp(a.client, a.server, a.sport, a.dport, seq, 0, wire.SYN, window=a.window, options=a.syn_options)
        pkt = wire.ipv4(a.client, a.server, wire.PROTO_TCP, seg, ttl=64, ident=int.from_bytes(os.urandom(2), "big"),
                        df=False)
        t = time.time()
        self._raw.sendto(pkt, (a.server, 0))
        self.log.sent((a.client, a.server, "tcp", a.sport, a.dport, None), t, t, 1)

    # ---- UDP and ICMP -----------------------------------------------------------------------
    async def _udp(self, a: UdpExchange) -> None:
        await _until(a.t)
        loop = asyncio.get_running_loop()
        s, sport = _bound(socket.SOCK_DGRAM, a.sport)
        first, sent = time.time(), 0
        for delay, side, data in a.messages:
            if side == "c":
                if delay:
                    await asyncio.sleep(delay)
                await loop.sock_sendto(s, data, (a.server, a.dport))
                sent += 1
            else:
                try:
                    await asyncio.wait_for(loop.sock_recv(s, 65535), max(delay, READ_WAIT) + 0.5)
                except asyncio.TimeoutError:
                    pass
        s.close()
        self.log.sent((a.client, a.server, "udp", sport, a.dport, None), first, time.time(), sent)

    async def _icmp(self, a: IcmpEcho) -> None:
        await _until(a.t)
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        first, t = time.time(), a.t
        for i, (delay, payload) in enumerate(a.payloads):
            t += delay
            await _until(t)
            s.sendto(wire.icmp_echo(8, a.ident, i + 1, payload), (a.server, 0))
        s.close()
        self.log.sent((a.client, a.server, "icmp", None, None, None), first, time.time(), len(a.payloads))

    # ---- raw frames -------------------------------------------------------------------------
    async def _frames(self, a: RawFrames) -> None:
        if not self.iface:
            raise OSError("no interface for raw frames")
        if self._pkt is None:
            self._pkt = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            self._pkt.bind((self.iface, 0))
        own = wire.mac(self.mac) if self.mac else None
        sent: dict[tuple, list] = {}
        for t, frame, key in sorted(a.frames, key=lambda f: f[0]):
            d = t - time.time()
            if d > 0.002:
                await asyncio.sleep(d)
            if own and frame[12:14] == b"\x08\x00":  # IPv4: from this node, to its next hop
                dst_ip = socket.inet_ntoa(frame[30:34])
                hop = self.next_hop.get(dst_ip) or self.next_hop.get("default")
                frame = (wire.mac(hop) if hop else frame[0:6]) + own + frame[12:]
            self._pkt.send(frame)
            now = time.time()
            rec = sent.setdefault(key, [now, now, 0])
            rec[1], rec[2] = now, rec[2] + 1
        for key, (first, last, n) in sent.items():
            self.log.sent(key, first, last, n)


async def _drain(loop, s: socket.socket, wait: float, talk: "Talker", quiet: float | None = None) -> None:
    """Read what the server says for up to ``wait`` seconds (until it closes, or, with ``quiet``,
    until it has said something and then nothing for that long), answering where the protocol
    needs an answer the script cannot know in advance."""
    end = time.time() + wait
    heard = False
    while True:
        left = end - time.time()
        if heard and quiet is not None:
            left = min(left, quiet)
        if left <= 0:
            return
        try:
            data = await asyncio.wait_for(loop.sock_recv(s, 65536), left)
        except (asyncio.TimeoutError, OSError):
            return
        if not data:
            return
        heard = True
        reply = talk.incoming(data)
        if reply:
            await loop.sock_sendall(s, reply)


class Talker:
    """Protocol manners for a live server: by default the script's bytes go out unchanged."""
    redirect: dict
    server: str

    def outgoing(self, data: bytes) -> bytes:
        return data

    def expect(self, scripted: bytes) -> None:
        """What the script thought the server would say next."""

    def incoming(self, data: bytes) -> bytes:
        return b""


PASV = re.compile(rb"227 [^(]*\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)")
EPSV = re.compile(rb"229 [^(]*\(\|\|\|(\d+)\|\)")


def _data_port(text: bytes) -> int | None:
    m = PASV.search(text)
    if m:
        return int(m.group(5)) * 256 + int(m.group(6))
    m = EPSV.search(text)
    return int(m.group(1)) if m else None


class FtpTalker(Talker):
    """The real FTP server picks its own passive port: the script's data connection follows it."""

    def __init__(self):
        self.wanted: int | None = None

    def expect(self, scripted: bytes) -> None:
        self.wanted = _data_port(scripted)

    def incoming(self, data: bytes) -> bytes:
        real = _data_port(data)
        if real is not None and self.wanted is not None:
            self.redirect[(self.server, self.wanted)] = real
        return b""


IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
ECHO, SGA = 1, 3


class TelnetTalker(Talker):
    """Telnet option negotiation answered for real (the script's canned answers may not fit the
    server's questions): accept the server's ECHO and SUPPRESS-GO-AHEAD, refuse everything else;
    the script's own IAC sequences are dropped, its keystrokes go out as typed."""

    def outgoing(self, data: bytes) -> bytes:
        return _strip_iac(data)

    def incoming(self, data: bytes) -> bytes:
        out = bytearray()
        i = 0
        while i < len(data) - 2:
            if data[i] == IAC and data[i + 1] in (DO, DONT, WILL, WONT):
                cmd, opt = data[i + 1], data[i + 2]
                if cmd == DO:
                    out += bytes([IAC, WONT, opt])
                elif cmd == WILL:
                    out += bytes([IAC, DO if opt in (ECHO, SGA) else DONT, opt])
                i += 3
            else:
                i += 1
        return bytes(out)


def _strip_iac(data: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(data):
        b = data[i]
        if b != IAC:
            out.append(b)
            i += 1
        elif i + 1 < len(data) and data[i + 1] == SB:
            end = data.find(bytes([IAC, SE]), i)
            i = len(data) if end < 0 else end + 2
        elif i + 1 < len(data) and data[i + 1] in (DO, DONT, WILL, WONT):
            i += 3
        else:
            i += 2
    return bytes(out)


TALKERS: dict[int, type[Talker]] = {21: FtpTalker, 23: TelnetTalker}


def _start(a) -> float:
    return a.frames[0][0] if isinstance(a, RawFrames) and a.frames else getattr(a, "t", 0.0)


def _key(a) -> tuple:
    if isinstance(a, TcpSession):
        return (a.client, a.server, "tcp", a.sport, a.dport, None)
    if isinstance(a, UdpExchange):
        return (a.client, a.server, "udp", a.sport, a.dport, None)
    if isinstance(a, IcmpEcho):
        return (a.client, a.server, "icmp", None, None, None)
    return ("", "", "raw", None, None, None)


def _bound(kind: int, sport: int) -> tuple[socket.socket, int]:
    """A non-blocking socket on the script's source port, or any free one when that is taken."""
    s = socket.socket(socket.AF_INET, kind)
    s.setblocking(False)
    try:
        s.bind(("", sport))
    except OSError:
        s.bind(("", 0))
    return s, s.getsockname()[1]


def run_plan(plan: Path) -> None:
    """Run a pickled plan: {"actions", "log", "iface", "mac", "next_hop"} (written by range.live)."""
    with open(plan, "rb") as f:
        p = pickle.load(f)
    if p.get("watch_pid"):  # ends when its node is gone (the range was taken down without us)
        watch_netns(int(p["watch_pid"]))
    act = Actuator(Log(Path(p["log"])), p.get("iface"), p.get("mac"), p.get("next_hop"))
    asyncio.run(act.run(p["actions"]))


def main(argv: list[str]) -> int:
    """``python -m range.live.actuator PLAN [PID]``: run the plan, inside PID's network namespace if given."""
    plan = Path(argv[0])
    if len(argv) > 1:
        call_in(int(argv[1]), run_plan, plan)
    else:
        run_plan(plan)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
