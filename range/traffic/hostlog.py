"""Host records: what the nodes themselves log while a script's traffic runs.

A technique or a benign kind may write, beside its actions, the records the nodes it touches
would log: the web server's shells and its access log, sshd's lines, cron's jobs. It writes them
through ``ctx.host``, a :class:`HostLog`; each record is ``(table, fields)``, ``table`` one of
:data:`TABLES` (the event store's host tables) and ``fields`` Sigma's field names with ``ts``
(epoch seconds) and ``host`` (the node's name, as in the environment).

Their randomness (process ids, audit serials, timing inside a node) comes from ``HostLog.rng``,
which the plan derives from the same seed, team, scenario and purpose as the packets but apart from
them: writing host records never moves a packet, the same seed gives identical records and another
team its own. A script that builds its traffic more than once (:func:`attack_scripts._tcptime.fit`)
writes its records once, from the traffic it keeps.

Offline, the replay writes every record beside the capture and ingest stores them with the
packets' events; live, the nodes' own logs are to be collected instead (these are not used there).
"""
from __future__ import annotations

import posixpath
import random
import re
import time
from dataclasses import dataclass, field

TABLES = ("process_creation", "file_event", "network_connection", "auditd", "syslog", "webserver")
UNSET = 4294967295  # auditd's auid and ses of a process no login started (daemons and their children)
PROCTITLE_MAX = 128  # the kernel keeps this much of a process's command line for audit's PROCTITLE
EXECVE_ARGS = 10  # a0..a9, as the store keeps them
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
ERROR_LEVELS = ("debug", "info", "notice", "warn", "error", "crit", "alert", "emerg")  # nginx's error_log
# what nginx writes as \xHH in a log line (its default escaping): all but printable ASCII, '"' and '\'
_LOG_ESCAPE = re.compile(r'[^\x20\x21\x23-\x5b\x5d-\x7e]')
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP method (RFC 9110's token)


def _log_escape(m: re.Match) -> str:
    c = m.group()
    return "".join(f"\\x{b:02X}" for b in c.encode("latin-1" if ord(c) < 0x100 else "utf-8"))


def nginx_escape(text: str) -> str:
    """``text`` as nginx writes a variable into a log line: a control character, ``"``, ``\\``
    and every byte from 0x7f as ``\\xHH`` (text from the wire decoded as Latin-1 is its bytes)."""
    return _LOG_ESCAPE.sub(_log_escape, text)


def nginx_time(ts: float, error_log: bool = False) -> str:
    """``ts`` as nginx's access log (``$time_local``, ``20/Nov/2026:10:15:02 +0000``) or its
    error log (``2026/11/20 10:15:02``) writes it; the nodes keep UTC."""
    t = time.gmtime(ts)
    if error_log:
        return time.strftime("%Y/%m/%d %H:%M:%S", t)
    return f"{t.tm_mday:02d}/{MONTHS[t.tm_mon - 1]}/{t.tm_year}:{time.strftime('%H:%M:%S', t)} +0000"


@dataclass(frozen=True)
class Proc:
    """A process on a node: who runs what, where. ``auid``/``ses``: the login it descends from
    (:data:`UNSET` for a daemon's), ``tty``: its terminal (``pts0``) or ``(none)``."""
    host: str
    pid: int
    image: str
    command_line: str
    user: str
    uid: int
    cwd: str = "/"
    auid: int = UNSET
    ses: int = UNSET
    tty: str = "(none)"


@dataclass
class HostLog:
    """The host records one step or one benign kind writes, in the order written."""
    rng: random.Random
    records: list[tuple[str, dict]] = field(default_factory=list)
    _pids: dict[str, int] = field(default_factory=dict)
    _serials: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, ts: float, host: str, **fields) -> dict:
        """One record of ``table`` logged on node ``host`` at ``ts``; empty (None) fields left out."""
        if table not in TABLES:
            raise ValueError(f"{table!r} is not a host table ({', '.join(TABLES)})")
        rec = {"ts": round(ts, 6), "host": host}
        rec.update((k, v) for k, v in fields.items() if v is not None)
        self.records.append((table, rec))
        return rec

    # ---- identities a node hands out ---------------------------------------------------------
    def pid(self, host: str) -> int:
        """The next process id on ``host``: Linux counts up, other processes take some between."""
        r = self.rng
        last = self._pids.get(host)
        nxt = r.randint(2000, 40000) if last is None else last + 1 + (r.randint(1, 40) if r.random() < 0.3 else 0)
        self._pids[host] = nxt
        return nxt

    def serial(self, host: str) -> int:
        """The next audit event serial on ``host``."""
        r = self.rng
        last = self._serials.get(host)
        nxt = r.randint(1000, 900000) if last is None else last + r.randint(1, 25)
        self._serials[host] = nxt
        return nxt

    @staticmethod
    def daemon(host: str, pid: int, image: str, command_line: str, user: str = "root", uid: int = 0,
               cwd: str = "/") -> Proc:
        """A process already running when the scenario begins (sshd's listener, php-fpm's
        workers, cron): a parent for what it starts, with no record of its own."""
        return Proc(host, pid, image, command_line, user, uid, cwd)

    # ---- records -------------------------------------------------------------------------------
    def process(self, ts: float, parent: Proc, argv: list[str], image: str, *, user: str | None = None,
                uid: int | None = None, cwd: str | None = None, pid: int | None = None, tty: str | None = None,
                key: str = "exec") -> Proc:
        """``parent`` starts ``argv`` (``image``: the executable's resolved path) at ``ts``: one
        process_creation record and the auditd records of its execve (SYSCALL, EXECVE, CWD, PATH,
        PROCTITLE, one serial). User, uid, directory and terminal are the parent's unless given."""
        host = parent.host
        proc = Proc(host, pid if pid is not None else self.pid(host), image, " ".join(argv),
                    parent.user if user is None else user, parent.uid if uid is None else uid,
                    parent.cwd if cwd is None else cwd, parent.auid, parent.ses, parent.tty if tty is None else tty)
        self.add("process_creation", ts, host, ProcessId=proc.pid, Image=image, CommandLine=proc.command_line,
                 CurrentDirectory=proc.cwd, User=proc.user, ParentProcessId=parent.pid, ParentImage=parent.image,
                 ParentCommandLine=parent.command_line, ParentUser=parent.user)
        serial = self.serial(host)
        audit = {"serial": serial, "pid": proc.pid}
        self.add("auditd", ts, host, type="SYSCALL", key=key, SYSCALL="execve", success="yes", exit=0,
                 ppid=parent.pid, auid=proc.auid, euid=proc.uid, ses=proc.ses, tty=proc.tty,
                 comm=posixpath.basename(argv[0])[:15], exe=image, **audit)
        args = {f"a{i}": a for i, a in enumerate(argv[:EXECVE_ARGS])}
        self.add("auditd", ts, host, type="EXECVE", argc=len(argv), **args, **audit)
        self.add("auditd", ts, host, type="CWD", cwd=proc.cwd, **audit)
        self.add("auditd", ts, host, type="PATH", name=argv[0] if "/" in argv[0] else image, nametype="NORMAL",
                 **audit)
        self.add("auditd", ts, host, type="PROCTITLE", proctitle=proc.command_line[:PROCTITLE_MAX], **audit)
        return proc

    def syslog(self, ts: float, host: str, program: str, pid: int | None, message: str, *,
               facility: str = "auth", severity: str = "info", **fields) -> dict:
        """A line ``program[pid]: message`` in the node's syslog (``fields``: sudo's USER, TTY,
        PWD, COMMAND)."""
        return self.add("syslog", ts, host, facility=facility, severity=severity, program=program, pid=pid,
                        message=message, **fields)

    def file(self, ts: float, proc: Proc, path: str) -> dict:
        """``proc`` creates or writes ``path``."""
        return self.add("file_event", ts, proc.host, ProcessId=proc.pid, Image=proc.image, TargetFilename=path,
                        User=proc.user)

    def connection(self, ts: float, proc: Proc, src: str, sport: int, dst: str, dport: int, *,
                   protocol: str = "tcp", initiated: bool = True) -> dict:
        """``proc`` opens (``initiated``) or accepts a connection."""
        return self.add("network_connection", ts, proc.host, ProcessId=proc.pid, Image=proc.image,
                        User=proc.user, Protocol=protocol, Initiated="true" if initiated else "false", SourceIp=src,
                        SourcePort=sport, DestinationIp=dst, DestinationPort=dport)

    def access(self, ts: float, host: str, client: str, method: str, target: str, status: int, body_bytes: int, *,
               version: str = "HTTP/1.1", referer: str | None = None, user_agent: str | None = None,
               vhost: str | None = None, request_length: int | None = None, user: str | None = None) -> dict:
        """The web server ``host`` logs a request it answered at ``ts``: one line of nginx's access
        log in its ``combined`` format (``message``: ``$remote_addr - $remote_user [$time_local]
        "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"``) and its parts
        under Sigma's webserver names. ``target``: the request target as sent (``cs-uri``; its path
        is ``cs-uri-stem``, what follows the ``?`` ``cs-uri-query``); ``body_bytes``: the answer's
        bytes after its header (``sc-bytes``); ``request_length``: the request's bytes, line,
        header and body (``cs-bytes``); ``vhost``: its ``Host`` header (``cs-host``). Text is
        escaped as nginx escapes it; an empty one is ``-`` in the line and left out of the fields."""
        if not _TOKEN.fullmatch(method):
            raise ValueError(f"{method!r} is not an HTTP method")
        if not target:
            raise ValueError("the request target is empty")
        if type(status) is not int or not 100 <= status <= 599:
            raise ValueError(f"{status!r} is not an HTTP status")
        if type(body_bytes) is not int or body_bytes < 0:
            raise ValueError(f"{body_bytes!r} is not a byte count")
        esc = {k: nginx_escape(v) if v else None for k, v in
               (("target", target), ("version", version), ("referer", referer), ("user_agent", user_agent),
                ("vhost", vhost), ("user", user))}
        stem, _, query = esc["target"].partition("?")
        request = f"{method} {esc['target']}" + (f" {esc['version']}" if esc["version"] else "")
        line = (f'{client} - {esc["user"] or "-"} [{nginx_time(ts)}] "{request}" {status} {body_bytes} '
                f'"{esc["referer"] or "-"}" "{esc["user_agent"] or "-"}"')
        return self.add("webserver", ts, host, **{
            "log": "access", "c-ip": client, "cs-username": esc["user"], "cs-method": method, "cs-uri-stem": stem,
            "cs-uri-query": query or None, "cs-uri": esc["target"], "cs-version": esc["version"],
            "sc-status": status, "sc-bytes": body_bytes, "cs-bytes": request_length,
            "cs-referer": esc["referer"], "cs-user-agent": esc["user_agent"], "cs-host": esc["vhost"],
            "message": line})

    def web_error(self, ts: float, host: str, level: str, pid: int, text: str, *, connection: int | None = None,
                  client: str | None = None, method: str | None = None, target: str | None = None,
                  version: str = "HTTP/1.1", vhost: str | None = None, server: str = "_") -> dict:
        """The web server ``host`` writes a line to nginx's error log: ``2026/11/20 10:15:02
        [error] 812#812: *57 <text>, client: A, server: _, request: "GET / HTTP/1.1", host: "H"``
        (``pid``: the worker's; ``connection``: the ``*N`` of a client's connection; the client's
        part when a request is named). PHP's errors reach it through FastCGI's stderr
        (``FastCGI sent in stderr: "PHP message: PHP Warning: ..."``)."""
        if level not in ERROR_LEVELS:
            raise ValueError(f"{level!r} is not an nginx log level ({', '.join(ERROR_LEVELS)})")
        if method is not None and not _TOKEN.fullmatch(method):
            raise ValueError(f"{method!r} is not an HTTP method")
        if not text:
            raise ValueError("an error line says something")
        line = f"{nginx_time(ts, error_log=True)} [{level}] {pid}#{pid}: " + (f"*{connection} " if connection else "")
        line += text
        fields: dict = {}
        if client is not None:
            line += f", client: {client}, server: {server}"
            fields["c-ip"] = client
            if method is not None and target is not None:
                stem, _, query = target.partition("?")
                line += f', request: "{method} {nginx_escape(target)} {version}"'
                fields.update({"cs-method": method, "cs-uri-stem": nginx_escape(stem),
                               "cs-uri-query": nginx_escape(query) or None, "cs-uri": nginx_escape(target),
                               "cs-version": version})
            if vhost:
                line += f', host: "{nginx_escape(vhost)}"'
                fields["cs-host"] = nginx_escape(vhost)
        return self.add("webserver", ts, host, log="error", level=level, pid=pid, message=line, **fields)
