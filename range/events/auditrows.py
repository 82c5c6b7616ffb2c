"""Kernel audit events of the range's nodes as host records (:mod:`range.events.hostsensor`).

A process's control group names its container (``/proc/<pid>/cgroup``), the container's labels
its team and node (:class:`Nodes`); :class:`Translator` turns each event into the rows of Sigma's
Linux log sources as the offline replay writes them (:mod:`range.traffic.hostlog`): an
``execve`` a process_creation row and its auditd rows (SYSCALL, EXECVE, CWD, PATH, PROCTITLE), a
``connect`` a network_connection row, a file created a file_event row. Process ids are the
host's, as the kernel's audit reports them.

Not a node's activity, so never written: the range's own processes (sensors, actuators, probes
and the intruder's servers run on the host, outside every container's control group), and what
``docker exec`` starts inside a container (the range's account setup: its parent is the
container runtime, not the node's init), with everything they start.
"""
from __future__ import annotations

import os
import re
import time
from collections import OrderedDict, defaultdict
from dataclasses import dataclass

from range.events import audit

CACHE = 1 << 16   # processes remembered (parents of later events)
_CGROUP = re.compile(r"(?:/docker/|docker-)([0-9a-f]{64})")
EXECVE_ARGS = 10


@dataclass
class Proc:
    node: tuple[str, str, int] | None   # (team, node, its container's init pid), None for the host's own
    image: str
    command_line: str
    user: str
    ignored: bool = False   # started by docker exec (or below it): the range's, not the node's


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "surrogateescape")
    except OSError:
        return None


class Nodes:
    """Which team and node a host process id belongs to, through its container."""

    def __init__(self, session: str, lookup=None):
        self.session = session
        self.lookup = lookup or self._docker
        self.by_id: dict[str, tuple[str, str, int] | None] = {}
        self.passwd: dict[int, dict[int, str]] = {}
        self.refreshed = 0.0

    def _docker(self) -> dict[str, tuple[str, str, int]]:
        from range.runtime import client
        from range.runtime.engine import LABEL_NODE, LABEL_SESSION, LABEL_TEAM
        out = {}
        for c in client().containers.list(filters={"label": f"{LABEL_SESSION}={self.session}"}):
            out[c.id] = (c.labels[LABEL_TEAM], c.labels[LABEL_NODE], c.attrs["State"]["Pid"])
        return out

    def container(self, pid: int) -> str | None:
        text = _read(f"/proc/{pid}/cgroup")
        m = _CGROUP.search(text) if text else None
        return m.group(1) if m else ("" if text is not None else None)   # "": the host's; None: gone

    def of(self, cid: str) -> tuple[str, str, int] | None:
        if cid not in self.by_id and time.monotonic() - self.refreshed > 1.0:   # a container new to us
            self.refreshed = time.monotonic()
            try:
                self.by_id.update(self.lookup())
            except Exception:  # noqa: BLE001 - the engine is busy or gone: asked again a second later
                return None
            self.by_id.setdefault(cid, None)   # another session's, or no range's
        return self.by_id.get(cid)

    def user(self, init_pid: int, uid: int) -> str:
        """The name of ``uid`` in the container's own /etc/passwd (read through its init process)."""
        names = self.passwd.get(init_pid)
        if names is None:
            names = self.passwd[init_pid] = {}
            for line in (_read(f"/proc/{init_pid}/root/etc/passwd") or "").splitlines():
                parts = line.split(":")
                if len(parts) > 2 and parts[2].isdigit():
                    names[int(parts[2])] = parts[0]
        return names.get(uid, str(uid))


