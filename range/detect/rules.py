"""Sigma rules loaded and compiled to SQL over the event store: the rule model and the loader.

:func:`load_rules` reads rule files and folders with pySigma (correlation rules included),
converts every detection rule through ``detections/pipeline.yml`` with
:class:`~range.detect.backend.RangeBackend` and returns a :class:`RuleSet`; rules that fail to
load or convert become entries of ``RuleSet.errors`` and the rest go on. The engine
(:mod:`range.detect.engine`) runs a rule set over a store. :func:`pipeline_tables` is the
pipeline's table mapping (which log sources read which table), for the loader and the
workspace's rule editor alike.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import (
    CorrelationConditionAND,
    CorrelationConditionNOT,
    CorrelationConditionOR,
    SigmaCorrelationCondition,
    SigmaCorrelationRule,
    SigmaExtendedCorrelationCondition,
)
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingPipeline
from sigma.processing.transformations import FieldMappingTransformation, SetStateTransformation
from sigma.rule import SigmaRule

from range.core import InputError, loads_all
from range.core.paths import DETECTIONS
from range.detect import correlate
from range.detect.backend import COLUMNS, RangeBackend, register_functions
from range.detect.bounds import check_rule
from range.detect.legacy import legacy_aggregation
from range.events import SCHEMA, physical

PIPELINE = DETECTIONS / "pipeline.yml"
ALERT_WINDOW = 60.0       # a simple rule's matches from one source within this span are one alert


@dataclass
class Rule:
    key: str
    id: str
    title: str
    level: str
    file: str
    table: str
    sql: str
    mappings: list[dict]          # the pipeline's field mappings that applied, in order
    output: bool = True           # raises alerts of its own (false: only feeds correlations)
    sql_seen: str = ""            # the same by the sensor's write time (Detector.poll_seen)
    where: str = ""

    def queries(self, seen: bool = False) -> list[tuple[str, str]]:
        """(physical table, SQL) for each table holding this rule's records: the log's own table,
        and a live store's interim table of open connections (range.events.INTERIM)."""
        sql = self.sql_seen if seen else self.sql
        own = f" FROM {self.table} WHERE "
        return [(t, sql if t == self.table else sql.replace(own, f" FROM {t} WHERE ", 1)) for t in physical(self.table)]

    def column(self, name: str) -> str | None:
        for m in self.mappings:
            v = m.get(name, name)
            name = v[0] if isinstance(v, list) else v
        return COLUMNS[self.table].get(name.lower())


@dataclass
class Correlation:
    key: str
    id: str
    title: str
    level: str
    file: str
    spec: correlate.Spec


@dataclass
class RuleSet:
    rules: dict[str, Rule] = field(default_factory=dict)
    correlations: list[Correlation] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    window: float = ALERT_WINDOW

    def error(self, file, rule_id, message) -> None:
        self.errors.append({"file": str(file), "rule_id": rule_id, "message": message})



def _load_pipeline(path: str | Path) -> ProcessingPipeline:
    try:
        return ProcessingPipeline.from_yaml(Path(path).read_text(), source_path=str(path))
    except (OSError, SigmaError, yaml.YAMLError) as e:
        raise InputError(f"cannot load the processing pipeline: {_msg(e)}", file=str(path)) from None


