"""The exercise web app through Flask's test client: a real state store, real offline sessions of
the 'smoke' scenario, the driver ticked by hand, real tshark/editcap/tcpdump for packets."""
from __future__ import annotations

import base64
import csv
import io
import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from range import sessions
from range.events import HOST_TABLES, EventStore
from range.sessions import accounts
from tests.conftest import app_over_fresh_state
from tests.web.common import SCAN_RULE, basic, browser, csrf_of, documented, fresh, set_clock, token

STATIC_JS = sorted(p.name for p in (Path(__file__).parents[2] / "scoreboard" / "static").glob("*.js"))


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """One app over one state store, with sessions shared by the tests that only read them."""
    app, store, password, mp = app_over_fresh_state(tmp_path_factory, SSE_MIN_INTERVAL=0, SSE_WAIT=0.05)
    assert password and accounts.ensure_instructor_password(store) is None  # generated once
    r = app.extensions["cyberrange"]
    main = sessions.create_session(store, "main", "smoke", ["blue", "red"], speed=20)
    other = sessions.create_session(store, "other", "smoke", ["blue"], speed=20)
    yield {"app": app, "store": store, "driver": r.driver, "password": password,
           "pw": {("main", "blue"): main["teams"]["blue"], ("main", "red"): main["teams"]["red"],
                  ("other", "blue"): other["teams"]["blue"]}}
    mp.undo()


def test_openapi_documents_every_api_route(env):
    app = env["app"]
    r = app.test_client().get("/api/openapi.json")
    assert r.status_code == 200
    doc = json.loads(r.get_data(as_text=True))
    assert doc["openapi"].startswith("3.")
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
            for m in rule.methods - {"HEAD", "OPTIONS"}:
                routes.add((path, m.lower()))
    documented = {(p, m) for p, ops in doc["paths"].items() for m in ops if m != "parameters"}
    assert routes == documented
    text = json.dumps(doc)
    for ref in set(re.findall(r'"\$ref": "#/components/schemas/([A-Za-z]+)"', text)):
        assert ref in doc["components"]["schemas"], ref
    for path, ops in doc["paths"].items():  # every path parameter is declared
        declared = {p["name"] for p in ops.get("parameters", [])}
        assert set(re.findall(r"{([a-z_]+)}", path)) == declared, path
        for m, op in ops.items():
            if m != "parameters":
                assert op["responses"] and op["summary"]


# ---- authentication and CSRF ----------------------------------------------------------------

def test_logins_tokens_basic_and_cookies(env):
    c = env["app"].test_client()
    assert c.get("/api/whoami").json["role"] is None
    r = c.post("/api/login", json={"role": "instructor", "password": "wrong"})
    assert r.status_code == 401 and "wrong" in r.json["error"]
    r = c.post("/api/login", json={"role": "team", "session": "main", "team": "blue",
                                   "password": env["pw"][("main", "red")]})
    assert r.status_code == 401
    assert c.get("/api/whoami", headers=token(env)).json == {"role": "instructor", "session": None, "team": None,
                                                            "via": "bearer"}
    who = c.get("/api/whoami", headers=basic("main/blue", env["pw"][("main", "blue")])).json
    assert who == {"role": "team", "session": "main", "team": "blue", "via": "basic"}
    assert c.get("/api/whoami", headers=basic("instructor", env["password"])).json["role"] == "instructor"
    for bad in ("Bearer nonsense", "Basic !!!", basic("instructor", "nope")["Authorization"], "Digest x"):
        r = c.get("/api/whoami", headers={"Authorization": bad})
        assert r.status_code == 401 and r.json["error"]
    # the login form: wrong password, then right, the cookie is HttpOnly and SameSite=Lax
    tok = csrf_of(c)
    r = c.post("/login", data={"csrf_token": tok, "role": "instructor", "password": "nope"})
    assert r.status_code == 401 and "wrong instructor password" in r.get_data(as_text=True)
    r = c.post("/login", data={"csrf_token": tok, "role": "instructor", "password": env["password"]})
    assert r.status_code == 302 and r.headers["Location"].endswith("/console")
    cookie = r.headers.get("Set-Cookie")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert c.get("/api/whoami").json == {"role": "instructor", "session": None, "team": None, "via": "cookie"}
    assert c.post("/logout", data={"csrf_token": csrf_of(c)}).status_code == 302
    assert c.get("/api/whoami").json["role"] is None
    # guessing is throttled per account (and per address: test_failed_logins_are_throttled...)
    for _ in range(5):
        r = c.post("/api/login", json={"role": "team", "session": "main", "team": "ghost", "password": "guess"})
        assert r.status_code == 401
    r = c.post("/api/login", json={"role": "team", "session": "main", "team": "ghost", "password": "guess"})
    assert r.status_code == 429 and "too many failed logins" in r.json["error"]
    assert c.get("/api/whoami", headers=basic("main/ghost", "guess")).status_code == 429
    assert c.get("/api/whoami", headers=basic("main/blue", env["pw"][("main", "blue")])).status_code == 200


def test_csrf_is_required_for_cookie_requests(env):
    c, tok = browser(env)
    r = c.post("/api/sessions/main/hints", json={"step": "recon"})
    assert r.status_code == 400 and "CSRF" in r.json["error"]
    r = c.post("/console/main/action", data={"action": "stop"})
    assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True)
    r = c.delete("/api/sessions/main", headers={"X-CSRFToken": "forged"})
    assert r.status_code == 400 and "CSRF" in r.json["error"]
    assert env["store"].session("main")["status"] == "ready"  # nothing happened
    anon = env["app"].test_client()
    r = anon.post("/login", data={"role": "instructor", "password": env["password"]})  # login CSRF too
    assert r.status_code == 400
    # with the token (header for JSON, field for forms) the request reaches the view
    r = c.post("/api/sessions/main/steps/recon/move", json={"at": 1e9}, headers={"X-CSRFToken": tok})
    assert r.status_code == 400 and "cannot start at" in r.json["error"]
    # a team's cookie works the same way; a bearer token needs no CSRF token
    t, ttok = browser(env, "team", "main", "blue")
    assert t.post("/api/sessions/main/teams/blue/dry-run", json={"yaml": SCAN_RULE}).status_code == 400
    assert t.post("/api/sessions/main/teams/blue/dry-run", json={"yaml": SCAN_RULE},
                  headers={"X-CSRFToken": ttok}).status_code == 200
    assert env["app"].test_client().post("/api/sessions/main/teams/blue/dry-run", json={"yaml": SCAN_RULE},
                                         headers=token(env, "team", "main", "blue")).status_code == 200


INSTRUCTOR_ROUTES = [
    ("get", "/api/catalog"), ("get", "/api/sessions"), ("post", "/api/sessions"), ("get", "/api/sessions/main"),
    ("delete", "/api/sessions/main"), ("post", "/api/sessions/main/start"), ("post", "/api/sessions/main/pause"),
    ("post", "/api/sessions/main/resume"), ("post", "/api/sessions/main/stop"),
    ("post", "/api/sessions/main/steps/recon/move"), ("post", "/api/sessions/main/hints"),
    ("post", "/api/sessions/main/teams/blue/reset"), ("get", "/api/sessions/main/results"),
    ("get", "/api/sessions/main/results.csv"), ("get", "/api/sessions/main/report"),
    ("get", "/api/sessions/main/stream")]


def test_instructor_actions_are_refused_to_teams_and_anonymous(env):
    c = env["app"].test_client()
    team = token(env, "team", "main", "blue")
    for method, url in INSTRUCTOR_ROUTES:
        r = getattr(c, method)(url, json={})
        assert r.status_code == 401 and r.json["error"], (method, url)
        r = getattr(c, method)(url, json={}, headers=team)
        assert r.status_code == 403 and "instructor" in r.json["error"], (method, url)
    assert env["store"].session("main")["status"] == "ready"
    # the console pages: anonymous callers go to the login page, teams are refused
    assert c.get("/console").status_code == 302
    t, _ = browser(env, "team", "main", "blue")
    assert t.get("/console").status_code == 403
    assert t.get("/console/main/report").status_code == 403


