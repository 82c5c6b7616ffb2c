"""Packets from a team's capture for the drill-down and the pcap download, never past the clock.

An offline session's ``capture.pcap`` was synthesised whole when the session was prepared: it
holds the future. Every function here takes the session clock (``until``, epoch seconds) and
returns nothing later: packet lists filter on ``frame.time_epoch``, a packet's dissection is
refused when the packet is later, a followed stream stops at the clock, and downloads are cut
with ``editcap -B``.

tshark dissects every packet it reads (about 50 µs each, after a start of 0.2-0.3 s), so it is
never given the whole capture: the records of the time range (and of the connection, when there
is one) are copied into a small classic pcap first, found through an index of the capture's
records kept per file (:class:`_Index`; records are copied, never dissected, in Python), and
the frame numbers tshark reports are mapped back to the capture's own.
"""
from __future__ import annotations

import base64
import ipaddress
import mmap
import os
import re
import shutil
import struct
import subprocess
import tempfile
import threading
import xml.etree.ElementTree as ET
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, NamedTuple

from range.core import InputError, NotFound, RangeError, require_tool
from range.traffic import check_pcap

MAX_PACKETS = 1000
MAX_BPF = 500
MAX_STREAM = 256 * 1024  # bytes of a followed TCP stream returned (both sides together)
TABLE_PROTO = {"http": "tcp", "ssh": "tcp", "ftp": "tcp", "telnet": "tcp"}
FIELDS = ["frame.number", "frame.time_epoch", "ip.src", "ip.dst", "_ws.col.Protocol", "frame.len", "_ws.col.Info"]


def _addr(v) -> str:
    try:
        return str(ipaddress.ip_address(v))
    except ValueError:
        raise RangeError(f"the event holds no usable address ({v!r})") from None


def _port(v) -> int:
    if not isinstance(v, int) or not 0 <= v <= 65535:
        raise RangeError(f"the event holds no usable port ({v!r})")
    return v


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


def ends(ev: dict) -> Ends | None:
    """The connection of an event (None for ARP, which has no IP connection)."""
    table, row, conn = ev["table"], ev["row"], ev["conn"]
    if table == "arp":
        return None
    base = conn or row
    src, dst = _addr(base["id.orig_h"]), _addr(base["id.resp_h"])
    proto = (base.get("proto") or TABLE_PROTO.get(table) or "tcp").lower()
    if proto in ("tcp", "udp"):
        return Ends(proto, src, dst, _port(base["id.orig_p"]), _port(base["id.resp_p"]))
    return Ends(proto, src, dst)


def tcp_ends(ev: dict) -> Ends:
    """The event's TCP connection, for following its stream; an InputError for anything else."""
    e = ends(ev)
    if e is None or e.proto != "tcp":
        what = "an ARP exchange" if e is None else f"a {e.proto.upper()} flow ({e})"
        raise InputError(f"Follow TCP stream is for TCP connections: this {ev['table']} event is {what}")
    return e


def conversation(ev: dict) -> tuple[str, float, float]:
    """A tshark display filter naming the event's connection, and its time window."""
    row = ev["row"]
    conn = ev["conn"] or (row if ev["table"] == "conn" else None)  # a conn event is its own connection record
    e = ends(ev)
    if e is None:
        f = f"arp && arp.src.proto_ipv4 == {_addr(row['id.orig_h'])}"
        if row.get("id.resp_h"):
            f += f" && arp.dst.proto_ipv4 == {_addr(row['id.resp_h'])}"
        return f, row["ts"] - 1, row["ts"] + 1
    f = e.filter()
    if conn:
        return f, conn["ts"] - 1, conn["ts"] + (conn.get("duration") or 0) + 1
    return f, row["ts"] - 1, row["ts"] + 300  # the connection record has not arrived yet


# ---- the capture's records, without dissecting them ------------------------------------------

BLOCK = 512  # records per entry of a capture's index
_MAGIC = {b"\xd4\xc3\xb2\xa1": ("<", 1e-6), b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
          b"\xa1\xb2\xc3\xd4": (">", 1e-6), b"\xa1\xb2\x3c\x4d": (">", 1e-9)}


