"""Saved searches of the hunting workspace through the web app: save, list and delete as a team and as
the instructor, one team kept out of another's, the CSRF token for cookie requests, and every kind
of bad input answered with a message that names the field (the query's character, the table's
fields, the name taken, the limit, an unknown key). Real offline sessions of 'smoke'."""
from __future__ import annotations

import pytest

from range import sessions
from tests.conftest import app_over_fresh_state
from tests.web.common import browser, fresh, token


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    app, store, password, mp = app_over_fresh_state(tmp_path_factory)
    env = {"app": app, "store": store, "password": password, "pw": {}}
    for name, teams in (("hunt", ("blue", "red")), ("other", ("blue",))):
        env["pw"].update({(name, t): p for t, p in fresh(env, name, teams).items()})
    yield env
    mp.undo()


def url(team: str = "blue", session: str = "hunt") -> str:
    return f"/api/sessions/{session}/teams/{team}/searches"


SQLMAP = {"name": "sqlmap", "table": "http", "query": "user_agent:*sqlmap* AND status_code>=400", "from": "-15m",
          "to": "now", "columns": ["ts", "id.orig_h", "uri", "status_code"]}


def test_save_list_and_delete(env):
    c = env["app"].test_client()
    blue, inst = token(env, "team", "hunt", "blue"), token(env)
    r = c.post(url(), json=SQLMAP, headers=blue)
    assert r.status_code == 201, r.json
    saved = r.json
    start = env["store"].session("hunt")["scenario_start"]
    assert saved == {"id": saved["id"], **SQLMAP, "created_at": start, "created_by": "blue"}
    r = c.post(url(), json={"name": "DNS, all of it", "table": "dns"}, headers=inst)
    assert r.status_code == 201 and r.json["created_by"] == "instructor" and r.json["query"] == ""
    dns = r.json
    for who in (blue, inst):  # the team and the instructor see the same list, by name
        r = c.get(url(), headers=who)
        assert r.status_code == 200 and r.json == {"searches": [dns, saved]}
    r = c.delete(f"{url()}/{saved['id']}", headers=blue)
    assert r.status_code == 200 and r.json == {"id": saved["id"], "deleted": True}
    assert c.get(url(), headers=blue).json == {"searches": [dns]}
    r = c.delete(f"{url()}/{saved['id']}", headers=blue)
    assert r.status_code == 404 and f"no saved search {saved['id']}" in r.json["error"]
    assert c.delete(f"{url()}/{dns['id']}", headers=inst).json == {"id": dns["id"], "deleted": True}
    assert c.get(url(), headers=inst).json == {"searches": []}


def test_another_team_can_neither_see_nor_delete_them(env):
    c = env["app"].test_client()
    blue, red = token(env, "team", "hunt", "blue"), token(env, "team", "hunt", "red")
    other_blue = token(env, "team", "other", "blue")
    mine = c.post(url(), json={**SQLMAP, "name": "blue's own"}, headers=blue).json
    for h in (red, other_blue):
        r = c.get(url(), headers=h)
        assert r.status_code == 403 and "its own" in r.json["error"]
        assert c.post(url(), json={**SQLMAP, "name": "planted"}, headers=h).status_code == 403
        assert c.delete(f"{url()}/{mine['id']}", headers=h).status_code == 403
    # through its own path, red finds no search of that id: blue's is not red's
    r = c.delete(f"{url('red')}/{mine['id']}", headers=red)
    assert r.status_code == 404 and "team red has no saved search" in r.json["error"]
    assert c.get(url("red"), headers=red).json == {"searches": []}
    assert [s["name"] for s in c.get(url(), headers=blue).json["searches"]] == ["blue's own"]
    assert c.get(url()).status_code == 401
    assert c.get(url("green"), headers=token(env)).status_code == 404
    c.delete(f"{url()}/{mine['id']}", headers=blue)


def test_cookie_requests_need_the_csrf_token_and_saving_works_after_the_end(env):
    fresh_pw = fresh(env, "ended", ("blue",))
    env["pw"][("ended", "blue")] = fresh_pw["blue"]
    t, tok = browser(env, "team", "ended", "blue")
    body = {"name": "after the end", "table": "conn", "query": "id.resp_p:[1 TO 1024]"}
    r = t.post(url(session="ended"), json=body)
    assert r.status_code == 400 and "CSRF" in r.json["error"]
    assert env["store"].one("SELECT count(*) AS n FROM saved_searches WHERE session = 'ended'")["n"] == 0
    sessions.stop(env["store"], "ended")
    assert env["store"].session("ended")["status"] == "finished"
    r = t.post(url(session="ended"), json=body, headers={"X-CSRFToken": tok})
    assert r.status_code == 201 and r.json["name"] == "after the end"
    r = t.delete(f"{url(session='ended')}/{r.json['id']}")
    assert r.status_code == 400 and "CSRF" in r.json["error"]
    saved = t.get(url(session="ended")).json["searches"]
    assert len(saved) == 1
    r = t.delete(f"{url(session='ended')}/{saved[0]['id']}", headers={"X-CSRFToken": tok})
    assert r.status_code == 200 and r.json["deleted"] is True


