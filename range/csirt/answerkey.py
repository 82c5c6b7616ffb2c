"""The answer key of a team's copy: for each attack step, what a correct incident report or a
correct shared indicator names — the attacker's addresses, the affected hosts, the attacker's
domains, URLs and user agents — read from the step's own events.

:func:`step_key` is pure: a step's ground truth (:class:`range.scoring.StepTruth`), the events that
belong to it (:func:`range.scoring.event_in_step`) and what benign traffic used (so that a value
ordinary users also produce never counts as an indicator of the attack). :func:`answer_keys`
reads a team's event store once and remembers the result while the files are unchanged.

Who is the attacker follows the technique (:data:`range.csirt.rsit.TECHNIQUES`): a port scan's
originator, a beacon's responder (its C2 server), the host behind a forged ARP reply's MAC. An
address seen on both sides of a step's connections belongs to the side it appears on most.
"""
from __future__ import annotations

import ipaddress
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from range.core import TeamDir
from range.csirt.rsit import expected
from range.events import NETWORK_TABLES
from range.scoring import SLACK, StepTruth, Truth, event_in_step, event_key

TABLES = NETWORK_TABLES  # the key is read from a step's network records (its host records: not yet)
MAX_VALUES = 5000  # addresses or names kept per step (a spoofed flood has tens of thousands)


@dataclass
class StepKey:
    id: str
    technique: str
    attack: str
    tactic: str
    start: float
    end: float
    rsit: list[tuple[str, str]]
    attackers: list[str] = field(default_factory=list)
    attacker_nets: list[str] = field(default_factory=list)
    affected: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)  # names the step resolved or contacted
    bases: list[str] = field(default_factory=list)  # their registered domains (last two labels)
    uris: list[str] = field(default_factory=list)  # request URIs (path and query)
    paths: list[str] = field(default_factory=list)  # their paths, when benign traffic never used them
    hosts: list[str] = field(default_factory=list)  # HTTP Host headers of the step's requests
    user_agents: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)

    # ---- what is right --------------------------------------------------------------------
    def is_attacker(self, value: str) -> bool:
        return _in(value, self.attackers, self.attacker_nets)

    def is_affected(self, value: str) -> bool:
        return _in(value, self.affected, [])

    def has_domain(self, name: str) -> bool:
        name = name.lower().rstrip(".")
        return name in self.domains or name in self.bases or any(name.endswith("." + b) for b in self.bases)

    def has_url(self, url: str) -> bool:
        parts = urlsplit(url if "://" in url else "http://" + url)
        uri = parts.path or "/"
        if parts.query:
            uri += "?" + parts.query
        host = (parts.hostname or "").lower()
        if host and self.hosts and host not in self.hosts and not self.is_affected(host) and not self.is_attacker(host):
            return False
        return uri in self.uris or (parts.path or "/") in self.paths

    def has_user_agent(self, ua: str) -> bool:
        return ua.strip() in self.user_agents

    def matches(self, kind: str, value: str) -> bool:
        """Is a shared indicator of this kind right for this step?"""
        if kind == "ipv4":
            return self.is_attacker(value)
        if kind == "domain":
            return self.has_domain(value)
        if kind == "url":
            return self.has_url(value)
        if kind == "user_agent":
            return self.has_user_agent(value)
        return False


def _in(value: str, addrs: list[str], nets: list[str]) -> bool:
    try:
        if "/" in value:
            net = ipaddress.IPv4Network(value, strict=False)
            return any(ipaddress.IPv4Address(a) in net for a in addrs) or \
                any(net.overlaps(ipaddress.IPv4Network(n)) for n in nets)
        a = ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return value in addrs or any(a in ipaddress.IPv4Network(n) for n in nets)


def base_domain(name: str) -> str:
    labels = name.lower().rstrip(".").split(".")
    return ".".join(labels[-2:])


@dataclass
class Benign:
    """Values benign traffic produced: never an indicator of an attack."""
    bases: set[str] = field(default_factory=set)
    paths: set[str] = field(default_factory=set)
    uris: set[str] = field(default_factory=set)
    user_agents: set[str] = field(default_factory=set)


def _sides(events: list[dict], skip_dns: bool) -> tuple[Counter, Counter]:
    orig, resp = Counter(), Counter()
    for ev in events:
        path = ev.get("_path")
        if path == "arp":
            continue
        if skip_dns and (path == "dns" or ev.get("id.resp_p") == 53):
            continue
        if ev.get("id.orig_h"):
            orig[ev["id.orig_h"]] += 1
        if ev.get("id.resp_h"):
            resp[ev["id.resp_h"]] += 1
    return orig, resp


def _split(first: Counter, second: Counter) -> tuple[set[str], set[str]]:
    """Addresses on each side; one seen on both sides goes to the side it appears on most."""
    a = {x for x in first if first[x] >= second.get(x, 0)}
    b = {x for x in second if second[x] > first.get(x, 0)}
    return a, b


def _arp_roles(events: list[dict], step: StepTruth) -> tuple[set[str], set[str]]:
    replies = [e for e in events if e.get("_path") == "arp" and e.get("operation") == "reply"]
    macs = Counter(e.get("orig_mac") or e.get("src_mac") for e in replies)
    if not macs:
        return set(), set()
    forged = macs.most_common(1)[0][0]
    attackers = {e["id.orig_h"] for e in events if e.get("_path") == "arp" and e.get("operation") == "request"
                 and (e.get("orig_mac") or e.get("src_mac")) == forged and e.get("id.orig_h")}
    if not attackers:
        attackers = {f["src"] for f in step.flows if f.get("src_mac") == forged and "/" not in f["src"]}
    claimed = {e["id.orig_h"] for e in replies if (e.get("orig_mac") or e.get("src_mac")) == forged}
    poisoned = {e["id.resp_h"] for e in replies if (e.get("orig_mac") or e.get("src_mac")) == forged}
    return attackers, (claimed | poisoned) - attackers


