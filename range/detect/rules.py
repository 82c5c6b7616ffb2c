"""Detection: Sigma rules -> SQL over the event store -> alerts.

:func:`load_rules` reads rule files and folders with pySigma (correlation rules included),
converts every detection rule through ``detections/pipeline.yml`` with :class:`RangeBackend`
(the SQLite backend, plus missing-field and keyword handling) and returns a :class:`RuleSet`;
rules that fail to load or convert become entries of ``RuleSet.errors`` and the rest go on.
:class:`range.detector.Detector` runs a rule set incrementally on a read-only store: each poll runs each
needed rule's SQL once over the rows added since the last poll, merges the matches in time
order and feeds them to :mod:`range.correlate`, which folds them into alerts. Offline,
:meth:`RuleSet.run` is one poll over the whole store.
"""
from __future__ import annotations

import copy
import re
import sqlite3
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import regex
import yaml
from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.conditions import ConditionFieldEqualsValueExpression, ConditionNOT
from sigma.correlations import SigmaCorrelationCondition, SigmaCorrelationRule, SigmaExtendedCorrelationCondition
from sigma.exceptions import SigmaError, SigmaRegularExpressionError, SigmaRuleLocation
from sigma.processing.pipeline import ProcessingPipeline
from sigma.processing.transformations import FieldMappingTransformation
from sigma.rule import SigmaRule
from sigma.types import SigmaExists, SigmaFieldReference, SigmaNull

from range.detect import correlate
from range.core.errors import InputError
from range.core.paths import DETECTIONS
from range.detect.bounds import check_rule
from range.events.store import SCHEMA
from range.core.yamlfile import loads_all

if TYPE_CHECKING:
    from range.detect.engine import Detector

PIPELINE = DETECTIONS / "pipeline.yml"
ALERT_WINDOW = 60.0       # a simple rule's matches from one source within this span are one alert
RULE_TIMEOUT = 20.0       # seconds of SQL per rule and poll
REGEX_TIMEOUT = 0.5       # seconds per regular-expression match
GROUP_FIELD = "id.orig_h"
_COLUMNS = {t: {c.lower(): c for c, _ in cols} for t, cols in SCHEMA.items()}
# Fields a keyword (a value without a field) is searched in: what the log line would show.
KEYWORD_FIELDS = {
    "conn": ["id.orig_h", "id.resp_h", "proto", "service", "conn_state", "history"],
    "dns": ["id.orig_h", "id.resp_h", "query", "qtype_name", "rcode_name", "answers"],
    "http": ["id.orig_h", "method", "host", "uri", "referrer", "user_agent", "username", "cookie", "post_body"],
    "ssh": ["id.orig_h", "id.resp_h", "client", "server", "direction"],
    "ftp": ["id.orig_h", "id.resp_h", "user", "command", "arg", "reply_msg"],
    "telnet": ["id.orig_h", "id.resp_h", "user", "line"],
    "arp": ["operation", "id.orig_h", "id.resp_h", "src_mac", "dst_mac"],
}
# Fields computed from stored ones (SQL expressions over the table's columns)
VIRTUAL = {"http": {"c-uri-extension": "cyberrange_uri_ext(`uri`)"}}
_VIRTUAL_SQL = {k: v for fields in VIRTUAL.values() for k, v in fields.items()}


def uri_extension(uri):
    """``/a/b.EXE?x=1`` -> ``EXE``: the extension of a URI's last path segment, or NULL."""
    if not isinstance(uri, str):
        return None
    name = uri.split("?", 1)[0].split("#", 1)[0].rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[1] if "." in name else None


def register_functions(db: sqlite3.Connection, regexp) -> None:
    db.create_function("regexp", 2, regexp, deterministic=True)
    db.create_function("cyberrange_uri_ext", 1, uri_extension, deterministic=True)


