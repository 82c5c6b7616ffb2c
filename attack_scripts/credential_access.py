"""Credentials read on a rooted Linux server, MITRE ATT&CK T1003.008 OS Credential Dumping:
/etc/passwd and /etc/shadow, T1552.003 Unsecured Credentials: Bash History, T1552.004
Unsecured Credentials: Private Keys.

Imitates an intruder with a root shell on the server (a fresh callback from the privilege
escalation's root shell to ``nc -lvnp 4444``; :mod:`attack_scripts._shellsession`) who collects
what opens the next doors (``read``):

* ``shadow``: ``cat /etc/shadow``, the yescrypt hashes (``$y$j9T$...``) of root and the
  administrator, for offline cracking;
* ``history``: ``cat /home/*/.bash_history``: the administrator's commands, among them a
  ``mysql`` login with its password on the command line;
* ``ssh_keys``: ``find / -name id_rsa 2>/dev/null``, then ``cat`` of the administrator's
  unencrypted private key and a copy to ``/tmp/.k``.

The traffic: the reverse shell's connection, every file's content in clear (the hashes, the
history, the ``BEGIN OPENSSH PRIVATE KEY`` block).

On the server (host records): the callback's processes and connection (bash as root), then the
commands as children of the root ``bash -i``: ``cat /etc/shadow``, ``cat
/home/ADMIN/.bash_history`` (the shell expanded the ``*``), ``find / -name id_rsa``, ``cat`` and
``cp`` of the key (process_creation, auditd), and the copy written (file_event). The reads
themselves leave no record: no audit watch covers them (sshd and sudo read /etc/shadow all day).
"""
from __future__ import annotations

import base64
import struct
from typing import Literal

from pydantic import Field, field_validator

from attack_scripts import _linux
from attack_scripts._shellsession import Session, SessionParams, admin_of, bound, play, secret
from range.core import rng
from range.traffic import Proc, StepContext, Technique, technique

Read = Literal["shadow", "history", "ssh_keys"]
KEY_COPY = "/tmp/.k"
_B64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_WORST_ADMIN = "x" * 16


class Params(SessionParams):
    read: list[Read] = Field(default=["shadow", "history", "ssh_keys"], min_length=1,
                             description="what to collect: /etc/shadow, the users' bash history, SSH private keys")

    @field_validator("read")
    @classmethod
    def _once_each(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("name each kind of credential once")
        return v


def _yescrypt(r) -> str:
    return "$y$j9T$" + "".join(r.choice(_B64) for _ in range(22)) + "$" + "".join(r.choice(_B64) for _ in range(43))


def shadow(layout, node: str) -> str:
    """The node's ``/etc/shadow`` (Debian 12: yescrypt), the same for every step of a team."""
    r = rng("shadow", layout.team, layout.seed, node)
    day = 20100 + r.randint(0, 300)
    system = ["daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy", "www-data",
              "backup", "list", "irc", "_apt", "nobody"]
    rows = [f"root:{_yescrypt(r)}:{day}:0:99999:7:::"]
    rows += [f"{u}:*:{day - 40}:0:99999:7:::" for u in system]
    rows += [f"systemd-network:!*:{day - 40}::::::", f"messagebus:!:{day - 40}::::::", f"sshd:!:{day - 40}::::::",
             f"mysql:!:{day - 38}::::::", f"{admin_of(layout, node)}:{_yescrypt(r)}:{day + 12}:0:99999:7:::"]
    return "\n".join(rows) + "\n"


def history(layout, node: str) -> str:
    """The administrator's ``~/.bash_history``: routine work and the portal database's password."""
    db = secret(layout, node, "db")
    return "\n".join([
        "sudo apt update", "sudo apt upgrade -y", "systemctl status nginx", "sudo nginx -t",
        "sudo systemctl reload nginx",
        "cd /var/www/html", "ls -la", "sudo vim config.php", f"mysql -u portal_app -p'{db}' portal",
        "tail -n 100 /var/log/nginx/error.log", "df -h", "sudo visudo -f /etc/sudoers.d/www-data",
        "ssh-keygen -t rsa -b 3072", f"ssh-copy-id backup@{secret(layout, node, 'backup-host', 6)}.internal", "exit",
    ]) + "\n"


def _string(b: bytes) -> bytes:
    return struct.pack("!I", len(b)) + b


def private_key(layout, node: str, user: str) -> str:
    """An unencrypted OpenSSH RSA 3072 private key of ``user``, as ``ssh-keygen`` writes it."""
    r = rng("ssh-key", layout.team, layout.seed, node, user)
    pub = _string(b"ssh-rsa") + _string(b"\x01\x00\x01") + _string(b"\x00" + r.randbytes(384))
    check = r.randbytes(4)
    private = check + check + pub[:-4] + _string(r.randbytes(384)) + _string(r.randbytes(192)) * 3 + \
        _string(f"{user}@{node}".encode())
    private += bytes(range(1, 1 + (-len(private)) % 8))
    blob = b"openssh-key-v1\x00" + _string(b"none") + _string(b"none") + _string(b"") + struct.pack("!I", 1) + \
        _string(pub) + _string(private)
    text = base64.b64encode(blob).decode()
    return ("-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(text[i:i + 70] for i in range(0, len(text), 70))
            + "\n-----END OPENSSH PRIVATE KEY-----\n")


def lines(read: list[str], admin: str) -> list[tuple[str, str | None]]:
    """The lines typed for ``read`` (and, where the shell expands a glob, the line it runs)."""
    key = f"/home/{admin}/.ssh/id_rsa"
    by_kind = {"shadow": [("cat /etc/shadow", None)],
               "history": [("cat /home/*/.bash_history", f"cat /home/{admin}/.bash_history")],
               "ssh_keys": [("find / -name id_rsa 2>/dev/null", None), (f"cat {key}", None),
                            (f"cp {key} {KEY_COPY}", None)]}
    return [line for kind in read for line in by_kind[kind]]


@technique
class CredentialAccess(Technique):
    name = "credential_access"
    attack = "T1003.008"
    tactic = "credential-access"
    summary = "as root: cat /etc/shadow, the users' bash history, find and copy SSH private keys"
    Params = Params
    max_targets = 1

    def duration(self, p: Params) -> float:
        return bound([typed for typed, _ in lines(p.read, _WORST_ADMIN)], p.think) + 8.0  # find / takes seconds

    def generate(self, ctx: StepContext):
        p: Params = ctx.params
        lay, node = ctx.layout, ctx.targets[0].name
        admin = admin_of(lay, node)
        key = f"/home/{admin}/.ssh/id_rsa"
        outputs = {"cat /etc/shadow": shadow(lay, node), "cat /home/*/.bash_history": history(lay, node),
                   "find / -name id_rsa 2>/dev/null": key + "\n", f"cat {key}": private_key(lay, node, admin)}
        log = ctx.host

        def run_as(line: str):
            def does(t: float, shell: Proc, _until: float | None) -> list[Proc]:
                procs = _linux.run(log, t, shell, line)
                if procs and procs[0].image.endswith("/cp"):
                    log.file(t + log.rng.uniform(0.0005, 0.002), procs[0], KEY_COPY)
                return procs
            return does

        def script(s: Session) -> list:
            for typed, ran in lines(p.read, admin):
                took = ctx.rng.uniform(1.5, 6.0) if typed.startswith("find /") else None
                s.type(typed, outputs.get(typed, ""), does=run_as(ran or typed), took=took)
            return []

        return play(ctx, p, "root", script, self.duration(p))
