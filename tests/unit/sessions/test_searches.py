"""Saved searches of the hunting workspace (range.sessions.searches) over a real state store in a
temporary folder: the saved shape, strict validation naming the field and the fix, names unique per
team without regard to case, replacing, the per-team limit, deleting, one team's searches apart from
another's, and a store created before saved searches existed."""
from __future__ import annotations

import re
import sqlite3
import time

import pytest

from range.core import InputError, NotFound, RangeError
from range.events.query import QueryError
from range.sessions import (
    MAX_SEARCHES,
    NameTaken,
    StateStore,
    check_search,
    delete_search,
    delete_session,
    save_search,
    saved_searches,
)
from range.sessions import state as state_module
from range.sessions.searches import fields

T0 = 1_800_000_000.0
HTTP_FIELDS = ("ts, uid, id.orig_h, id.orig_p, id.resp_h, id.resp_p, trans_depth, method, host, uri, referrer, "
               "version, user_agent")


def add_session(store: StateStore, name: str = "hunt", teams=("blue", "red"), status: str = "ready") -> None:
    """A session row and its teams, as create_session writes them (without preparing any traffic)."""
    with store.tx() as db:
        db.execute("INSERT INTO sessions (name, env, scenario, scenario_path, mode, seed, speed, status, created_at, "
                   "scenario_start, duration) VALUES (?, 'gov-office', 'smoke', '/nowhere', 'offline', 1, 20, ?, ?, "
                   "?, 600)", (name, status, time.time(), T0))
        for t in teams:
            db.execute("INSERT INTO teams VALUES (?, ?, 'x', 1)", (name, t))


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setattr("range.core.paths.STATE", tmp_path)
    s = StateStore(tmp_path / "cyberrange.db")
    add_session(s)
    return s


def search(**kw) -> dict:
    return {"name": "sqlmap", "table": "http", "query": "user_agent:*sqlmap*", **kw}


def test_a_saved_search_has_its_documented_shape(store):
    out = save_search(store, "hunt", "blue", search(name="  SQL injection  ", query=" status_code>=400 ",
                                                    **{"from": "-15m", "to": "", "columns": ["ts", "uri"]}))
    assert out == {"id": out["id"], "name": "SQL injection", "table": "http", "query": "status_code>=400",
                   "from": "-15m", "to": None, "columns": ["ts", "uri"], "created_at": T0, "created_by": "blue"}
    assert isinstance(out["id"], int)
    assert saved_searches(store, "hunt", "blue") == [out]
    bare = save_search(store, "hunt", "blue", {"name": "all", "table": "conn"}, actor="instructor")
    assert bare["query"] == "" and bare["from"] is None and bare["columns"] is None
    assert bare["created_by"] == "instructor"
    # listed by name, whatever its case
    assert [s["name"] for s in saved_searches(store, "hunt", "blue")] == ["all", "SQL injection"]
    audit = [r["action"] for r in store.q("SELECT action FROM audit WHERE session = 'hunt'")]
    assert audit == ["save_search", "save_search"]


def test_each_team_sees_and_deletes_only_its_own(store):
    add_session(store, "other", ("blue",))
    mine = save_search(store, "hunt", "blue", search())
    assert saved_searches(store, "hunt", "red") == [] and saved_searches(store, "other", "blue") == []
    with pytest.raises(NotFound, match="team red has no saved search"):
        delete_search(store, "hunt", "red", mine["id"])
    with pytest.raises(NotFound):
        delete_search(store, "other", "blue", mine["id"])
    assert saved_searches(store, "hunt", "blue") == [mine]
    # the same name is free in another team
    assert save_search(store, "hunt", "red", search())["id"] != mine["id"]
    delete_search(store, "hunt", "blue", mine["id"])
    assert saved_searches(store, "hunt", "blue") == []
    with pytest.raises(NotFound):
        delete_search(store, "hunt", "blue", mine["id"])
    with pytest.raises(NotFound, match="no team 'green'"):
        saved_searches(store, "hunt", "green")
    with pytest.raises(NotFound, match="no session"):
        save_search(store, "gone", "blue", search())


