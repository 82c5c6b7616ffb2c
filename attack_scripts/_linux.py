"""What a Debian 12 node logs, for the host records scripts write beside their traffic
(:mod:`range.traffic.hostlog`): where programs live, how a shell runs a command line (one
process per simple command, sudo's lines and its root child), and the lines sshd, PAM and
systemd-logind write for an SSH login (OpenSSH 9.2, ``SyslogFacility AUTH``).

Process ids of long-running daemons (sshd's listener, cron, php-fpm's workers) come from
:func:`daemon_pid`, the same for every script of one team's copy; everything else a node hands
out (a connection's sshd, a shell's children, audit serials) from the script's own ``HostLog``.
"""
from __future__ import annotations

import base64
import hashlib
import re
import shlex
from dataclasses import dataclass
from typing import Iterator

from attack_scripts._tcptime import message_times
from range.core import derive
from range.topology import Host
from range.traffic import HostLog, Proc, TcpSession

# programs outside /usr/bin (Debian 12 merged /bin and /sbin into /usr)
_IMAGES = {
    "sh": "/usr/bin/dash", "vim": "/usr/bin/vim.basic", "vi": "/usr/bin/vim.basic", "python3": "/usr/bin/python3.11",
    "python": "/usr/bin/python3.11", "awk": "/usr/bin/mawk", "php": "/usr/bin/php8.2", "pager": "/usr/bin/less",
    "debian-sa1": "/usr/lib/sysstat/debian-sa1", "sadc": "/usr/lib/sysstat/sadc",
    "sessionclean": "/usr/lib/php/sessionclean",
}
_SBIN = {"nginx", "sshd", "cron", "logrotate", "invoke-rc.d", "ifconfig", "getcap", "sendmail", "php-fpm8.2",
         "postfix", "iptables", "service", "vsftpd", "useradd", "usermod", "visudo", "ldconfig", "dnsmasq",
         "postdrop", "postqueue", "anacron", "logsave", "runuser"}
# shell builtins: no process of their own; keywords: what a simple command may follow
BUILTINS = {"cd", "echo", "export", "pwd", "exit", "history", "set", "source", ".", "alias", "type", "read",
            "printf", "test", "[", "true", "false", "umask", "unset", "kill", "command", "exec", "wait", "ulimit",
            ":", "for"}
_KEYWORDS = {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}"}
_SEPARATORS = {"|", "||", "&&", ";", "&"}
_REDIRECT = re.compile(r"\s*\d?(?:>>?|<)&?\s*(?:&\d|[^\s;&|]+)")

ROOT_UID, WWW_UID = 0, 33
SUDO_OPTIONS_WITH_VALUE = {"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U"}


def image(name: str) -> str:
    """The executable a command name runs."""
    if "/" in name:
        return name
    if name in _IMAGES:
        return _IMAGES[name]
    return f"/usr/sbin/{name}" if name in _SBIN else f"/usr/bin/{name}"


def argvs(command: str, home: str | None = None) -> list[list[str]]:
    """The simple commands of a command line, each as the argv its process gets: pipelines and
    lists split, redirections dropped, quotes removed, ``~`` expanded to ``home``."""
    line = _REDIRECT.sub("", command)
    try:
        lex = shlex.shlex(line, posix=True, punctuation_chars="|&;")
        lex.whitespace_split = True
        tokens = list(lex)
    except ValueError:  # unbalanced quotes: as the words stand
        tokens = line.split()
    out: list[list[str]] = [[]]
    for tok in tokens:
        if tok in _SEPARATORS:
            out.append([])
        else:
            if home and (tok == "~" or tok.startswith("~/")):
                tok = home + tok[1:]
            out[-1].append(tok)
    out = [a[next((i for i, w in enumerate(a) if w not in _KEYWORDS), len(a)):] for a in out]
    return [a for a in out if a]


def daemon_pid(layout, node: str, name: str) -> int:
    """A daemon's process id on ``node``: started at boot, the same for every script of a team."""
    return 300 + derive("daemon", layout.team, layout.seed, node, name) % 1700


def pool_pids(layout, node: str, name: str, workers: int = 2) -> tuple[int, list[int]]:
    """A master daemon ``name`` on ``node`` and its ``workers`` (:func:`daemon_pid` of ``name-0``,
    ``name-1``...): the master started them, so its pid is below theirs."""
    pids = [daemon_pid(layout, node, f"{name}-{i}") for i in range(workers)]
    return min(pids) - 1 - derive("daemon", layout.team, layout.seed, node, name) % 8, pids


