"""http: requests and replies paired into records the way Zeek's HTTP scripts pair them.

Each direction is read by :class:`range.events.httpmsg.Reader`; requests and replies meet in
``pending`` by their position (pipelined requests are answered in order; a reply with no request
gets a record of its own). A record is written when its final (non-1xx) reply has been read to
the end of its body, or when the connection ends. ``uri`` is decoded as Zeek logs it
(``uri_raw`` keeps it as sent); bodies are measured after dechunking and decompression. After a
CONNECT answered 200, or an upgrade to another protocol, the stream is no longer HTTP.
"""
from __future__ import annotations

import base64
import binascii
import re

from range.events.analyzer import BODY_KEEP, Analyzer, text
from range.events.httpmsg import NOTHING, Reader, request_line, status_line, unescape

HTTP_PORTS = frozenset({80, 81, 631, 1080, 3128, 8000, 8080, 8888})
_METHODS = (b"OPTIONS|GET|HEAD|POST|PUT|DELETE|QUERY|ACL|BASELINE-CONTROL|BIND|CHECKIN|CHECKOUT|CONNECT|COPY|LABEL|"
            b"LINK|LOCK|MERGE|MKACTIVITY|MKCALENDAR|MKCOL|MKREDIRECTREF|MOVE|ORDERPATCH|PATCH|PROPFIND|PROPPATCH|"
            b"REBIND|REPORT|SEARCH|TRACE|UNBIND|UNCHECKOUT|UNLINK|UNLOCK|UPDATE|VERSION-CONTROL|BCOPY|BDELETE|BMOVE|"
            b"BPROPFIND|BPROPPATCH|NOTIFY|POLL|SUBSCRIBE|UNSUBSCRIBE|X-MS-ENUMATTS|MKWORKSPACE|RPC_IN_DATA|"
            b"RPC_OUT_DATA")
CLIENT_SIG = re.compile(rb"[ \t\r\n\v\f]*(" + _METHODS + rb")[ \t\r\n\v\f]*/")
SERVER_SIG = re.compile(rb"HTTP/[0-9]")


def _mime(value: bytes | None) -> str | None:
    if not value:
        return None
    return text(value).split(";", 1)[0].strip().lower() or None


def _int(value: bytes) -> int | None:
    v = value.strip()
    if not v.isdigit():
        return None
    n = int(v)
    return n if n < 1 << 63 else None


