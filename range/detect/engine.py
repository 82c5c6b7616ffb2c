"""Running detection: a :class:`range.detect.RuleSet` over one event store, incrementally.

Each :meth:`Detector.poll` runs each needed rule's SQL once over the rows added since the last
poll, merges the matches in time order and feeds them to :mod:`range.detect.correlate`, which folds
them into alerts. Live, :meth:`Detector.poll_seen` reads instead by the sensors' write time
(``_seen``) up to their watermark, so what it raises and when does not depend on when it is
called. The store is opened read-only; every rule's SQL and every regular expression runs
under a time budget, and a rule that exceeds it is reported and stopped, never the others.
"""
from __future__ import annotations

import hashlib
import heapq
import json
import math
import sqlite3
import time
from typing import Any

import regex

from range.core import InputError, iso
from range.detect import correlate
from range.detect.backend import register_functions
from range.detect.rules import Rule, RuleSet
from range.events import HOST_TABLES, INTERIM, SCHEMA, open_readonly, record

RULE_TIMEOUT = 20.0       # seconds of SQL per rule and poll
REGEX_TIMEOUT = 0.5       # seconds per regular-expression match
GROUP_FIELD = "id.orig_h"  # a simple rule's alerts are grouped by the source address
HOST_GROUP_FIELD = "host"  # ... or, over a host log (HOST_TABLES), by the node that logged them
HOST_SOURCE = {"webserver": "c-ip"}  # ... but over a web server's log by its client, the request's source
TABLES = [*SCHEMA, *INTERIM]  # every table read: the logs, and the open connections of a live store
OFFLINE_MMAP = 1 << 30    # bytes of the store run() maps (SQLite caps it at its own limit)


