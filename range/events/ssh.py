"""ssh: one record per session, with both banners, the negotiated algorithms and the
authentication outcome as far as it is visible in encrypted traffic (Zeek's inference from the
sizes of the server's first encrypted packets).

Each direction is read as SSH reads it: the version banner, then cleartext binary packets
(KEXINIT names the algorithms) up to NEWKEYS, after which it is encrypted. The service is
confirmed at NEWKEYS, as Zeek's SSH analyzer does: banners alone do not make a connection ssh.
"""
from __future__ import annotations

import re
import struct

from range.events.analyzer import Analyzer, text

SIG = re.compile(rb"[sS][sS][hH]-[12]\.")
MAX_BANNER = 255 * 4
MSG_KEXINIT, MSG_NEWKEYS = 20, 21
SSH1_SESSION_KEY = 3  # SSH_CMSG_SESSION_KEY: from here on SSH-1 is encrypted
_KEX_LISTS = ("kex_alg", "host_key_alg", "cipher_alg", None, "mac_alg", None, "compression_alg", None)


class _Side:
    __slots__ = ("buf", "banner", "kex", "encrypted", "done")

    def __init__(self):
        self.buf = b""
        self.banner: str | None = None
        self.kex: dict | None = None
        self.encrypted = False
        self.done = False


class Ssh(Analyzer):
    service = "ssh"
    tcp_ports = frozenset({22})
    dpd = True
    both_sides = True

    @staticmethod
    def signature(is_orig: bool, head: bytes) -> bool:
        return bool(SIG.match(head))

    def __init__(self, conn, emit):
        super().__init__(conn, emit)
        self.sides = [_Side(), _Side()]
        self.auth = {"accept": None, "failure": None, "attempts": 0, "success": None}
        self.seen = False

    def flipped(self) -> None:
        self.sides.reverse()

    def closed(self) -> None:
        """Closed or reset: nothing can change the line any more, so it leaves now rather than
        when the connection is removed (5 s later, Zeek's close delay): the same line, sooner."""
        self.done()

    def gap(self, is_orig: bool, n: int) -> None:
        self.sides[0 if is_orig else 1].done = True

    def data(self, is_orig: bool, t: float, data: bytes) -> None:
        s = self.sides[0 if is_orig else 1]
        if s.done:
            return
        if s.encrypted:
            if not is_orig and self.sides[0].encrypted:
                auth(self.auth, len(data))
            return
        s.buf += data
        if s.banner is None and not self._banner(s):
            return
        self._packets(s)

    def _banner(self, s: _Side) -> bool:
        while True:
            nl = s.buf.find(b"\n")
            if nl < 0:
                if len(s.buf) > MAX_BANNER:
                    s.done = True
                    self.violation()
                return False
            line, s.buf = s.buf[:nl].rstrip(b"\r"), s.buf[nl + 1:]
            if line.startswith(b"SSH-"):
                s.banner = text(line).strip()
                self.seen = True
                return True

    def _v1(self) -> bool:
        client = self.sides[0].banner or ""
        return client.startswith("SSH-1.") and not client.startswith("SSH-1.99")

    def _packets(self, s: _Side) -> None:
        while len(s.buf) >= 6 and not s.encrypted:
            if self._v1():
                if not self._packet_v1(s):
                    return
                continue
            plen, pad = struct.unpack("!IB", s.buf[:5])
            if plen > 35000 or plen < pad + 1:
                s.done = True
                self.violation()
                return
            if len(s.buf) < 4 + plen:
                return
            payload = s.buf[5:4 + plen - pad]
            s.buf = s.buf[4 + plen:]
            code = payload[0] if payload else None
            if code == MSG_KEXINIT:
                s.kex = _kexinit(payload)
            elif code == MSG_NEWKEYS:
                s.encrypted = True
                s.buf = b""
                self.confirm()

    def _packet_v1(self, s: _Side) -> bool:
        """One SSH-1 packet (length, 8-byte aligned padding, type); False if it is not all here."""
        plen = struct.unpack("!I", s.buf[:4])[0]
        if plen > 262144:
            s.done = True
            self.violation()
            return False
        pad = 8 - plen % 8
        if len(s.buf) < 4 + pad + plen:
            return False
        code = s.buf[4 + pad]
        s.buf = s.buf[4 + pad + plen:]
        if code == SSH1_SESSION_KEY and s is self.sides[0]:
            for side in self.sides:
                side.encrypted = True
                side.buf = b""
            self.confirm()
        return True

    def done(self) -> None:
        if self.seen:
            self.emit("ssh", self._record())
            self.seen = False

    def _record(self) -> dict:
        rec = self.conn.ident()
        client, server = self.sides[0].banner, self.sides[1].banner
        rec.update({"version": 1 if self._v1() else 2 if client or server else None,
                    "client": client, "server": server, "direction": None})
        ck, sk = self.sides[0].kex, self.sides[1].kex
        if ck and sk:
            for name in ck:
                offered = set(sk[name])
                rec[name] = next((a for a in ck[name] if a in offered), None)
        a = self.auth
        if a["success"]:
            rec["auth_success"] = 1
        elif a["attempts"]:
            rec["auth_success"] = 0
        rec["auth_attempts"] = a["attempts"]
        return rec


def _kexinit(payload: bytes) -> dict | None:
    off = 17  # the message code and a 16-byte cookie
    out = {}
    for name in _KEX_LISTS:
        if off + 4 > len(payload):
            return None
        n = struct.unpack("!I", payload[off:off + 4])[0]
        value = payload[off + 4:off + 4 + n]
        off += 4 + n
        if name:
            out[name] = text(value).split(",")
    return out


def auth(a: dict, size: int) -> None:
    """Zeek's inference of the authentication outcome from the sizes of the server's first
    encrypted packets (its SSH analyzer's ``ProcessEncrypted``): the first is
    ``SERVICE_ACCEPT``; ``USERAUTH_SUCCESS`` (one byte of payload) is 16 bytes shorter than it
    under every cipher OpenSSH offers; the first packet a little longer is the ``USERAUTH_FAILURE``
    that answers the ``none`` probe, and each later packet of that very size is a refused
    attempt. Packets of other sizes (``PK_OK``, a pre-auth banner) decide nothing."""
    if a["success"]:
        return
    if a["accept"] is None:
        a["accept"] = size
    elif a["failure"] is None:
        if size + 16 == a["accept"]:  # "none" accepted
            a["success"] = True
        elif a["accept"] < size + 16 and size < a["accept"] + 256:
            a["failure"] = size
    elif size == a["failure"]:
        a["attempts"] += 1
    elif size + 16 == a["accept"]:
        a["attempts"] += 1
        a["success"] = True