@dataclass(eq=False)
class _Index:
    """Where every BLOCK-th record of a classic pcap starts, with the earliest and latest time of
    each block of records: a time range or a frame number is found by walking one block. Kept per
    file and extended when the file grows (a rewritten file is indexed again)."""
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

    def extend(self, mm, size: int) -> None:
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


_INDEXES: dict[str, _Index] = {}
_INDEX_LOCK = threading.Lock()


@contextmanager
def _mapped(pcap: Path) -> Iterator[tuple[_Index | None, mmap.mmap | None]]:
    """The capture's index and its bytes; (None, None) unless it is a classic pcap (pcapng)."""
    with open(pcap, "rb") as f:
        head = f.read(24)
        st = os.fstat(f.fileno())
        if len(head) < 24 or head[:4] not in _MAGIC:
            yield None, None
            return
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            key, ident = str(pcap.resolve()), (st.st_dev, st.st_ino)
            with _INDEX_LOCK:
                ix = _INDEXES.get(key)
                if (ix is None or ix.ident != ident or ix.head != head or len(mm) < ix.end
                        or bytes(mm[ix.last[0]:ix.last[0] + 16]) != ix.last[1]):
                    ix = _Index(ident, head, *_MAGIC[head[:4]])
                if len(mm) > ix.end:
                    ix.extend(mm, len(mm))
                if len(_INDEXES) >= 64 and key not in _INDEXES:
                    _INDEXES.pop(next(iter(_INDEXES)))
                _INDEXES[key] = ix
            yield ix, mm


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


def _ends_of(d: bytes) -> Ends | None:
    """The connection an Ethernet frame belongs to (its sender as the originator), if it is IP."""
    got = _ip(d)
    if got is None or got[2] in (1, 58):
        return None  # ICMP: its own window, every protocol around it
    src, dst, p, ports = got
    a, b = str(ipaddress.ip_address(src)), str(ipaddress.ip_address(dst))
    if ports:
        return Ends("tcp" if p == 6 else "udp", a, b, *ports)
    return Ends(f"ip proto {p}", a, b)


def _matcher(e: Ends, linktype: int) -> Callable[[bytes], bool] | None:
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


def _slice(pcap: Path, since: float, until: float, work: Path, only: Ends | None = None
           ) -> tuple[Path, list[int] | None]:
    """The capture's records timed in [since, until] (and of the connection ``only``) in a classic
    pcap of their own, and the capture's frame number of each. A capture that is not a classic
    pcap is given whole, its frames numbered as they are (None)."""
    with _mapped(pcap) as (ix, mm):
        if ix is None:
            return pcap, None
        keep = _matcher(only, ix.linktype) if only else None
        first, stop = ix.span(since, until)
        out, numbers = [ix.head], []
        for i, off, t, incl in ix.records(mm, first, stop):
            if since <= t <= until and (keep is None or keep(mm[off + 16:off + 16 + min(incl, 128)])):
                out.append(mm[off:off + 16 + incl])
                numbers.append(i + 1)
    path = work / "slice.pcap"
    path.write_bytes(b"".join(out))
    return path, numbers


def _tshark_error(err: str, code) -> RangeError:
    msg = [ln for ln in (err or "").splitlines() if ln.strip() and "Running as user" not in ln]
    return RangeError(f"tshark could not read the capture: {msg[-1] if msg else code}")


