"""Wireshark's dissectors (tshark) turn packets into rows of protocol fields.

One tshark process reads a capture file (offline) or a live interface (the range's bridge) and
prints one tab-separated line per packet with exactly the fields :mod:`range.events` needs.
``-T fields`` is the fastest way out of tshark (about 3x ``-T ek``, 60x pyshark's default path,
see DESIGN.md); the per-packet drill-down lives in :mod:`range.events.packets`.
"""
from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

from range.core import require_tool

AGG = "\x1f"  # between several occurrences of one field (commas occur in TXT records and URIs)

FIELDS = [
    "frame.time_epoch", "frame.protocols", "frame.len", "frame.cap_len", "eth.src", "eth.dst",
    "ip.src", "ip.dst", "ip.proto", "ip.len", "ip.hdr_len", "ip.flags.mf", "ip.frag_offset", "ip.reassembled.length",
    "ip.id", "ipv6.fraghdr.ident",
    "ipv6.src", "ipv6.dst", "ipv6.nxt", "ipv6.plen", "ipv6.hopopts.len_oct", "ipv6.dstopts.len_oct",
    "ipv6.reassembled.length",
    "tcp.srcport", "tcp.dstport", "tcp.flags", "tcp.seq_raw", "tcp.ack_raw", "tcp.len", "tcp.window_size_value",
    "tcp.hdr_len", "tcp.checksum.status", "tcp.payload",
    "udp.srcport", "udp.dstport", "udp.length", "udp.checksum.status", "udp.payload",
    "icmp.type", "icmp.code", "icmp.checksum.status", "icmpv6.type", "icmpv6.code", "icmpv6.checksum.status",
    "arp.opcode", "arp.src.hw_mac", "arp.src.proto_ipv4", "arp.dst.hw_mac", "arp.dst.proto_ipv4",
    "tls.handshake.type",
]
F = {name: i for i, name in enumerate(FIELDS)}

# Preferences: no TCP analysis or reassembly (the event builder does its own, as Zeek does), no
# decompression; checksums verified (the builder decides whether to trust them, see
# range.events.checksums); Teredo found on any UDP port, as Zeek's protocol detection does; Cisco
# FabricPath read as Zeek reads it (fabricpath.lua).
LUA = Path(__file__).with_name("fabricpath.lua")
PREFS = ["--disable-protocol", "cfp", "-X", f"lua_script:{LUA}",
         "-o", "tcp.analyze_sequence_numbers:FALSE", "-o", "tcp.calculate_timestamps:FALSE",
         "-o", "tcp.desegment_tcp_streams:FALSE", "-o", "http.decompress_body:FALSE",
         "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "teredo.heuristic_teredo:TRUE"]


def first(v: str) -> str:
    """The first occurrence of a field that tshark printed several times."""
    return v.split(AGG, 1)[0]


def tshark() -> str:
    return require_tool("tshark")


def command(source: str | Path, live: bool = False, bpf: str | None = None) -> list[str]:
    """The tshark command line reading a file (``-r``) or an interface (``-i``, line-buffered)."""
    cmd = [tshark(), "-n", "-Q"]
    cmd += ["-i", str(source), "-l"] if live else ["-r", str(source)]
    if bpf and live:
        cmd += ["-f", bpf]
    cmd += PREFS + ["-T", "fields", "-E", "separator=/t", "-E", f"aggregator={AGG}", "-E", "occurrence=a"]
    for f in FIELDS:
        cmd += ["-e", f]
    return cmd


def split_row(line: str, n: int = len(FIELDS)) -> list[str]:
    """One tshark line as a field list (tabs and newlines inside values arrive escaped)."""
    parts = line.rstrip("\n").split("\t")
    if len(parts) < n:
        parts += [""] * (n - len(parts))
    return parts


def rows(stream) -> Iterator[list[str]]:
    for line in stream:
        yield split_row(line)


def run_file(pcap: str | Path) -> tuple[subprocess.Popen, Iterator[list[str]]]:
    """tshark over a capture file, and its rows as they come.

    tshark writes into an unlinked temporary file that the reader follows, rather than into a
    pipe: over a pipe the two processes take turns (each waits for the other's wake-up; measured
    here: 7.3-7.9 s for 200k packets against 5.2-5.3 s through the file, tshark alone 4.7 s), so
    the file lets tshark and the event builder run on their own cores.
    """
    out = tempfile.TemporaryFile(prefix="cyberrange-rows-")
    proc = subprocess.Popen(command(pcap), stdout=out, stderr=subprocess.PIPE, text=True)
    return proc, _follow(out, proc)


def _follow(out, proc: subprocess.Popen) -> Iterator[list[str]]:
    reader = open(f"/proc/self/fd/{out.fileno()}", "rb", buffering=0)
    buf = b""
    try:
        while True:
            chunk = reader.read(1 << 20)
            if not chunk:
                if proc.poll() is None:
                    time.sleep(0.005)
                    continue
                chunk = reader.read()  # what tshark wrote just before it exited
                if not chunk:
                    break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                yield split_row(line.decode("utf-8", "replace"))
        if buf.strip():
            yield split_row(buf.decode("utf-8", "replace"))
    finally:
        reader.close()
        out.close()
