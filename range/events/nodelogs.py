"""The nodes' service logs, live: each node's rsyslog forwards every line it writes (sshd, PAM,
sudo, su, cron, vsftpd, postfix, dnsmasq's query log, nginx) to the host sensor over TCP.

The sensor listens on ``127.0.0.1:10514`` inside each node's own network namespace (the socket
made there, :func:`range.runtime.netns.call_in`), one listener per node: a line is the node's by
the listener it arrives on, whatever it says of itself, and nothing of it crosses a team network.
The node's rsyslog (``environments/images/common/overlay/etc/rsyslog.conf``) keeps its files in
``/var/log`` as on any Debian server, limits what one program may write (imuxsock's rate limit,
which says in the log how many it dropped), and while the sensor is away suspends the forwarding
and keeps up to 20,000 lines, retrying every second, so a sensor restart loses nothing. (rsyslog's
``omuxsock`` drops a datagram its socket's reader is not there for: hence TCP.)

Each datagram is one line in the node's forwarding template: RFC 3339 time, facility, severity,
program, process id, message, separated by tabs (rsyslog escapes the message's own control
characters). :data:`PARSERS` turns a program's lines into rows of the host tables (sudo's
``USER=root ; COMMAND=...`` into its fields); a line that does not parse is kept raw in syslog
and counted.
"""
from __future__ import annotations

import re
import socket
import time
from datetime import datetime
from typing import Callable

from range.runtime import netns
from range.runtime.probes import USER_AGENT as PROBE_AGENT

PORT = 10514   # on the node's loopback
MAX_LINE = 1 << 16   # a longer line is cut there (rsyslog's own maximum is 8 KiB by default)
_SUDO = re.compile(r"\b(USER|TTY|PWD|COMMAND)=(.*?)(?= ; [A-Z]+=|$)")


def listen(init_pid: int) -> socket.socket:
    """The sensor's listener on the node's loopback (made inside its network namespace)."""
    def make() -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", PORT))
        s.listen(4)
        s.setblocking(False)
        return s
    return netns.call_in(init_pid, make)


class Lines:
    """A node's connection: bytes in, whole lines out (a line longer than MAX_LINE cut there)."""

    def __init__(self, conn: socket.socket):
        self.conn, self.buf = conn, b""

    def read(self) -> tuple[list[bytes], bool]:
        """The lines that arrived, and whether the node closed the connection (the rest then a line)."""
        try:
            data = self.conn.recv(1 << 16)
        except (BlockingIOError, InterruptedError):
            return [], False
        except OSError:
            data = b""
        if not data:
            rest, self.buf = self.buf, b""
            return ([rest] if rest else []), True
        *lines, self.buf = (self.buf + data).split(b"\n")
        if len(self.buf) > MAX_LINE:
            lines.append(self.buf[:MAX_LINE])
            self.buf = b""
        return [ln[:MAX_LINE] for ln in lines if ln], False


def _ts(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def syslog_row(ts: float, host: str, facility: str, severity: str, program: str, pid: str, message: str) -> dict:
    return {"ts": ts, "host": host, "facility": facility, "severity": severity, "program": program,
            "pid": int(pid) if pid.isdigit() else None, "message": message}


def sudo(row: dict) -> list[tuple[str, dict]]:
    """sudo's ``alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id`` with its fields."""
    row.update(dict(_SUDO.findall(row["message"])))
    return [("syslog", row)]


_COMBINED = re.compile(r'(?P<ip>\S+) - (?P<user>\S+) \[[^\]]*\] "(?P<request>[^"]*)" (?P<status>\d{3}) '
                       r'(?P<bytes>\d+|-) "(?P<referer>[^"]*)" "(?P<agent>[^"]*)"'
                       r'(?: "(?P<vhost>[^"]*)" (?P<length>\d+))?$')
_ERROR = re.compile(r"^\S+ \S+ \[(?P<level>\w+)\] (?P<pid>\d+)#\d+: (?P<text>.*?)(?:, client: (?P<ip>[^,]+))?"
                    r'(?:, server: [^,]*)?(?:, request: "(?P<request>[^"]*)")?(?:, host: "(?P<host>[^"]*)")?'
                    r'(?:, referrer: "[^"]*")?$')


def _request(row: dict, request: str) -> None:
    method, _, rest = request.partition(" ")
    target, _, version = rest.rpartition(" ") if rest.count(" ") else (rest, "", "")
    stem, _, query = target.partition("?")
    row.update({"cs-method": method or None, "cs-uri": target or None, "cs-uri-stem": stem or None,
                "cs-uri-query": query or None, "cs-version": version or None})


def nginx(row: dict) -> list[tuple[str, dict]]:
    """nginx's access line or error line as a webserver row, as the replay writes them; a line of
    neither shape stays a syslog line. The node's access line is ``combined`` and then the Host
    header and the request's length (``cs-host``, ``cs-bytes``); ``message`` keeps the combined part."""
    msg = row["message"]
    web = {"ts": row["ts"], "host": row["host"], "message": msg}
    m = _COMBINED.match(msg)
    if m:
        web.update({"message": msg[:m.start("vhost") - 2] if m["vhost"] is not None else msg,
                    "cs-host": m["vhost"] if m["vhost"] not in (None, "-", "") else None,
                    "cs-bytes": int(m["length"]) if m["length"] else None, "log": "access", "c-ip": m["ip"],
                    "cs-username": None if m["user"] == "-" else m["user"],
                    "sc-status": int(m["status"]), "sc-bytes": int(m["bytes"]) if m["bytes"].isdigit() else 0,
                    "cs-referer": None if m["referer"] == "-" else m["referer"],
                    "cs-user-agent": None if m["agent"] == "-" else m["agent"]})
        _request(web, m["request"])
        return [("webserver", web)]
    m = _ERROR.match(msg)
    if m:
        web.update({"log": "error", "level": m["level"], "pid": int(m["pid"]), "c-ip": m["ip"], "cs-host": m["host"]})
        if m["request"]:
            _request(web, m["request"])
        return [("webserver", web)]
    return [("syslog", row)]


PARSERS: dict[str, Callable[[dict], list[tuple[str, dict]]]] = {"sudo": sudo, "nginx": nginx}


def parse(data: bytes, host: str) -> tuple[list[tuple[str, dict]], bool]:
    """The rows of one forwarded line, and whether it parsed (if not: kept raw in syslog). The
    range's own health probe of a web server is no one's activity: no row."""
    text = data.decode("utf-8", "surrogateescape").rstrip("\n")
    parts = text.split("\t", 5)
    ts = _ts(parts[0]) if len(parts) == 6 else None
    if ts is None:
        return [("syslog", syslog_row(time.time(), host, "", "", "", "", text))], False
    _, facility, severity, program, pid, message = parts
    row = syslog_row(ts, host, facility, severity, program, pid, message.lstrip(" "))
    parser = PARSERS.get(program)
    rows = parser(row) if parser else [("syslog", row)]
    return [r for r in rows if r[1].get("cs-user-agent") != PROBE_AGENT], True
