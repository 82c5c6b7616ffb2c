"""Ground truth: which packets and host records each attack step made, as ``truth.json``.

A step's ``start``/``end`` bound exactly its packets; its ``flows`` name them. Flows are as
coarse as they can be without naming a packet of anything else inside the step's window: a
port scan becomes one flow per target, a flood from a botnet one flow per source prefix, while a
DNS tunnel from a workstation that also resolves names for its user keeps its source ports.
Scoring uses :func:`flow_matches` to decide whether an event belongs to a step.

A step's ``host`` evidence names the records its nodes logged (a web shell's processes, sshd's
lines): per node and host table, the time window and the process ids (:data:`HOST_ID`: the
record's ``ProcessId``, or auditd's and syslog's ``pid``; of a web server's log line, its client's
address ``c-ip``) of the step's records, split finer
where a record of something else on that node falls in the window with one of those ids
(:func:`compact_host`). Scoring uses :func:`host_matches`.
"""
from __future__ import annotations

import ipaddress
import socket
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator

from range.core import InputError, iso, parse_iso, read_json, write_json

FlowKey = tuple  # (src, dst, proto, sport, dport, src_mac)
HostKey = tuple  # (ts, node, table, process id)
MAX_SOURCES = 16
SLACK = 0.001  # seconds: timestamps travel through ISO text and tshark's epoch floats

# the field of each host table that names the process that logged it (range.events.HOST_TABLES);
# of the web server's log, the client it answered (its workers serve everyone)
HOST_ID = {"process_creation": "ProcessId", "file_event": "ProcessId", "network_connection": "ProcessId",
           "auditd": "pid", "syslog": "pid", "webserver": "c-ip"}


