"""The pySigma SQLite backend made to fit the event store.

A field the rule's table lacks is absent from every event (``field: value`` false, ``field:
null`` true) instead of an SQL error; plain string equality is case-insensitive as Sigma says;
keywords search the text fields of the log line (:data:`KEYWORD_FIELDS`); under a NOT an empty
field compares false, never NULL; virtual fields (:data:`VIRTUAL`) are SQL expressions over stored
columns. Queries come out as ``(table, where clause)``.
"""
from __future__ import annotations

import sqlite3

import regex
from sigma.backends.sqlite import sqliteBackend
from sigma.conditions import ConditionFieldEqualsValueExpression, ConditionNOT
from sigma.exceptions import SigmaRegularExpressionError
from sigma.processing.pipeline import ProcessingPipeline
from sigma.types import SigmaExists, SigmaFieldReference, SigmaNull

from range.events import SCHEMA

COLUMNS = {t: {c.lower(): c for c, _ in cols} for t, cols in SCHEMA.items()}
# Fields a keyword (a value without a field) is searched in: what the log line would show.
KEYWORD_FIELDS = {
    "conn": ["id.orig_h", "id.resp_h", "proto", "service", "conn_state", "history"],
    "dns": ["id.orig_h", "id.resp_h", "query", "qtype_name", "rcode_name", "answers"],
    "http": ["id.orig_h", "method", "host", "uri", "referrer", "user_agent", "username", "cookie", "post_body"],
    "ssh": ["id.orig_h", "id.resp_h", "client", "server", "direction"],
    "ftp": ["id.orig_h", "id.resp_h", "user", "command", "arg", "reply_msg"],
    "telnet": ["id.orig_h", "id.resp_h", "user", "line"],
    "arp": ["operation", "id.orig_h", "id.resp_h", "src_mac", "dst_mac"],
    "process_creation": ["Image", "CommandLine", "CurrentDirectory", "User", "ParentImage", "ParentCommandLine"],
    "file_event": ["Image", "TargetFilename", "User"],
    "network_connection": ["Image", "User", "SourceIp", "DestinationIp", "DestinationHostname"],
    "auditd": [c for c, ty in SCHEMA["auditd"] if ty == "TEXT" and c != "host"],   # the record's fields
    "syslog": ["message"],   # the line after ``program[pid]: ``, whole (sudo's USER=... included)
    "webserver": ["message"],   # the access or error log's line, whole
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
        return COLUMNS.get(table, {}).get(str(name).lower())

    def escape_and_quote_field(self, field_name: str) -> str:
        return _VIRTUAL_SQL.get(field_name) or super().escape_and_quote_field(field_name)

    def convert_condition_field_eq_val(self, cond: ConditionFieldEqualsValueExpression, state):
        col = self._col(cond.field, state)
        ref = cond.value.field if isinstance(cond.value, SigmaFieldReference) else None
        if col is None or (ref is not None and self._col(ref, state) is None):
            self.missing.add(cond.field if col is None else ref)
            absent_true = isinstance(cond.value, SigmaNull) or (
                isinstance(cond.value, SigmaExists) and not cond.value.exists
            )
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