class Translator:
    """Audit events into host records, per (team, node)."""

    def __init__(self, nodes: Nodes):
        self.nodes = nodes
        self.procs: OrderedDict[int, Proc] = OrderedDict()
        self.counts: dict[str, int] = defaultdict(int)

    def _remember(self, pid: int, p: Proc) -> None:
        self.procs[pid] = p
        self.procs.move_to_end(pid)
        if len(self.procs) > CACHE:
            self.procs.popitem(last=False)

    def proc(self, pid: int) -> Proc | None:
        """What we know of a running process: remembered from its execve, or read from /proc."""
        p = self.procs.get(pid)
        if p is not None:
            return p
        cid = self.nodes.container(pid)
        if cid is None:
            return None
        where = self.nodes.of(cid) if cid else None
        exe = ""
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            pass
        cmd = (_read(f"/proc/{pid}/cmdline") or "").replace("\0", " ").strip()
        status = _read(f"/proc/{pid}/status") or ""
        m = re.search(r"^Uid:\s+(\d+)", status, re.M)
        user = self.nodes.user(where[2], int(m.group(1))) if where and m else ""
        p = Proc(where, exe, cmd, user)
        self._remember(pid, p)
        return p

    def where(self, pid: int, ppid: int) -> tuple[tuple[str, str, int] | None, bool]:
        """The node of a process that just made a syscall, and whether it is the range's own. A
        process already gone when its record is read is placed by its parent."""
        parent = self.proc(ppid)
        cid = self.nodes.container(pid)
        if cid is None:
            if parent is None or parent.node is None:
                self.counts["gone"] += 1
                return None, True
            return parent.node, parent.ignored
        node = self.nodes.of(cid) if cid else None
        if node is None:
            return None, True
        ignored = parent is None or parent.ignored or (parent.node is None and pid != node[2])
        return node, ignored

    def event(self, ts: float, serial: int, records: list[tuple[str, dict]]) -> tuple[tuple[str, str] | None, list]:
        """``((team, node), [(table, record), ...])`` of one audit event; no node for another's."""
        by = {}
        for typ, f in records:
            by.setdefault(typ, []).append(f)
        sc = by.get("SYSCALL", [None])[0]
        if sc is None:
            return None, []
        call = audit.SYSCALLS.get(sc.get("syscall", ""), sc.get("syscall", ""))
        pid, ppid = int(sc.get("pid", 0)), int(sc.get("ppid", 0))
        node, ignored = self.where(pid, ppid)
        if node is None:
            return None, []
        team_node = node[:2]
        uid = int(sc.get("uid", 0)) if sc.get("uid", "").isdigit() else 0
        user = self.nodes.user(node[2], uid)
        if call in ("execve", "execveat"):
            argv = self._argv(by)
            p = Proc(node, sc.get("exe", ""), " ".join(argv), user, ignored)
            parent = self.procs.get(ppid)
            self._remember(pid, p)
            if ignored:
                self.counts["ignored"] += 1
                return None, []
            return team_node, self._exec(ts, serial, node[1], sc, by, p, parent, argv)
        if ignored:
            self.counts["ignored"] += 1
            return None, []
        p = self.procs.get(pid) or self.proc(pid) or Proc(node, sc.get("exe", ""), "", user)
        if call == "connect":
            return team_node, self._connect(ts, node[1], pid, p, by)
        if call in ("openat", "creat", "open"):
            return team_node, self._file(ts, node[1], pid, p, by)
        return None, []

    @staticmethod
    def _argv(by: dict) -> list[str]:
        ex = by.get("EXECVE", [{}])[0]
        n = int(ex.get("argc", 0) or 0)
        return [ex.get(f"a{i}", "") for i in range(n)]

    def _exec(self, ts, serial, host, sc, by, p: Proc, parent: Proc | None, argv: list[str]) -> list:
        pid, ppid = int(sc["pid"]), int(sc["ppid"])
        cwd = by.get("CWD", [{}])[0].get("cwd", "")
        rows = [("process_creation", {
            "ts": ts, "host": host, "ProcessId": pid, "Image": p.image, "CommandLine": p.command_line,
            "CurrentDirectory": cwd, "User": p.user, "ParentProcessId": ppid,
            "ParentImage": parent and parent.image, "ParentCommandLine": parent and parent.command_line,
            "ParentUser": parent and parent.user})]
        common = {"ts": ts, "host": host, "serial": serial, "pid": pid}
        rows.append(("auditd", {**common, "type": "SYSCALL", "key": sc.get("key"), "SYSCALL": "execve",
                                "success": sc.get("success"), "exit": _int(sc.get("exit")), "ppid": ppid,
                                "auid": _int(sc.get("auid")), "euid": _int(sc.get("euid")), "ses": _int(sc.get("ses")),
                                "tty": sc.get("tty"), "comm": sc.get("comm"), "exe": p.image}))
        rows.append(("auditd", {**common, "type": "EXECVE", "argc": len(argv),
                                **{f"a{i}": a for i, a in enumerate(argv[:EXECVE_ARGS])}}))
        rows.append(("auditd", {**common, "type": "CWD", "cwd": cwd}))
        for path in by.get("PATH", [])[:1]:
            rows.append(("auditd", {**common, "type": "PATH", "name": path.get("name"),
                                    "nametype": path.get("nametype")}))
        rows.append(("auditd", {**common, "type": "PROCTITLE", "proctitle": p.command_line[:128]}))
        return rows

    def _connect(self, ts, host, pid, p: Proc, by) -> list:
        addr = audit.sockaddr(by.get("SOCKADDR", [{}])[0].get("saddr", ""))
        if addr is None:
            return []
        return [("network_connection", {"ts": ts, "host": host, "ProcessId": pid, "Image": p.image, "User": p.user,
                                        "Protocol": "tcp", "Initiated": "true", "DestinationIp": addr[0],
                                        "DestinationPort": addr[1]})]

    def _file(self, ts, host, pid, p: Proc, by) -> list:
        cwd = by.get("CWD", [{}])[0].get("cwd", "")
        paths = by.get("PATH", [])
        made = next((x for x in paths if x.get("nametype") == "CREATE"), None)
        if made is None:
            return []   # an existing file opened with O_CREAT: written, not created
        name = made.get("name", "")
        if not name.startswith("/"):
            name = os.path.normpath(os.path.join(cwd or "/", name))
        return [("file_event", {"ts": ts, "host": host, "ProcessId": pid, "Image": p.image, "TargetFilename": name,
                                "User": p.user})]


def _int(v) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None