def test_a_name_is_unique_per_team_without_regard_to_case(store):
    first = save_search(store, "hunt", "blue", search())
    with pytest.raises(NameTaken) as e:
        save_search(store, "hunt", "blue", search(name=" SQLMAP ", table="dns", query="query:*evil*"))
    assert not isinstance(e.value, InputError) and isinstance(e.value, RangeError)  # the web app's 409
    assert "'name'" in str(e.value) and "'sqlmap'" in str(e.value) and '"replace": true' in str(e.value)
    assert saved_searches(store, "hunt", "blue") == [first]  # nothing changed
    again = save_search(store, "hunt", "blue", search(name="SQLMap", table="dns", query="query:*evil*",
                                                       replace=True))
    assert again["id"] == first["id"] and again["name"] == "SQLMap" and again["table"] == "dns"
    assert saved_searches(store, "hunt", "blue") == [again]


def test_the_team_limit(store):
    for i in range(MAX_SEARCHES):
        save_search(store, "hunt", "blue", search(name=f"s{i:02}"))
    with pytest.raises(InputError, match=f"has {MAX_SEARCHES} saved searches.*delete one"):
        save_search(store, "hunt", "blue", search(name="one too many"))
    # saving over one still works at the limit, and deleting one makes room
    assert save_search(store, "hunt", "blue", search(name="s00", query="", replace=True))["query"] == ""
    delete_search(store, "hunt", "blue", saved_searches(store, "hunt", "blue")[0]["id"])
    assert save_search(store, "hunt", "blue", search(name="one too many"))["name"] == "one too many"
    assert len(saved_searches(store, "hunt", "blue")) == MAX_SEARCHES
    assert save_search(store, "hunt", "red", search())["name"] == "sqlmap"  # the limit is per team


def test_saving_is_allowed_whatever_the_session_state(store):
    for status in ("preparing", "running", "paused", "finished"):
        add_session(store, status, ("blue",), status=status)
        assert save_search(store, status, "blue", search())["name"] == "sqlmap"


def test_the_query_must_compile_for_its_table_and_keeps_its_position():
    with pytest.raises(QueryError) as e:
        check_search(search(query="status_code>=400 AND (method:POST"))
    assert e.value.at == 33 and str(e.value).startswith("query, character 34: the parenthesis at character 22 "
                                                         "is not closed")
    assert str(e.value).endswith("\n  " + " " * 33 + "^")  # the caret under the character
    with pytest.raises(QueryError) as e:
        check_search(search(table="dns", query="qurey:x"))
    assert e.value.at == 0 and "table dns has no field 'qurey'; its fields: ts, uid," in str(e.value)
    with pytest.raises(QueryError, match="character 14: status_code is a number; 'x' is not"):
        check_search(search(query="status_code>=x"))
    with pytest.raises(InputError, match="'query' is 2001 characters long: at most 2000"):
        check_search(search(query="a" * 2001))
    with pytest.raises(InputError, match="'query' must be a string in the hunting language"):
        check_search(search(query=["a"]))
    assert check_search(search(query=None))[0]["query"] == ""