# ---- the backend ---------------------------------------------------------------------------------
class RangeBackend(sqliteBackend):
    """The pySigma SQLite backend, made to fit the store: a field the rule's table lacks is absent
    from every event (``field: value`` false, ``field: null`` true) instead of an SQL error; plain
    string equality is case-insensitive as Sigma says; keywords search the text fields of the log
    line (KEYWORD_FIELDS); under a NOT an empty field compares false, never NULL."""

    def __init__(self, pipeline: ProcessingPipeline):
        super().__init__(processing_pipeline=pipeline)
        self.missing: set[str] = set()

    def _col(self, name, state):
        table = state.processing_state.get("table")
        if name in VIRTUAL.get(table, {}):
            return name
        return _COLUMNS.get(table, {}).get(str(name).lower())

    def escape_and_quote_field(self, field_name: str) -> str:
        return _VIRTUAL_SQL.get(field_name) or super().escape_and_quote_field(field_name)

    def convert_condition_field_eq_val(self, cond: ConditionFieldEqualsValueExpression, state):
        col = self._col(cond.field, state)
        ref = cond.value.field if isinstance(cond.value, SigmaFieldReference) else None
        if col is None or (ref is not None and self._col(ref, state) is None):
            self.missing.add(cond.field if col is None else ref)
            absent_true = isinstance(cond.value, SigmaNull) or (isinstance(cond.value, SigmaExists) and not cond.value.exists)
            return "1" if absent_true else "0"
        cond.field = col
        if ref is not None:
            cond.value.field = self._col(ref, state)
        return self._never_null(cond, super().convert_condition_field_eq_val(cond, state))

    @staticmethod
    def _never_null(cond, sql):
        """Under a NOT, a comparison with a NULL column must be false, not NULL (NOT NULL is NULL,
        so ``selection and not filter`` would drop every event whose filter field is empty)."""
        p = cond.parent
        while p is not None:
            if isinstance(p, ConditionNOT):
                return f"IFNULL({sql}, 0)"
            p = getattr(p, "parent", None)
        return sql

    def convert_condition_field_eq_val_str(self, cond, state):
        v = cond.value
        if not v.contains_special() and not any(c in str(v) for c in "%_\\"):
            return f"{self.escape_and_quote_field(cond.field)} = {self.convert_value_str(v, state)} COLLATE NOCASE"
        return super().convert_condition_field_eq_val_str(cond, state)

    def convert_condition_field_eq_val_re(self, cond, state):
        try:
            regex.compile(str(cond.value.regexp))
        except regex.error as e:
            raise SigmaRegularExpressionError(f"invalid regular expression {str(cond.value.regexp)!r}: {e}") from None
        return super().convert_condition_field_eq_val_re(cond, state)

    def _keyword(self, text: str, state) -> str:
        cols = KEYWORD_FIELDS.get(state.processing_state.get("table"), [])
        if not cols:
            return "0"
        return "(" + " OR ".join(f"{self.escape_and_quote_field(c)} LIKE '%{text}%' ESCAPE '\\'" for c in cols) + ")"

    def convert_condition_val_str(self, cond, state):
        return self._never_null(cond, self._keyword(self.convert_value_str(cond.value, state, no_quote=True), state))

    def convert_condition_val_num(self, cond, state):
        return self._never_null(cond, self._keyword(str(cond.value), state))

    def finalize_query_default(self, rule, query, index, state):
        return (state.processing_state.get("table"), query)


# ---- loading ---------------------------------------------------------------------------------------
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

    def column(self, name: str) -> str | None:
        for m in self.mappings:
            v = m.get(name, name)
            name = v[0] if isinstance(v, list) else v
        return _COLUMNS[self.table].get(name.lower())


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

    def detector(self, db_path, **kw) -> "Detector":
        from range.detect.engine import Detector
        return Detector(self, db_path, **kw)

    def run(self, db_path, **kw) -> tuple[list[dict], list[dict]]:
        """Offline: every rule over the whole store. Returns (alerts, load and run errors)."""
        det = self.detector(db_path, **kw)
        try:
            det.poll()
        finally:
            det.close()
        return det.alerts(), self.errors + det.errors


def _rule_id(r) -> str:
    return str(r.id) if r.id else (r.name or f"{Path(str(r.source.path)).name if r.source else '?'}:{r.title}")


def _msg(e: Exception) -> str:
    m = str(e.args[0]) if e.args else type(e).__name__
    line = getattr(getattr(e, "source", None), "line", None)
    return f"line {line}: {m}" if line else m


_LEGACY = re.compile(r"^\s*(?P<search>.+?)\s*\|\s*(?P<fn>count|sum|avg)\(\s*(?P<field>[^)\s]*)\s*\)\s*"
                     r"(?:by\s+(?P<group>[\w.\-]+)\s*)?(?P<op>>=|<=|==|!=|>|<|=)\s*(?P<n>\d+(?:\.\d+)?)\s*$")
_OPNAME = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte", "=": "eq", "==": "eq", "!=": "neq"}