def test_a_bad_query_points_at_its_character(env):
    c = env["app"].test_client()
    blue = token(env, "team", "hunt", "blue")
    r = c.post(url(), json={"name": "broken", "table": "http", "query": 'uri:"/admin AND method:GET'}, headers=blue)
    assert r.status_code == 400
    assert r.json["error"].startswith("query, character 5: this quoted value has no closing quote")
    assert r.json["error"].endswith("\n  " + " " * 4 + "^")
    r = c.post(url(), json={"name": "broken", "table": "http", "query": "status_code>=400 OR OR"}, headers=blue)
    assert r.status_code == 400 and r.json["error"].startswith("query, character 21: OR needs a term before it")
    assert c.get(url(), headers=blue).json == {"searches": []}


def test_an_unknown_field_lists_the_tables_fields(env):
    c = env["app"].test_client()
    blue = token(env, "team", "hunt", "blue")
    dns_fields = [f["name"] for f in c.get("/api/sessions/hunt/teams/blue/events/tables",
                                            headers=blue).json["tables"]["dns"]]
    listed = ", ".join(dns_fields)
    r = c.post(url(), json={"name": "typo", "table": "dns", "query": "qurey:*evil*"}, headers=blue)
    assert r.status_code == 400
    assert r.json["error"].startswith(f"query, character 1: table dns has no field 'qurey'; its fields: {listed}\n")
    r = c.post(url(), json={"name": "typo", "table": "dns", "columns": ["ts", "qurey"]}, headers=blue)
    assert r.status_code == 400
    assert r.json["error"] == f"'columns[1]': table dns has no field 'qurey'; its fields: {listed}"
    r = c.post(url(), json={"name": "typo", "table": "smb"}, headers=blue)
    assert r.status_code == 400 and r.json["error"] == ("'table' must be one of conn, dns, http, ssh, ftp, telnet, "
                                                        "arp, process_creation, file_event, network_connection, "
                                                        "auditd, syslog, webserver (got 'smb')")


def test_a_name_taken_needs_replace(env):
    c = env["app"].test_client()
    blue = token(env, "team", "hunt", "blue")
    first = c.post(url(), json={**SQLMAP, "name": "Scans"}, headers=blue).json
    r = c.post(url(), json={"name": "  scans ", "table": "conn", "query": "conn_state:S0"}, headers=blue)
    assert r.status_code == 409
    assert r.json["error"] == (f"'name': your team already has a saved search named 'Scans' (#{first['id']}); "
                               f"send \"replace\": true to overwrite it, or choose another name")
    r = c.post(url(), json={"name": "  scans ", "table": "conn", "query": "conn_state:S0", "replace": True},
               headers=blue)
    assert r.status_code == 201 and r.json["id"] == first["id"] and r.json["name"] == "scans"
    assert c.get(url(), headers=blue).json == {"searches": [r.json]}
    r = c.post(url(), json={"name": "x", "table": "conn", "replace": "yes"}, headers=blue)
    assert r.status_code == 400 and r.json["error"].startswith("'replace' must be true or false")
    c.delete(f"{url()}/{first['id']}", headers=blue)


def test_at_most_fifty_per_team(env):
    c = env["app"].test_client()
    red = token(env, "team", "hunt", "red")
    for i in range(sessions.MAX_SEARCHES):
        assert c.post(url("red"), json={"name": f"s{i:02}", "table": "conn"}, headers=red).status_code == 201
    r = c.post(url("red"), json={"name": "one more", "table": "conn"}, headers=red)
    assert r.status_code == 400
    assert r.json["error"] == ("team red has 50 saved searches, the most a session keeps: delete one, or save over "
                               "one of them with \"replace\": true")
    assert len(c.get(url("red"), headers=red).json["searches"]) == 50
    for s in c.get(url("red"), headers=red).json["searches"]:
        assert c.delete(f"{url('red')}/{s['id']}", headers=red).status_code == 200


def test_unknown_keys_and_malformed_bodies(env):
    c = env["app"].test_client()
    blue = token(env, "team", "hunt", "blue")
    r = c.post(url(), json={**SQLMAP, "filter": ["method=GET"]}, headers=blue)
    assert r.status_code == 400 and r.json["error"] == ("unknown field(s) 'filter'; a saved search has name, table, "
                                                        "query, from, to, columns and replace")
    for body, msg in (({"table": "conn"}, "'name' is required"),
                      ({"name": "n" * 81, "table": "conn"}, "'name' is 81 characters long: shorten it to at most 80"),
                      ({"name": "t", "table": "conn", "from": "yesterday"}, "'from': 'yesterday' is not a time"),
                      ({"name": "t", "table": "conn", "to": "1" * 65},
                       "'to': the time is 65 characters long: at most 64"),
                      ({"name": "t", "table": "conn", "columns": "ts"}, "'columns' must be a list of fields")):
        r = c.post(url(), json=body, headers=blue)
        assert r.status_code == 400 and r.json["error"].startswith(msg), (body, r.json)
    r = c.post(url(), data="[1]", content_type="application/json", headers=blue)
    assert r.status_code == 400 and "JSON object" in r.json["error"]
    assert c.get(url(), headers=blue).json == {"searches": []}