def pipeline_tables(pipeline: str | Path | ProcessingPipeline = PIPELINE) -> list[tuple[str, list[dict[str, str]]]]:
    """The pipeline's table mapping: each of its ``set_state`` items of the state ``table``, in the
    pipeline's order, as (table, the log sources that select it), a log source as the fields it names
    (``product``, ``category``, ``service``, in that order; e.g. ``{"product": "zeek", "service": "dns"}``).

    pySigma applies the items in order, so a rule's log source that matches several reads the table
    of the last one: ``product: linux, category: process_creation`` matches syslog's catch-all
    ``product: linux`` and, after it, process_creation's entry. The rule editor's status line and
    ``cyberrange detect``'s syslog check (:func:`_syslog_services`) read the mapping from here.
    """
    pl = pipeline if isinstance(pipeline, ProcessingPipeline) else _load_pipeline(pipeline)
    out: list[tuple[str, list[dict[str, str]]]] = []
    for it in pl.items:
        t = it.transformation
        if isinstance(t, SetStateTransformation) and t.key == "table":
            conds = it.rule_conditions.values() if isinstance(it.rule_conditions, dict) else it.rule_conditions
            out.append((str(t.val), [{k: v for k in ("product", "category", "service") if (v := getattr(c, k))}
                                     for c in conds if isinstance(c, LogsourceCondition)]))
    return out


def _rule_id(r) -> str:
    """A rule's id; without one, its name or its title (not its file's name, which differs between a
    team's dry run and its deployed copy)."""
    return str(r.id) if r.id else (r.name or r.title or "untitled rule")


def _msg(e: Exception) -> str:
    m = str(e.args[0]) if e.args else type(e).__name__
    line = getattr(getattr(e, "source", None), "line", None)
    return f"line {line}: {m}" if line else m


def _documents(text: bytes) -> list[dict]:
    docs = loads_all(text, "rule")
    for d in docs:
        if d is not None and not isinstance(d, dict):
            raise InputError("not a Sigma rule: each YAML document must be a mapping")
    return [d for d in docs if d is not None]


def rule_files(paths) -> list[Path]:
    """Files named directly, and *.yml / *.yaml found recursively in folders (sorted)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix in (".yml", ".yaml") and f.is_file())
        elif p.is_file():
            out.append(p)
        else:
            raise InputError("no such rule file or folder", file=str(p))
    seen: set[Path] = set()
    return [f for f in out if not (f.resolve() in seen or seen.add(f.resolve()))]


def load_rules(paths, pipeline: str | Path = PIPELINE, window: float = ALERT_WINDOW) -> RuleSet:
    """Load, convert and link the rules in ``paths``; a rule's failure is an entry of ``.errors``."""
    pl = _load_pipeline(pipeline)
    rs = RuleSet(window=window)
    parsed: list[tuple[Any, str]] = []
    broken: set[str] = set()      # names and ids of rules that did not parse
    for f in rule_files(paths):
        try:
            raw = f.read_bytes()
        except OSError as e:
            raise InputError(f"cannot read: {e.strerror}", file=str(f)) from None
        try:
            docs = []
            for doc in _documents(raw):
                try:
                    check_rule(doc)   # sizes and regular expressions, before pySigma works on them
                    docs += legacy_aggregation(doc, str(f))
                except InputError as e:
                    rs.error(f, str(doc.get("id") or doc.get("name") or "") or None, e.message)
            coll = SigmaCollection.from_dicts(docs, collect_errors=True, source=SigmaRuleLocation(f),
                                              resolve_references=False)
        except InputError as e:
            rs.error(f, None, f"line {e.line}: {e.message}" if e.line else e.message)
            continue
        except Exception as e:  # pySigma may raise more than SigmaError on odd input
            rs.error(f, None, f"not a Sigma rule file: {type(e).__name__}: {e}")
            continue
        for e in coll.errors:
            if not any(e in getattr(r, "errors", []) for r in coll.rules):
                rs.error(f, None, _msg(e))
        for r in coll.rules:
            if r.errors:
                rs.error(f, _rule_id(r), "; ".join(_msg(e) for e in r.errors))
                broken.update(x for x in (r.name, str(r.id) if r.id else None) if x)
            else:
                parsed.append((r, str(f)))
    backend, check, services = RangeBackend(pl), _empty_store(), _syslog_services(pl)
    names: dict[str, str] = {}
    for i, (r, f) in enumerate(parsed):
        key = f"r{i}"
        if not r.id and not r.name:
            rs.warnings.append({"file": f, "rule_id": _rule_id(r), "message": "the rule has no id: it is known by "
                                "its title; give it an `id:` (a UUID) to tell it apart from rules with the same title"})
        for ref in (r.name, str(r.id) if r.id else None):
            if ref:
                names[ref] = key
        if isinstance(r, SigmaRule):
            _convert_rule(rs, backend, check, r, f, key, services)
        elif not isinstance(r, SigmaCorrelationRule):
            rs.error(f, _rule_id(r), f"{type(r).__name__} (Sigma filters) is not supported by cyberrange detect")
    check.close()
    failed = {f"r{i}" for i, (r, _) in enumerate(parsed) if isinstance(r, SigmaRule) and f"r{i}" not in rs.rules}
    failed |= {ref for ref in broken if ref not in names}
    for i, (r, f) in enumerate(parsed):
        if isinstance(r, SigmaCorrelationRule):
            _link_correlation(rs, r, f, f"r{i}", names, failed)
    return rs