def test_name_table_and_times_name_the_field_and_the_fix():
    ok, replace = check_search(search(name="x" * 80))
    assert ok["name"] == "x" * 80 and replace is False
    for bad, msg in ((None, "'name' is required"), ("   ", "'name' is empty"), (7, "'name' must be a string"),
                     ("x" * 81, "'name' is 81 characters long: shorten it to at most 80"),
                     ("two\nlines", "'name' holds a control character")):
        with pytest.raises(InputError, match=re.escape(msg)):
            check_search(search(name=bad))
    with pytest.raises(InputError, match=re.escape("'table' must be one of conn, dns, http, ssh, ftp, telnet, arp, "
                                                   "process_creation, file_event, network_connection, auditd, "
                                                   "syslog, webserver (got 'smb')")):
        check_search(search(table="smb"))
    with pytest.raises(InputError, match="'table' is required: one of conn, dns"):
        check_search({"name": "x"})
    for when in ("-15m", "now-2h", "now", "14:39", "2026-11-28T10:02:00Z", "1795860120", "  -90s "):
        spec = check_search(search(**{"from": when, "to": when}))[0]
        assert spec["from"] == spec["to"] == when.strip()
    for bad, msg in (("yesterday", "'from': 'yesterday' is not a time: write epoch seconds"),
                     ("nan", "'from': 'nan' is not a time"), ("1e400", "'from': '1e400' is not a time"),
                     ("-" * 65, "'from': the time is 65 characters long: at most 64"),
                     (1795860120, "'from' must be a string as typed in the time box, e.g. \"1795860120\""),
                     (True, "'from' must be a string")):
        with pytest.raises(InputError, match=re.escape(msg)):
            check_search(search(**{"from": bad}))
    with pytest.raises(InputError, match="'to': '25:00' is not a time"):
        check_search(search(to="25:00"))


def test_columns_are_fields_of_the_table():
    assert check_search(search(columns=["uri", "ts", "status_code"]))[0]["columns"] == ["uri", "ts", "status_code"]
    assert check_search(search(columns=[]))[0]["columns"] is None
    with pytest.raises(InputError) as e:
        check_search(search(columns=["ts", "qtype_name"]))
    assert str(e.value).startswith(f"'columns[1]': table http has no field 'qtype_name'; its fields: {HTTP_FIELDS}")
    assert "_seen" not in str(e.value) and "_seen" not in fields("http")
    with pytest.raises(InputError, match=re.escape("'columns[1]': 'ts' is listed twice")):
        check_search(search(columns=["ts", "ts"]))
    with pytest.raises(InputError, match=re.escape("'columns' must be a list of fields of table http")):
        check_search(search(columns="ts,uri"))
    with pytest.raises(InputError, match=re.escape("'columns[0]' must be the name of a field (got int)")):
        check_search(search(columns=[1]))
    with pytest.raises(InputError, match="'columns\\[0\\]': table http has no field '_seen'"):
        check_search(search(columns=["_seen"]))


def test_unknown_keys_and_bad_bodies_are_refused():
    with pytest.raises(InputError) as e:
        check_search(search(filters=["a=b"], colums=["ts"]))
    assert str(e.value) == ("unknown field(s) 'colums', 'filters'; a saved search has name, table, query, from, "
                            "to, columns and replace")
    assert check_search(search(csrf_token="t"))[0]["name"] == "sqlmap"  # a form's token is not a field
    with pytest.raises(InputError, match="'replace' must be true or false"):
        check_search(search(replace="yes"))
    with pytest.raises(InputError, match="a saved search is a JSON object"):
        check_search(["sqlmap"])


def test_deleting_the_session_deletes_its_searches(store):
    add_session(store, "gone", ("blue",))
    save_search(store, "gone", "blue", search())
    save_search(store, "hunt", "blue", search())
    delete_session(store, "gone")
    assert store.q("SELECT session FROM saved_searches") and \
        {r["session"] for r in store.q("SELECT session FROM saved_searches")} == {"hunt"}


def test_a_store_made_before_saved_searches_gains_them(tmp_path, monkeypatch):
    monkeypatch.setattr("range.core.paths.STATE", tmp_path)
    old_schema = re.sub(r"CREATE TABLE IF NOT EXISTS saved_searches \(.*?\);\n", "", state_module.SCHEMA,
                        flags=re.S)
    assert "saved_searches" not in old_schema
    path = tmp_path / "old.db"
    con = sqlite3.connect(path)
    con.executescript(old_schema)
    con.close()
    store = StateStore(path)
    add_session(store)
    out = save_search(store, "hunt", "blue", search())
    assert saved_searches(StateStore(path), "hunt", "blue") == [out]
