"""Sigma correlations evaluated in linear time, one event at a time.

The SQLite backend's own correlation SQL joins every match with every other one (5 s at 10k
events, 111 s at 50k). Here each base rule's SQL runs once; its matches arrive in time order
and an :class:`Evaluator` keeps, per group-by key, only the events of the current window, so
each event is appended and evicted once. The same evaluator serves the offline run (one big
feed) and the live range (a feed per poll): all state lives in the evaluator between feeds.

Semantics (documented in detections/README.md):

* **threshold conditions** (``gte``, ``gt``; every temporal correlation): a sliding window of
  ``timespan`` per group. The alert is raised by the event that makes the condition true; it
  covers ``[first event, first event + timespan]``; matches of the same group inside that span
  join it as evidence; after it the group starts counting afresh. A 1,000-probe scan inside one
  timespan is one alert, a slow scan one alert per timespan, never one per probe.
* **closing conditions** (``lt``, ``lte``, ``eq``, ``neq``): a window opens at a group's first
  event and is judged when the stream (or the live clock) passes its end.
* a simple (non-correlation) rule is an ``event_count gte 1`` over its alert window, so the same
  code folds a chatty rule's matches into one alert per source and window.
* **versions**: the live sensor writes a connection's line while it is open and again as it
  grows (same ``uid``). A version of a connection an evaluator already holds replaces the earlier
  one where it is (window or evidence): it raises no second alert and counts once. Versions of a
  connection that left the window long ago are not counted again either (for an hour).
"""
from __future__ import annotations

import heapq
import operator
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

EVIDENCE_MAX = 50
VERSIONED = {"conn": "uid"}   # tables whose records are rewritten as they grow, by this key
REMEMBER = 3600.0             # seconds a version's identity is remembered past its window

OPS: dict[str, Callable[[float, float], bool]] = {
    "gte": operator.ge, "gt": operator.gt, "lte": operator.le, "lt": operator.lt,
    "eq": operator.eq, "neq": operator.ne,
}
THRESHOLD_OPS = ("gte", "gt")
KINDS = ("event_count", "value_count", "value_sum", "value_avg", "temporal", "temporal_ordered")


class Event(NamedTuple):
    """One stored record that matched a base rule (``row`` maps stored field names to values)."""
    ts: float
    table: str
    rowid: int
    row: Any
    interim: bool = False          # a version of a record that is still growing (an open connection)


@dataclass
class Alert:
    rule: str                      # key of the rule or correlation that raised it
    group: dict[str, Any]
    first_ts: float
    last_ts: float
    raised_ts: float
    window_end: float
    events: list[Event]
    matched: int                   # matches folded into the alert (evidence keeps EVIDENCE_MAX)
    revision: int = 1              # grows when evidence or last_ts change after it was raised
    anchor: str = ""               # what identifies it across versions of its first record

    def replace(self, old: Event, new: Event) -> bool:
        """A newer version of one of its records: the evidence shows the latest."""
        for i, e in enumerate(self.events):
            if e is old:
                self.events[i] = new
                if new.ts > self.last_ts:
                    self.last_ts = new.ts
                self.revision += 1
                return True
        return False

    def extend(self, ev: Event) -> None:
        self.matched += 1
        if ev.ts > self.last_ts:
            self.last_ts = ev.ts
        if len(self.events) < EVIDENCE_MAX:
            self.events.append(ev)
        self.revision += 1


@dataclass
class Spec:
    """What to evaluate. ``sources`` are base-rule keys in rule order (temporal_ordered uses it)."""
    kind: str
    timespan: float
    sources: list[str]
    group_fields: dict[str, list[str | None]]   # per source: the stored column of each group-by field
    group_names: list[str]
    op: str = "gte"
    threshold: float = 1
    value_field: dict[str, str | None] = field(default_factory=dict)
    expression: Callable[[set[str]], bool] | None = None   # temporal extended conditions

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"correlation type {self.kind!r} is not supported")
        if self.op not in OPS:
            raise ValueError(f"condition operator {self.op!r} is not supported")
        if self.kind == "temporal_ordered" and self.op not in THRESHOLD_OPS:
            raise ValueError("temporal_ordered supports only gte/gt conditions")


class _Group:
    __slots__ = ("events", "values", "total", "n", "alert", "dqs", "chains", "start", "last", "fed")

    def __init__(self, spec: Spec):
        self.events: deque = deque()    # (Event, value) in the window
        self.values: Counter = Counter()
        self.total = 0.0
        self.n = 0
        self.alert: Alert | None = None
        self.dqs = {s: deque() for s in spec.sources} if spec.kind == "temporal" else None
        self.chains: list | None = [None] * len(spec.sources) if spec.kind == "temporal_ordered" else None
        self.start: float | None = None
        self.last = 0.0
        self.fed = float("-inf")        # the latest ``now`` an event of this group came with


