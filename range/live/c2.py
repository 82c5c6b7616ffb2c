"""The intruder's own servers on the live range, run inside the attacker node's network namespace.

Offline, the attack scripts also synthesise what the intruder's infrastructure answers; live,
something real must answer: an HTTP command server (check-ins get a small binary task blob,
posted results a 200; also the staging server the web shell downloads from), a TCP sink for the
other ports implants connect to, and an icmpsh-style responder that answers echo requests with
its own payloads (the node's kernel echo replies are switched off, as icmpsh requires).
"""
from __future__ import annotations

import os
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from range.runtime.procs import watch_netns
from range.traffic import wire

HTTP_PORTS = (80, 8000, 8080)
SINK_PORTS = (443, 4444)


class C2Handler(BaseHTTPRequestHandler):
    server_version = "Apache"
    sys_version = ""

    def _reply(self, body: bytes, ctype: str = "application/octet-stream") -> None:
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path.endswith(".sh"):
            self._reply(b"#!/bin/sh\necho linux smart enumeration\n", "text/x-sh")
        else:
            self._reply(os.urandom(16 * (1 + os.urandom(1)[0] % 3)) if os.urandom(1)[0] < 40 else b"")

    def do_POST(self) -> None:  # noqa: N802
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(min(n, 1 << 20))
        self._reply(b"")

    def log_message(self, *args) -> None:
        pass


def _sink(port: int) -> None:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", port))
    s.listen(64)
    while True:
        c, _ = s.accept()
        c.settimeout(5)
        threading.Thread(target=_drain, args=(c,), daemon=True).start()


def _drain(c: socket.socket) -> None:
    try:
        while c.recv(65536):
            pass
    except OSError:
        pass
    finally:
        c.close()


def _icmpsh() -> None:
    """Answer each echo request with a reply carrying the operator's next command (or nothing)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    commands = [b"whoami\n", b"ipconfig /all\n", b"net user\n", b"dir C:\\Users\n", b""]
    n = 0
    while True:
        pkt, (src, _) = s.recvfrom(65535)
        ihl = (pkt[0] & 0x0F) * 4
        icmp = pkt[ihl:]
        if len(icmp) < 8 or icmp[0] != 8:
            continue
        ident, seq = int.from_bytes(icmp[4:6], "big"), int.from_bytes(icmp[6:8], "big")
        n += 1
        s.sendto(wire.icmp_echo(0, ident, seq, commands[n % len(commands)]), (src, 0))


def serve() -> None:
    for port in HTTP_PORTS:
        httpd = ThreadingHTTPServer(("", port), C2Handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
    for port in SINK_PORTS:
        threading.Thread(target=_sink, args=(port,), daemon=True).start()
    _icmpsh()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--watch":  # ends when the attacker node is gone
        watch_netns(int(sys.argv[2]))
    try:
        serve()
    except KeyboardInterrupt:
        sys.exit(0)
