"""Packets from a team's capture for the drill-down and the pcap download, never past the clock.

An offline session's ``capture.pcap`` was synthesised whole when the session was prepared: it
holds the future. Every function here takes the session clock (``until``, epoch seconds) and
returns nothing later: packet lists filter on ``frame.time_epoch``, a packet's dissection is
refused when the packet is later, a followed stream stops at the clock, and downloads are cut
with ``editcap -B``.

tshark dissects every packet it reads (about 50 µs each, after a start of 0.2-0.3 s), so it is
never given the whole capture: the records of the time range (and of the connection, when there
is one) are copied into a small classic pcap first, found through an index of the capture's
records kept per file (:mod:`.pcapindex`; records are copied, never dissected, in Python), and
the frame numbers tshark reports are mapped back to the capture's own.
"""
from __future__ import annotations

import base64
import ipaddress
import os
import re
import shutil
import subprocess
import tempfile
import threading
import xml.etree.ElementTree as ET
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, NamedTuple

from range.core import InputError, NotFound, RangeError, require_tool
from range.events import pcapindex
from range.events.pcapindex import Ends
from range.events.store import HOST_TABLES
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


def ends(ev: dict) -> Ends | None:
    """The connection of an event (None for ARP, which has no IP connection); an InputError for a
    host record, which is what a node logged, not packets."""
    table, row, conn = ev["table"], ev["row"], ev["conn"]
    if table in HOST_TABLES:
        raise InputError(f"this {table} event is a host record (what node {row.get('host') or '?'} logged), not "
                         "network traffic: it has no connection and no packets in the capture")
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


def _tshark_error(err: str, code) -> RangeError:
    msg = [ln for ln in (err or "").splitlines() if ln.strip() and "Running as user" not in ln]
    return RangeError(f"tshark could not read the capture: {msg[-1] if msg else code}")


@contextmanager
def _sliced(pcap: Path, since: float, until: float, only, prefix: str):
    """The capture's records in [since, until] (of the connection ``only``) in a pcap of their own in a
    work folder removed afterwards: (its path, the capture's frame numbers; None when given whole)."""
    readable(pcap)
    _warm()
    work = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield pcapindex.slice_records(pcap, since, until, work, only)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def list_packets(pcap: Path, display_filter: str, since: float, until: float, limit: int = MAX_PACKETS,
                 only: Ends | None = None) -> dict:
    """Frames matching the filter in [since, until] (until is at most the session clock). ``only``,
    the connection the filter names, lets the records of other connections be left out before
    tshark reads them."""
    if not pcap.exists() or until < since:
        return {"packets": [], "truncated": False}
    with _sliced(pcap, since, until, only, "cyberrange-packets-") as (part, numbers):
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
    with pcapindex.mapped(pcap) as (ix, mm):
        if ix is not None:
            if number > ix.count:
                return None
            _i, off, t, incl = next(ix.records(mm, number - 1, number))
            if t > until:
                return None
            raw = bytes(mm[off + 16:off + 16 + incl])
            conv = pcapindex.ends_of(raw) if ix.linktype == 1 else None
            keep = pcapindex.matcher(conv, ix.linktype) if conv else None
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
    return _Window(out, list(range(lo, number + 1)), pcapindex.frame_bytes(out, number - lo + 1))


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
    with _sliced(pcap, since, until, conn, "cyberrange-follow-") as (part, numbers):
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