class Http(Analyzer):
    service = "http"
    tcp_ports = HTTP_PORTS
    dpd = True

    @staticmethod
    def signature(is_orig: bool, head: bytes) -> bool:
        return bool((CLIENT_SIG if is_orig else SERVER_SIG).match(head))

    def __init__(self, conn, emit):
        super().__init__(conn, emit)
        self.req = Reader(self._request_line, self._request_headers, self._request_done)
        self.rep = Reader(self._status_line, self._reply_headers, self._reply_done)
        self.unanswered: list[bytes] = []   # methods of the requests waiting for a final reply
        self.requests = 0
        self.keep_alive = False
        self.server_close = False
        self.expect_09 = False
        self.req_version = (1, 1)
        self.reply = None                   # (code, version) of the reply being read
        self.connect = False
        self.pending: dict[int, dict] = {}
        self.cur_req = self.cur_resp = self.depth = 0
        self.now = 0.0

    # ---- the stream ---------------------------------------------------------------------------
    def data(self, is_orig: bool, t: float, data: bytes) -> None:
        self.now = t
        if is_orig:
            self.req.feed(data, t)
            return
        if self.expect_09 and self.rep.mode != NOTHING:
            self.expect_09 = False  # HTTP/0.9: everything the server sends is the body
            self._on_reply(t, (0, 9), 0, "<empty>")
            self.reply = (0, (0, 9))
            self.rep.body("close", exact=True)
        self.rep.feed(data, t)

    def gap(self, is_orig: bool, n: int) -> None:
        (self.req if is_orig else self.rep).gap(n, self.now)

    def eof(self, is_orig: bool) -> None:
        (self.req if is_orig else self.rep).eof(self.now)

    def _stop(self) -> None:
        self.req.mode = self.rep.mode = NOTHING
        self.failed = not self.confirmed

    # ---- requests -------------------------------------------------------------------------------
    def _request_line(self, line: bytes, t: float) -> None:
        if not line:
            return
        parsed = request_line(line)
        if parsed is None:
            if self.requests == 0 or self.keep_alive:
                if self.confirmed:
                    self._stop()  # a violation once confirmed: the analyzer is disabled
                else:
                    self.req.mode = NOTHING  # the server side may still be HTTP (reply-only records)
            return
        method, raw_uri, ver = parsed
        self.requests += 1
        if ver is not None:
            self.req_version = ver
        self.confirm()
        if self.cur_req < self.cur_resp:
            self.cur_req = self.cur_resp
        self.cur_req += 1
        r = self._rec(self.cur_req, t)
        r["method"] = text(method)
        r["uri"] = text(unescape(raw_uri))
        r["uri_raw"] = text(raw_uri)
        self.unanswered.append(method)
        self.connect = method.upper() == b"CONNECT"
        if ver == (0, 9):
            self.expect_09 = True  # the server's bytes are all body; the client may still send headers
        self.req.begin_message()

    def _request_headers(self, hdrs: list, t: float) -> None:
        r = self._rec(self.cur_req, t)
        h = {}
        for name, value in hdrs:
            h[name] = value
            if name == b"HOST":
                r["host"] = text(value)
            elif name == b"USER-AGENT":
                r["user_agent"] = text(value)
            elif name == b"REFERER":
                r["referrer"] = text(value)
            elif name == b"ORIGIN":
                r["origin"] = text(value)
            elif name == b"COOKIE":
                r["cookie"] = text(value)[:BODY_KEEP]
            elif name == b"CONTENT-TYPE":
                r["content_type"] = text(value)
            elif name == b"AUTHORIZATION":
                r["username"] = _basic_user(value)
            elif name == b"CONNECTION" and b"keep-alive" in value.lower():
                self.keep_alive = True
        if self.req_version > (1, 0):
            self.keep_alive = True
        te, cl = h.get(b"TRANSFER-ENCODING", b""), h.get(b"CONTENT-LENGTH")
        if b"chunked" in te.lower() and self.req_version == (1, 1):
            self.req.body("chunked", encoding=h.get(b"CONTENT-ENCODING", b""))
        elif cl is not None and _int(cl):
            self.req.body("length", _int(cl), encoding=h.get(b"CONTENT-ENCODING", b""))
        else:
            self.req.body("none")
            self._request_done(0, b"", t)

    def _request_done(self, length: int, head: bytes, t: float) -> None:
        r = self._rec(self.cur_req, t)
        r["request_body_len"] = length
        if head:
            r["post_body"] = text(head)[:BODY_KEEP]
            r["orig_mime_types"] = _mime(r.get("content_type", "").encode())

    # ---- replies --------------------------------------------------------------------------------
    def _status_line(self, line: bytes, t: float) -> None:
        if not line:
            return
        parsed = status_line(line)
        if parsed is None:
            if self.confirmed:
                self._stop()
            else:
                self.rep.mode = NOTHING
                self.failed = self.req.mode == NOTHING
            return
        code, reason, ver = parsed
        if self.unanswered:
            self.confirm()
        self.reply = (code, ver)
        self._on_reply(t, ver, code, reason)
        self.rep.begin_message()

    def _reply_headers(self, hdrs: list, t: float) -> None:
        code, ver = self.reply
        h = {name: value for name, value in hdrs}
        r = self._rec(self.cur_resp, t)
        if b"CONTENT-TYPE" in h:
            r["_ctype"] = h[b"CONTENT-TYPE"]
        if b"close" in h.get(b"CONNECTION", b"").lower():
            self.server_close = True
        method = self.unanswered[0].upper() if self.unanswered else b""
        te, cl, enc = h.get(b"TRANSFER-ENCODING", b""), h.get(b"CONTENT-LENGTH"), h.get(b"CONTENT-ENCODING", b"")
        if 100 <= code <= 199:
            self.rep.body("none")
            if code == 101 and b"upgrade" in h.get(b"CONNECTION", b"").lower() and b"UPGRADE" in h:
                self._stop()  # another protocol from here on
            self._reply_done(0, b"", t)
        elif method == b"HEAD" or code in (204, 304):
            self.rep.body("none")
            self._reply_done(0, b"", t)
        elif self.connect and code == 200:
            self.req.mode = self.rep.mode = NOTHING  # a tunnel: what follows is not HTTP
            self._reply_done(0, b"", t)
        elif b"chunked" in te.lower() and ver == (1, 1):
            self.rep.body("chunked", encoding=enc)
        elif cl is not None and _int(cl) is not None:
            n = _content_range(code, _int(cl), h.get(b"CONTENT-RANGE"))
            self.rep.body("length", n, encoding=enc)
            if n == 0:
                self._reply_done(0, b"", t)
        else:
            self.rep.body("close", exact=self.server_close or ver == (0, 9), encoding=enc)

    def _reply_done(self, length: int, head: bytes, t: float) -> None:
        r = self._rec(self.cur_resp, t)
        r["response_body_len"] = length
        ctype = r.pop("_ctype", None)
        if ctype:  # from Content-Type (Zeek sniffs the body; an empty answer still says what it is)
            r["resp_mime_types"] = _mime(ctype)
        code = r.get("status_code")
        if not (code is not None and 100 <= code <= 199):
            if self.unanswered:
                self.unanswered.pop(0)
            self._write(self.pending.pop(self.cur_resp))

    def _on_reply(self, t: float, ver, code: int, reason: str) -> None:
        cur = self.pending.get(self.cur_resp)
        if cur is None or (cur.get("status_code") is not None and not 100 <= cur["status_code"] <= 199):
            self.cur_resp += 1
        r = self._rec(self.cur_resp, t)
        r["status_code"], r["status_msg"], r["version"] = code, reason, f"{ver[0]}.{ver[1]}"

    # ---- records --------------------------------------------------------------------------------
    def _rec(self, k: int, t: float) -> dict:
        r = self.pending.get(k)
        if r is None:
            self.depth += 1
            r = self.pending[k] = {**self.conn.ident(), "ts": t, "trans_depth": self.depth,
                                   "request_body_len": 0, "response_body_len": 0}
        return r

    def _write(self, r: dict) -> None:
        r.pop("_ctype", None)
        self.emit("http", r)

    def done(self) -> None:
        self.req.eof(self.now)
        self.rep.eof(self.now)
        for k in sorted(self.pending, reverse=True):
            if k:
                self._write(self.pending[k])
        self.pending = {}


def _content_range(code: int, length: int, crange: bytes | None) -> int:
    """A 206's Content-Range ``bytes f-l/len`` stretches the body to l-f+1 if that is longer."""
    if code != 206 or not crange:
        return length
    m = re.match(rb"\s*bytes\s+(\d+)-(\d+)/", crange)
    if m:
        first, last = int(m.group(1)), int(m.group(2))
        if last - first + 1 > 0 and last < 1 << 63:
            return max(length, last - first + 1)
    return length


def _basic_user(value: bytes) -> str | None:
    parts = value.split(None, 1)
    if len(parts) != 2 or parts[0].lower() != b"basic":
        return None
    try:
        decoded = base64.b64decode(parts[1].strip(), validate=False)
    except (binascii.Error, ValueError):
        return None
    if b":" not in decoded:
        return f"<problem-decoding> ({text(parts[1])})"
    return text(decoded.split(b":", 1)[0])