PHP_FPM_WORKERS = 2  # pool www's pm.start_servers


def php_worker(log: HostLog, layout, node: str, cwd: str = "/var/www/html") -> Proc:
    """The php-fpm worker on ``node`` (``php-fpm: pool www`` as ``www-data``, in ``cwd``) that
    serves one request: one of the pool's workers, picked with ``log``'s randomness."""
    pid = pool_pids(layout, node, "php-fpm", PHP_FPM_WORKERS)[1][log.rng.randrange(PHP_FPM_WORKERS)]
    return HostLog.daemon(node, pid, image("php-fpm8.2"), "php-fpm: pool www", "www-data", WWW_UID, cwd)


def uid_of(layout, user: str) -> int:
    if user == "root":
        return ROOT_UID
    if user == "www-data":
        return WWW_UID
    return 1000 + derive("uid", layout.team, layout.seed, user) % 40


def home_of(user: str) -> str:
    return "/root" if user == "root" else "/var/www" if user == "www-data" else f"/home/{user}"


def tty_name(proc: Proc) -> str:
    """A terminal as sudo writes it (``pts/0``; auditd writes ``pts0``)."""
    return "pts/" + proc.tty[3:] if proc.tty.startswith("pts") else "unknown"


# ---- shells ---------------------------------------------------------------------------------------

def run(log: HostLog, ts: float, shell: Proc, command: str, *, sudoer: bool = True, gap=(0.0003, 0.002),
        sudo_close: float = 0.05, pids: Iterator[int] | None = None) -> list[Proc]:
    """``shell`` runs ``command`` at ``ts``: a process per simple command (a pipeline's start
    together, a list's one after the other), none for a builtin. ``sudo X`` is sudo's process,
    its syslog lines (``USER=root ; COMMAND=...``, PAM's session) and ``X`` run as root; refused
    when the user is no ``sudoer``. ``pids``: the process ids to use (else the node's next ones).
    Returns the processes started."""
    r = log.rng
    t = ts
    out: list[Proc] = []
    home = home_of(shell.user)
    for argv in argvs(command, home):
        if argv[0] in BUILTINS:
            continue
        if argv[0] == "sudo":
            out += _sudo(log, t, shell, argv, sudoer, sudo_close)
        else:
            out.append(log.process(t, shell, argv, image(argv[0]), pid=next(pids) if pids else None))
        t += r.uniform(*gap)
    return out


def _sudo(log: HostLog, ts: float, shell: Proc, argv: list[str], sudoer: bool, close: float) -> list[Proc]:
    r = log.rng
    sudo = log.process(ts, shell, argv, "/usr/bin/sudo", uid=ROOT_UID)  # the user's, setuid: euid root
    i, listing = 1, False
    while i < len(argv) and argv[i].startswith("-"):
        listing = listing or argv[i] in ("-l", "-ll")
        i += 2 if argv[i] in SUDO_OPTIONS_WITH_VALUE else 1
    rest = argv[i:]
    command = "list" if listing or not rest else " ".join([image(rest[0])] + rest[1:])
    head = f"{shell.user} : " + ("" if sudoer else "user NOT in sudoers ; ")
    t = ts + r.uniform(0.002, 0.01)
    fields = {"USER": "root", "TTY": tty_name(shell), "PWD": shell.cwd, "COMMAND": command}
    log.syslog(t, shell.host, "sudo", sudo.pid,
               f"{head}TTY={fields['TTY']} ; PWD={shell.cwd} ; USER=root ; COMMAND={command}",
               facility="authpriv", severity="notice" if sudoer else "alert", **fields)
    if not sudoer or command == "list":
        return [sudo]
    log.syslog(t + 0.0004, shell.host, "sudo", sudo.pid,
               f"pam_unix(sudo:session): session opened for user root(uid=0) by {shell.user}(uid={shell.uid})",
               facility="authpriv")
    child = log.process(t + r.uniform(0.001, 0.004), sudo, rest, image(rest[0]), user="root", uid=ROOT_UID)
    log.syslog(t + close + r.uniform(0.01, 0.4), shell.host, "sudo", sudo.pid,
               "pam_unix(sudo:session): session closed for user root", facility="authpriv")
    return [sudo, child]


