"""http: a request and its response joined into one record (``method``, ``uri``, ``status_code``,
``resp_mime_types``, the start of a POST body); interim 1xx responses wait for the final one, and
requests never answered leave when their connection ends."""
from __future__ import annotations

from range.events.analyzer import BODY_KEEP, Analyzer, unescape
from range.events.conn import Conn
from range.events.tshark import F, as_int, first

_REQ, _RSP = F["http.request.method"], F["http.response.code"]


def _mime(v: str) -> str | None:
    v = first(v)
    return v.split(";", 1)[0].strip().lower() or None if v else None


class Http(Analyzer):
    service = "http"
    fields = ("http.request.method", "http.response.code")


    def packet(self, p: list[str], ts: float, c: Conn, d: int) -> None:
        pending = c.app.setdefault("http", [])
        method = first(p[_REQ])
        if method and d == 0:
            pending.append(self._request(p, ts, c, method))
            return
        code = as_int(p[_RSP])
        if code is None:
            return
        rec = pending.pop(0) if pending else {**c.ident(), "ts": ts, "trans_depth": c.http_depth}
        if 100 <= code < 200 and code != 101:
            pending.insert(0, rec)  # an interim response: the final one follows
            return
        clen = as_int(p[F["http.content_length"]])
        body = first(p[F["http.file_data"]])
        rec.update({"status_code": code, "status_msg": first(p[F["http.response.phrase"]]) or None,
                    "response_body_len": clen if clen is not None else len(unescape(body)),
                    "resp_mime_types": _mime(p[F["http.content_type"]])})
        self.emit("http", rec)

    @staticmethod
    def _request(p: list[str], ts: float, c: Conn, method: str) -> dict:
        c.http_depth += 1
        body = unescape(first(p[F["http.file_data"]]))
        clen = as_int(p[F["http.content_length"]])
        version = first(p[F["http.request.version"]])
        rec = c.ident()
        rec.update({"ts": ts, "trans_depth": c.http_depth, "method": method,
                    "host": first(p[F["http.host"]]) or None, "uri": first(p[F["http.request.uri"]]) or None,
                    "referrer": first(p[F["http.referer"]]) or None,
                    "version": version.split("/", 1)[-1] if version else None,
                    "user_agent": first(p[F["http.user_agent"]]) or None,
                    "cookie": first(p[F["http.cookie"]]) or None,
                    "request_body_len": clen if clen is not None else len(body),
                    "orig_mime_types": _mime(p[F["http.content_type"]]) if body else None,
                    "content_type": first(p[F["http.content_type"]]) or None,
                    "post_body": body[:BODY_KEEP] if body else None, "response_body_len": 0})
        return rec

    def finish(self, c: Conn) -> None:
        for rec in c.app.get("http", []):
            self.emit("http", rec)
