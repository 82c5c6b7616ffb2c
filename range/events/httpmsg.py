"""HTTP/1.x messages read from one direction of a stream, as Zeek's HTTP analyzer reads them.

:class:`Reader` splits one direction into start lines, header blocks and bodies (by
Content-Length, chunked transfer coding, or until the connection closes), measuring each body as
Zeek does (after dechunking and decompression; a gap counts as bytes of the body). It calls
back ``start(line, t)``, ``headers(list, t)`` and ``done(body_length, body_head, t)``. The
request and status line parsers and ``unescape`` are ports of Zeek's (HTTP.cc), with its quirks.
"""
from __future__ import annotations

import zlib

LINE, HEADERS, BODY, CHUNK_SIZE, CHUNK, CHUNK_END, TRAILER, UNTIL_CLOSE, NOTHING = range(9)
BODY_HEAD = 1024  # bytes of a body kept for the record (post_body)
MAX_LINE = 1 << 16
_TOK_EXCL = set(b' \t()<>@,;:\\"/[]?={}')
_URI_OK = set(b":/?#[]@!$&'()*+,;=-_.~%0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_HEX = set(b"0123456789abcdefABCDEF")


def _tok(c: int) -> bool:
    return 31 < c < 127 and c not in _TOK_EXCL


def unescape(u: bytes) -> bytes:
    """Zeek's unescape_URI: %XX and %uXXXX decoded; a stray '%' kept with one character."""
    out = bytearray()
    i, n = 0, len(u)
    while i < n:
        if u[i] != 0x25:
            out.append(u[i])
            i += 1
            continue
        i += 1
        if i == n:
            out += b"%"
            break
        if i + 1 == n:
            out += b"%" + u[i:i + 1]
            break
        if u[i] == 0x25:
            continue
        if u[i] in _HEX and u[i + 1] in _HEX:
            out.append(int(u[i:i + 2], 16))
            i += 2
            continue
        if n - i >= 5 and u[i] == ord("u") and all(c in _HEX for c in u[i + 1:i + 5]):
            if u[i + 1:i + 3] != b"00":
                out.append(int(u[i + 1:i + 3], 16))
            out.append(int(u[i + 3:i + 5], 16))
            i += 5
            continue
        out += b"%" + u[i:i + 1]
        i += 1
    return bytes(out)


def request_line(line: bytes):
    """(method, raw uri, (major, minor) or None when unchanged) or None if not a request line."""
    n = len(line)
    m = 0
    while m < n and _tok(line[m]):
        m += 1
    if m == 0:
        return None
    s = m
    while s < n and line[s] in b" \t":
        s += 1
    if s == m:
        return None
    e = s
    while e < n and line[e] in _URI_OK:
        e += 1
    if e >= n and line.startswith(b"HTTP/", s):
        e = s
    end_uri = v = e
    while v < n:
        end_uri = v
        while v < n and line[v] in b" \t":
            v += 1
        if line.startswith(b"HTTP/", v):
            break
        v += 1
    if v >= n:
        ver = (0, 9)
    elif v + 8 <= n:
        a, dot, b = line[v + 5], line[v + 6], line[v + 7]
        ver = (a - 48, b - 48) if 48 <= a <= 57 and dot == 0x2E and 48 <= b <= 57 else (0, 0)
    else:
        ver = None
    uri = line[s:end_uri]
    if ver == (0, 9) and (m < 3 or not uri):
        return None
    return line[:m], uri, ver


def status_line(line: bytes):
    """(code, reason, (major, minor)) of a status line, or None if it is not one."""
    if not line.startswith(b"HTTP/"):
        return None
    v = line[5:8]
    ver = (v[0] - 48, v[2] - 48) if len(v) == 3 and chr(v[0]).isdigit() and v[1] == 0x2E and \
        chr(v[2]).isdigit() else (0, 0)
    i = 5
    while i < len(line) and line[i] not in b" \t":
        i += 1
    while i < len(line) and line[i] in b" \t":
        i += 1
    digits = line[i:i + 3]
    code = int(digits) if len(digits) == 3 and digits.isdigit() else 0
    i += 3
    if i >= len(line):
        reason = "<empty>"
    else:
        while i < len(line) and line[i] in b" \t":
            i += 1
        reason = line[i:].decode("utf-8", "backslashreplace")
    return code, reason, ver


class Reader:
    """One direction of an HTTP connection, message after message."""

    def __init__(self, start, headers, done):
        self.on_start, self.on_headers, self.on_done = start, headers, done
        self.mode = LINE
        self.buf = b""
        self.skip_lf = False
        self.hdrs: list = []
        self.left = 0
        self.body_len = 0
        self.body_head = b""
        self.exact = True
        self.inflate = None

    # ---- feeding --------------------------------------------------------------------------------
    def feed(self, data: bytes, t: float) -> None:
        if self.skip_lf and data:
            self.skip_lf = False
            if data[:1] == b"\n":
                data = data[1:]
        while data and self.mode != NOTHING:
            if self.mode in (BODY, CHUNK):
                take = data[:self.left]
                data = data[len(take):]
                self._body(take)
                self._counted(len(take), t)
            elif self.mode == UNTIL_CLOSE:
                self._body(data)
                if not self.exact:
                    self.body_len += data.count(b"\n") - data.count(b"\r\n")
                data = b""
            else:
                data = self._lines(data, t)

    def _lines(self, data: bytes, t: float) -> bytes:
        buf = self.buf + data
        start = 0
        while self.mode not in (BODY, CHUNK, UNTIL_CLOSE, NOTHING):
            cr, lf = buf.find(b"\r", start), buf.find(b"\n", start)
            if cr < 0 and lf < 0:
                break
            end = lf if cr < 0 or (0 <= lf < cr) else cr
            line = buf[start:end]
            start = end + 1
            if buf[end] == 0x0D:
                if start < len(buf):
                    if buf[start] == 0x0A:
                        start += 1
                else:
                    self.skip_lf = True
            self._line(line, t)
        rest = buf[start:]
        if self.mode in (BODY, CHUNK, UNTIL_CLOSE, NOTHING):
            self.buf = b""
            return rest if self.mode != NOTHING else b""
        self.buf = rest[-MAX_LINE:]
        return b""

    def _line(self, line: bytes, t: float) -> None:
        mode = self.mode
        if mode == LINE:
            self.on_start(line, t)
        elif mode == HEADERS or mode == TRAILER:
            if line:
                if line[:1] in (b" ", b"\t") and self.hdrs:
                    name, value = self.hdrs[-1]
                    self.hdrs[-1] = (name, value + line.strip(b" \t"))
                elif b":" in line:
                    name, value = line.split(b":", 1)
                    self.hdrs.append((name.strip().upper(), value.lstrip()))
            elif mode == TRAILER:
                self.finish(t)
            else:
                self.on_headers(self.hdrs, t)
        elif mode == CHUNK_SIZE:
            size = _chunk_size(line)
            if size == 0:
                self.mode = TRAILER
            else:
                self.mode, self.left = CHUNK, size
        elif mode == CHUNK_END:
            self.mode = CHUNK_SIZE

    # ---- bodies ---------------------------------------------------------------------------------
    def begin_message(self) -> None:
        self.mode = HEADERS
        self.hdrs = []

    def body(self, kind: str, length: int = 0, exact: bool = True, encoding: bytes = b"") -> None:
        """After the headers: a body of ``kind`` 'none', 'length', 'chunked' or 'close'."""
        self.body_len = 0
        self.body_head = b""
        self.exact = exact
        enc = encoding.strip().lower()
        self.inflate = zlib.decompressobj(47) if enc in (b"gzip", b"x-gzip", b"deflate") else None
        if kind == "length" and length > 0:
            self.mode, self.left = BODY, length
        elif kind == "chunked":
            self.mode = CHUNK_SIZE
        elif kind == "close":
            self.mode = UNTIL_CLOSE
        else:
            self.mode = LINE

    def _body(self, data: bytes) -> None:
        if len(self.body_head) < BODY_HEAD:
            self.body_head += data[:BODY_HEAD - len(self.body_head)]
        if self.inflate is not None:
            try:
                self.body_len += len(self.inflate.decompress(data))
                return
            except zlib.error:
                self.inflate = None
        self.body_len += len(data)

    def finish(self, t: float) -> None:
        self.mode = LINE
        self.on_done(self.body_len, self.body_head, t)

    def _counted(self, n: int, t: float) -> None:
        """``n`` bytes of a body of known length or of a chunk went by: the message or chunk may end."""
        self.left -= n
        if self.left == 0:
            if self.mode == BODY:
                self.finish(t)
            else:
                self.mode = CHUNK_END

    def gap(self, n: int, t: float) -> None:
        """Bytes never seen: inside a body of known length they count in it."""
        if self.mode in (BODY, CHUNK):
            take = min(n, self.left)
            self.body_len += take
            self._counted(take, t)
        elif self.mode == UNTIL_CLOSE:
            self.body_len += n

    def eof(self, t: float) -> None:
        if self.mode in (BODY, CHUNK, CHUNK_SIZE, CHUNK_END, TRAILER, UNTIL_CLOSE):
            self.finish(t)
        elif self.mode == LINE and self.buf:
            line, self.buf = self.buf, b""
            self._line(line, t)


def _chunk_size(line: bytes) -> int:
    """atoi_n(..., 16): the hex digits at the start; an overflowing size is 0 (the last chunk)."""
    s = line.strip()
    n = 0
    while n < len(s) and s[n] in _HEX:
        n += 1
    if n == 0:
        return 0
    v = int(s[:n], 16)
    return 0 if v >= 1 << 63 else v