def legacy_aggregation(doc: dict, file: str) -> list[dict]:
    """``selection | count(field) by group > n`` (Sigma 1 aggregation) as a base rule plus a correlation."""
    det = doc.get("detection")
    cond = det.get("condition") if isinstance(det, dict) else None
    cond = cond[0] if isinstance(cond, list) and len(cond) == 1 else cond
    m = _LEGACY.match(cond) if isinstance(cond, str) else None
    if m is None:
        if isinstance(cond, str) and re.search(r"\b(count|sum|avg|min|max)\s*\(", cond):
            raise InputError(f"legacy aggregation '{cond}' cannot be expressed as a correlation here: "
                             "use 'search | count(field) by field > n' or write a Sigma correlation rule")
        return [doc]
    if "timeframe" not in det:
        raise InputError(f"legacy aggregation '{cond}' has no timeframe: write it as a Sigma correlation with a timespan")
    rid = str(doc.get("id") or uuid.uuid5(uuid.NAMESPACE_URL, f"{file}:{doc.get('title')}"))
    base = copy.deepcopy(doc)
    base["detection"] = {k: v for k, v in det.items() if k != "timeframe"} | {"condition": m["search"]}
    base.update(id=str(uuid.uuid5(uuid.NAMESPACE_URL, rid + "/search")), name=f"{rid}-search",
                title=f"{doc.get('title', rid)} (search)")
    kind = {"count": "value_count" if m["field"] else "event_count", "sum": "value_sum", "avg": "value_avg"}[m["fn"]]
    n = float(m["n"]) if "." in m["n"] else int(m["n"])
    corr = {k: doc[k] for k in ("title", "description", "status", "level", "author", "date", "tags") if k in doc}
    corr["id"] = rid
    corr["correlation"] = {"type": kind, "rules": [base["name"]], "timespan": str(det["timeframe"]),
                           "condition": {_OPNAME[m["op"]]: n} | ({"field": m["field"]} if m["field"] else {})}
    if m["group"]:
        corr["correlation"]["group-by"] = [m["group"]]
    return [base, corr]


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
    try:
        pl = ProcessingPipeline.from_yaml(Path(pipeline).read_text(), source_path=str(pipeline))
    except (OSError, SigmaError, yaml.YAMLError) as e:
        raise InputError(f"cannot load the processing pipeline: {_msg(e)}", file=str(pipeline)) from None
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
    backend, check = RangeBackend(pl), _empty_store()
    names: dict[str, str] = {}
    for i, (r, f) in enumerate(parsed):
        key = f"r{i}"
        for ref in (r.name, str(r.id) if r.id else None):
            if ref:
                names[ref] = key
        if isinstance(r, SigmaRule):
            _convert_rule(rs, backend, check, r, f, key)
        elif not isinstance(r, SigmaCorrelationRule):
            rs.error(f, _rule_id(r), f"{type(r).__name__} (Sigma filters) is not supported by cyberrange detect")
    check.close()
    failed = {f"r{i}" for i, (r, _) in enumerate(parsed) if isinstance(r, SigmaRule) and f"r{i}" not in rs.rules}
    failed |= {ref for ref in broken if ref not in names}
    for i, (r, f) in enumerate(parsed):
        if isinstance(r, SigmaCorrelationRule):
            _link_correlation(rs, r, f, f"r{i}", names, failed)
    return rs


def _convert_rule(rs: RuleSet, backend: RangeBackend, check, r: SigmaRule, f: str, key: str) -> None:
    backend.missing = set()
    try:
        queries = backend.convert_rule(r)
        if not queries:
            raise InputError("the rule converts to no query")
        table = queries[0][0]
        if table not in SCHEMA or any(t != table for t, _ in queries):
            raise InputError(f"log source maps to {table!r}, which is not a table of the event store")
        where = " OR ".join(f"({q})" for _, q in queries) if len(queries) > 1 else queries[0][1]
        sql = f"SELECT rowid, * FROM {table} WHERE rowid > ? AND rowid <= ? AND ({where}) ORDER BY ts, rowid"
        check.execute("EXPLAIN " + sql, (0, 0)).fetchall()
        sql_seen = (f"SELECT rowid, * FROM {table} WHERE rowid > ? AND _seen > ? AND _seen <= ? AND ({where}) "
                    f"ORDER BY _seen, ts, rowid")
    except (SigmaError, InputError, sqlite3.Error, NotImplementedError) as e:
        m = e.message if isinstance(e, InputError) else _msg(e)
        if m.startswith("log source not mapped"):
            ls = r.logsource
            m = (f"log source (category={ls.category}, product={ls.product}, service={ls.service}) is not mapped by "
                 f"the pipeline; the range records {', '.join(SCHEMA)}")
        rs.error(f, _rule_id(r), m)
        return
    pl = backend.last_processing_pipeline
    maps = [it.transformation.mapping for it in pl.items
            if it.identifier in pl.applied_ids and isinstance(it.transformation, FieldMappingTransformation)]
    rs.rules[key] = Rule(key, _rule_id(r), r.title or "", r.level.name.lower() if r.level else "medium", f,
                         table, sql, maps, sql_seen=sql_seen)
    for m in sorted(backend.missing):
        rs.warnings.append({"file": f, "rule_id": _rule_id(r), "message":
                            f"field {m!r} is not in the {table} log: treated as absent from every event"})


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
    from sigma.correlations import CorrelationConditionAND, CorrelationConditionNOT, CorrelationConditionOR
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