def _convert_rule(rs: RuleSet, backend: RangeBackend, check, r: SigmaRule, f: str, key: str,
                  syslog_services: set[str]) -> None:
    backend.missing = set()
    try:
        queries = backend.convert_rule(r)
        if not queries:
            raise InputError("the rule converts to no query")
        table = queries[0][0]
        if table not in SCHEMA or any(t != table for t, _ in queries):
            raise InputError(f"log source maps to {table!r}, which is not a table of the event store")
        ls = r.logsource
        if table == "syslog" and ls.product == "linux" and (
                ls.category is not None or (ls.service is not None and ls.service not in syslog_services)):
            raise InputError(_not_mapped(ls))   # reached syslog only through the pipeline's catch-all
        where = " OR ".join(f"({q})" for _, q in queries) if len(queries) > 1 else queries[0][1]
        sql = f"SELECT rowid, * FROM {table} WHERE rowid > ? AND rowid <= ? AND ({where}) ORDER BY ts, rowid"
        check.execute("EXPLAIN " + sql, (0, 0)).fetchall()
        sql_seen = (f"SELECT rowid, * FROM {table} WHERE rowid > ? AND _seen > ? AND _seen <= ? AND ({where}) "
                    f"ORDER BY _seen, ts, rowid")
    except (SigmaError, InputError, sqlite3.Error, NotImplementedError) as e:
        m = e.message if isinstance(e, InputError) else _msg(e)
        if m.startswith("log source not mapped"):   # the pipeline's rule_failure (unmapped_logsource)
            m = _not_mapped(r.logsource)
        rs.error(f, _rule_id(r), m)
        return
    pl = backend.last_processing_pipeline
    maps = [it.transformation.mapping for it in pl.items
            if it.identifier in pl.applied_ids and isinstance(it.transformation, FieldMappingTransformation)]
    rs.rules[key] = Rule(key, _rule_id(r), r.title or "", r.level.name.lower() if r.level else "medium", f,
                         table, sql, maps, sql_seen=sql_seen, where=where)
    for m in sorted(backend.missing):
        rs.warnings.append({"file": f, "rule_id": _rule_id(r), "message":
                            f"field {m!r} is not in the {table} log: treated as absent from every event"})


def _not_mapped(ls) -> str:
    return (f"log source (category={ls.category}, product={ls.product}, service={ls.service}) is not mapped by "
            f"the pipeline; the range records {', '.join(SCHEMA)}")


def _syslog_services(pl: ProcessingPipeline) -> set[str]:
    """The Linux services the pipeline names for the syslog table. Its ``product: linux`` catch-all
    also matches a linux rule of any category or service: those it does not name are not mapped."""
    return {c["service"] for t, conds in pipeline_tables(pl) if t == "syslog" for c in conds if "service" in c}