def _version_key(ev: Event):
    """What identifies the record across its versions (a connection's uid), or None."""
    key = VERSIONED.get(ev.table)
    if key is None:
        return None
    try:
        return ev.row[key]
    except (KeyError, IndexError):
        return None


def _number(v) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


class Evaluator:
    """Incremental evaluator for one correlation (or one simple rule's alert folding)."""

    def __init__(self, key: str, spec: Spec):
        self.key = key
        self.spec = spec
        self.groups: dict[tuple, _Group] = {}
        self.changed: dict[int, Alert] = {}
        self.closing = spec.kind in ("event_count", "value_count", "value_sum", "value_avg") \
            and spec.op not in THRESHOLD_OPS
        self._ends: list[tuple[float, tuple]] = []      # closing mode: (window end, group key)
        self._positions = {s: [i for i, x in enumerate(spec.sources) if x == s] for s in spec.sources}
        self._fields = {s: spec.group_fields.get(s) or [None] * len(spec.group_names) for s in spec.sources}
        self._now = float("-inf")
        self._sweep_at = float("-inf")
        self._cmp = OPS[spec.op]
        self._held: dict[tuple, list] = {}   # (table, uid) -> [latest Event, group key, source, ts]

    # ---- public -----------------------------------------------------------------------------
    def feed(self, ev: Event, source: str, now: float | None = None) -> None:
        """One matching event of base rule ``source``; events should come in time order."""
        row = ev.row
        gkey = tuple(None if f is None else row[f] for f in self._fields[source])
        if ev.interim or self._held:   # only open records have versions to come
            uid = _version_key(ev)
            if uid is not None:
                ident = (ev.table, uid, source)
                held = self._held.get(ident)
                if held is not None:  # a newer version of a record already counted
                    self._replace(held, ev)
                    if not ev.interim:  # the final version: no other will follow
                        del self._held[ident]
                    return
                if ev.interim:
                    self._held[ident] = [ev, gkey, source, ev.ts]
        g = self.groups.get(gkey)
        if g is None:
            g = self.groups[gkey] = _Group(self.spec)
        g.last = ev.ts
        if now is not None and now > g.fed:
            g.fed = now
        if ev.ts > self._now:
            self._now = ev.ts
        if self.closing:
            self.advance(ev.ts, now)
            self._feed_closing(g, gkey, ev, source)
        else:
            self._feed_open(g, gkey, ev, source, now)
        if self._now >= self._sweep_at:
            self._sweep()

    def _feed_open(self, g: _Group, gkey, ev: Event, source: str, now) -> None:
        if g.alert is not None:
            if ev.ts <= g.alert.window_end:
                g.alert.extend(ev)
                self.changed[id(g.alert)] = g.alert
                return
            g.alert = None
        kind = self.spec.kind
        if kind == "temporal":
            self._feed_temporal(g, gkey, ev, source, now)
        elif kind == "temporal_ordered":
            self._feed_ordered(g, gkey, ev, source, now)
        else:
            self._feed_sliding(g, gkey, ev, source, now)

    def advance(self, t: float, now: float | None = None) -> None:
        """Stream time (or the live clock) reached ``t``: judge closing windows that ended before."""
        if t > self._now:
            self._now = t
        ends = self._ends
        while ends and ends[0][0] < t:
            end, gkey = heapq.heappop(ends)
            g = self.groups.get(gkey)
            if g is not None and g.start is not None and g.start + self.spec.timespan == end:
                self._close(g, gkey, now)

    def take(self) -> list[Alert]:
        """Alerts raised or extended since the last call."""
        out = list(self.changed.values())
        self.changed.clear()
        return out

    # ---- sliding windows: event_count, value_count, value_sum, value_avg ----------------------
    def _value(self, row, source: str):
        f = self.spec.value_field.get(source)
        return None if f is None else row[f]

    def _add(self, g: _Group, v) -> None:
        kind = self.spec.kind
        if kind == "value_count":
            if v is not None:
                g.values[v] += 1
        elif kind in ("value_sum", "value_avg"):
            x = _number(v)
            if x is not None:
                g.total += x
                g.n += 1

    def _remove(self, g: _Group, v) -> None:
        kind = self.spec.kind
        if kind == "value_count":
            if v is not None:
                c = g.values[v] - 1
                if c:
                    g.values[v] = c
                else:
                    del g.values[v]
        elif kind in ("value_sum", "value_avg"):
            x = _number(v)
            if x is not None:
                g.total -= x
                g.n -= 1

    def _measure(self, g: _Group) -> float | None:
        kind = self.spec.kind
        if kind == "event_count":
            return len(g.events)
        if kind == "value_count":
            return len(g.values)
        if kind == "value_sum":
            return g.total
        return g.total / g.n if g.n else None

    def _feed_sliding(self, g: _Group, gkey, ev: Event, source: str, now) -> None:
        v = self._value(ev.row, source)
        g.events.append((ev, v))
        self._add(g, v)
        cutoff = ev.ts - self.spec.timespan
        dq = g.events
        while dq and dq[0][0].ts < cutoff:
            _, old = dq.popleft()
            self._remove(g, old)
        m = self._measure(g)
        if m is not None and self._cmp(m, self.spec.threshold):
            self._fire(g, gkey, [e for e, _ in dq], ev.ts if now is None else now)
            dq.clear()
            g.values.clear()
            g.total, g.n = 0.0, 0

    # ---- closing windows ------------------------------------------------------------------------
    def _feed_closing(self, g: _Group, gkey, ev: Event, source: str) -> None:
        if g.start is None:
            g.start = ev.ts
            heapq.heappush(self._ends, (ev.ts + self.spec.timespan, gkey))
        v = self._value(ev.row, source)
        g.events.append((ev, v))
        self._add(g, v)

    def _close(self, g: _Group, gkey, now) -> None:
        m = self._measure(g)
        end = g.start + self.spec.timespan
        if m is not None and self._cmp(m, self.spec.threshold):   # never before its evidence arrived
            self._fire(g, gkey, [e for e, _ in g.events], max(end if now is None else now, g.fed), end=end)
            g.alert = None
        g.events.clear()
        g.values.clear()
        g.total, g.n = 0.0, 0
        g.start = None

    # ---- temporal ---------------------------------------------------------------------------------
    def _feed_temporal(self, g: _Group, gkey, ev: Event, source: str, now) -> None:
        g.dqs[source].append(ev)
        cutoff = ev.ts - self.spec.timespan
        present = set()
        for s, dq in g.dqs.items():
            while dq and dq[0].ts < cutoff:
                dq.popleft()
            if dq:
                present.add(s)
        if self.spec.expression is not None:
            ok = self.spec.expression(present)
        else:   # the caller sets threshold = number of rules when the correlation names none
            ok = self._cmp(len(present), self.spec.threshold)
        if ok:
            evs = sorted((e for dq in g.dqs.values() for e in dq), key=lambda e: (e.ts, e.table, e.rowid))
            self._fire(g, gkey, evs, ev.ts if now is None else now)
            for dq in g.dqs.values():
                dq.clear()

    def _feed_ordered(self, g: _Group, gkey, ev: Event, source: str, now) -> None:
        chains, span = g.chains, self.spec.timespan
        cutoff = ev.ts - span
        for i in reversed(self._positions[source]):   # reversed: one event fills one position
            if i == 0:
                cand = (ev.ts, [ev])
            else:
                prev = chains[i - 1]
                if prev is None or prev[0] < cutoff:
                    continue
                cand = (prev[0], prev[1] + [ev])
            if chains[i] is None or cand[0] >= chains[i][0]:
                chains[i] = cand
        last = chains[-1]
        if last is not None and last[0] >= cutoff:
            self._fire(g, gkey, list(last[1]), ev.ts if now is None else now)
            g.chains = [None] * len(chains)

    # ---- alerts -----------------------------------------------------------------------------------
    def _fire(self, g: _Group, gkey, evs: list[Event], raised: float, end: float | None = None) -> None:
        if len(evs) > EVIDENCE_MAX:   # the first ones and the one that crossed the threshold
            evs = evs[:EVIDENCE_MAX - 1] + evs[-1:]
        first = evs[0].ts
        e0 = evs[0]
        uid = _version_key(e0)
        anchor = f"{e0.table}:{e0.rowid if uid is None else uid}:{e0.ts!r}"
        a = Alert(rule=self.key, group=dict(zip(self.spec.group_names, gkey)), first_ts=first,
                  last_ts=max(e.ts for e in evs), raised_ts=raised,
                  window_end=end if end is not None else first + self.spec.timespan,
                  events=list(evs), matched=len(evs), anchor=anchor)
        g.alert = a
        self.changed[id(a)] = a

    def _replace(self, held: list, ev: Event) -> None:
        old, gkey, source, _ = held
        held[0], held[3] = ev, max(held[3], ev.ts)
        g = self.groups.get(gkey)
        if g is None:
            return
        if g.alert is not None and g.alert.replace(old, ev):
            self.changed[id(g.alert)] = g.alert
        for i, (e, v) in enumerate(g.events):
            if e is old:
                nv = self._value(ev.row, source)
                self._remove(g, v)
                self._add(g, nv)
                g.events[i] = (ev, nv)
                break
        for dq in (g.dqs or {}).values():
            for i, e in enumerate(dq):
                if e is old:
                    dq[i] = ev

    def _sweep(self) -> None:
        """Forget groups idle for longer than a window (amortised: once per timespan of stream)."""
        span = self.spec.timespan
        t = self._now
        if self._held:
            stale = [k for k, h in self._held.items() if h[3] < t - span - REMEMBER]
            for k in stale:
                del self._held[k]
        idle = [k for k, g in self.groups.items()
                if g.last < t - span and (g.alert is None or g.alert.window_end < t) and g.start is None]
        for k in idle:
            del self.groups[k]
        self._sweep_at = t + max(span, 1.0)