def sh_c(log: HostLog, ts: float, parent: Proc, command: str, gap=(0.0003, 0.0009),
         pids: Iterator[int] | None = None) -> tuple[Proc, list[Proc]]:
    """``parent`` runs ``command`` through ``/bin/sh -c`` (PHP's system(), cron): the shell, then
    its commands as its children (``pids``: theirs, the shell's first, else the node's next)."""
    sh = log.process(ts, parent, ["sh", "-c", command], image("sh"), pid=next(pids) if pids else None)
    return sh, run(log, ts + log.rng.uniform(*gap), sh, command, sudoer=False, pids=pids)


def cron_job(log: HostLog, layout, node: str, ts: float, command: str, *, user: str = "root",
             length: float = 1.0) -> tuple[Proc, list[Proc]]:
    """cron runs a crontab line's ``command`` for ``user`` at ``ts``: its child ``CRON`` opens a
    PAM session, logs ``(user) CMD (command)``, starts ``/bin/sh -c command`` and closes the
    session ``length`` seconds later. Returns the shell and its commands' processes."""
    r = log.rng
    uid = uid_of(layout, user)
    ses = r.randint(100, 9000)
    cron = Proc(node, log.pid(node), "/usr/sbin/cron", "/usr/sbin/CRON -f", user, uid, home_of(user), uid, ses)
    log.syslog(ts, node, "CRON", cron.pid, f"pam_unix(cron:session): session opened for user {user}(uid={uid}) "
               "by (uid=0)", facility="authpriv")
    log.syslog(ts + 0.0005, node, "CRON", cron.pid, f"({user}) CMD ({command})", facility="cron")
    sh, kids = sh_c(log, ts + r.uniform(0.001, 0.003), cron, command)
    log.syslog(ts + length + r.uniform(0.001, 0.05), node, "CRON", cron.pid,
               f"pam_unix(cron:session): session closed for user {user}", facility="authpriv")
    return sh, kids


# ---- sshd -----------------------------------------------------------------------------------------

def fingerprint(key_blob: bytes) -> str:
    """``SHA256:...`` of a public key, as sshd logs it."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(key_blob).digest()).decode().rstrip("=")


@dataclass
class Login:
    user: str
    uid: int
    src: str
    sport: int
    pid: int  # the connection's sshd (its lines)
    session: int  # systemd-logind's session number
    shell: Proc | None = None


class Sshd:
    """sshd on one node: a connection's lines under the pid of the sshd that serves it."""

    def __init__(self, log: HostLog, layout, node: Host):
        self.log, self.layout, self.node = log, layout, node.name
        self.listener = HostLog.daemon(node.name, daemon_pid(layout, node.name, "sshd"), "/usr/sbin/sshd",
                                       "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups")
        self.logind = daemon_pid(layout, node.name, "systemd-logind")

    def connection(self) -> int:
        """A new connection: the pid of the sshd forked for it."""
        return self.log.pid(self.node)

    def say(self, ts: float, pid: int, message: str, *, severity: str = "info", facility: str = "auth") -> None:
        self.log.syslog(ts, self.node, "sshd", pid, message, facility=facility, severity=severity)

    def accepted(self, ts: float, pid: int, user: str, src: str, sport: int, method: str,
                 key_blob: bytes | None = None) -> Login:
        r = self.log.rng
        uid = uid_of(self.layout, user)
        key = f": ED25519 {fingerprint(key_blob)}" if method == "publickey" and key_blob else ""
        self.say(ts, pid, f"Accepted {method} for {user} from {src} port {sport} ssh2{key}")
        self.say(ts + 0.0008, pid, f"pam_unix(sshd:session): session opened for user {user}(uid={uid}) by (uid=0)",
                 facility="authpriv")
        ses = r.randint(2, 900)
        self.log.syslog(ts + 0.002, self.node, "systemd-logind", self.logind, f"New session {ses} of user {user}.")
        return Login(user, uid, src, sport, pid, ses)

    def shell(self, ts: float, login: Login, *, interactive: bool = True, pty: int = 0) -> Proc:
        """The user's login shell (``-bash`` on a pty) under ``sshd: user@pts/N``; or, for a
        command without a terminal, the session's sshd to start ``bash -c`` from."""
        cwd = home_of(login.user)
        session = Proc(self.node, self.log.pid(self.node), "/usr/sbin/sshd",
                       f"sshd: {login.user}@{'pts/' + str(pty) if interactive else 'notty'}", login.user, login.uid,
                       cwd, login.uid, login.session, f"pts{pty}" if interactive else "(none)")
        if not interactive:
            return session
        login.shell = self.log.process(ts, session, ["-bash"], "/usr/bin/bash")
        return login.shell

    def closed(self, ts: float, login: Login, text: str = "disconnected by user") -> None:
        """The client hung up (``text``: its SSH_MSG_DISCONNECT's) and the session ended."""
        self.say(ts, login.pid, f"Received disconnect from {login.src} port {login.sport}:11: {text}")
        self.say(ts + 0.0003, login.pid, f"Disconnected from user {login.user} {login.src} port {login.sport}")
        self.say(ts + 0.0009, login.pid, f"pam_unix(sshd:session): session closed for user {login.user}",
                 facility="authpriv")
        self.log.syslog(ts + 0.004, self.node, "systemd-logind", self.logind,
                        f"Session {login.session} logged out. Waiting for processes to exit.")
        self.log.syslog(ts + 0.006, self.node, "systemd-logind", self.logind, f"Removed session {login.session}.")

    def failed(self, ts: float, pid: int, user: str, src: str, sport: int, *, valid: bool = True,
               first: bool = True) -> None:
        """A refused password: PAM's failure (first time) and sshd's ``Failed password``."""
        rhost = f"logname= uid=0 euid=0 tty=ssh ruser= rhost={src} "
        if first and valid:
            self.say(ts - 0.0004, pid, f"pam_unix(sshd:auth): authentication failure; {rhost} user={user}",
                     severity="notice", facility="authpriv")
        elif first:
            self.say(ts - 0.0006, pid, "pam_unix(sshd:auth): check pass; user unknown", severity="notice",
                     facility="authpriv")
            self.say(ts - 0.0004, pid, f"pam_unix(sshd:auth): authentication failure; {rhost}", severity="notice",
                     facility="authpriv")
        self.say(ts, pid, f"Failed password for {'' if valid else 'invalid user '}{user} from {src} port {sport} ssh2")