# ---- sessions through the API ---------------------------------------------------------------

def test_create_session_and_bad_input(env):
    c, h = env["app"].test_client(), token(env)
    r = c.get("/api/catalog", headers=h)
    assert "smoke" in [s["name"] for s in r.json["scenarios"]] and r.json["modes"] == {"offline": True, "live": True}
    r = c.post("/api/sessions", headers=h, json={"name": "api1", "scenario": "smoke", "teams": "albania, serbia",
                                                "speed": 50, "seed": 3, "environment": "gov-office"})
    assert r.status_code == 201, r.json
    assert set(r.json["teams"]) == {"albania", "serbia"} and r.json["status"] == "ready"
    assert accounts.check_team(env["store"], "api1", "serbia", r.json["teams"]["serbia"])
    listed = c.get("/api/sessions", headers=h).json["sessions"]
    assert "api1" in [s["name"] for s in listed]
    bad = [({"name": "Bad Name", "scenario": "smoke", "teams": ["a"]}, 400, "session name"),
           ({"name": "ok1", "scenario": "nope", "teams": ["a"]}, 404, "no scenario"),
           ({"name": "ok1", "scenario": "smoke", "teams": []}, 400, "'teams' is required"),
           ({"name": "ok1", "scenario": "smoke", "teams": ["a", "a"]}, 400, "different team names"),
           ({"name": "ok1", "scenario": "smoke", "teams": ["Blue Team!"]}, 400, "team name"),
           ({"name": "ok1", "scenario": "smoke", "teams": ["a"], "speed": 1000}, 400, "'speed' must be between"),
           ({"name": "ok1", "scenario": "smoke", "teams": ["a"], "speed": "fast"}, 400, "'speed' must be a number"),
           ({"name": "ok1", "scenario": "smoke", "teams": ["a"], "mode": "cloud"}, 400, "'mode' must be one of"),
           ({"name": "ok1", "scenario": "smoke", "teams": ["a"], "environment": "dmz-lan"}, 400, "runs on environment"),
           ({"name": "ok1", "scenario": "../../etc/passwd.yaml", "teams": ["a"]}, 400, "scenario name"),
           ({"name": 7, "scenario": "smoke", "teams": ["a"]}, 400, "'name' must be a string"),
           ({"name": "api1", "scenario": "smoke", "teams": ["a"]}, 400, "already exists"),
           ({"name": "a-live-session-name-too-long", "scenario": "smoke", "teams": ["a"], "mode": "live"}, 400,
            "at most 20")]
    for body, code, msg in bad:
        r = c.post("/api/sessions", headers=h, json=body)
        assert r.status_code == code and msg in r.json["error"], (body, r.status_code, r.json)
    r = c.post("/api/sessions", headers={**h, "Content-Type": "application/json"}, data="[1, 2")
    assert r.status_code == 400 and "JSON object" in r.json["error"]
    r = c.post("/api/sessions", headers=h, json=["a"])
    assert r.status_code == 400 and "JSON object" in r.json["error"]
    r = c.post("/api/sessions", headers=h, json={"name": "x" * 400_000})
    assert r.status_code == 413 and "KiB" in r.json["error"]
    assert c.get("/api/sessions/nope", headers=h).status_code == 404
    assert c.get("/api/nothing-here").status_code == 404 and c.get("/api/nothing-here").json["error"]


def test_lifecycle_move_hint_delete(env):
    c, h = env["app"].test_client(), token(env)
    fresh(env, "life", ("blue", "red"))
    d = c.get("/api/sessions/life", headers=h).json
    assert d["status"] == "ready" and [s["id"] for s in d["steps"]] == ["recon"]
    assert d["steps"][0]["hints"][0]["text"].startswith("Count the ports")
    assert d["reset"] == {"available": False, "reason": "only live sessions have team networks"}
    assert [t["team"] for t in d["teams_progress"]] == ["blue", "red"]
    assert c.post("/api/sessions/life/pause", headers=h).status_code == 400
    assert c.post("/api/sessions/life/resume", headers=h).status_code == 400
    r = c.post("/api/sessions/life/steps/recon/move", headers=h, json={"at": 40})
    assert r.status_code == 200 and r.json["at"] == 40 and not r.json["fired"]
    assert c.get("/api/sessions/life", headers=h).json["steps"][0]["at"] == 40
    r = c.post("/api/sessions/life/steps/nope/move", headers=h, json={})
    assert r.status_code == 404 and "no step" in r.json["error"]
    r = c.post("/api/sessions/life/steps/recon/move", headers=h, json={"at": -5})
    assert r.status_code == 400 and "'at'" in r.json["error"]
    assert c.post("/api/sessions/life/start", headers=h).json["status"] == "running"
    r = c.post("/api/sessions/life/steps/recon/move", headers=h, json={"at": None})  # fire now
    assert r.status_code == 200 and r.json["fired"]
    assert c.post("/api/sessions/life/pause", headers=h).json["status"] == "paused"
    assert c.post("/api/sessions/life/resume", headers=h).json["status"] == "running"
    r = c.post("/api/sessions/life/hints", headers=h, json={"step": "recon", "index": 0, "teams": ["red"]})
    assert r.status_code == 200 and r.json["teams"] == ["red"] and r.json["cost"] == 20
    for body, code in (({"step": "recon", "index": 5}, 400), ({"step": "recon", "teams": ["green"]}, 404),
                       ({"index": 0}, 400), ({"step": "recon", "index": "first"}, 400)):
        r = c.post("/api/sessions/life/hints", headers=h, json=body)
        assert r.status_code == code and r.json["error"], body
    progress = {t["team"]: t for t in c.get("/api/sessions/life", headers=h).json["teams_progress"]}
    assert progress["red"]["hints"] == 1 and progress["blue"]["hints"] == 0
    r = c.delete("/api/sessions/life", headers=h)
    assert r.status_code == 400 and "stop it" in r.json["error"]
    assert c.post("/api/sessions/life/stop", headers=h).json["status"] == "finished"
    assert c.post("/api/sessions/life/start", headers=h).status_code == 400
    r = c.post("/api/sessions/life/teams/blue/reset", headers=h)
    assert r.status_code == 400 and "live session" in r.json["error"]
    assert c.delete("/api/sessions/life", headers=h).json == {"session": "life", "deleted": True}
    assert c.get("/api/sessions/life", headers=h).status_code == 404


# ---- the team's workspace -------------------------------------------------------------------

TEAM_ROUTES = ["", "/rules", "/alerts", "/score", "/hints", "/events", "/events/tables", "/events/histogram",
               "/events/facets", "/events/conn/1/packets", "/events/conn/1/stream",
               "/packets/1", "/pcap", "/stream", "/searches"]


def test_team_sees_only_its_own(env):
    c = env["app"].test_client()
    blue = token(env, "team", "main", "blue")
    other_blue = token(env, "team", "other", "blue")
    for suffix in TEAM_ROUTES:
        for url, h in ((f"/api/sessions/main/teams/red{suffix}", blue),
                       (f"/api/sessions/main/teams/blue{suffix}", other_blue)):
            r = c.get(url, headers=h)
            assert r.status_code == 403 and "its own" in r.json["error"], url
        assert c.get(f"/api/sessions/main/teams/blue{suffix}").status_code == 401
    for method, suffix, body in (("post", "/rules", {"yaml": SCAN_RULE}), ("delete", "/rules/1", None),
                                 ("post", "/dry-run", {"yaml": SCAN_RULE}),
                                 ("post", "/searches", {"name": "scan", "table": "conn"}),
                                 ("delete", "/searches/1", None)):
        r = getattr(c, method)(f"/api/sessions/main/teams/red{suffix}", json=body, headers=blue)
        assert r.status_code == 403
    assert env["store"].rules("main", "red") == [] and sessions.saved_searches(env["store"], "main", "red") == []
    assert c.get("/workspace/main/red", headers=blue).status_code == 403
    # the instructor sees every team; an unknown team is a 404
    h = token(env)
    assert c.get("/api/sessions/main/teams/red/rules", headers=h).status_code == 200
    assert c.get("/api/sessions/main/teams/green/rules", headers=h).status_code == 404


