"""The hunting query language of the event explorer: what analysts type in Kibana's KQL or
Lucene, compiled to parameterised SQL over one table's columns.

    method:POST AND status_code>=400          field:value, comparisons
    user_agent:*sqlmap* OR uri:"/admin page"   wildcards (* and ?), quoted values
    NOT proto:udp   -proto:udp                 negation (a record without the field matches)
    id.resp_p:[1 TO 1024]                      inclusive ranges
    len(query)>50                              the length of a field's text
    service:*                                  the field is set
    (a OR b) c                                 grouping; terms side by side mean AND
    sqlmap                                     free text: any text field contains it

Field names are checked against the table; values are SQL parameters, never SQL. A mistake is a
:class:`QueryError` that names the character where it goes wrong.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from range.core import InputError
from range.events.store import SCHEMA

MAX_QUERY = 2000
MAX_TERMS = 64
MAX_DEPTH = 16
HIDDEN = {"_seen"}
OPS = (">=", "<=", "!=", ">", "<", ":", "=")
_TOKEN = re.compile(r'\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<lb>\[)|(?P<rb>\])|(?P<str>"(?:[^"\\]|\\.)*")'
                    r'|(?P<open>"(?:[^"\\]|\\.)*\\?)|(?P<op>>=|<=|!=|>|<|:|=)|(?P<word>[^\s()\[\]":<>=!]+|!))')


class QueryError(InputError):
    """A query that does not parse or names what the table lacks; ``at`` is the 0-based offset."""

    def __init__(self, text: str, at: int, why: str):
        self.at = at
        super().__init__(f"query, character {at + 1}: {why}\n  {text}\n  {' ' * at}^")


@dataclass
class Tok:
    kind: str
    text: str
    at: int


def tokens(text: str) -> list[Tok]:
    out, i = [], 0
    while i < len(text):
        if text[i:].strip() == "":
            break
        m = _TOKEN.match(text, i)
        if not m or m.end() == i:
            raise QueryError(text, i, f"unexpected {text[i]!r}")
        kind = m.lastgroup
        val = m.group(kind)
        at = m.start(kind)
        if kind == "open":
            raise QueryError(text, at, "this quoted value has no closing quote")
        if kind == "str":
            val = re.sub(r"\\(.)", r"\1", val[1:-1])
        out.append(Tok(kind, val, at))
        i = m.end()
    return out


class _Parser:
    def __init__(self, text: str, table: str):
        self.text, self.table = text, table
        self.cols = {c: ty for c, ty in SCHEMA[table] if c not in HIDDEN}
        self.toks = tokens(text)
        self.i = 0
        self.terms = 0

    # ---- tokens ---------------------------------------------------------------------------
    def peek(self, k: int = 0) -> Tok | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def take(self) -> Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def fail(self, tok: Tok | None, why: str):
        raise QueryError(self.text, tok.at if tok else len(self.text), why)

    def keyword(self, word: str) -> bool:
        t = self.peek()
        return t is not None and t.kind == "word" and t.text == word

    # ---- grammar --------------------------------------------------------------------------
    def parse(self) -> tuple[str, list]:
        if not self.toks:
            return "1", []
        sql, args = self.disjunction(0)
        if self.peek() is not None:
            self.fail(self.peek(), f"expected AND, OR or the end of the query, found {self.peek().text!r}")
        return sql, args

    def disjunction(self, depth: int) -> tuple[str, list]:
        parts = [self.conjunction(depth)]
        while self.keyword("OR"):
            self.take()
            parts.append(self.conjunction(depth))
        return self._join(parts, "OR")

    def conjunction(self, depth: int) -> tuple[str, list]:
        parts = [self.negation(depth)]
        while (t := self.peek()) is not None and t.kind != "rp" and not self.keyword("OR"):
            if self.keyword("AND"):
                self.take()
            parts.append(self.negation(depth))
        return self._join(parts, "AND")

    def negation(self, depth: int) -> tuple[str, list]:
        t = self.peek()
        if t is not None and (self.keyword("NOT") or (t.kind == "word" and t.text.startswith("-") and len(t.text) > 1)
                              or (t.kind == "word" and t.text == "!")):
            if t.text.startswith("-") and len(t.text) > 1:
                self.toks[self.i] = Tok("word", t.text[1:], t.at + 1)
            else:
                self.take()
            sql, args = self.negation(depth)
            return f"NOT COALESCE(({sql}), 0)", args
        return self.atom(depth)

    def atom(self, depth: int) -> tuple[str, list]:
        t = self.peek()
        if t is None:
            self.fail(None, "the query ends where a term was expected")
        if t.kind == "lp":
            if depth >= MAX_DEPTH:
                self.fail(t, f"more than {MAX_DEPTH} nested parentheses")
            self.take()
            sql, args = self.disjunction(depth + 1)
            close = self.peek()
            if close is None or close.kind != "rp":
                self.fail(close, f"the parenthesis at character {t.at + 1} is not closed")
            self.take()
            return f"({sql})", args
        if t.kind not in ("word", "str"):
            self.fail(t, f"expected a field, a value or '(', found {t.text!r}")
        self.terms += 1
        if self.terms > MAX_TERMS:
            self.fail(t, f"more than {MAX_TERMS} terms")
        nxt = self.peek(1)
        if t.kind == "word" and t.text in ("AND", "OR"):
            self.fail(t, f"{t.text} needs a term before it")
        if t.kind == "word" and t.text.startswith("len") and nxt is not None and nxt.kind == "lp":
            return self.length()
        if nxt is not None and nxt.kind == "op" and t.kind == "word":
            return self.comparison()
        self.take()
        return self.free_text(t)

    # ---- terms ----------------------------------------------------------------------------
    def field(self, tok: Tok) -> str:
        if tok.text not in self.cols:
            self.fail(tok, f"table {self.table} has no field {tok.text!r}; its fields: {', '.join(self.cols)}")
        return tok.text

    def value(self) -> Tok:
        t = self.peek()
        if t is None or t.kind not in ("word", "str"):
            self.fail(t, "a value is missing here")
        return self.take()

    def comparison(self) -> tuple[str, list]:
        ftok = self.take()
        name = self.field(ftok)
        op = self.take()
        col = f"`{name}`"
        if op.text == ":" and self.peek() is not None and self.peek().kind == "lb":
            return self.range_(name, col)
        v = self.value()
        if op.text in (":", "=", "!="):
            sql, args = self.match(name, col, v)
            return (f"NOT COALESCE(({sql}), 0)", args) if op.text == "!=" else (sql, args)
        return f"{col} {op.text} ?", [self.number_or_text(name, v)]

    def match(self, name: str, col: str, v: Tok) -> tuple[str, list]:
        if v.kind == "word" and v.text == "*":
            return f"{col} IS NOT NULL", []
        if v.kind == "word" and ("*" in v.text or "?" in v.text):
            like = (v.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                    .replace("*", "%").replace("?", "_"))
            return f"CAST({col} AS TEXT) LIKE ? ESCAPE '\\'", [like]
        return f"{col} = ?", [self.number_or_text(name, v)]

    def range_(self, name: str, col: str) -> tuple[str, list]:
        lb = self.take()
        lo = self.value()
        if not self.keyword("TO"):
            self.fail(self.peek(), "a range is [low TO high]")
        self.take()
        hi = self.value()
        rb = self.peek()
        if rb is None or rb.kind != "rb":
            self.fail(rb, f"the range at character {lb.at + 1} is not closed with ']'")
        self.take()
        return f"{col} BETWEEN ? AND ?", [self.number_or_text(name, lo), self.number_or_text(name, hi)]

    def length(self) -> tuple[str, list]:
        fn = self.take()
        if fn.text != "len":
            self.fail(fn, "the only function is len(field)")
        self.take()  # (
        name = self.field(self.value())
        rp = self.peek()
        if rp is None or rp.kind != "rp":
            self.fail(rp, "len( needs its closing parenthesis")
        self.take()
        op = self.peek()
        if op is None or op.kind != "op" or op.text in (":", "!="):
            self.fail(op, "len(field) is compared with >, >=, <, <= or =, e.g. len(query)>50")
        self.take()
        n = self.value()
        if not n.text.isdigit():
            self.fail(n, "a length is a whole number")
        return f"length(CAST(`{name}` AS TEXT)) {'=' if op.text == '=' else op.text} ?", [int(n.text)]

    def free_text(self, t: Tok) -> tuple[str, list]:
        if "\x00" in t.text:
            return "0", []
        like = "%" + t.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        tcols = [c for c, ty in self.cols.items() if ty == "TEXT"]
        return "(" + " OR ".join(f"`{c}` LIKE ? ESCAPE '\\'" for c in tcols) + ")", [like] * len(tcols)

    def number_or_text(self, name: str, v: Tok):
        ty = self.cols[name]
        if ty in ("INTEGER", "REAL"):
            try:
                n = int(v.text) if ty == "INTEGER" else float(v.text)
            except ValueError:
                self.fail(v, f"{name} is a number; {v.text!r} is not")
            if isinstance(n, int) and not -2**63 <= n < 2**63:
                self.fail(v, f"{name} holds no number that large")
            return n
        return v.text

    @staticmethod
    def _join(parts: list[tuple[str, list]], op: str) -> tuple[str, list]:
        if len(parts) == 1:
            return parts[0]
        return "(" + f" {op} ".join(p[0] for p in parts) + ")", [a for p in parts for a in p[1]]


def compile_query(table: str, text: str) -> tuple[str, list]:
    """(SQL condition, its parameters) of ``text`` over ``table``; ``QueryError`` names the character."""
    if table not in SCHEMA:
        raise InputError(f"no table {table!r}; tables: {', '.join(SCHEMA)}")
    if len(text) > MAX_QUERY:
        raise QueryError(text[:60], 60, f"a query is at most {MAX_QUERY} characters")
    return _Parser(text, table).parse()