class Detector:
    """Incremental detection on one store. ``poll()`` reads the rows added since the previous poll
    (by rowid per table) and returns the alerts raised or extended by them, as JSON objects; an
    alert's ``id`` is stable, so a consumer upserts. ``now`` (epoch seconds) stamps ``raised_at``
    with the session clock and closes windows that ended; without it, it is the event time.
    Live, :meth:`poll_seen` reads by the sensors' write time instead, so the alerts and their
    raise times do not depend on when (or after how long an interruption) it is called."""

    def __init__(self, ruleset: RuleSet, db_path, rule_timeout: float = RULE_TIMEOUT,
                 regex_timeout: float = REGEX_TIMEOUT):
        self.rs = ruleset
        self.db = open_readonly(db_path)
        try:
            tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.Error as e:
            self.db.close()
            raise InputError(f"not an event store: {e}", file=str(db_path)) from None
        if not tables & set(SCHEMA):
            self.db.close()
            raise InputError("not an event store: it has none of the tables " + ", ".join(SCHEMA), file=str(db_path))
        self.rule_timeout, self.regex_timeout = rule_timeout, regex_timeout
        register_functions(self.db, self._regexp)
        self.db.set_progress_handler(self._progress, 20000)
        self._deadline = math.inf
        self._why: str | None = None
        self._rx: dict[str, Any] = {}
        self.errors: list[dict] = []
        self.failed: set[str] = set()
        self.last = {t: 0 for t in TABLES}
        self.horizon = -1.0                   # poll_seen: records seen up to here are done
        self.lo = {t: 0 for t in TABLES}      # poll_seen: every rowid up to here is done
        self.floor = -math.inf                # poll_seen: no alert is raised before this
        self.meta: dict[str, Any] = {}
        self.evaluators: list[correlate.Evaluator] = []
        self.subs: dict[str, list[correlate.Evaluator]] = {}
        for k, r in ruleset.rules.items():
            if r.output:
                gf, gname = r.column(GROUP_FIELD), GROUP_FIELD
                if gf is None and r.table in HOST_TABLES:
                    gf = gname = HOST_SOURCE.get(r.table, HOST_GROUP_FIELD)
                spec = correlate.Spec("event_count", ruleset.window, [k], {k: [gf] if gf else []},
                                      [gname] if gf else [])
                self._add(correlate.Evaluator(k, spec), r)
        for c in ruleset.correlations:
            ev = correlate.Evaluator(c.key, c.spec)
            for k in dict.fromkeys(c.spec.sources):
                self._add(ev, ruleset.rules[k])
            self.meta[c.key] = c
        self._alerts: dict[str, dict] = {}

    def _add(self, ev: correlate.Evaluator, rule: Rule) -> None:
        if ev not in self.evaluators:
            self.evaluators.append(ev)
        self.subs.setdefault(rule.key, []).append(ev)
        self.meta.setdefault(rule.key, rule)

    def _regexp(self, pattern, value):
        if pattern is None or value is None:
            return None
        rx = self._rx.get(pattern)
        if rx is None:
            rx = self._rx[pattern] = regex.compile(pattern)
        s = value if isinstance(value, str) else str(value)
        try:
            return rx.search(s, timeout=self.regex_timeout) is not None
        except TimeoutError:
            self._why = (f"regular expression {pattern!r} ran longer than {self.regex_timeout:g} s on a value of "
                         f"{len(s)} characters (catastrophic backtracking?): rule stopped")
            raise

    def _progress(self) -> int:
        return 1 if time.monotonic() > self._deadline else 0

    def _stream(self, rule: Rule, sql: str, params: tuple, budget: list, interim: bool = False):
        cur = self.db.cursor()
        try:
            self._deadline, t0 = time.monotonic() + budget[0], time.monotonic()
            cur.execute(sql, params)
            while True:
                budget[0] -= time.monotonic() - t0
                self._deadline, t0 = time.monotonic() + budget[0], time.monotonic()
                rows = cur.fetchmany(2000)
                self._deadline = math.inf
                if not rows:
                    return
                for row in rows:
                    yield correlate.Event(row["ts"] or 0.0, rule.table, row["rowid"], row, interim), rule.key
        except sqlite3.Error as e:
            why, self._why = self._why, None
            if why is None:
                why = (f"stopped after {self.rule_timeout:g} s (the per-rule time limit)" if "interrupt" in str(e)
                       else f"SQLite error: {e}")
            self.failed.add(rule.key)
            self.errors.append({"file": rule.file, "rule_id": rule.id, "message": why})
        finally:
            self._deadline = math.inf
            cur.close()

    def poll(self, now: float | None = None) -> list[dict]:
        hi = {}
        for t in TABLES:
            try:
                hi[t] = self.db.execute(f"SELECT max(rowid) FROM {t}").fetchone()[0] or 0
            except sqlite3.OperationalError:   # a store without this table
                hi[t] = 0
        streams = []
        for k, evs in self.subs.items():
            r = self.rs.rules[k]
            if k in self.failed:
                continue
            budget = [self.rule_timeout]
            for t, sql in r.queries():
                if hi[t] > self.last[t]:
                    streams.append(self._stream(r, sql, (self.last[t], hi[t]), budget, t in INTERIM))
        for ev, k in heapq.merge(*streams, key=lambda x: (x[0].ts, x[0].table, x[0].rowid)):
            for e in self.subs[k]:
                e.feed(ev, k, now)
        self.last = hi
        changed = []
        for e in self.evaluators:
            if now is not None:
                e.advance(now, now)
            for a in e.take():
                changed.append(self._json(a))
        return changed

    def watermark(self) -> float:
        """The time up to which every sensor writing this store has committed what it saw: the
        lowest of their watermarks (``inf`` once all stopped; ``-1`` before any started)."""
        try:
            marks = [float(v) for (v,) in self.db.execute("SELECT value FROM meta WHERE key LIKE 'watermark:%'")]
        except (sqlite3.Error, ValueError):
            return -1.0
        return min(marks) if marks else -1.0

    def poll_seen(self, floor: float | None = None) -> list[dict]:
        """Live: the records committed up to the sensors' watermark that are new since the last
        call, taken in the order the sensor wrote them (``_seen``). An alert is raised at the
        ``_seen`` of the record that raised it (a closing window at its end), never before
        ``floor`` (a rule's deployment: a retro-hunt raises when the rule arrives). The result
        depends on the store only, not on when or how often this is called: a detector that
        starts afresh after an orchestrator restart raises the same alerts at the same times."""
        if floor is not None:
            self.floor = floor
        w = self.watermark()
        if w <= self.horizon:
            return []
        streams = []
        for k in self.subs:
            r = self.rs.rules[k]
            if k not in self.failed:
                budget = [self.rule_timeout]
                for t, sql in r.queries(seen=True):
                    streams.append(self._stream(r, sql, (self.lo[t], self.horizon, w), budget, t in INTERIM))

        def order(x):
            ev = x[0]
            return (ev.row["_seen"] or 0.0, ev.ts, ev.table, ev.rowid)
        for ev, k in heapq.merge(*streams, key=order):
            seen = ev.row["_seen"] or 0.0
            for e in self.subs[k]:
                e.advance(max(seen, ev.ts))   # windows that closed before this record arrived
                e.feed(ev, k, seen)
        for e in self.evaluators:
            e.advance(w)
        for t in TABLES:
            try:   # one statement, one snapshot: rows not yet done start after the new cursor
                self.lo[t] = self.db.execute(
                    f"SELECT coalesce((SELECT min(rowid) FROM {t} WHERE rowid > ? AND _seen > ?) - 1, "
                    f"(SELECT max(rowid) FROM {t}), 0)", (self.lo[t], w)).fetchone()[0]
            except sqlite3.OperationalError:
                pass
        self.horizon = w
        return [self._json(a) for e in self.evaluators for a in e.take()]

    def backlog(self) -> dict:
        """Rows written to the store that this detector has not read yet, and (live) its horizon."""
        seen = self.horizon >= 0
        cursor = self.lo if seen else self.last
        rows = 0
        for t in TABLES:
            try:
                rows += max(0, (self.db.execute(f"SELECT max(rowid) FROM {t}").fetchone()[0] or 0) - cursor[t])
            except sqlite3.Error:
                pass
        return {"horizon": self.horizon if seen else None, "rows": rows}

    def _json(self, a: correlate.Alert) -> dict:
        m = self.meta[a.rule]
        h = hashlib.sha256(f"{m.id}\x1f{json.dumps(a.group, sort_keys=True, default=str)}\x1f"
                           f"{a.anchor}".encode()).hexdigest()[:20]
        out = {
            "id": h,
            "rule_id": m.id,
            "rule_title": m.title,
            "level": m.level,
            "raised_at": iso(max(a.raised_ts, self.floor)),
            "first_event_at": iso(a.first_ts),
            "last_event_at": iso(a.last_ts),
            "group": a.group,
            "events": [record(e.table, e.row) for e in a.events],
        }
        self._alerts[h] = (a.rule, out)
        return out

    def alerts(self) -> list[dict]:
        """Every alert so far, in raise order, without those of rules that were stopped."""
        bad = self.failed | {c.key for c in self.rs.correlations if self.failed & set(c.spec.sources)}
        keep = [a for k, a in self._alerts.values() if k not in bad]
        return sorted(keep, key=lambda a: (a["raised_at"], a["first_event_at"], a["rule_id"], a["id"]))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Detector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def run(ruleset: RuleSet, db_path, **kw) -> tuple[list[dict], list[dict]]:
    """Offline: every rule over the whole store in one poll. Returns (alerts, load and run errors)."""
    with Detector(ruleset, db_path, **kw) as det:
        # one pass of every rule over the whole store: read it mapped, not copied page by page into a
        # small cache once per rule (a one-off process; a live Detector keeps its small cache)
        det.db.execute(f"PRAGMA mmap_size={OFFLINE_MMAP}").fetchall()
        det.poll()
    return det.alerts(), ruleset.errors + det.errors