def list_packets(pcap: Path, display_filter: str, since: float, until: float, limit: int = MAX_PACKETS,
                 only: Ends | None = None) -> dict:
    """Frames matching the filter in [since, until] (until is at most the session clock). ``only``,
    the connection the filter names, lets the records of other connections be left out before
    tshark reads them."""
    if not pcap.exists() or until < since:
        return {"packets": [], "truncated": False}
    readable(pcap)
    _warm()
    work = Path(tempfile.mkdtemp(prefix="cyberrange-packets-"))
    try:
        part, numbers = _slice(pcap, since, until, work, only)
        if numbers == []:
            return {"packets": [], "truncated": False}
        flt = f"({display_filter}) && frame.time_epoch >= {since:.6f} && frame.time_epoch <= {until:.6f}"
        cmd = [require_tool("tshark"), "-n", "-r", str(part), "-Y", flt, "-T", "fields", "-E", "separator=/t"]
        for f in FIELDS:
            cmd += ["-e", f]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace")
        out, truncated = [], False
        try:
            for line in proc.stdout:
                p = line.rstrip("\n").split("\t") + [""] * len(FIELDS)
                if len(out) >= limit:
                    truncated = True
                    break
                n = int(p[0])
                out.append({"frame": numbers[n - 1] if numbers else n, "ts": float(p[1]), "src": p[2], "dst": p[3],
                            "protocol": p[4], "length": int(p[5] or 0), "info": p[6]})
        finally:
            proc.kill()
            _, err = proc.communicate()
        if proc.returncode not in (0, -9) and not out:
            raise _tshark_error(err, proc.returncode)
        return {"packets": out, "truncated": truncated}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def readable(pcap: Path) -> None:
    """A RangeError (the capture is the range's file, not the caller's input) unless ``pcap``
    starts like a capture: a damaged one is reported as such, never as a bad request."""
    try:
        check_pcap(pcap)
    except InputError as e:
        raise RangeError(f"this team's capture cannot be read: {e.message}") from None


WINDOW = 300  # frames of the dissected frame's connection before it: reassembly (TCP, HTTP) has its context
SCAN_BACK = 20_000  # records looked through for them


@dataclass
class _Window:
    """The frames tshark is given to dissect one: the frame (the window's last) after up to WINDOW
    frames of its connection (or, for another frame, the WINDOW frames before it)."""
    path: Path
    numbers: list[int]  # each window frame's number in the capture
    raw: bytes | None  # the frame's bytes
    times: dict[str, str] = field(default_factory=dict)  # frame.time_* as Wireshark shows them on the capture


def _seconds(ns: int) -> str:
    return ("-" if ns < 0 else "") + f"{abs(ns) // 10**9}.{abs(ns) % 10**9:09d}"


