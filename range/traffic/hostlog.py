"""Host records: what the nodes themselves log while a script's traffic runs.

A technique or a benign kind may write, beside its actions, the records the nodes it touches
would log: the web server's shells, sshd's lines, cron's jobs. It writes them through
``ctx.host``, a :class:`HostLog`; each record is ``(table, fields)``, ``table`` one of
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
from dataclasses import dataclass, field

TABLES = ("process_creation", "file_event", "network_connection", "auditd", "syslog")
UNSET = 4294967295  # auditd's auid and ses of a process no login started (daemons and their children)
PROCTITLE_MAX = 128  # the kernel keeps this much of a process's command line for audit's PROCTITLE
EXECVE_ARGS = 10  # a0..a9, as the store keeps them


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