def _empty_store() -> sqlite3.Connection:
    """An in-memory store with the schema, to compile every rule's SQL once at load time."""
    db = sqlite3.connect(":memory:")
    for t, cols in SCHEMA.items():
        db.execute(f"CREATE TABLE {t} ({', '.join(f'`{c}` {ty}' for c, ty in cols)})")
    register_functions(db, lambda p, v: None)
    return db


def _link_correlation(rs: RuleSet, c: SigmaCorrelationRule, f: str, key: str, names: dict, failed: set) -> None:
    cid = _rule_id(c)
    try:
        refs = [x.reference for x in (c.rules or [])]
        if isinstance(c.condition, SigmaExtendedCorrelationCondition):
            refs = refs or c.condition.get_referenced_rules()
        srcs = []
        for ref in refs:
            k = names.get(ref)
            if ref in failed or k in failed:
                raise InputError(f"references rule {ref!r}, which failed to load (see its error)")
            if k is None:
                raise InputError(f"references rule {ref!r}, which is not among the loaded rules")
            if k not in rs.rules:
                raise InputError(f"references {ref!r}, a correlation: correlations of correlations are not supported")
            srcs.append(k)
        kind = c.type.name.lower()
        aliases = {a.alias: {x.reference: v for x, v in a.mapping.items()} for a in c.aliases}
        gnames = list(c.group_by or [])
        gfields, vfields = {}, {}
        for ref, k in zip(refs, srcs):
            rule = rs.rules[k]
            cols = []
            for g in gnames:
                col = rule.column(aliases[g].get(ref, g) if g in aliases else g)
                if col is None:
                    rs.warnings.append({"file": f, "rule_id": cid, "message": f"group-by field {g!r} is not in "
                                        f"the {rule.table} log of rule {rule.title!r}: all its events share one group"})
                cols.append(col)
            gfields[k] = cols
            if isinstance(c.condition, SigmaCorrelationCondition) and c.condition.fieldref:
                fr = c.condition.fieldref
                vfields[k] = rule.column(fr if isinstance(fr, str) else fr[0])
                if vfields[k] is None:
                    rs.warnings.append({"file": f, "rule_id": cid, "message": f"field {fr!r} is not in the "
                                        f"{rule.table} log of rule {rule.title!r}: it has no values"})
        shown = []
        for g in gnames:   # name a group by its stored column when every base rule agrees
            cols = {gfields[k][gnames.index(g)] for k in srcs}
            shown.append(cols.pop() if len(cols) == 1 and None not in cols else g)
        op, thr, expr = "gte", len(set(srcs)), None
        if isinstance(c.condition, SigmaCorrelationCondition):
            op, thr = c.condition.op.name.lower(), c.condition.count
        elif isinstance(c.condition, SigmaExtendedCorrelationCondition):
            if kind != "temporal":
                raise InputError("extended conditions are supported for temporal correlations only")
            expr = _expression(c.condition.parsed, names)
        spec = correlate.Spec(kind, float(c.timespan.seconds), srcs, gfields, shown, op, thr, vfields, expr)
    except (InputError, ValueError, SigmaError) as e:
        rs.error(f, cid, e.message if isinstance(e, InputError) else _msg(e))
        return
    for k in srcs:   # a base rule alerts on its own only if every correlation using it says generate: true
        rs.rules[k].output = rs.rules[k].output and bool(c.generate)
    rs.correlations.append(Correlation(key, cid, c.title or "", c.level.name.lower() if c.level else "medium", f, spec))


def _expression(node, names: dict):
    """A temporal extended condition (and/or/not over rules) as a predicate on the rules present."""
    if isinstance(node, CorrelationConditionAND):
        a, b = (_expression(x, names) for x in node.args)
        return lambda s: a(s) and b(s)
    if isinstance(node, CorrelationConditionOR):
        a, b = (_expression(x, names) for x in node.args)
        return lambda s: a(s) or b(s)
    if isinstance(node, CorrelationConditionNOT):
        a = _expression(node.args[0], names)
        return lambda s: not a(s)
    k = names[node.reference]
    return lambda s: k in s