def step_key(step: StepTruth, events: list[dict], benign: Benign | None = None) -> StepKey:
    """What a correct report or indicator names for one step, from the step's own events."""
    benign = benign or Benign()
    exp = expected(step.technique)
    key = StepKey(step.id, step.technique, step.attack, step.tactic, step.start, step.end, list(exp.rsit))
    attackers: set[str] = set()
    affected: set[str] = set()
    if exp.attacker == "arp" or exp.affected == "arp":
        attackers, affected = _arp_roles(events, step)
    else:
        orig, resp = _sides(events, skip_dns=exp.attacker == "resp")
        if not orig and not resp:  # only ARP frames: use them after all
            orig, resp = _sides([dict(e, _path="conn") for e in events], skip_dns=False)
        if exp.attacker == "orig":
            attackers, affected = _split(orig, resp)
        elif exp.attacker == "resp":
            affected, attackers = _split(orig, resp)
            _all_orig, _ = _sides(events, skip_dns=False)
            affected |= set(_all_orig) - attackers
        else:
            both_orig, both_resp = _sides(events, skip_dns=False)
            affected = set(both_orig) | (set(both_resp) if exp.affected == "both" else set())
    if exp.attacker == "orig":
        key.attacker_nets = sorted({f["src"] for f in step.flows if "/" in f["src"]})
    key.attackers = sorted(attackers)[:MAX_VALUES]
    key.affected = sorted(affected)[:MAX_VALUES]
    if "domain" in exp.indicators:
        names = {e["query"].lower().rstrip(".") for e in events if e.get("_path") == "dns" and e.get("query")}
        names |= {e["host"].lower() for e in events if e.get("_path") == "http" and e.get("host")}
        names = {n for n in names if base_domain(n) not in benign.bases and "." in n}
        key.bases = sorted({base_domain(n) for n in names})
        key.domains = sorted(names)[:MAX_VALUES]
    if "url" in exp.indicators or "user_agent" in exp.indicators:
        http = [e for e in events if e.get("_path") == "http" and e.get("id.orig_h") in (attackers | affected)]
        if "url" in exp.indicators:
            uris = {e["uri"] for e in http if e.get("uri")}
            key.uris = sorted(uris - benign.uris)[:MAX_VALUES]
            key.paths = sorted({u.split("?", 1)[0] for u in uris} - benign.paths - {"/"})
            key.hosts = sorted({e["host"].lower() for e in http if e.get("host")})
        if "user_agent" in exp.indicators:
            key.user_agents = sorted({e["user_agent"].strip() for e in http if e.get("user_agent")}
                                     - benign.user_agents)
    return key


# ---- reading a team's events ------------------------------------------------------------------

def _rows(db: sqlite3.Connection, table: str, lo: float | None = None, hi: float | None = None) -> list[dict]:
    try:
        if lo is None:
            cur = db.execute(f"SELECT * FROM {table}")
        else:
            cur = db.execute(f"SELECT * FROM {table} WHERE ts >= ? AND ts <= ?", (lo, hi))
    except sqlite3.Error:
        return []
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r), _path=table) for r in cur]


def read_keys(truth: Truth, db_path: Path) -> dict[str, StepKey]:
    """Every step's key from an event store (an offline team's source.db, or its events.db)."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        per_step = {s.id: [] for s in truth.steps}
        for s in truth.steps:
            for t in TABLES:
                for ev in _rows(db, t, s.start - SLACK, s.end + SLACK):
                    if event_in_step(event_key(ev), s):
                        per_step[s.id].append(ev)
        benign = Benign()
        for t in ("dns", "http"):
            for ev in _rows(db, t):
                k = event_key(ev)
                if any(event_in_step(k, s) for s in truth.steps):
                    continue
                if t == "dns" and ev.get("query"):
                    benign.bases.add(base_domain(ev["query"]))
                elif t == "http":
                    if ev.get("uri"):
                        benign.uris.add(ev["uri"])
                        benign.paths.add(ev["uri"].split("?", 1)[0])
                    if ev.get("user_agent"):
                        benign.user_agents.add(ev["user_agent"].strip())
    finally:
        db.close()
    return {s.id: step_key(s, per_step[s.id], benign) for s in truth.steps}


_cache: dict[tuple, tuple[tuple, float, dict[str, StepKey]]] = {}
_lock = threading.Lock()
LIVE_REFRESH = 5.0  # seconds: a live team's events.db grows every tick; its key is read again at most this often


def answer_keys(team_dir: TeamDir, truth: Truth) -> dict[str, StepKey]:
    """A team's answer key, remembered while its truth and event store are unchanged (an offline
    team's source.db never changes; a live team's events.db is read again every few seconds)."""
    src = team_dir.source
    live = not src.exists()
    if live:
        src = team_dir.events
    if not src.exists():
        return {}
    tp = team_dir.truth
    key = (str(team_dir.path), tp.stat().st_mtime_ns if tp.exists() else 0, len(truth.steps))
    stamp = (src.stat().st_mtime_ns, src.stat().st_size)
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
    if hit is not None and (hit[0] == stamp or (live and now - hit[1] < LIVE_REFRESH)):
        return hit[2]
    keys = read_keys(truth, src)
    with _lock:
        if len(_cache) > 128:
            _cache.clear()
        _cache[key] = (stamp, now, keys)
    return keys
