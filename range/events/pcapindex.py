"""A classic pcap's records, read and copied in Python without dissecting them.

An index of a capture's records is kept per file (:class:`_Index`): the records of a time range,
or a frame by its number, are found by walking one block of records. The records of a time range
(and of one connection, :class:`Ends`, told from the first bytes of each frame) are copied into a
small classic pcap of their own for tshark, with the capture's frame number of each.
"""
from __future__ import annotations

import ipaddress
import mmap
import os
import struct
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator, NamedTuple


class Ends(NamedTuple):
    """An event's connection: its protocol (tcp, udp, icmp or another IP protocol) and its two ends,
    the originator first (ports for TCP and UDP only)."""
    proto: str
    orig: str
    resp: str
    orig_p: int | None = None
    resp_p: int | None = None

    def filter(self) -> str:
        """The tshark display filter naming the connection (either direction)."""
        src, dst = self.orig, self.resp
        ip = "ipv6" if ":" in src else "ip"
        if self.proto == "icmp":
            return f"icmp && {ip}.addr == {src} && {ip}.addr == {dst}"
        if self.proto in ("tcp", "udp"):
            p, sp, dp = self.proto, self.orig_p, self.resp_p
            fwd = f"{ip}.src == {src} && {p}.srcport == {sp} && {ip}.dst == {dst} && {p}.dstport == {dp}"
            rev = f"{ip}.src == {dst} && {p}.srcport == {dp} && {ip}.dst == {src} && {p}.dstport == {sp}"
            return f"{p} && (({fwd}) || ({rev}))"
        return f"{ip}.addr == {src} && {ip}.addr == {dst}"

    def __str__(self) -> str:
        if self.orig_p is None:
            return f"{self.proto} {self.orig} → {self.resp}"
        return f"{self.proto} {self.orig}:{self.orig_p} → {self.resp}:{self.resp_p}"


BLOCK = 512  # records per entry of a capture's index
_MAGIC = {b"\xd4\xc3\xb2\xa1": ("<", 1e-6), b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
          b"\xa1\xb2\xc3\xd4": (">", 1e-6), b"\xa1\xb2\x3c\x4d": (">", 1e-9)}


