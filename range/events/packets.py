"""Packets from a team's capture for the drill-down and the pcap download, never past the clock.

An offline session's ``capture.pcap`` was synthesised whole when the session was prepared: it
holds the future. Every function here takes the session clock (``until``, epoch seconds) and
returns nothing later: packet lists filter on ``frame.time_epoch``, a packet's dissection is
refused when the packet is later, and downloads are cut with ``editcap -B``.
"""
from __future__ import annotations

import ipaddress
import os
import shutil
import struct
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterator

from range.core import InputError, NotFound, RangeError, require_tool
from range.traffic import check_pcap

MAX_PACKETS = 1000
MAX_BPF = 500
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


def conversation(ev: dict) -> tuple[str, float, float]:
    """A tshark display filter naming the event's connection, and its time window."""
    table, row, conn = ev["table"], ev["row"], ev["conn"]
    if table == "arp":
        f = f"arp && arp.src.proto_ipv4 == {_addr(row['id.orig_h'])}"
        if row.get("id.resp_h"):
            f += f" && arp.dst.proto_ipv4 == {_addr(row['id.resp_h'])}"
        return f, row["ts"] - 1, row["ts"] + 1
    base = conn or row
    src, dst = _addr(base["id.orig_h"]), _addr(base["id.resp_h"])
    ip = "ipv6" if ":" in src else "ip"
    proto = (base.get("proto") or TABLE_PROTO.get(table) or "tcp").lower()
    if proto == "icmp":
        f = f"icmp && {ip}.addr == {src} && {ip}.addr == {dst}"
    elif proto in ("tcp", "udp"):
        sp, dp = _port(base["id.orig_p"]), _port(base["id.resp_p"])
        fwd = f"{ip}.src == {src} && {proto}.srcport == {sp} && {ip}.dst == {dst} && {proto}.dstport == {dp}"
        rev = f"{ip}.src == {dst} && {proto}.srcport == {dp} && {ip}.dst == {src} && {proto}.dstport == {sp}"
        f = f"{proto} && (({fwd}) || ({rev}))"
    else:
        f = f"{ip}.addr == {src} && {ip}.addr == {dst}"
    if conn:
        return f, conn["ts"] - 1, conn["ts"] + (conn.get("duration") or 0) + 1
    return f, row["ts"] - 1, row["ts"] + 300  # the connection record has not arrived yet


def list_packets(pcap: Path, display_filter: str, since: float, until: float, limit: int = MAX_PACKETS) -> dict:
    """Frames matching the filter in [since, until] (until is at most the session clock)."""
    if not pcap.exists() or until < since:
        return {"packets": [], "truncated": False}
    readable(pcap)
    flt = f"({display_filter}) && frame.time_epoch >= {since:.6f} && frame.time_epoch <= {until:.6f}"
    cmd = [require_tool("tshark"), "-n", "-r", str(pcap), "-Y", flt, "-T", "fields", "-E", "separator=/t"]
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
            out.append({"frame": int(p[0]), "ts": float(p[1]), "src": p[2], "dst": p[3], "protocol": p[4],
                        "length": int(p[5] or 0), "info": p[6]})
    finally:
        proc.kill()
        _, err = proc.communicate()
    if proc.returncode not in (0, -9) and not out:
        msg = [ln for ln in (err or "").splitlines() if ln.strip() and "Running as user" not in ln]
        raise RangeError(f"tshark could not read the capture: {msg[-1] if msg else proc.returncode}")
    return {"packets": out, "truncated": truncated}


def readable(pcap: Path) -> None:
    """A RangeError (the capture is the range's file, not the caller's input) unless ``pcap``
    starts like a capture: a damaged one is reported as such, never as a bad request."""
    try:
        check_pcap(pcap)
    except InputError as e:
        raise RangeError(f"this team's capture cannot be read: {e.message}") from None


WINDOW = 300  # frames before the one dissected, kept so that reassembly (TCP, HTTP) has its context


def _window(pcap: Path, number: int, work: Path) -> tuple[Path, int]:
    """Frames ``number - WINDOW`` .. ``number`` of the capture in a small file of their own (editcap
    copies records without dissecting them), and the frame's number in it."""
    lo = max(1, number - WINDOW)
    out = work / "window.pcap"
    r = subprocess.run([require_tool("editcap", "wireshark-common"), "-F", "pcap", "-r", str(pcap), str(out),
                        f"{lo}-{number}"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RangeError(f"editcap could not read the capture: {r.stderr.strip() or r.returncode}")
    return out, number - lo + 1


def _field(el) -> dict | None:
    if el.get("hide") == "yes":
        return None
    name = el.get("name", "")
    text = el.get("showname") or (f"{name}: {el.get('show')}" if name and el.get("show") is not None
                                   else el.get("show") or name)
    node = {"name": name, "text": text, "pos": int(el.get("pos") or 0), "size": int(el.get("size") or 0)}
    kids = [k for k in (_field(c) for c in el if c.tag == "field") if k]
    if kids:
        node["children"] = kids
    return node


def _pdml(xml: str) -> tuple[list[dict], float | None]:
    root = ET.fromstring(xml)
    packet = root.find("packet")
    if packet is None:
        return [], None
    layers, ts = [], None
    for proto in packet.findall("proto"):
        name = proto.get("name", "")
        if name == "geninfo":
            continue
        if name == "frame":
            epoch = proto.find("field[@name='frame.time_epoch']")
            ts = float(epoch.get("show")) if epoch is not None else None
        fields = [f for f in (_field(c) for c in proto if c.tag in ("field", "proto")) if f]
        layers.append({"layer": name, "title": proto.get("showname") or name, "pos": int(proto.get("pos") or 0),
                       "size": int(proto.get("size") or 0), "fields": fields})
    return layers, ts


def _frame_bytes(pcap: Path, count: int) -> bytes | None:
    """The raw bytes of record ``count`` of a classic pcap file (the window editcap wrote)."""
    with open(pcap, "rb") as f:
        head = f.read(24)
        if len(head) < 24 or head[:4] not in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1",
                                               b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
            return None
        order = "<" if head[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
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
    tree (each with the bytes it covers), and the frame's bytes. Nothing later than ``until``."""
    if not 1 <= number <= 10_000_000:
        raise InputError("a frame number is between 1 and 10,000,000")
    missing = NotFound(f"frame {number} is not in this team's capture (or not yet: the session clock has not "
                       f"reached it)")
    if not pcap.exists():
        raise missing
    readable(pcap)
    work = Path(tempfile.mkdtemp(prefix="cyberrange-dissect-"))
    try:
        window, k = _window(pcap, number, work)
        r = subprocess.run([require_tool("tshark"), "-n", "-r", str(window), "-T", "pdml", "-Y",
                            f"frame.number == {k}"], capture_output=True, text=True)
        if r.returncode != 0 and "<packet>" not in r.stdout:
            err = [ln for ln in r.stderr.splitlines() if ln.strip() and "Running as user" not in ln]
            raise RangeError(f"tshark could not read the capture: {err[-1] if err else r.returncode}")
        layers, ts = _pdml(r.stdout)
        if not layers or ts is None or ts > until:
            raise missing
        raw = _frame_bytes(window, k)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"frame": number, "ts": ts, "layers": layers, "bytes": raw.hex() if raw is not None else None}


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
