"""The nodes' service logs, live: each node's rsyslog forwards every line it writes (sshd, PAM,
sudo, su, cron, vsftpd, postfix, dnsmasq's query log, nginx) to a socket of the host sensor's.

The socket is ``/run/cyberrange/log.sock`` inside the node's own file system, bound by the host
sensor from outside (through ``/proc/<init>/root``), one per node: a line is the node's by the
socket it arrives on, whatever it says of itself. The node's rsyslog
(``environments/images/common/overlay/etc/rsyslog.conf``) keeps its files in ``/var/log`` as on
any Debian server, limits what one program may write (imuxsock's rate limit, which says in the
log how many it dropped), and queues up to 20,000 lines while the sensor is away, retrying every
second, so a sensor restart loses nothing.

Each datagram is one line in the node's forwarding template: RFC 3339 time, facility, severity,
program, process id, message, separated by tabs (rsyslog escapes the message's own control
characters). :data:`PARSERS` turns a program's lines into rows of the host tables (sudo's
``USER=root ; COMMAND=...`` into its fields); a line that does not parse is kept raw in syslog
and counted.
"""
from __future__ import annotations

import os
import re
import socket
from datetime import datetime
from typing import Callable

SOCKET = "run/cyberrange/log.sock"   # inside the node's root
MAX_DATAGRAM = 1 << 16
_SUDO = re.compile(r"\b(USER|TTY|PWD|COMMAND)=(.*?)(?= ; [A-Z]+=|$)")


def bind(init_pid: int) -> socket.socket:
    """The node's log socket, bound in its file system (a stale one from an earlier sensor replaced)."""
    root = f"/proc/{init_pid}/root"
    path = os.path.join(root, SOCKET)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind(path)
    os.chmod(path, 0o622)   # the node's rsyslog runs as root; nothing there need read it
    s.setblocking(False)
    return s


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


PARSERS: dict[str, Callable[[dict], list[tuple[str, dict]]]] = {"sudo": sudo}


def parse(data: bytes, host: str) -> tuple[list[tuple[str, dict]], bool]:
    """The rows of one forwarded line, and whether it parsed (if not: kept raw in syslog)."""
    text = data.decode("utf-8", "surrogateescape").rstrip("\n")
    parts = text.split("\t", 5)
    ts = _ts(parts[0]) if len(parts) == 6 else None
    if ts is None:
        import time
        return [("syslog", syslog_row(time.time(), host, "", "", "", "", text))], False
    _, facility, severity, program, pid, message = parts
    row = syslog_row(ts, host, facility, severity, program, pid, message.lstrip(" "))
    parser = PARSERS.get(program)
    return (parser(row) if parser else [("syslog", row)]), True
