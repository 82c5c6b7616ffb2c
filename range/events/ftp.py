"""ftp: one record per command with its final reply, and the user and password seen so far.

Commands are the client's lines, replies the server's (``ddd text``, or a ``ddd-`` block closed
by ``ddd text``); a 1xx reply is preliminary, so the command waits for the next one.
"""
from __future__ import annotations

import re

from range.events.analyzer import BODY_KEEP, Analyzer, text

CLIENT_SIG = re.compile(rb"(|.*[\n\r]) *[uU][sS][eE][rR] ", re.S)
SERVER_SIG = re.compile(rb"[\n\r ]*(120|220)[^0-9].*[\n\r] *(230|331)[^0-9]", re.S)
REPLY = re.compile(rb"(\d\d\d)([ -]?)(.*)", re.S)
HOST_PORT = re.compile(rb"(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)")
EPSV = re.compile(rb"\((.)\1\1(\d+)\1\)")
DATA_WAIT = 300.0  # how long an announced data connection is expected (Zeek: 5 min)
MAX_LINE = 8192


class Ftp(Analyzer):
    service = "ftp"
    tcp_ports = frozenset({21, 2811})
    dpd = True
    both_sides = True

    @staticmethod
    def signature(is_orig: bool, head: bytes) -> bool:
        return bool((CLIENT_SIG if is_orig else SERVER_SIG).match(head))

    def __init__(self, conn, emit):
        super().__init__(conn, emit)
        self.buf = [b"", b""]
        self.user = self.password = None
        self.pending: list = []   # (ts, command, arg)
        self.block: bytes | None = None  # the code of a multi-line reply being read

    def flipped(self) -> None:
        self.buf.reverse()

    def gap(self, is_orig: bool, n: int) -> None:
        self.buf[0 if is_orig else 1] = b""

    def data(self, is_orig: bool, t: float, data: bytes) -> None:
        d = 0 if is_orig else 1
        buf = self.buf[d] + data
        *lines, rest = re.split(rb"\r?\n", buf)
        self.buf[d] = rest[-MAX_LINE:]
        for line in lines:
            if is_orig:
                self._command(line, t)
            else:
                self._reply(line)

    def _command(self, line: bytes, t: float) -> None:
        line = line.strip()
        if not line:
            return
        cmd, _, arg = line.partition(b" ")
        cmd_s = text(cmd).upper()
        arg_s = text(arg)[:BODY_KEEP] if arg else None
        if cmd_s == "USER":
            self.user = arg_s
        elif cmd_s == "PASS":
            self.password = arg_s
        elif cmd_s == "PORT":  # active mode: the server connects to the address given
            m = HOST_PORT.search(arg)
            if m:
                self._expect(self.conn.resp_h, m, t)
        elif cmd_s == "EPRT":
            parts = arg.split(arg[:1]) if arg else []
            if len(parts) >= 4 and parts[3].isdigit():
                self.conn.tracker.expect(self.conn.resp_h, text(parts[2]), int(parts[3]), "ftp-data", t + DATA_WAIT)
        self.pending.append((t, cmd_s, arg_s))

    def _reply(self, line: bytes) -> None:
        m = REPLY.match(line)
        if self.block is not None:
            if m and m.group(1) == self.block and m.group(2) == b" ":
                self.block = None
                self._final(int(m.group(1)), text(m.group(3)))
            return
        if not m:
            self.violation()
            return
        self.confirm()
        if m.group(2) == b"-":
            self.block = m.group(1)
            return
        self._passive(int(m.group(1)), m.group(3))
        self._final(int(m.group(1)), text(m.group(3)))

    def _expect(self, orig: str, m, t: float) -> None:
        g = [int(x) for x in m.groups()]
        host = ".".join(str(x) for x in g[:4])
        self.conn.tracker.expect(orig, host, g[4] * 256 + g[5], "ftp-data", t + DATA_WAIT)

    def _passive(self, code: int, line: bytes) -> None:
        """227/229: the client will connect to the address the server gave."""
        c = self.conn
        if code == 227:
            m = HOST_PORT.search(line)
            if m:
                self._expect(c.orig_h, m, c.last)
        elif code == 229:
            m = EPSV.search(line)
            if m:
                c.tracker.expect(c.orig_h, c.resp_h, int(m.group(2)), "ftp-data", c.last + DATA_WAIT)

    def _final(self, code: int, msg: str) -> None:
        if code < 200 or not self.pending:
            return
        cts, cmd, arg = self.pending.pop(0)
        rec = self.conn.ident()
        rec.update({"ts": cts, "user": self.user, "password": self.password, "command": cmd, "arg": arg,
                    "reply_code": code, "reply_msg": msg.strip() or None})
        self.emit("ftp", rec)

    def done(self) -> None:
        for cts, cmd, arg in self.pending:
            rec = self.conn.ident()
            rec.update({"ts": cts, "user": self.user, "password": self.password, "command": cmd, "arg": arg})
            self.emit("ftp", rec)
        self.pending = []
