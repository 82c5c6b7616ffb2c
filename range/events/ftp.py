"""ftp: one record per command with its final reply, and the user and password seen so far."""
from __future__ import annotations

from range.events.analyzer import Analyzer, unescape
from range.events.conn import Conn
from range.events.tshark import F, every

_CMD, _CODE = F["ftp.request.command"], F["ftp.response.code"]


class Ftp(Analyzer):
    service = "ftp"
    fields = ("ftp.request.command", "ftp.response.code")


    def packet(self, p: list[str], ts: float, c: Conn, d: int) -> None:
        s = c.app.setdefault("ftp", {"user": None, "password": None, "pending": []})
        cmds = every(p[_CMD])
        if cmds and d == 0:
            args = every(p[F["ftp.request.arg"]])
            for i, cmd in enumerate(cmds):
                arg = unescape(args[i]) if i < len(args) else None
                cmd = cmd.upper()
                if cmd == "USER":
                    s["user"] = arg
                elif cmd == "PASS":
                    s["password"] = arg
                s["pending"].append((ts, cmd, arg))
            return
        codes = every(p[_CODE])
        msgs = every(p[F["ftp.response.arg"]])
        for i, code in enumerate(codes):
            code_i = int(code) if code.isdigit() else None
            if code_i is None or code_i < 200 or not s["pending"]:
                continue
            cts, cmd, arg = s["pending"].pop(0)
            rec = c.ident()
            rec.update({"ts": cts, "user": s["user"], "password": s["password"], "command": cmd, "arg": arg,
                        "reply_code": code_i, "reply_msg": unescape(msgs[i]) if i < len(msgs) else None})
            self.emit("ftp", rec)

    def finish(self, c: Conn) -> None:
        s = c.app.get("ftp")
        if s is None:
            return
        for cts, cmd, arg in s["pending"]:
            rec = c.ident()
            rec.update({"ts": cts, "user": s["user"], "password": s["password"], "command": cmd, "arg": arg})
            self.emit("ftp", rec)
