"""telnet: one record per line typed or printed, with the user name and password seen at the
login prompts. Option negotiation (IAC sequences) is taken out of the text."""
from __future__ import annotations

from range.events.analyzer import BODY_KEEP, Analyzer, text

IAC, SB, SE = 0xFF, 0xFA, 0xF0


def strip_iac(data: bytes, state: list) -> bytes:
    """The text of telnet data without its commands; ``state`` carries a command cut between
    two segments ([mode, option bytes left])."""
    out = bytearray()
    mode = state[0]
    for b in data:
        if mode == 0:
            if b == IAC:
                mode = 1
            else:
                out.append(b)
        elif mode == 1:  # after IAC
            if b == IAC:
                out.append(b)
                mode = 0
            elif b == SB:
                mode = 3
            elif 251 <= b <= 254:  # WILL WONT DO DONT + option
                mode = 2
            else:
                mode = 0
        elif mode == 2:
            mode = 0
        elif mode == 3:  # subnegotiation, up to IAC SE
            if b == IAC:
                mode = 4
        elif mode == 4:
            mode = 0 if b == SE else 3
    state[0] = mode
    return bytes(out)


class Telnet(Analyzer):
    service = "telnet"
    tcp_ports = frozenset({23})

    def __init__(self, conn, emit):
        super().__init__(conn, emit)
        self.buf = ["", ""]
        self.iac = [[0], [0]]
        self.user = self.password = None
        self.expect: str | None = None
        self.t = [0.0, 0.0]

    def flipped(self) -> None:
        self.buf.reverse()
        self.iac.reverse()

    def data(self, is_orig: bool, t: float, data: bytes) -> None:
        d = 0 if is_orig else 1
        chunk = text(strip_iac(data, self.iac[d]))
        if not chunk:
            return
        self.confirm()
        self.t[d] = t  # a line's time is when it was entered: the chunk that ends it
        self.buf[d] += chunk
        self._lines(d)

    def _lines(self, d: int, flush: bool = False) -> None:
        buf = self.buf[d]
        while True:
            cut = min((i for i in (buf.find("\r"), buf.find("\n")) if i >= 0), default=-1)
            if cut < 0:
                break
            self._line(d, buf[:cut])
            buf = buf[cut + 1:].lstrip("\r\n\x00")
        tail = buf.rstrip()
        if d == 1 and tail.lower().endswith(("login:", "password:")):
            self.expect = "password" if tail.lower().endswith("password:") else "user"
            self._line(d, tail)
            buf = ""
        elif flush and buf.strip():
            self._line(d, buf)
            buf = ""
        self.buf[d] = buf[-BODY_KEEP * 8:]

    def _line(self, d: int, line: str) -> None:
        line = line.strip("\x00").rstrip()
        if not line:
            return
        if d == 0 and self.expect == "user":
            self.user, self.expect = line, None
        elif d == 0 and self.expect == "password":
            self.password, self.expect = line, None
        rec = self.conn.ident()
        rec.update({"ts": self.t[d], "direction": "orig" if d == 0 else "resp", "line": line[:BODY_KEEP],
                    "user": self.user, "password": self.password})
        self.emit("telnet", rec)

    def done(self) -> None:
        for d in (0, 1):
            self._lines(d, flush=True)
