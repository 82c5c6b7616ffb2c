"""The kernel's audit records, read as they are written: the live range's source of process,
file and connection events on its nodes.

The kernel's audit subsystem logs, for the syscalls its rules name, the calling process (pid,
parent, uids, executable, terminal), the arguments of every ``execve`` as the kernel copied them
(so a command that ran for a millisecond is never missed), its directory and the paths and
addresses it touched. Debian's ``auditctl`` (package auditd) loads the rules (:func:`install`);
this module reads the records from the audit netlink socket's read-only multicast group
(``AUDIT_NLGRP_READLOG``, kernel 3.16 and later), beside a host's own ``auditd`` if it runs one,
without taking its place. The rules carry the key :data:`KEY`, so that :func:`remove` takes
away the range's rules alone; each reader holds them through :func:`acquire` and :func:`release`,
and they go with the last.

Records of one event share a serial and end with an ``EOE`` record (:class:`Events`). Values are
as auditd prints them: quoted text, or hexadecimal when the text holds a space, a quote or a
byte outside printable ASCII (:func:`fields`).
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import struct
import subprocess
import uuid
from pathlib import Path
from typing import Iterator

from range.core import ToolMissing

KEY = "cyberrange"
NETLINK_AUDIT, READLOG_GROUP = 9, 1
EOE = 1320
TYPES = {1300: "SYSCALL", 1302: "PATH", 1306: "SOCKADDR", 1307: "CWD", 1309: "EXECVE", 1327: "PROCTITLE"}
SYSCALLS = {"59": "execve", "322": "execveat", "42": "connect", "257": "openat", "85": "creat", "2": "open"}
O_CREAT = 0o100
# what the range asks the kernel to log (x86-64): every program started, every connection opened,
# every file created (openat/creat with O_CREAT): what Sigma's linux process_creation,
# network_connection and file_event rules and most of its auditd rules read
RULES = [
    ["-a", "always,exit", "-F", "arch=b64", "-S", "execve,execveat", "-F", "success=1"],
    ["-a", "always,exit", "-F", "arch=b64", "-S", "connect", "-F", "saddr_fam=2"],   # IPv4 (not local sockets)
    ["-a", "always,exit", "-F", "arch=b64", "-S", "connect", "-F", "saddr_fam=10"],  # IPv6
    ["-a", "always,exit", "-F", "arch=b64", "-S", "openat", "-F", f"a2&{O_CREAT}", "-F", "success=1"],
    ["-a", "always,exit", "-F", "arch=b64", "-S", "creat", "-F", "success=1"],
]
BACKLOG = 16384   # records the kernel queues for readers before it counts them lost
_HEAD = re.compile(r"audit\((\d+)\.(\d+):(\d+)\):\s?")
_FIELD = re.compile(r'([A-Za-z0-9_\[\]]+)=("[^"]*"|\S*)')
_HEX = re.compile(r"^(?:[0-9A-F]{2})+$")
TEXT_FIELDS = {"comm", "exe", "cwd", "name", "proctitle", "key"}


def auditctl() -> str:
    path = shutil.which("auditctl") or ("/usr/sbin/auditctl" if os.path.exists("/usr/sbin/auditctl") else None)
    if path is None:
        raise ToolMissing("auditctl is not installed: the live range's host sensor needs Debian's auditd package "
                          "(scripts/bootstrap installs it)")
    return path


def _ctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([auditctl(), *args], capture_output=True, text=True)


def install() -> None:
    """Load the range's rules (a rule already there stays) and switch auditing on."""
    _ctl("-b", str(BACKLOG), "--backlog_wait_time", "0")   # never make a node's process wait for a reader
    for rule in RULES:
        r = _ctl(*rule, "-k", KEY)
        if r.returncode != 0 and "exists" not in r.stderr:
            raise OSError(f"auditctl {' '.join(rule)}: {r.stderr.strip() or r.returncode} (is this process root?)")
    r = _ctl("-e", "1")
    if r.returncode != 0:
        raise OSError(f"auditctl -e 1: {r.stderr.strip() or r.returncode} (is this process root?)")


def remove() -> None:
    """Take the range's rules away (a host's other rules stay)."""
    _ctl("-D", "-k", KEY)


READERS = Path("/run/cyberrange/audit-readers")   # the rules are the machine's: so is the list of their readers


def _readers() -> Path:
    """(Not under the range's state folder: sessions with state folders of their own share one kernel.)"""
    READERS.mkdir(parents=True, exist_ok=True)
    return READERS