def _window(pcap: Path, number: int, until: float, work: Path) -> _Window | None:
    """The window of frame ``number`` in a small file of its own; None when the capture has no such
    frame or it is later than ``until``. A classic pcap is copied through its index, any other
    capture by editcap (the WINDOW frames before the frame)."""
    out = work / "window.pcap"
    with _mapped(pcap) as (ix, mm):
        if ix is not None:
            if number > ix.count:
                return None
            _i, off, t, incl = next(ix.records(mm, number - 1, number))
            if t > until:
                return None
            raw = bytes(mm[off + 16:off + 16 + incl])
            conv = _ends_of(raw) if ix.linktype == 1 else None
            keep = _matcher(conv, ix.linktype) if conv else None
            if keep is None:
                picked = [(i, o, n) for i, o, _t, n in ix.records(mm, max(0, number - 1 - WINDOW), number - 1)]
            else:
                picked = deque(maxlen=WINDOW)
                for i, o, _t, n in ix.records(mm, max(0, number - 1 - SCAN_BACK), number - 1):
                    if keep(mm[o + 16:o + 16 + min(n, 128)]):
                        picked.append((i, o, n))
                picked = list(picked)
            picked.append((number - 1, off, incl))
            out.write_bytes(ix.head + b"".join(mm[o:o + 16 + n] for _i, o, n in picked))
            stamp = ix.stamp(mm, off)
            prev = ix.stamp(mm, next(ix.records(mm, number - 2, number - 1))[1]) if number > 1 else stamp
            delta = _seconds(stamp - prev)
            times = {"frame.time_delta": delta, "frame.time_delta_displayed": delta,
                     "frame.time_relative": _seconds(stamp - ix.stamp(mm, ix.starts[0]))}
            return _Window(out, [i + 1 for i, _o, _n in picked], raw, times)
    lo = max(1, number - WINDOW)
    r = subprocess.run([require_tool("editcap", "wireshark-common"), "-F", "pcap", "-r", str(pcap), str(out),
                        f"{lo}-{number}"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RangeError(f"editcap could not read the capture: {r.stderr.strip() or r.returncode}")
    return _Window(out, list(range(lo, number + 1)), _frame_bytes(out, number - lo + 1))


_FRAMENUM: set[str] | None = None  # the fields that hold a frame number (FT_FRAMENUM), from tshark -G fields
_FRAMENUM_LOCK = threading.Lock()


def _framenum_fields(started: subprocess.Popen | None) -> set[str]:
    global _FRAMENUM
    with _FRAMENUM_LOCK:
        if _FRAMENUM is None:
            proc = started or _framenum_query()
            out, _ = proc.communicate()
            _FRAMENUM = {p[2] for p in (ln.split("\t") for ln in out.splitlines())
                         if len(p) > 3 and p[0] == "F" and p[3] == "FT_FRAMENUM"} | {"frame.number"}
        elif started is not None:
            started.kill()
            started.communicate()
        return _FRAMENUM


def _warm() -> None:
    """Ask tshark for its frame-number fields in the background (a drill-down comes before the
    dissection of one of its packets: the first dissection then does not wait for them)."""
    if _FRAMENUM is None and not _FRAMENUM_LOCK.locked():
        threading.Thread(target=_framenum_fields, args=(None,), daemon=True, name="tshark-fields").start()


def _framenum_query() -> subprocess.Popen:
    return subprocess.Popen([require_tool("tshark"), "-G", "fields"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, errors="replace")


class _Renumber(NamedTuple):
    """Frame numbers and times of the window as the capture has them, and the fields left out as
    the window cannot tell them (a stream's index counts the streams before it in the capture)."""
    numbers: list[int]
    fields: set[str]
    times: dict[str, str]
    drop: frozenset[str] = frozenset()


PARTIAL = frozenset({"tcp.stream", "udp.stream"})


def _field(el, fix: _Renumber | None = None) -> dict | None:
    name = el.get("name", "")
    if el.get("hide") == "yes" or (fix and name in fix.drop):
        return None
    show = el.get("show")
    text = el.get("showname") or (f"{name}: {show}" if name and show is not None else show or name)
    if fix and name in fix.times:
        text = re.sub(r"-?\d+\.\d+", fix.times[name], text, count=1)
    elif fix and name in fix.fields and show and show.isdigit() and 1 <= int(show) <= len(fix.numbers):
        text = re.sub(rf"\b{show}\b", str(fix.numbers[int(show) - 1]), text, count=1)
    node = {"name": name, "text": text, "pos": int(el.get("pos") or 0), "size": int(el.get("size") or 0)}
    kids = [k for k in (_field(c, fix) for c in el if c.tag == "field") if k]
    if kids:
        node["children"] = kids
    return node


def _pdml(xml: str, fix: _Renumber | None = None) -> tuple[list[dict], float | None]:
    root = ET.fromstring(xml)
    packet = root.find("packet")
    if packet is None:
        return [], None
    layers, ts = [], None
    for proto in packet.findall("proto"):
        name = proto.get("name", "")
        if name == "geninfo":
            continue
        title = proto.get("showname") or name
        if name == "frame":
            epoch = proto.find("field[@name='frame.time_epoch']")
            ts = float(epoch.get("show")) if epoch is not None else None
            if fix:
                title = re.sub(r"^Frame \d+", f"Frame {fix.numbers[-1]}", title)
        fields = [f for f in (_field(c, fix) for c in proto if c.tag in ("field", "proto")) if f]
        layers.append({"layer": name, "title": title, "pos": int(proto.get("pos") or 0),
                       "size": int(proto.get("size") or 0), "fields": fields})
    return layers, ts


def _frame_bytes(pcap: Path, count: int) -> bytes | None:
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


def dissect(pcap: Path, number: int, until: float) -> dict:
    """Frame ``number``'s dissection as Wireshark shows it: every layer in order with its fields as a
    tree (each with the bytes it covers), and the frame's bytes. Nothing later than ``until``.

    tshark reads the frame's window (:func:`_window`), so the frame numbers it writes (the title,
    "Request In", "Reassembled in"...) and the times relative to other frames are the window's:
    they are written back as the capture has them."""
    if not 1 <= number <= 10_000_000:
        raise InputError("a frame number is between 1 and 10,000,000")
    missing = NotFound(f"frame {number} is not in this team's capture (or not yet: the session clock has not "
                       f"reached it)")
    if not pcap.exists():
        raise missing
    readable(pcap)
    work = Path(tempfile.mkdtemp(prefix="cyberrange-dissect-"))
    try:
        w = _window(pcap, number, until, work)
        if w is None:
            raise missing
        renumber = w.numbers != list(range(1, len(w.numbers) + 1))
        asked = renumber and _FRAMENUM is None and not _FRAMENUM_LOCK.locked()
        fields = _framenum_query() if asked else None  # alongside the dissection
        r = subprocess.run([require_tool("tshark"), "-n", "-r", str(w.path), "-T", "pdml", "-Y",
                            f"frame.number == {len(w.numbers)}"], capture_output=True, text=True)
        fix = (_Renumber(w.numbers, _framenum_fields(fields), w.times, PARTIAL) if renumber
               else _Renumber(w.numbers, {"frame.number"}, w.times))
        if r.returncode != 0 and "<packet>" not in r.stdout:
            raise _tshark_error(r.stderr, r.returncode)
        layers, ts = _pdml(r.stdout, fix)
        if not layers or ts is None or ts > until:
            raise missing
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"frame": number, "ts": ts, "layers": layers, "bytes": w.raw.hex() if w.raw is not None else None}


def _first_stream(pcap: Path, display_filter: str, since: float, until: float) -> int | None:
    """The tcp.stream index of the first frame matching the filter in [since, until]."""
    flt = f"({display_filter}) && frame.time_epoch >= {since:.6f} && frame.time_epoch <= {until:.6f}"
    proc = subprocess.Popen([require_tool("tshark"), "-n", "-l", "-r", str(pcap), "-Y", flt, "-T", "fields",
                             "-e", "tcp.stream"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
    finally:
        proc.kill()
        _, err = proc.communicate()
    if not line and proc.returncode not in (0, -9):
        raise _tshark_error(err, proc.returncode)
    return int(line) if line.isdigit() else None


def _follow_yaml(lines: Iterator[str]) -> Iterator[tuple[str, object]]:
    """tshark's ``-z follow,tcp,yaml`` output as ("peer", (number, host, port)) and
    ("packet", (frame, peer, time, bytes)) items, in the order tshark writes them."""
    item: dict = {}
    kind = None
    data: list[str] = []

    def done():
        if kind == "peer":
            return "peer", (int(item.get("peer", 0)), item.get("host", ""), int(item.get("port", 0) or 0))
        if kind == "packet":
            return "packet", (int(item.get("packet", 0)), int(item.get("peer", 0)), float(item.get("timestamp", 0)),
                              base64.b64decode("".join(data)))
        return None
    for raw in lines:
        line = raw.rstrip("\n")
        if line.startswith("      ") and kind == "packet":
            data.append(line.strip())
            continue
        body = line.strip()
        if body.startswith("- "):
            if (got := done()) is not None:
                yield got
            item, data = {}, []
            key = body[2:].split(":", 1)[0]
            kind = key if key in ("peer", "packet") else None
            body = body[2:]
        if ":" in body and line.startswith("  "):
            key, value = body.split(":", 1)
            value = value.strip()
            if key == "data":
                value = "" if value.startswith("!!binary") else value
                if value and value not in ('""', "''"):
                    data.append(value)
            else:
                item[key] = value.strip('"\'')
    if (got := done()) is not None:
        yield got


def follow(pcap: Path, conn: Ends, since: float, until: float, limit: int = MAX_STREAM) -> dict:
    """The TCP connection ``conn`` as Wireshark's Follow TCP Stream shows it: each side's payload in
    the order it was sent (tshark's own follow: segments reassembled, retransmissions once), as
    chunks ``{from: client|server, frame, ts, hex}``. Only chunks sent in [since, until] (until is
    at most the session clock); at most ``limit`` bytes in all, then ``truncated``."""
    if conn.proto != "tcp":
        raise InputError(f"Follow TCP stream is for TCP connections, not {conn}")
    out = {"client": f"{conn.orig}:{conn.orig_p}", "server": f"{conn.resp}:{conn.resp_p}", "chunks": [],
           "bytes": {"client": 0, "server": 0}, "truncated": False, "limit": limit}
    if not pcap.exists() or until < since:
        return out
    readable(pcap)
    _warm()
    work = Path(tempfile.mkdtemp(prefix="cyberrange-follow-"))
    try:
        part, numbers = _slice(pcap, since, until, work, conn)
        if numbers == []:
            return out
        # the slice holds this connection's records only: its first stream is the connection
        stream = 0 if numbers is not None else _first_stream(part, conn.filter(), since, until)
        if stream is None:
            return out
        proc = subprocess.Popen([require_tool("tshark"), "-n", "-r", str(part), "-q", "-z",
                                 f"follow,tcp,yaml,{stream}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, errors="replace")
        side: dict[int, str] = {}
        client = (ipaddress.ip_address(conn.orig), conn.orig_p)
        total = 0
        try:
            for kind, v in _follow_yaml(proc.stdout):
                if kind == "peer":
                    n, host, port = v
                    try:
                        side[n] = "client" if (ipaddress.ip_address(host), port) == client else "server"
                    except ValueError:
                        side[n] = "client" if n == 0 else "server"
                    continue
                frame, peer, ts, data = v
                if not since <= ts <= until or not data:
                    continue
                if total + len(data) > limit:
                    data = data[:limit - total]
                    out["truncated"] = True
                who = side.get(peer, "client" if peer == 0 else "server")
                if data:
                    out["chunks"].append({"from": who, "frame": numbers[frame - 1] if numbers else frame, "ts": ts,
                                          "hex": data.hex()})
                    out["bytes"][who] += len(data)
                    total += len(data)
                if out["truncated"]:
                    break
        finally:
            proc.kill()
            _, err = proc.communicate()
        if proc.returncode not in (0, -9) and not out["chunks"]:
            raise _tshark_error(err, proc.returncode)
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def check_bpf(bpf: str) -> str:
    if len(bpf) > MAX_BPF:
        raise InputError(f"the BPF filter is longer than {MAX_BPF} characters")
    if any(ord(c) < 32 and c not in "\t" for c in bpf):
        raise InputError("the BPF filter holds control characters")
    return bpf.strip()


def cut(pcap: Path, since: float, until: float, bpf: str = "") -> Iterator[bytes]:
    """A pcap of [since, until] matching a BPF filter, as chunks (checked before the first chunk).

    ``editcap -A/-B`` cuts the time range; ``tcpdump -r/-w`` applies the BPF, read from a file
    (``-F``) so a filter can never be taken for an option.
    """
    bpf = check_bpf(bpf)
    if until < since:
        raise InputError("the time range ends before it begins")
    if not pcap.exists():
        raise RangeError("this team has no capture yet")
    readable(pcap)
    work = Path(tempfile.mkdtemp(prefix="cyberrange-pcap-"))
    try:
        part = work / "range.pcap"
        r = subprocess.run([require_tool("editcap", "wireshark-common"), "-F", "pcap", "-A", f"{since:.6f}",
                            "-B", f"{until:.6f}", str(pcap), str(part)], capture_output=True, text=True)
        if r.returncode != 0:
            raise RangeError(f"editcap could not cut the capture: {r.stderr.strip() or r.returncode}")
        if bpf:
            (work / "filter.bpf").write_text(bpf + "\n")
            out = work / "filtered.pcap"
            cmd = [require_tool("tcpdump"), "-n", "-r", str(part), "-w", str(out), "-F", str(work / "filter.bpf")]
            if os.geteuid() == 0:
                cmd[1:1] = ["-Z", "root"]  # stay root: the work directory is private
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                msg = [ln for ln in r.stderr.splitlines() if ln.startswith("tcpdump:")]
                raise InputError(f"BPF filter {bpf!r}: {(msg[-1] if msg else r.stderr.strip())[9:].strip()}")
            part = out
        f = open(part, "rb")
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise

    def chunks() -> Iterator[bytes]:
        try:
            while True:
                b = f.read(1 << 16)
                if not b:
                    return
                yield b
        finally:
            f.close()
            shutil.rmtree(work, ignore_errors=True)
    return chunks()