def test_rules_alerts_score_events_packets(env, tmp_path):
    c = env["app"].test_client()
    fresh(env, "work", ("blue", "red"))
    h = token(env)
    base = "/api/sessions/work/teams/blue"
    # rules: invalid YAML and Sigma are refused with the parser's message, nothing is stored
    for bad, msg in (("title: [unclosed", "rule"), ("title: x\nlogsource: {category: firewall}\n", "detection"),
                     ("", "'yaml'")):
        r = c.post(base + "/rules", headers=h, json={"yaml": bad})
        assert r.status_code == 400 and r.json["error"], bad
        assert msg.lower() in r.json["error"].lower(), r.json
    assert c.post(base + "/rules", headers=h, json={"yaml": 5}).status_code == 400
    assert c.post(base + "/rules", headers=h, json={"yaml": "x" * 70_000}).status_code == 400
    r = c.post(base + "/rules", headers=h, json={"yaml": SCAN_RULE})
    assert r.status_code == 201 and r.json["pk"] > 0
    pk = r.json["pk"]
    rules = c.get(base + "/rules", headers=h).json["rules"]
    assert [x["pk"] for x in rules] == [pk] and rules[0]["active"]
    assert c.get("/api/sessions/work/teams/red/rules", headers=h).json["rules"] == []
    # run to 60 s: the scan (at about 20 s) is delivered and detected
    now = set_clock(env, "work", 60)
    alerts = c.get(base + "/alerts", headers=h).json["alerts"]
    assert alerts and alerts[0]["events"]
    assert c.get("/api/sessions/work/teams/red/alerts", headers=h).json["alerts"] == []
    dry = c.post(base + "/dry-run", headers=h, json={"yaml": SCAN_RULE}).json
    assert dry["matches"] >= 1 and len(env["store"].alerts("work", "blue")) == len(alerts)
    r = c.post(base + "/dry-run", headers=h, json={"yaml": "detection: {}"})
    assert r.status_code == 400 and r.json["error"]
    score = c.get(base + "/score", headers=h).json
    assert score["score"] > 0 and score["steps_detected"] == 1 and score["revealed"]  # the instructor sees all
    # events: newest first, filters, free text, time range, paging, live tail, bad input
    page = c.get(base + "/events?table=dns&limit=5", headers=h).json
    assert page["total"] > 5 and len(page["events"]) == 5
    ts = [e["_ts"] for e in page["events"]]
    assert ts == sorted(ts, reverse=True) and max(ts) <= now
    q = page["events"][0]["query"]
    hit = c.get(base + "/events", headers=h, query_string={"table": "dns", "filter": f"query={q}"}).json
    assert hit["total"] >= 1 and all(e["query"] == q for e in hit["events"])
    neg = c.get(base + "/events", headers=h, query_string={"table": "dns", "filter": f"query!={q}"}).json
    assert neg["total"] == page["total"] - hit["total"]
    wild = c.get(base + "/events", headers=h, query_string={"table": "dns", "filter": f"query={q[:3]}*"}).json
    assert wild["total"] >= hit["total"]
    text = c.get(base + "/events", headers=h, query_string={"table": "dns", "q": q[2:8]}).json
    assert text["total"] >= 1
    port = c.get(base + "/events", headers=h, query_string={"table": "conn", "filter": "id.resp_p=53"}).json
    assert port["total"] >= 1 and all(e["id.resp_p"] == 53 for e in port["events"])
    mid = (min(ts) + max(ts)) / 2
    ranged = c.get(base + "/events", headers=h, query_string={"table": "dns", "from": mid}).json
    assert 0 < ranged["total"] < page["total"] and all(e["_ts"] >= mid for e in ranged["events"])
    second = c.get(base + "/events?table=dns&limit=5&offset=5", headers=h).json
    assert second["events"][0]["_ts"] <= page["events"][-1]["_ts"]
    tail = c.get(base + f"/events?table=dns&after={page['latest_rowid']}", headers=h).json
    assert tail["total"] == 0
    for qs, msg in (({"table": "nope"}, "no table"), ({"filter": "nofield=1"}, "no field"),
                    ({"filter": "garbage"}, "field=value"), ({"limit": 0}, "'limit'"), ({"limit": "x"}, "'limit'"),
                    ({"from": "yesterday"}, "'from'"), ({"filter": "id.resp_p=abc"}, "number"),
                    ({"filter": "_seen=1"}, "no field")):
        r = c.get(base + "/events", headers=h, query_string=qs)
        assert r.status_code == 400 and msg in r.json["error"], (qs, r.json)
    tables = c.get(base + "/events/tables", headers=h).json
    assert tables["counts"]["dns"] == page["total"] and "query" in [x["name"] for x in tables["tables"]["dns"]]
    # the hunting query language, the histogram and the facets of its hits
    kql = c.get(base + "/events", headers=h, query_string={"table": "dns", "query": f'query:"{q}"'}).json
    assert kql["total"] == hit["total"]
    both = c.get(base + "/events", headers=h, query_string={"table": "conn",
                                                           "query": "id.resp_p:53 AND NOT proto:tcp"}).json
    assert 1 <= both["total"] <= port["total"] and all(e["proto"] != "tcp" for e in both["events"])
    hist = c.get(base + "/events/histogram", headers=h, query_string={"table": "dns", "buckets": 12}).json
    assert len(hist["counts"]) == 12 and sum(hist["counts"]) == hist["total"] == page["total"]
    fac = c.get(base + "/events/facets", headers=h,
                query_string={"table": "dns", "field": ["query", "qtype_name"], "query": f'query:"{q}"'}).json
    assert fac["facets"]["query"][0] == {"value": q, "count": hit["total"]} and fac["sampled"] == hit["total"]
    r = c.get(base + "/events", headers=h, query_string={"table": "dns", "query": "qurey:x"})
    assert r.status_code == 400 and "character 1" in r.json["error"] and "its fields: ts" in r.json["error"]
    r = c.get(base + "/events/facets", headers=h, query_string={"table": "dns", "field": "nope"})
    assert r.status_code == 400 and "no field 'nope'" in r.json["error"]
    # times as a hunter types them: relative to the session clock, a time of day, absolute
    rel = c.get(base + "/events", headers=h, query_string={"table": "dns", "from": f"-{now - mid:.3f}s"}).json
    assert rel["total"] == ranged["total"]
    for bad, msg in (("-5x", "relative to the session clock"), ("25:00", "no time of day"), ("x" * 65, "64")):
        r = c.get(base + "/events/histogram", headers=h, query_string={"table": "dns", "from": bad})
        assert r.status_code == 400 and msg in r.json["error"], (bad, r.json)
    # sorting: by time either way over every hit, by another column over the newest hits
    asc = c.get(base + "/events", headers=h, query_string={"table": "dns", "sort": "ts", "order": "asc"}).json
    assert [e["_ts"] for e in asc["events"]] == sorted(e["_ts"] for e in asc["events"])
    assert asc["events"][0]["_ts"] == min(ts + [e["_ts"] for e in asc["events"]]) and asc["sort_window"] is None
    by_q = c.get(base + "/events", headers=h, query_string={"table": "dns", "sort": "query", "limit": 500}).json
    names = [e["query"] for e in by_q["events"] if e["query"] is not None]
    assert names == sorted(names, reverse=True) and by_q["sort_window"] == 10_000
    assert len(by_q["events"]) == min(page["total"], 500)
    first = asc["events"][0]["_ts"]
    tod = time.strftime("%H:%M:%S", time.gmtime(first + 2))
    by_tod = c.get(base + "/events", headers=h, query_string={"table": "dns", "from": tod}).json
    assert 0 < by_tod["total"] < page["total"] and all(e["_ts"] >= int(first + 2) for e in by_tod["events"])
    r = c.get(base + "/events", headers=h, query_string={"table": "dns", "sort": "nope"})
    assert r.status_code == 400 and "cannot sort by 'nope'" in r.json["error"] and "query" in r.json["error"]
    r = c.get(base + "/events", headers=h, query_string={"table": "dns", "order": "sideways"})
    assert r.status_code == 400 and "asc or desc" in r.json["error"]
    # packets of an event's connection: real frames, none past the clock
    ev = c.get(base + "/events?table=conn&limit=1", headers=h).json["events"][0]
    pk_list = c.get(base + f"/events/conn/{ev['_rowid']}/packets", headers=h).json
    assert pk_list["packets"] and all(p["ts"] <= now for p in pk_list["packets"])
    assert all({p["src"], p["dst"]} == {ev["id.orig_h"], ev["id.resp_h"]} for p in pk_list["packets"])
    frame = pk_list["packets"][0]["frame"]
    tree = c.get(base + f"/packets/{frame}", headers=h).json
    assert [layer["layer"] for layer in tree["layers"]][:3] == ["frame", "eth", "ip"]
    ip = next(layer for layer in tree["layers"] if layer["layer"] == "ip")
    src = next(f for f in ip["fields"] if f["name"] == "ip.src")
    assert src["text"].startswith("Source Address: ") and src["size"] == 4
    address = bytes(int(x) for x in src["text"].split()[-1].split("."))
    assert bytes.fromhex(tree["bytes"])[src["pos"]:src["pos"] + 4] == address
    assert c.get(base + "/events/conn/999999/packets", headers=h).status_code == 404
    # a frame from the future (the offline capture holds it) is refused like a missing one
    capture = env["store"].team_dir("work", "blue").capture
    times = subprocess.run(["tshark", "-n", "-r", str(capture), "-T", "fields", "-e", "frame.time_epoch"],
                           capture_output=True, text=True, check=True).stdout.split()
    future = next(i + 1 for i, t in enumerate(times) if float(t) > now)
    r = c.get(base + f"/packets/{future}", headers=h)
    assert r.status_code == 404 and "not yet" in r.json["error"]
    assert c.get(base + "/packets/0", headers=h).status_code == 400
    assert pk_list["event_ts"] == ev["_ts"]
    # Follow TCP stream: a TCP connection's two sides up to the clock; a UDP flow is refused with why
    tcp = c.get(base + "/events", headers=h, query_string={"table": "conn", "query": "proto:tcp", "limit": 1}).json
    tcp = tcp["events"][0]
    st = c.get(base + f"/events/conn/{tcp['_rowid']}/stream", headers=h).json
    assert st["client"] == f"{tcp['id.orig_h']}:{tcp['id.orig_p']}" and st["to"] <= now and not st["truncated"]
    assert all(x["ts"] <= now and x["from"] in ("client", "server") for x in st["chunks"])
    dns = c.get(base + "/events?table=dns&limit=1", headers=h).json["events"][0]
    r = c.get(base + f"/events/dns/{dns['_rowid']}/stream", headers=h)
    assert r.status_code == 400 and "TCP connections" in r.json["error"] and "UDP flow" in r.json["error"]
    assert c.get(base + "/events/conn/999999/stream", headers=h).status_code == 404
    # pcap download: a range and a BPF, cut at the clock
    r = c.get(base + "/pcap", headers=h, query_string={"bpf": "udp port 53"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/vnd.tcpdump.pcap")
    out = tmp_path / "dl.pcap"
    out.write_bytes(r.get_data())
    got = subprocess.run(["tshark", "-n", "-r", str(out), "-T", "fields", "-e", "frame.time_epoch", "-e", "udp.port"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert got and all(float(x.split("\t")[0]) <= now and "53" in x.split("\t")[1] for x in got)
    assert len(got) < len(times)
    r = c.get(base + "/pcap", headers=h, query_string={"from": now - 30, "to": now + 10_000})
    out.write_bytes(r.get_data())
    got = subprocess.run(["tshark", "-n", "-r", str(out), "-T", "fields", "-e", "frame.time_epoch"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert got and now - 30 <= float(got[0]) and float(got[-1]) <= now
    for qs, msg in (({"bpf": "tcp and and"}, "BPF filter"), ({"from": "soon"}, "'from'"),
                    ({"from": now + 1000}, "later than the session clock"), ({"bpf": "x" * 600}, "longer"),
                    ({"bpf": "-w /tmp/x"}, "BPF filter")):
        r = c.get(base + "/pcap", headers=h, query_string=qs)
        assert r.status_code == 400 and msg in r.json["error"], (qs, r.json)
    # withdraw
    r = c.delete(base + f"/rules/{pk}", headers=h)
    assert r.status_code == 200 and not c.get(base + "/rules", headers=h).json["rules"][0]["active"]
    assert c.delete(base + "/rules/99999", headers=h).status_code == 404


def test_host_tables_in_the_explorer(env):
    """The host tables answer like the others; a host record has no connection, so its packets and
    stream are a 400 that says why."""
    c = env["app"].test_client()
    fresh(env, "hosts")
    h = token(env)
    base = "/api/sessions/hosts/teams/blue"
    now = set_clock(env, "hosts", 30)
    s = EventStore(env["store"].team_dir("hosts", "blue").events)
    s.add("process_creation", [{"ts": now - 5, "host": "portal", "ProcessId": 4104, "Image": "/usr/bin/cat",
                                "CommandLine": "cat /etc/shadow", "User": "www-data", "_seen": now - 5}])
    s.add("syslog", [{"ts": now - 4, "host": "files", "facility": "auth", "program": "sshd", "pid": 2211,
                      "message": "Failed password for root from 203.0.113.9 port 40022 ssh2", "_seen": now - 4}])
    s.add("webserver", [{"ts": now - 3, "host": "portal", "log": "access", "c-ip": "203.0.113.9",
                         "cs-method": "GET", "cs-uri-stem": "/uploads/x.php", "cs-uri-query": "cmd=id",
                         "sc-status": 200, "_seen": now - 3}])
    s.close()
    tables = c.get(base + "/events/tables", headers=h).json
    assert set(HOST_TABLES) <= set(tables["tables"]) and tables["counts"]["process_creation"] == 1
    assert {"product": "linux", "category": "process_creation"} in tables["logsources"]["process_creation"]
    assert {"product": "linux", "service": "sshd"} in tables["logsources"]["syslog"]
    # the web server's own log: listed with its fields, read by category webserver
    assert tables["counts"]["webserver"] == 1 and tables["logsources"]["webserver"][0] == {"category": "webserver"}
    assert {"c-ip", "cs-uri-query", "sc-status"} <= {f["name"] for f in tables["tables"]["webserver"]}
    page = c.get(base + "/events", headers=h, query_string={"table": "webserver",
                                                            "query": "cs-uri-stem:/uploads/* AND sc-status:200"}).json
    assert page["total"] == 1 and page["events"][0]["c-ip"] == "203.0.113.9"
    page = c.get(base + "/events", headers=h, query_string={"table": "process_creation",
                                                            "query": "CommandLine:*shadow*"}).json
    assert page["total"] == 1 and page["events"][0]["host"] == "portal" and "CommandLine" in page["columns"]
    rowid = page["events"][0]["_rowid"]
    assert c.get(base + "/events", headers=h, query_string={"table": "auditd"}).json["total"] == 0
    assert c.get(base + "/events/histogram", headers=h, query_string={"table": "syslog"}).json["total"] == 1
    fac = c.get(base + "/events/facets", headers=h, query_string={"table": "syslog", "field": "program"}).json
    assert fac["facets"]["program"] == [{"value": "sshd", "count": 1}]
    for what in ("packets", "stream"):
        r = c.get(base + f"/events/process_creation/{rowid}/{what}", headers=h)
        assert r.status_code == 400 and "host record" in r.json["error"] and "portal" in r.json["error"], r.json
    assert c.get(base + "/events/syslog/999/packets", headers=h).status_code == 404
    r = c.post(base + "/searches", headers=h, json={"name": "shadow", "table": "process_creation",
                                                   "query": "CommandLine:*shadow*"})
    assert r.status_code in (200, 201), r.json


def test_the_explorer_reads_the_session_clock_only_for_a_relative_time_or_a_time_of_day(env, monkeypatch):
    """Empty and absolute from/to need no session clock, so the events, histogram and facets read
    none from the store; a relative time or a time of day reads it, once for both ends."""
    from scoreboard import api_team
    c = env["app"].test_client()
    fresh(env, "lazyclock")
    h = token(env)
    base = "/api/sessions/lazyclock/teams/blue/events"
    now = set_clock(env, "lazyclock", 30)
    reads, real = [], api_team._clock_now
    monkeypatch.setattr(api_team, "_clock_now", lambda name: reads.append(name) or real(name))
    tod = time.strftime("%H:%M", time.gmtime(now))
    for span, n in (({}, 0), ({"from": "", "to": " "}, 0), ({"from": now - 60, "to": now}, 0),
                    ({"from": "2026-11-28T10:00:00Z"}, 0), ({"from": "-5m"}, 1), ({"to": tod}, 1),
                    ({"from": "-5m", "to": "now"}, 1), ({"from": now - 60, "to": "now"}, 1)):
        for what in ("", "/histogram", "/facets"):
            reads.clear()
            r = c.get(base + what, headers=h, query_string={"table": "dns", "field": "query", **span})
            assert r.status_code == 200 and reads == ["lazyclock"] * n, (what, span, reads, r.json)
    r = c.get(base, headers=h, query_string={"table": "dns", "from": "nan"})
    assert r.status_code == 400 and r.json["error"].startswith("'from': 'nan' is not a time"), r.json


def test_no_ground_truth_before_the_end(env):
    c = env["app"].test_client()
    h = token(env)
    fresh(env, "truth", ("blue", "red"))
    c.post("/api/sessions/truth/teams/blue/rules", headers=h, json={"yaml": SCAN_RULE})
    sessions.release_hint(env["store"], "truth", "recon", 0, ["blue"])
    set_clock(env, "truth", 70)
    # the public board and the team's own views hold no step names, techniques or hint steps
    b = c.get("/api/board/truth").json
    assert not b["revealed"] and b["attack"] is None
    assert [r["team"] for r in b["ranking"]][0] == "blue" and b["ranking"][0]["steps_detected"] == 1
    assert "steps" not in b["ranking"][0] and "recall" not in b["ranking"][0]
    marks = b["teams"]["blue"]["marks"]
    assert marks and all(set(m) <= {"t", "kind", "rule"} for m in marks)
    texts = [json.dumps(b)]
    tb = c.get("/api/sessions/truth/teams/blue/score", headers=basic("instructor", env["password"])).json
    assert tb["revealed"]  # the instructor sees everything...
    team_h = _team_header(env, c, "truth", "blue")
    own = []  # the team's own rule (and alerts quoting it) may name the technique it hunts
    for suffix in ("", "/score", "/hints", "/events?table=conn&limit=500", "/alerts", "/rules"):
        r = c.get("/api/sessions/truth/teams/blue" + suffix, headers=team_h)
        assert r.status_code == 200
        (own if suffix in ("/alerts", "/rules") else texts).append(r.get_data(as_text=True))
    score = c.get("/api/sessions/truth/teams/blue/score", headers=team_h).json
    assert not score["revealed"] and score["steps_detected"] == 1 and "steps" not in score
    assert any(e["points"] == -20 and e["reason"].startswith("hint: ") for e in score["ledger"])
    hints = c.get("/api/sessions/truth/teams/blue/hints", headers=team_h).json["hints"]
    assert hints and "step" not in hints[0]
    red_score = c.get("/api/sessions/truth/teams/red/score", headers=_team_header(env, c, "truth", "red")).json
    assert red_score["ledger"] == []  # its missed step waits for the end
    for t in texts + own:
        for word in ("recon", "syn_scan") + (("T1046",) if t in texts else ()):
            assert word not in t, word
    page = c.get("/board/truth").get_data(as_text=True)
    assert "recon" not in page and "T1046" not in page
    # after the end everything is shown
    assert c.post("/api/sessions/truth/stop", headers=h).status_code == 200
    b = c.get("/api/board/truth").json
    assert b["revealed"] and b["ranking"][0]["steps"] == 1
    assert b["teams"]["blue"]["steps"][0]["id"] == "recon" and b["teams"]["red"]["steps"][0]["detected"] is False
    tech = b["attack"]["tactics"][0]["techniques"][0]
    assert b["attack"]["tactics"][0]["tactic"] == "discovery" and tech["attack"] == "T1046"
    assert tech["teams"] == {"blue": True, "red": False}
    score = c.get("/api/sessions/truth/teams/red/score", headers=_team_header(env, c, "truth", "red")).json
    assert score["revealed"] and "missed step recon" in score["ledger"][0]["reason"]


def _team_header(env, c, session: str, team: str) -> dict:
    """A bearer token for a team of a session made by ``fresh`` (its password is reset here)."""
    from range.sessions.state import hash_secret
    with env["store"].tx() as db:
        db.execute("UPDATE teams SET secret = ? WHERE session = ? AND name = ?",
                   (hash_secret("pw-" + team), session, team))
    r = c.post("/api/login", json={"role": "team", "session": session, "team": team, "password": "pw-" + team})
    return {"Authorization": "Bearer " + r.json["token"]}


def test_sse_board_and_team_streams_update_when_alerts_change(env):
    app = env["app"]
    fresh(env, "live1", ("blue",))
    c = app.test_client()
    h = _team_header(env, c, "live1", "blue")

    def updates(resp):
        buf = ""
        for chunk in resp.response:
            buf += chunk.decode() if isinstance(chunk, bytes) else chunk
            while "\n\n" in buf:
                block, buf = buf.split("\n\n", 1)
                if block.startswith("event: update"):
                    yield json.loads(block.split("data: ", 1)[1])

    board = c.get("/api/board/live1/stream")
    assert board.status_code == 200 and board.mimetype == "text/event-stream"
    team = c.get("/api/sessions/live1/teams/blue/stream", headers=h)
    assert team.mimetype == "text/event-stream"
    b_it, t_it = updates(board), updates(team)
    first_b, first_t = next(b_it), next(t_it)
    assert first_b["ranking"][0]["alerts"] == 0 and first_t["alerts"] == 0
    c.post("/api/sessions/live1/teams/blue/rules", headers=h, json={"yaml": SCAN_RULE})
    set_clock(env, "live1", 60)
    nxt_b = next(b_it)
    while nxt_b["ranking"][0]["alerts"] == 0:
        nxt_b = next(b_it)
    assert nxt_b["ranking"][0]["alerts"] >= 1 and nxt_b["teams"]["blue"]["marks"]
    nxt_t = next(t_it)
    while nxt_t["alerts"] == 0:
        nxt_t = next(t_it)
    assert nxt_t["score"]["steps_detected"] == 1
    board.close()
    team.close()
    inst = c.get("/api/sessions/live1/stream", headers=token(env))
    assert next(updates(inst))["teams_progress"][0]["alerts"] >= 1
    inst.close()
    assert c.get("/api/board/nope/stream").status_code == 404


def test_results_exports_and_report(env):
    c, h = env["app"].test_client(), token(env)
    fresh(env, "done", ("blue", "red"))
    c.post("/api/sessions/done/teams/blue/rules", headers=h, json={"yaml": SCAN_RULE})
    set_clock(env, "done", 70)
    c.post("/api/sessions/done/stop", headers=h)
    res = c.get("/api/sessions/done/results", headers=h)
    assert res.status_code == 200 and res.json["ranking"][0]["team"] == "blue"
    assert res.json["scores"]["blue"]["steps"][0]["detected"]
    r = c.get("/api/sessions/done/results.csv", headers=h)
    assert r.status_code == 200 and r.mimetype == "text/csv" and "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert [x["team"] for x in rows] == ["blue", "red"] and rows[0]["ttd_recon"] and rows[1]["ttd_recon"] == ""
    rep = c.get("/api/sessions/done/report", headers=h).json
    assert rep["story"][0]["id"] == "recon" and rep["teams"][1]["missed"][0]["id"] == "recon"
    html = c.get("/console/done/report", headers=h).get_data(as_text=True)
    for part in ("After-action report", "The scenario", "Results per team", "Timeline", "ATT&amp;CK coverage",
                 "What each team missed", "T1046", "<svg"):
        assert part in html, part


def test_html_pages_and_console_forms(env):
    c, tok = browser(env)
    page = c.get("/console").get_data(as_text=True)
    for tid in ("create-session", "create-name", "create-scenario", "create-teams", "create-submit",
                "console-sessions"):
        assert f'data-testid="{tid}"' in page
    r = c.post("/console/sessions", data={"csrf_token": tok, "name": "form1", "scenario": "smoke",
                                          "teams": "kosovo montenegro", "speed": "30", "seed": "2", "mode": "offline"})
    assert r.status_code == 201
    html = r.get_data(as_text=True)
    pws = re.findall(r'data-testid="team-password">([^<]+)<', html)
    assert len(pws) == 2 and accounts.check_team(env["store"], "form1", "kosovo", pws[0])
    r = c.post("/console/sessions", data={"csrf_token": tok, "name": "form1", "scenario": "smoke", "teams": "x"})
    assert r.status_code == 400 and "already exists" in r.get_data(as_text=True)
    page = c.get("/console/form1").get_data(as_text=True)
    for tid in ("btn-start", "btn-pause", "btn-stop", "progress", "steps", "release-hint", "fire-step", "reset-team",
                "export-json", "export-csv", "open-report"):
        assert f'data-testid="{tid}"' in page, tid
    assert 'data-testid="progress-row" data-team="kosovo"' in page
    # "Move" with an empty box must not fire the step; "Fire now" means nothing before the start
    r = c.post("/console/form1/move", data={"csrf_token": tok, "step": "recon", "intent": "move", "at": ""},
               follow_redirects=True)
    assert "give the second it should start at" in r.get_data(as_text=True)
    r = c.post("/console/form1/move", data={"csrf_token": tok, "step": "recon", "intent": "fire"},
               follow_redirects=True)
    assert "start it before firing" in r.get_data(as_text=True)
    assert json.loads(env["store"].session("form1")["schedule"]) == {}
    r = c.post("/console/form1/action", data={"csrf_token": tok, "action": "start"})
    assert r.status_code == 303 and env["store"].session("form1")["status"] == "running"
    r = c.post("/console/form1/move", data={"csrf_token": tok, "step": "recon", "intent": "fire"},
               follow_redirects=True)
    assert "fires now" in r.get_data(as_text=True) and json.loads(env["store"].session("form1")["schedule"])
    r = c.post("/console/form1/hint", data={"csrf_token": tok, "step": "recon", "index": "0", "teams": "kosovo"})
    assert r.status_code == 303
    assert [x["team"] for x in env["store"].q("SELECT team FROM hints WHERE session = 'form1'")] == ["kosovo"]
    r = c.post("/console/form1/action", data={"csrf_token": tok, "action": "explode"}, follow_redirects=True)
    assert "unknown action" in r.get_data(as_text=True)
    c.post("/console/form1/action", data={"csrf_token": tok, "action": "stop"})
    r = c.post("/console/form1/hint", data={"csrf_token": tok, "step": "recon", "index": "0"}, follow_redirects=True)
    assert "hints can no longer be released" in r.get_data(as_text=True)
    assert len(env["store"].q("SELECT team FROM hints WHERE session = 'form1'")) == 1
    r = c.post("/console/form1/action", data={"csrf_token": tok, "action": "delete"})
    assert r.status_code == 303 and not env["store"].q("SELECT 1 FROM sessions WHERE name = 'form1'")
    # public and team pages
    anon = env["app"].test_client()
    assert 'data-testid="session-row"' in anon.get("/").get_data(as_text=True)
    board = anon.get("/board/main").get_data(as_text=True)
    assert 'data-testid="ranking"' in board and 'data-testid="timeline"' in board
    assert anon.get("/board/nope").status_code == 404
    login = anon.get("/login").get_data(as_text=True)
    for tid in ("team-login", "team-login-session", "team-login-team", "team-login-password", "team-login-submit",
                "instructor-login", "instructor-password", "instructor-login-submit"):
        assert f'data-testid="{tid}"' in login
    t, _ = browser(env, "team", "main", "blue")
    assert t.get("/workspace").headers["Location"].endswith("/workspace/main/blue")
    ws = t.get("/workspace/main/blue").get_data(as_text=True)
    for tid in ("rule-editor", "rule-dry-run", "rule-deploy", "rule-error", "events-table", "event-filter",
                "pcap-form", "ledger"):
        assert f'data-testid="{tid}"' in ws, tid
    assert anon.get("/workspace/main/blue").status_code == 302
    for f in ["app.css", *STATIC_JS]:
        assert anon.get(f"/static/{f}").status_code == 200


# ---- the answers match the documented schemas -----------------------------------------------

def test_answers_match_the_openapi_document(env):
    app = env["app"]
    c = app.test_client()
    doc = c.get("/api/openapi.json").json
    h = token(env)

    check = documented(c, doc)
    S, T = "/api/sessions/{name}", "/api/sessions/{name}/teams/{team}"
    created = check("post", "/api/sessions", "/api/sessions", 201, headers=h,
                    json={"name": "schema", "scenario": "smoke", "teams": ["blue", "red"], "speed": 20})
    team_h = {"Authorization": "Basic " + base64.b64encode(
        f"schema/blue:{created.json['teams']['blue']}".encode()).decode()}
    check("post", "/api/login", "/api/login", json={"role": "instructor", "password": env["password"]})
    check("get", "/api/whoami", "/api/whoami", headers=team_h)
    check("get", "/api/catalog", "/api/catalog", headers=h)
    check("get", "/api/sessions", "/api/sessions", headers=h)
    check("post", "/api/sessions/schema/steps/recon/move", S + "/steps/{step}/move", headers=h, json={"at": 30})
    check("post", "/api/sessions/schema/start", S + "/start", headers=h)
    check("post", "/api/sessions/schema/pause", S + "/pause", headers=h)
    check("post", "/api/sessions/schema/resume", S + "/resume", headers=h)
    check("post", "/api/sessions/schema/hints", S + "/hints", headers=h, json={"step": "recon", "teams": ["blue"]})
    dep = check("post", "/api/sessions/schema/teams/blue/rules", T + "/rules", 201, headers=team_h,
                json={"yaml": SCAN_RULE})
    set_clock(env, "schema", 60)
    check("get", "/api/sessions/schema", S, headers=h)
    for who in (team_h, h):
        for suffix in ("", "/rules", "/alerts", "/score", "/hints", "/events/tables", "/events?table=conn&limit=3"):
            check("get", "/api/sessions/schema/teams/blue" + suffix, T + suffix.split("?")[0], headers=who)
    check("post", "/api/sessions/schema/teams/blue/dry-run", T + "/dry-run", headers=team_h, json={"yaml": SCAN_RULE})
    saved = check("post", "/api/sessions/schema/teams/blue/searches", T + "/searches", 201, headers=team_h,
                  json={"name": "sqlmap", "table": "http", "query": "user_agent:*sqlmap*", "from": "-15m",
                        "columns": ["ts", "uri"]})
    check("post", "/api/sessions/schema/teams/blue/searches", T + "/searches", 201, headers=h,
          json={"name": "all conn", "table": "conn"})
    for who in (team_h, h):
        check("get", "/api/sessions/schema/teams/blue/searches", T + "/searches", headers=who)
    check("delete", f"/api/sessions/schema/teams/blue/searches/{saved.json['id']}", T + "/searches/{id}",
          headers=team_h)
    page = c.get("/api/sessions/schema/teams/blue/events?table=conn&limit=1", headers=team_h).json
    rowid = page["events"][0]["_rowid"]
    pk = check("get", f"/api/sessions/schema/teams/blue/events/conn/{rowid}/packets",
               T + "/events/{table}/{rowid}/packets", headers=team_h).json["packets"][0]["frame"]
    check("get", f"/api/sessions/schema/teams/blue/packets/{pk}", T + "/packets/{frame}", headers=team_h)
    tcp = c.get("/api/sessions/schema/teams/blue/events", headers=team_h,
                query_string={"table": "conn", "query": "proto:tcp", "limit": 1}).json["events"][0]["_rowid"]
    check("get", f"/api/sessions/schema/teams/blue/events/conn/{tcp}/stream", T + "/events/{table}/{rowid}/stream",
          headers=team_h)
    check("get", "/api/board", "/api/board")
    check("get", "/api/board/schema", "/api/board/{name}")
    check("delete", f"/api/sessions/schema/teams/blue/rules/{dep.json['pk']}", T + "/rules/{pk}", headers=team_h)
    check("post", "/api/sessions/schema/stop", S + "/stop", headers=h)
    check("get", "/api/board/schema", "/api/board/{name}")
    check("get", "/api/sessions/schema/teams/blue/score", T + "/score", headers=team_h)
    check("get", "/api/sessions/schema/results", S + "/results", headers=h)
    check("get", "/api/sessions/schema/report", S + "/report", headers=h)
    check("post", "/api/logout", "/api/logout")
    check("delete", "/api/sessions/schema", S, headers=h)


def test_instructor_password_from_the_environment(env, monkeypatch):
    monkeypatch.setenv(accounts.ENV_PASSWORD, "correct horse battery staple")
    c = env["app"].test_client()
    assert c.post("/api/login", json={"role": "instructor", "password": env["password"]}).status_code == 401
    r = c.post("/api/login", json={"role": "instructor", "password": "correct horse battery staple"})
    assert r.status_code == 200
    assert accounts.ensure_instructor_password(env["store"]) is None  # nothing generated while the variable is set
    monkeypatch.delenv(accounts.ENV_PASSWORD)
    # a token issued under another password is void once the password changes
    assert c.get("/api/whoami", headers={"Authorization": "Bearer " + r.json["token"]}).status_code == 401


def test_reset_a_live_teams_network(env):
    """The console's reset reaches range.runtime.reset_team (its real work on a real range is
    tests/live/test_runtime.py's); a session marked live whose range is not up gets the runtime's
    own refusal, an offline session and an unknown team are refused before it."""
    from scoreboard import actions
    fresh(env, "livenet", ("blue",))
    fresh(env, "offnet", ("blue",))
    with env["store"].tx() as db:  # a live session whose range was never brought up
        db.execute("UPDATE sessions SET mode = 'live' WHERE name = 'livenet'")
    c, h = env["app"].test_client(), token(env)
    docker_ok, why = actions.live_available()
    r = c.post("/api/sessions/livenet/teams/blue/reset", headers=h)
    assert r.status_code == 503
    assert ("no session named 'livenet' is running" in r.json["error"]) if docker_ok else ("Docker" in r.json["error"])
    assert c.get("/api/sessions/livenet", headers=h).json["reset"] == {"available": docker_ok, "reason": why or None}
    assert c.post("/api/sessions/livenet/teams/green/reset", headers=h).status_code == 404
    r = c.post("/api/sessions/offnet/teams/blue/reset", headers=h)
    assert r.status_code == 400 and "only a live session" in r.json["error"]
    assert c.get("/api/sessions/offnet", headers=h).json["reset"]["available"] is False
    page = browser(env)[0].get("/console/livenet").get_data(as_text=True)
    button = re.search(r'<button[^>]*data-testid="reset-team" data-team="blue"[^>]*>', page).group(0)
    assert ("disabled" not in button) == docker_ok


def test_streams_are_capped_and_a_refused_viewer_is_told_to_poll(env):
    """Each open stream holds a server thread: past SSE_MAX_STREAMS a stream request gets 503 (the
    page then polls the JSON twin), so viewers can never take the threads every other request needs."""
    from range.cli.serve import default_max_streams
    from scoreboard import sse
    assert (default_max_streams(256), default_max_streams(64), default_max_streams(8), default_max_streams(2)) == \
        (224, 56, 4, 1)
    app = env["app"]
    c = app.test_client()
    fresh(env, "cap1", ("blue",))
    before = sse.open_streams()
    app.config["SSE_MAX_STREAMS"] = before + 1
    try:
        first = c.get("/api/board/cap1/stream")
        assert first.status_code == 200 and sse.open_streams() == before + 1
        refused = c.get("/api/board/cap1/stream")
        assert refused.status_code == 503 and int(refused.headers["Retry-After"]) > 0
        assert "poll" in refused.json["error"] and sse.open_streams() == before + 1
        assert c.get("/api/board/cap1").status_code == 200  # the JSON twin still answers
        first.close()  # the server closes a stream when its viewer leaves: the slot is free again
        assert sse.open_streams() == before
        again = c.get("/api/board/cap1/stream")
        assert again.status_code == 200
        again.close()
        assert sse.open_streams() == before
    finally:
        app.config["SSE_MAX_STREAMS"] = None


# ---- the faults of issue 12: board ties, the icon, logins, the Score tab ----------------------

def test_no_leader_while_the_top_teams_are_tied(env):
    c = env["app"].test_client()
    fresh(env, "tie", ("blue", "red", "green"))
    b = c.get("/api/board/tie").json  # ready: every team at 0
    assert [(r["rank"], r["tied"], r["leader"]) for r in b["ranking"]] == [(1, True, False)] * 3
    c.post("/api/sessions/tie/teams/blue/rules", headers=token(env), json={"yaml": SCAN_RULE})
    set_clock(env, "tie", 70)
    b = {r["team"]: r for r in c.get("/api/board/tie").json["ranking"]}
    assert b["blue"]["score"] > 0 and (b["blue"]["rank"], b["blue"]["tied"], b["blue"]["leader"]) == (1, False, True)
    assert [(b[t]["rank"], b[t]["tied"], b[t]["leader"]) for t in ("green", "red")] == [(2, True, False)] * 2
    # the page highlights the leader the API names, never simply the first row
    css = c.get("/static/app.css").get_data(as_text=True)
    js = c.get("/static/board.js").get_data(as_text=True)
    assert "table.ranking tbody tr.leader" in css and "tr:first-child" not in css
    assert 'r.leader ? "leader"' in js


def test_favicon(env):
    c = env["app"].test_client()
    r = c.get("/favicon.ico", follow_redirects=True)
    assert r.status_code == 200 and r.mimetype == "image/svg+xml" and b"<svg" in r.data
    for page in ("/", "/login", "/board/main"):
        link = re.search(r'<link rel="icon" href="([^"]+)"', c.get(page).get_data(as_text=True))
        assert link, page
        assert c.get(link.group(1)).status_code == 200


def _login(c, session, team, password):
    return c.post("/api/login", json={"role": "team", "session": session, "team": team, "password": password})


def _client_at(app, address: str):
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = address
    return c


def test_failed_logins_are_throttled_per_account_and_address(env):
    app = env["app"]
    pw = fresh(env, "guard", ("blue", "red"))
    a, b = (_client_at(app, f"10.66.0.{i}") for i in (1, 2))
    for _ in range(5):
        r = _login(a, "guard", "blue", "guess")
        assert r.status_code == 401 and "wrong password for team 'blue' of session 'guard'" in r.json["error"]
    r = _login(a, "guard", "blue", pw["blue"])  # locked: even the right password waits
    assert r.status_code == 429 and 0 < int(r.headers["Retry-After"]) <= 300
    assert "too many failed logins as 'guard/blue' from your address" in r.json["error"]
    assert "try again in" in r.json["error"]
    assert a.get("/api/whoami", headers=basic("guard/blue", pw["blue"])).status_code == 429
    # a guesser elsewhere does not lock the team out of its own login
    assert _login(b, "guard", "blue", pw["blue"]).status_code == 200
    tok = csrf_of(a)  # the login form says so too, on the form
    r = a.post("/login", data={"csrf_token": tok, "role": "team", "session": "guard", "team": "blue",
                               "password": pw["blue"]})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert "try again in" in r.get_data(as_text=True) and 'data-testid="team-login"' in r.get_data(as_text=True)
    assert _login(b, "guard", "red", pw["red"]).status_code == 200  # other accounts are not locked
    # a success forgets the account's failures
    for _ in range(4):
        assert _login(b, "guard", "red", "guess").status_code == 401
    assert _login(b, "guard", "red", pw["red"]).status_code == 200
    for _ in range(4):
        assert _login(b, "guard", "red", "guess").status_code == 401
    assert _login(b, "guard", "red", pw["red"]).status_code == 200
    # one address guessing across accounts is throttled too
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 3
    try:
        d = _client_at(app, "10.66.0.4")
        for ghost in ("g1", "g2", "g3"):
            assert _login(d, "guard", ghost, "guess").status_code == 401
        r = _login(d, "guard", "red", pw["red"])
        assert r.status_code == 429 and "from your address" in r.json["error"]
        assert _login(_client_at(app, "10.66.0.5"), "guard", "red", pw["red"]).status_code == 200  # elsewhere: fine
    finally:
        app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 20
    # the lock ends with the window, and memory stays bounded
    from scoreboard.throttle import Failures
    failures = app.extensions["cyberrange_logins"]
    limits = {("account", "guard/blue@10.66.0.1"): 5}
    assert failures.wait(limits, 300) > 0
    assert failures.wait(limits, 300, now=time.monotonic() + 301) == 0
    small = Failures(max_keys=50)
    for i in range(1000):
        small.failed({("account", f"s/{i}"): 5, ("address", "10.0.0.1"): 20}, 300)
    assert len(small) <= 50


def test_team_names_ignore_case_and_pasted_passwords_lose_their_spaces(env):
    c = env["app"].test_client()
    pw = fresh(env, "casing", ("blue",))["blue"]
    r = _login(c, "Casing", "Blue", f" {pw}\n")
    assert r.status_code == 200 and (r.json["session"], r.json["team"]) == ("casing", "blue")
    who = c.get("/api/whoami", headers=basic("CASING/BLUE", pw + " ")).json
    assert (who["session"], who["team"], who["via"]) == ("casing", "blue", "basic")
    r = c.post("/login", data={"csrf_token": csrf_of(c), "role": "team", "session": " casing", "team": "BLUE ",
                               "password": pw + "\t"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/workspace/casing/blue")
    assert c.get("/api/whoami").json["team"] == "blue"
    r = c.post("/api/login", json={"role": "instructor", "password": f"  {env['password']} "})
    assert r.status_code == 200
    # a failed login says which part is wrong (sessions and teams are on the public board anyway)
    assert "session 'casing' has no team 'green'; its teams: blue" in _login(c, "casing", "Green", pw).json["error"]
    assert "there is no session 'nowhere'" in _login(c, "nowhere", "blue", pw).json["error"]
    assert "wrong password for team 'blue'" in _login(c, "casing", "blue", pw.upper() + "x").json["error"]


def _top_level_args(src: str, start: int) -> str:
    """The text of a call's arguments from ``start`` (just after its '('), nested brackets and strings blanked."""
    depth, out, quote, i = 0, [], None, start
    while i < len(src):
        ch = src[i]
        if quote:
            quote = None if ch == quote and src[i - 1] != "\\" else quote
        elif ch in "\"'`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                return "".join(out)
            depth -= 1
        elif depth == 0:
            out.append(ch)
        i += 1
    return "".join(out)


def test_score_tab_after_the_end_has_no_null(env):
    """The Score tab printed a literal 'null' once the session ended: loadScore handed
    ``s.revealed ? null : note`` to replaceChildren(), which writes null as the text "null"."""
    c = env["app"].test_client()
    fresh(env, "ended", ("blue",))
    c.post("/api/sessions/ended/teams/blue/rules", headers=token(env), json={"yaml": SCAN_RULE})
    set_clock(env, "ended", 70)
    assert c.post("/api/sessions/ended/stop", headers=token(env)).status_code == 200
    s = c.get("/api/sessions/ended/teams/blue/score", headers=_team_header(env, c, "ended", "blue")).json
    assert s["revealed"] and s["steps_detected"] == 1 and len(s["steps"]) == 1 and s["score"] > 0
    assert all(e["reason"] and isinstance(e["points"], (int, float)) for e in s["ledger"])
    for js in STATIC_JS:
        src = c.get(f"/static/{js}").get_data(as_text=True)
        for m in re.finditer(r"\.replaceChildren\(", src):
            args = _top_level_args(src, m.end())
            assert not re.search(r"\bnull\b", args), f"{js}: replaceChildren({args.strip()[:80]}…) can write 'null'"


def test_a_rule_without_id_has_one_name_in_the_dry_run_the_rules_tab_and_the_ledger(env):
    """Named by its title, not by the temporary file of the dry run ('rule.yml:...') or its stored
    copy ('2.yml:...'); a warning says how to give it an id of its own."""
    c = env["app"].test_client()
    pw = fresh(env, "noid", ("blue",))["blue"]
    h = {"Authorization": "Bearer " + c.post("/api/login", json={"role": "team", "session": "noid", "team": "blue",
                                                                   "password": pw}).json["token"]}
    text = re.sub(r"(?m)^id: .*\n", "", SCAN_RULE)
    dry = c.post("/api/sessions/noid/teams/blue/dry-run", headers=h, json={"yaml": text}).json
    title = dry["title"]  # the correlation's, the rule that raises alerts
    assert title.startswith("Port scan") and dry["rule_id"] == title
    assert any("has no id" in w["message"] for w in dry["warnings"])
    dep = c.post("/api/sessions/noid/teams/blue/rules", headers=h, json={"yaml": text}).json
    assert dep["rule_id"] == title
    assert [r["rule_id"] for r in c.get("/api/sessions/noid/teams/blue/rules", headers=h).json["rules"]] == [title]
    set_clock(env, "noid", 100)
    ledger = c.get("/api/sessions/noid/teams/blue/score", headers=h).json["ledger"]
    assert {e["rule_id"] for e in ledger if e.get("rule_id")} == {title}
