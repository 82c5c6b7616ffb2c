"""telnet: one record per line typed or printed, with the user name and password seen at the
login prompts."""
from __future__ import annotations

from range.events.analyzer import BODY_KEEP, Analyzer, unescape
from range.events.conn import Conn
from range.events.tshark import F, every

_DATA = F["telnet.data"]


class Telnet(Analyzer):
    service = "telnet"
    fields = ("telnet.data",)


    def packet(self, p: list[str], ts: float, c: Conn, d: int) -> None:
        s = c.app.setdefault("telnet", {"buf": ["", ""], "user": None, "password": None, "expect": None, "t": [ts, ts]})
        for chunk in every(p[_DATA]):
            if not s["buf"][d]:
                s["t"][d] = ts
            s["buf"][d] += unescape(chunk)
            self._lines(c, s, d)

    def _lines(self, c: Conn, s: dict, d: int, flush: bool = False) -> None:
        buf = s["buf"][d]
        while True:
            cut = min((i for i in (buf.find("\r"), buf.find("\n")) if i >= 0), default=-1)
            if cut < 0:
                break
            self._line(c, s, d, buf[:cut])
            buf = buf[cut + 1:].lstrip("\r\n\x00")
        tail = buf.rstrip()
        if d == 1 and tail.lower().endswith(("login:", "password:")):
            s["expect"] = "password" if tail.lower().endswith("password:") else "user"
            self._line(c, s, d, tail)
            buf = ""
        elif flush and buf.strip():
            self._line(c, s, d, buf)
            buf = ""
        s["buf"][d] = buf

    def _line(self, c: Conn, s: dict, d: int, line: str) -> None:
        line = line.strip("\x00").rstrip()
        if not line:
            return
        if d == 0 and s["expect"] == "user":
            s["user"], s["expect"] = line, None
        elif d == 0 and s["expect"] == "password":
            s["password"], s["expect"] = line, None
        rec = c.ident()
        rec.update({"ts": s["t"][d], "direction": "orig" if d == 0 else "resp", "line": line[:BODY_KEEP],
                    "user": s["user"], "password": s["password"]})
        self.emit("telnet", rec)

    def finish(self, c: Conn) -> None:
        s = c.app.get("telnet")
        if s is not None:
            for d in (0, 1):
                self._lines(c, s, d, flush=True)
