"""The hunting query language (range.events.query) over a real SQLite table with the store's
schema: what each form matches, and mistakes that point at their character."""
from __future__ import annotations

import sqlite3

import pytest

from range.events.query import MAX_DEPTH, MAX_TERMS, QueryError, compile_query
from range.events.store import SCHEMA

ROWS = [
    {"uid": "C1", "method": "GET", "host": "portal.gov", "uri": "/index.php?id=1", "status_code": 200,
     "user_agent": "Mozilla/5.0"},
    {"uid": "C2", "method": "GET", "host": "portal.gov", "uri": "/index.php?id=1' OR 1=1", "status_code": 500,
     "user_agent": "sqlmap/1.7"},
    {"uid": "C3", "method": "POST", "host": "portal.gov", "uri": "/upload.php", "status_code": 403,
     "user_agent": "curl/8.0"},
    {"uid": "C4", "method": "POST", "host": "mail.gov", "uri": "/admin page", "status_code": None,
     "user_agent": None},
]


@pytest.fixture(scope="module")
def db():
    con = sqlite3.connect(":memory:")
    cols = SCHEMA["http"]
    con.execute(f"CREATE TABLE http ({', '.join(f'`{c}` {t}' for c, t in cols)})")
    for r in ROWS:
        con.execute(f"INSERT INTO http ({', '.join(f'`{c}`' for c in r)}) VALUES ({', '.join('?' for _ in r)})",
                    list(r.values()))
    return con


def uids(db, q: str) -> list[str]:
    sql, args = compile_query("http", q)
    return [r[0] for r in db.execute(f"SELECT uid FROM http WHERE {sql} ORDER BY uid", args)]


@pytest.mark.parametrize("q, want", [
    ("", ["C1", "C2", "C3", "C4"]),
    ("method:POST", ["C3", "C4"]),
    ("method:POST AND status_code>=400", ["C3"]),
    ("method:POST status_code>=400", ["C3"]),                 # side by side means AND
    ("user_agent:*sqlmap* OR uri:\"/admin page\"", ["C2", "C4"]),
    ("user_agent:curl?8.0", ["C3"]),
    ("NOT method:GET", ["C3", "C4"]),
    ("-user_agent:curl*", ["C1", "C2", "C4"]),                # a record without the field is not excluded
    ("status_code:[400 TO 500]", ["C2", "C3"]),
    ("len(uri)>15", ["C2"]),
    ("user_agent:*", ["C1", "C2", "C3"]),
    ("(method:GET OR host:mail.gov) AND NOT status_code:200", ["C2", "C4"]),
    ("sqlmap", ["C2"]),                                       # free text in any text field
    ("status_code!=200", ["C2", "C3", "C4"]),
    ("uri:\"/index.php?id=1' OR 1=1\"", ["C2"]),              # quotes keep a value whole, SQL stays a value
])
def test_what_each_form_matches(db, q, want):
    assert uids(db, q) == want


@pytest.mark.parametrize("q, at, words", [
    ("status_code>=abc", 13, "is a number"),
    ("methd:GET", 0, "no field 'methd'; its fields: ts, uid"),
    ("uri:\"abc", 4, "no closing quote"),
    ("(method:GET", 11, "parenthesis at character 1 is not closed"),
    ("method:GET OR", 13, "ends where a term was expected"),
    ("status_code:[1 1024]", 15, "[low TO high]"),
    ("a AND AND b", 6, "AND needs a term before it"),
    ("len(uri)~3", 8, "compared with >"),
    ("uri:a b) c", 7, "expected AND, OR or the end"),
    ("len(uri):3", 8, "compared with >"),
    ("method:GET)", 10, "expected AND, OR or the end"),
])
def test_a_mistake_points_at_its_character(q, at, words):
    with pytest.raises(QueryError) as e:
        compile_query("http", q)
    assert e.value.at == at and words in e.value.message
    assert e.value.message.splitlines()[-1].index("^") - 2 == at  # the caret under the character


def test_bounds():
    with pytest.raises(QueryError, match=f"more than {MAX_TERMS} terms"):
        compile_query("http", " ".join(["a"] * (MAX_TERMS + 1)))
    with pytest.raises(QueryError, match="nested parentheses"):
        compile_query("http", "(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1))
    with pytest.raises(QueryError, match="at most 2000 characters"):
        compile_query("http", "a" * 2001)