def acquire() -> Path:
    """Load the rules for one more reader (a host sensor); its token says so while its process lives."""
    token = _readers() / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    token.touch()
    try:
        install()
    except BaseException:
        token.unlink(missing_ok=True)
        raise
    return token


def release(token: Path) -> None:
    """One reader less: the rules go when no reader still running holds a token (a session's
    sensor ending never takes them from another session's, nor from a sensor in the same process)."""
    token.unlink(missing_ok=True)
    alive = [t for t in _readers().glob("*-*") if Path(f"/proc/{t.name.split('-', 1)[0]}").exists()]
    if not alive:
        remove()


def open_reader() -> socket.socket:
    """A socket that receives every audit record from now on (read-only; needs CAP_AUDIT_READ)."""
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((0, READLOG_GROUP))
    return s


def messages(sock: socket.socket, timeout: float) -> Iterator[tuple[int, str]]:
    """``(type, text)`` of the records waiting now, then until ``timeout`` seconds pass with none
    (``0``: only those waiting now)."""
    sock.settimeout(timeout)
    while True:
        try:
            data = sock.recv(1 << 16)
        except (socket.timeout, BlockingIOError):
            return
        except OSError as e:   # ENOBUFS: the kernel dropped records this socket had no room for
            yield -1, str(e)
            continue
        off = 0
        while off + 16 <= len(data):
            length, typ = struct.unpack_from("=IH", data, off)
            yield typ, data[off + 16: off + max(length, 16)].rstrip(b"\0").decode("utf-8", "replace")
            off += (length + 3) & ~3 or len(data)


def _decode(key: str, raw: str) -> str:
    if raw.startswith('"'):
        return raw[1:-1]
    if (key in TEXT_FIELDS or key[:1] == "a" and key[1:2].isdigit()) and _HEX.match(raw):
        return bytes.fromhex(raw).decode("utf-8", "surrogateescape").replace("\0", " ").rstrip(" ")
    return raw


def fields(text: str) -> tuple[float, int, dict[str, str]]:
    """``(time, serial, fields)`` of one record's text (``audit(1796691411.070:17): pid=...``)."""
    m = _HEAD.match(text)
    if not m:
        raise ValueError(f"not an audit record: {text[:80]!r}")
    out: dict[str, str] = {}
    for k, v in _FIELD.findall(text, m.end()):
        if "[" in k:   # a long argument in pieces: a1[0]=... a1[1]=...
            base = k[:k.index("[")]
            out[base] = out.get(base, "") + _decode(base, v)
        elif not k.endswith("_len"):
            out[k] = _decode(k, v)
    return int(m.group(1)) + int(m.group(2)) / 1000, int(m.group(3)), out


def sockaddr(saddr: str) -> tuple[str, int] | None:
    """The IPv4/IPv6 address and port of a SOCKADDR record's ``saddr`` (hex); None for others."""
    try:
        b = bytes.fromhex(saddr)
    except ValueError:
        return None
    family = int.from_bytes(b[:2], "little") if len(b) >= 2 else 0
    if family == socket.AF_INET and len(b) >= 8:
        return socket.inet_ntop(socket.AF_INET, b[4:8]), int.from_bytes(b[2:4], "big")
    if family == socket.AF_INET6 and len(b) >= 24:
        return socket.inet_ntop(socket.AF_INET6, b[8:24]), int.from_bytes(b[2:4], "big")
    return None


class Events:
    """Records grouped into events by serial, each handed on when its ``EOE`` arrives (or, for a
    record that has none, when :data:`MAX_OPEN` later events pushed it out)."""
    MAX_OPEN = 256

    def __init__(self):
        self.open: dict[int, tuple[float, int, list[tuple[str, dict]]]] = {}
        self.unparsed = 0

    def feed(self, typ: int, text: str) -> list[tuple[float, int, list[tuple[str, dict]]]]:
        """The events this record completes: ``(time, serial, [(type, fields), ...])``."""
        if typ == EOE or typ in TYPES:
            try:
                ts, serial, f = fields(text)
            except ValueError:
                self.unparsed += 1
                return []
            if typ == EOE:
                done = self.open.pop(serial, None)
                return [done] if done else []
            self.open.setdefault(serial, (ts, serial, []))[2].append((TYPES[typ], f))
        if len(self.open) > self.MAX_OPEN:
            return [self.open.pop(next(iter(self.open)))]
        return []