@dataclass(eq=False)
class _Index:
    """Where every BLOCK-th record of a classic pcap starts, with the earliest and latest time of
    each block of records: a time range or a frame number is found by walking one block. Kept per
    file and, when the file grows, replaced by an extended copy (a rewritten file is indexed again)."""
    ident: tuple
    head: bytes
    order: str
    unit: float
    starts: list[int] = field(default_factory=list)
    lo: list[float] = field(default_factory=list)
    hi: list[float] = field(default_factory=list)
    count: int = 0
    end: int = 24
    last: tuple[int, bytes] = (0, b"")  # the last record's offset and header: tells growth from rewrite

    @property
    def linktype(self) -> int:
        return struct.unpack(self.order + "I", self.head[20:24])[0] & 0x03FFFFFF

    def grown(self, mm) -> bool:
        """Whether ``mm`` holds a whole record after the last one indexed."""
        off = self.end
        return off + 16 <= len(mm) and off + 16 + struct.unpack_from(self.order + "I", mm, off + 8)[0] <= len(mm)

    def extended(self, mm) -> _Index:
        """This index if ``mm`` holds no more whole records, else a new index that holds them too
        (copy-on-extend: an index once shared never changes, so its readers, each with a mapping
        of its own, never walk past what they mapped)."""
        if not self.grown(mm):
            return self
        new = replace(self, starts=list(self.starts), lo=list(self.lo), hi=list(self.hi))
        new._walk(mm, len(mm))
        return new

    def _walk(self, mm, size: int) -> None:
        """Index the whole records from ``end`` to ``size`` (only on an index no one else sees)."""
        unpack, unit = struct.Struct(self.order + "IIII").unpack_from, self.unit
        starts, lo, hi = self.starts, self.lo, self.hi
        off, n, last = self.end, self.count, self.last[0]
        while off + 16 <= size:
            sec, frac, incl, _ = unpack(mm, off)
            if off + 16 + incl > size:
                break  # a record still being written
            t = sec + frac * unit
            if n % BLOCK == 0:
                starts.append(off)
                lo.append(t)
                hi.append(t)
            elif t < lo[-1]:
                lo[-1] = t
            elif t > hi[-1]:
                hi[-1] = t
            last = off
            off += 16 + incl
            n += 1
        if n:
            self.last = (last, bytes(mm[last:last + 16]))
        self.count, self.end = n, off

    def stamp(self, mm, off: int) -> int:
        """The time of the record at ``off``, in nanoseconds (exact, for differences)."""
        sec, frac = struct.unpack_from(self.order + "II", mm, off)
        return sec * 10**9 + frac * (1000 if self.unit == 1e-6 else 1)

    def records(self, mm, first: int, stop: int) -> Iterator[tuple[int, int, float, int]]:
        """(number, offset, time, length) of records ``first`` .. ``stop - 1`` (0-based)."""
        unpack, unit = struct.Struct(self.order + "IIII").unpack_from, self.unit
        stop = min(stop, self.count)
        if first >= stop:
            return
        i = first - first % BLOCK
        off = self.starts[i // BLOCK]
        while i < stop:
            sec, frac, incl, _ = unpack(mm, off)
            if i >= first:
                yield i, off, sec + frac * unit, incl
            off += 16 + incl
            i += 1

    def span(self, since: float, until: float) -> tuple[int, int]:
        """Records first .. stop - 1 hold every record timed in [since, until] (a few more)."""
        blocks = [b for b in range(len(self.starts)) if self.hi[b] >= since and self.lo[b] <= until]
        if not blocks:
            return 0, 0
        return blocks[0] * BLOCK, min(self.count, (blocks[-1] + 1) * BLOCK)


_INDEXES: dict[str, _Index] = {}  # by the capture's path; an index here is never changed, only replaced
_LOCKS: dict[str, threading.Lock] = {}  # by the capture's path: held while its index is built or extended
_INDEX_LOCK = threading.Lock()  # guards the two dicts only: never held while a capture is indexed
MAX_INDEXES = 64


def _fits(ix: _Index | None, ident: tuple, head: bytes, mm: mmap.mmap) -> bool:
    """Whether ``ix`` describes the start of the capture mapped as ``mm`` (not a file since rewritten)."""
    return (ix is not None and ix.ident == ident and ix.head == head and ix.end <= len(mm)
            and (ix.count == 0 or mm[ix.last[0]:ix.last[0] + 16] == ix.last[1]))


def _shared(key: str) -> _Index | None:
    with _INDEX_LOCK:
        return _INDEXES.get(key)


def _share(key: str, ix: _Index) -> None:
    with _INDEX_LOCK:
        if len(_INDEXES) >= MAX_INDEXES and key not in _INDEXES:
            old = next(iter(_INDEXES))
            del _INDEXES[old]
            _LOCKS.pop(old, None)
        _INDEXES[key] = ix


@contextmanager
def mapped(pcap: Path) -> Iterator[tuple[_Index | None, mmap.mmap | None]]:
    """The capture's index and its bytes; (None, None) unless it is a classic pcap (pcapng). The
    index describes no more of the capture than the bytes: it is the shared one when that is up to
    date, else a copy extended over what the file has grown by (or built anew for a rewritten
    file) and shared in its place. Indexing holds only this capture's lock: other captures' readers
    never wait for it, nor do readers of this one whose bytes the shared index already covers."""
    with open(pcap, "rb") as f:
        head = f.read(24)
        st = os.fstat(f.fileno())
        if len(head) < 24 or head[:4] not in _MAGIC:
            yield None, None
            return
        key, ident = str(pcap.resolve()), (st.st_dev, st.st_ino)
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            ix = _shared(key)
            if not _fits(ix, ident, head, mm) or ix.grown(mm):
                with _INDEX_LOCK:
                    lock = _LOCKS.setdefault(key, threading.Lock())
                with lock:
                    ix = _shared(key)  # extended meanwhile, perhaps
                    if ix is not None and ix.ident == ident and ix.end > len(mm):
                        mm.close()  # the file grew after it was mapped and the shared index says so: map it again
                        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                    if not _fits(ix, ident, head, mm):
                        ix = _Index(ident, head, *_MAGIC[head[:4]])
                    new = ix.extended(mm)
                    if new is not ix or _shared(key) is not ix:
                        _share(key, new)
                    ix = new
            yield ix, mm
        finally:
            mm.close()


def _ip(d: bytes) -> tuple[bytes, bytes, int, tuple[int, int] | None] | None:
    """An Ethernet frame's IP source, destination, protocol and (TCP, UDP) ports; None if not IP."""
    et, o = int.from_bytes(d[12:14], "big"), 14
    while et in (0x8100, 0x88A8) and len(d) >= o + 4:
        et, o = int.from_bytes(d[o + 2:o + 4], "big"), o + 4
    if et == 0x0800 and len(d) >= o + 20:
        src, dst, p, l4 = d[o + 12:o + 16], d[o + 16:o + 20], d[o + 9], o + (d[o] & 15) * 4
        frag = int.from_bytes(d[o + 6:o + 8], "big") & 0x1FFF
    elif et == 0x86DD and len(d) >= o + 40:
        src, dst, p, l4, frag = d[o + 8:o + 24], d[o + 24:o + 40], d[o + 6], o + 40, 0
    else:
        return None
    ports = None
    if p in (6, 17) and not frag and len(d) >= l4 + 4:
        ports = (int.from_bytes(d[l4:l4 + 2], "big"), int.from_bytes(d[l4 + 2:l4 + 4], "big"))
    return src, dst, p, ports


def ends_of(d: bytes) -> Ends | None:
    """The connection an Ethernet frame belongs to (its sender as the originator), if it is IP."""
    got = _ip(d)
    if got is None or got[2] in (1, 58):
        return None  # ICMP: its own window, every protocol around it
    src, dst, p, ports = got
    a, b = str(ipaddress.ip_address(src)), str(ipaddress.ip_address(dst))
    if ports:
        return Ends("tcp" if p == 6 else "udp", a, b, *ports)
    return Ends(f"ip proto {p}", a, b)


def matcher(e: Ends, linktype: int) -> Callable[[bytes], bool] | None:
    """Whether an Ethernet frame may belong to the connection ``e`` (its two addresses, and its ports
    when it is TCP or UDP; ICMP to or from either end is kept, it may be about the connection). A
    pre-filter only: tshark's display filter decides. None when the link is not Ethernet."""
    if linktype != 1:
        return None
    a, b = ipaddress.ip_address(e.orig).packed, ipaddress.ip_address(e.resp).packed
    proto = {"tcp": 6, "udp": 17}.get(e.proto)
    fwd_ports, rev_ports = (e.orig_p, e.resp_p), (e.resp_p, e.orig_p)

    def keep(d: bytes) -> bool:
        got = _ip(d)
        if got is None:
            return False
        src, dst, p, ports = got
        if p in (1, 58):
            return src in (a, b) or dst in (a, b)
        if src == a and dst == b:
            want = fwd_ports
        elif src == b and dst == a:
            want = rev_ports
        else:
            return False
        return proto is None or p != proto or ports is None or ports == want
    return keep


def slice_records(pcap: Path, since: float, until: float, work: Path, only: Ends | None = None
          ) -> tuple[Path, list[int] | None]:
    """The capture's records timed in [since, until] (and of the connection ``only``) in a classic
    pcap of their own, and the capture's frame number of each. A capture that is not a classic
    pcap is given whole, its frames numbered as they are (None)."""
    with mapped(pcap) as (ix, mm):
        if ix is None:
            return pcap, None
        keep = matcher(only, ix.linktype) if only else None
        first, stop = ix.span(since, until)
        out, numbers = [ix.head], []
        for i, off, t, incl in ix.records(mm, first, stop):
            if since <= t <= until and (keep is None or keep(mm[off + 16:off + 16 + min(incl, 128)])):
                out.append(mm[off:off + 16 + incl])
                numbers.append(i + 1)
    path = work / "slice.pcap"
    path.write_bytes(b"".join(out))
    return path, numbers


def frame_bytes(pcap: Path, count: int) -> bytes | None:
    """The raw bytes of record ``count`` of a classic pcap file (the window editcap wrote)."""
    with open(pcap, "rb") as f:
        head = f.read(24)
        if len(head) < 24 or head[:4] not in _MAGIC:
            return None
        order = _MAGIC[head[:4]][0]
        data = None
        for _ in range(count):
            rec = f.read(16)
            if len(rec) < 16:
                return None
            incl = struct.unpack(order + "IIII", rec)[2]
            data = f.read(incl)
        return data