def session_log(sshd: Sshd, sess: TcpSession, marks: list, user: str, *, key_blob: bytes | None = None,
                sudoer: bool = True) -> None:
    """The lines and processes of one SSH session ``sess`` whose server side did ``marks``
    (:attr:`attack_scripts._ssh.Talk.marks`): refused and accepted logins, the shell or the
    command, each command typed, the logout."""
    times = message_times(sess)
    r = sshd.log.rng
    pid = sshd.connection()
    login: Login | None = None
    shell: Proc | None = None
    failures = 0
    for i, what, detail in marks:
        t = times[i]
        if what == "failed":
            sshd.failed(t, pid, user, sess.client, sess.sport, first=failures == 0)
            failures += 1
        elif what == "accepted":
            login = sshd.accepted(t, pid, user, sess.client, sess.sport, detail or "password", key_blob)
        elif login is None:
            continue
        elif what == "shell":
            shell = sshd.shell(t, login, pty=r.randint(0, 3))
        elif what == "exec":
            session = sshd.shell(t, login, interactive=False)
            bash = sshd.log.process(t + 0.001, session, ["bash", "-c", detail or ""], "/usr/bin/bash")
            run(sshd.log, t + 0.002, bash, detail or "", sudoer=sudoer)
        elif what == "command" and shell is not None:
            run(sshd.log, t + r.uniform(0.0002, 0.001), shell, detail or "", sudoer=sudoer)
        elif what == "exit":
            sshd.closed(t, login)


# ---- an intruder's shell (attack_scripts._shellsession) -------------------------------------------

_IMAGES.update({"nc": "/usr/bin/nc.openbsd", "netcat": "/usr/bin/nc.openbsd"})  # Debian's netcat-openbsd


def sudo(log: HostLog, ts: float, shell: Proc, argv: list[str], *, sudoer: bool = True,
         close: float = 0.05) -> list[Proc]:
    """``shell`` runs ``sudo`` with exactly ``argv`` (for a command line :func:`argvs` cannot
    split, such as ``find ... -exec /bin/sh \\; -quit``): as :func:`run` does for ``sudo X``,
    the session closing ``close`` seconds later. Returns sudo's process and its child's."""
    return _sudo(log, ts, shell, argv, sudoer, close)


_WRITES = {">", ">>", ">|", "&>", "&>>"}


def redirections(command: str) -> list[str]:
    """The files a command line's redirections write (``> f``, ``>> f``, ``&> f``), quotes
    respected; ``/dev/...`` and descriptors (``>&1``) left out."""
    try:
        lex = shlex.shlex(command, posix=True, punctuation_chars="|&;<>()")
        lex.whitespace_split = True
        tokens = list(lex)
    except ValueError:
        return []
    return [path for op, path in zip(tokens, tokens[1:])
            if op in _WRITES and not path.startswith("/dev/") and not path.isdigit()]