@lru_cache(maxsize=65536)
def _net(text: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(text, strict=False)


@lru_cache(maxsize=1 << 18)
def _addr_in(addr: str, spec: str) -> bool:
    if "/" not in spec:
        return addr == spec
    try:
        return ipaddress.IPv4Address(addr) in _net(spec)
    except ValueError:
        return False


def flow_matches(flow: dict, src: str | None, dst: str | None, proto: str | None,
                 sport: int | None = None, dport: int | None = None, src_mac: str | None = None) -> bool:
    """Does a packet or event with these fields (client to server) belong to ``flow``?"""
    if flow["proto"] != proto or src is None or dst is None:
        return False
    if not (_addr_in(dst, flow["dst"]) and _addr_in(src, flow["src"])):
        return False
    if "dport" in flow and flow["dport"] != dport:
        return False
    if "sport" in flow and flow["sport"] != sport:
        return False
    if "src_mac" in flow and flow["src_mac"] != src_mac:
        return False
    return True


def _matches_either(flow: dict, k: FlowKey) -> bool:
    src, dst, proto, sport, dport, smac = k
    return flow_matches(flow, src, dst, proto, sport, dport, smac) or \
        flow_matches(flow, dst, src, proto, dport, sport, smac)


def _flow(src: str, dst: str, proto: str, sport=None, dport=None, smac=None) -> dict:
    f: dict[str, Any] = {"src": src, "dst": dst, "proto": proto}
    if sport is not None:
        f["sport"] = sport
    if dport is not None:
        f["dport"] = dport
    if smac is not None:
        f["src_mac"] = smac
    return f


def _sources(srcs: set[str], limit: int = MAX_SOURCES) -> list[str]:
    """Source addresses, summarised into at most ``limit`` prefixes when a step has many (a botnet)."""
    if len(srcs) <= limit:
        return sorted(srcs)
    aton = socket.inet_aton
    ints = {int.from_bytes(aton(s), "big") for s in srcs}  # a flood may have 10^5 sources
    for plen in (24, 16, 8, 0):
        mask = (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF
        nets = {v & mask for v in ints}
        if len(nets) <= limit:
            return [f"{socket.inet_ntoa(n.to_bytes(4, 'big'))}/{plen}" for n in sorted(nets)]
    return ["0.0.0.0/0"]  # pragma: no cover - /0 always fits


def _candidates(srcs: list[str], dports: list, dst: str, proto: str, smac: str | None) -> Iterator[list[dict]]:
    """Flow sets from coarse to fine: by source, then by source and destination port."""
    yield [_flow(s, dst, proto, smac=smac) for s in srcs]
    yield [_flow(s, dst, proto, dport=p, smac=smac) for s in srcs for p in dports]


def _first_clean(candidates: Iterable[list[dict]], near: list[FlowKey]) -> list[dict] | None:
    for cand in candidates:
        if len(cand) <= 256 and not any(_matches_either(fl, f) for fl in cand for f in near):
            return cand
    return None


def compact_flows(keys: Iterable[FlowKey], foreign: list[FlowKey]) -> list[dict]:
    """The coarsest flows that name every key in ``keys`` and none in ``foreign``."""
    groups: dict[tuple, set[FlowKey]] = defaultdict(set)
    for k in keys:
        groups[(k[1], k[2], k[5])].add(k)
    out: list[dict] = []
    for (dst, proto, smac), ks in sorted(groups.items(), key=lambda g: (g[0][0], g[0][1], g[0][2] or "")):
        near = [f for f in foreign if f[2] == proto and (f[1] == dst or f[0] == dst)]
        src_set = {k[0] for k in ks}
        srcs = _sources(src_set)
        dports = sorted({k[4] for k in ks}, key=str)
        chosen = _first_clean(_candidates(srcs, dports, dst, proto, smac), near)
        if chosen is None and "/" in srcs[0]:
            # many sources whose summary also covers something else's packets (a randomly
            # spoofed flood beside ordinary traffic): try up to 256 finer prefixes before
            # falling back to one flow per connection
            fine = _sources(src_set, 256)
            if fine != srcs:
                chosen = _first_clean(_candidates(fine, dports, dst, proto, smac), near)
        if chosen is None:
            chosen = [_flow(k[0], k[1], k[2], k[3], k[4], k[5]) for k in sorted(ks, key=str)]
        out.extend(chosen)
    return out


def host_key(table: str, rec: dict) -> HostKey:
    """(ts, node, table, process id) of a host record (``ts`` in epoch seconds)."""
    return (rec["ts"], rec.get("host"), table, rec.get(HOST_ID[table]))


def host_matches(ev: dict, t: float, node: str | None, table: str, pid) -> bool:
    """Does a host record (its key's parts) fall in host evidence ``ev`` of a step?"""
    return (ev["table"] == table and ev["host"] == node and pid in ev["pids"]
            and ev["start"] - SLACK <= t <= ev["end"] + SLACK)


def _evidence(node: str, table: str, keys: list[HostKey]) -> dict:
    ts = [k[0] for k in keys]
    return {"host": node, "table": table, "start": min(ts), "end": max(ts),
            "pids": sorted({k[3] for k in keys}, key=lambda p: (p is None, p or 0))}


def compact_host(keys: Iterable[HostKey], foreign: Iterable[HostKey]) -> list[dict]:
    """A step's host evidence: per node and table, the window and process ids of ``keys``; where
    a ``foreign`` record (benign activity, another step) would fall in it, per process id, and
    where that still names one, per record."""
    groups: dict[tuple, list[HostKey]] = defaultdict(list)
    for k in keys:
        groups[(k[1], k[2])].append(k)
    others: dict[tuple, list[HostKey]] = defaultdict(list)
    for k in foreign:
        if (k[1], k[2]) in groups:
            others[(k[1], k[2])].append(k)
    out: list[dict] = []

    def clean(ev: dict, near: list[HostKey]) -> bool:
        return not any(host_matches(ev, f[0], f[1], f[2], f[3]) for f in near)

    for (node, table), ks in sorted(groups.items(), key=lambda g: (str(g[0][0]), g[0][1])):
        whole = _evidence(node, table, ks)
        near = [f for f in others.get((node, table), []) if whole["start"] - SLACK <= f[0] <= whole["end"] + SLACK]
        if clean(whole, near):
            out.append(whole)
            continue
        by_pid: dict = defaultdict(list)
        for k in ks:
            by_pid[k[3]].append(k)
        for pid in sorted(by_pid, key=lambda p: (p is None, p or 0)):
            ev = _evidence(node, table, by_pid[pid])
            if clean(ev, near):
                out.append(ev)
            else:  # the same process id in the same window: one record at a time
                out.extend(_evidence(node, table, [k]) for k in sorted(set(by_pid[pid]), key=str))
    return out


@dataclass
class StepTruth:
    id: str
    technique: str
    attack: str
    tactic: str
    points: float
    start: float
    end: float
    packets: int
    flows: list[dict]
    briefing: str = ""
    host: list[dict] = field(default_factory=list)  # host evidence: {host, table, start, end, pids}
    host_records: int = 0

    def to_json(self) -> dict:
        return {"id": self.id, "technique": self.technique, "attack": self.attack, "tactic": self.tactic,
                "points": self.points, "start": iso(self.start), "end": iso(self.end), "packets": self.packets,
                "briefing": self.briefing, "flows": self.flows, "host_records": self.host_records,
                "host": [{**e, "start": iso(e["start"]), "end": iso(e["end"])} for e in self.host]}


@dataclass
class Truth:
    scenario: str
    seed: int
    team: str
    steps: list[StepTruth] = field(default_factory=list)
    start: float = 0.0
    end: float = 0.0
    scoring: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"scenario": self.scenario, "seed": self.seed, "team": self.team,
                "start": iso(self.start), "end": iso(self.end), "scoring": self.scoring,
                "steps": [s.to_json() for s in self.steps]}

    def write(self, path: str | Path) -> None:
        write_json(path, self.to_json())

    @classmethod
    def read(cls, path: str | Path) -> "Truth":
        data = read_json(path)
        try:
            steps = [StepTruth(s["id"], s["technique"], s["attack"], s.get("tactic", ""), float(s["points"]),
                               parse_iso(s["start"]), parse_iso(s["end"]), int(s.get("packets", 0)),
                               list(s["flows"]), s.get("briefing", ""),
                               [{"host": e["host"], "table": e["table"], "start": parse_iso(e["start"]),
                                 "end": parse_iso(e["end"]), "pids": list(e["pids"])} for e in s.get("host", [])],
                               int(s.get("host_records", 0))) for s in data["steps"]]
            return cls(data["scenario"], int(data["seed"]), data["team"], steps,
                       parse_iso(data["start"]) if "start" in data else min((s.start for s in steps), default=0),
                       parse_iso(data["end"]) if "end" in data else max((s.end for s in steps), default=0),
                       data.get("scoring", {}))
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(f"not a cyberrange truth file: {type(e).__name__} {e}", file=str(path)) from None
