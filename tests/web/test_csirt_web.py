"""The CSIRT workflow through the web app: incident reports (API and console), the shared indicator
feed under TLP, rules made from indicators, marks held back until the end, the instructor's
comments and overrides, STIX and MISP exports read back by their libraries, the after-action
report as a PDF, and the programme view. Real offline sessions of 'smoke', the driver ticked by
hand (as in test_web.py)."""
from __future__ import annotations

import html
import io
import json
import re

import pytest
import stix2
from pymisp import MISPEvent
from pypdf import PdfReader

from range import sessions
from range.scoring import Truth
from tests.conftest import app_over_fresh_state
from tests.web.common import SCAN_RULE, basic, browser, csrf_of, documented, set_clock


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    app, store, password, mp = app_over_fresh_state(tmp_path_factory, SSE_MIN_INTERVAL=0, SSE_WAIT=0.05)
    env = {"app": app, "store": store, "driver": app.extensions["cyberrange"].driver, "password": password, "pw": {}}
    fresh(env, "hub", ["albania", "serbia"])
    fresh(env, "other", ["albania"])
    yield env
    mp.undo()


def fresh(env, name: str, teams: list[str]) -> None:
    """A new session of 'smoke' (each test that changes a session's state makes its own)."""
    out = sessions.create_session(env["store"], name, "smoke", teams, speed=20)
    env["pw"].update({(name, t): p for t, p in out["teams"].items()})


def inst(env) -> dict:
    return basic("instructor", env["password"])


def team(env, session: str, name: str) -> dict:
    return basic(f"{session}/{name}", env["pw"][(session, name)])


def facts(env, session: str, name: str):
    """(attacker address, affected addresses) of the team's copy of the 'smoke' scan."""
    truth = Truth.read(env["store"].team_dir(session, name).truth)
    [step] = truth.steps
    return step.flows[0]["src"], sorted({f["dst"] for f in step.flows})


def right_report(attacker: str, affected: list[str], **kw) -> dict:
    return {"title": "SYN scan of the portal and the file server",
            "classification": {"class": "information-gathering", "type": "scanner"}, "affected": affected,
            "attackers": [attacker], "attack": "T1046", "severity": "medium", **kw}


# ---- filing reports, bad input -------------------------------------------------------------------

def test_file_reports_and_bad_input_names_the_field(env):
    c = env["app"].test_client()
    h = team(env, "hub", "albania")
    attacker, affected = facts(env, "hub", "albania")
    url = "/api/sessions/hub/teams/albania/reports"
    had = len(c.get(url, headers=h).json["reports"])
    r = c.post(url, headers=h, json=right_report(attacker, affected, indicators=[{"type": "ipv4", "value": attacker}],
                                                 first_seen="2026-11-28T10:02:00Z"))
    assert r.status_code == 201, r.json
    assert r.json["classification"]["label"] == "Information Gathering / Scanning" and r.json["mark"] is None
    assert r.json["first_seen_iso"] == "2026-11-28T10:02:00.000000Z"
    listed = c.get(url, headers=h).json
    assert r.json["pk"] in [x["pk"] for x in listed["reports"]] and listed["revealed"] is False
    assert c.get(f"{url}/{r.json['pk']}", headers=h).json["title"].startswith("SYN scan")
    bad = [
        ({"classification": {"class": "hacking", "type": "scanner"}}, "'classification.class' must be an RSIT class"),
        ({"classification": {"class": "availability", "type": "scanner"}}, "'classification.type'"),
        ({"affected": ["10.0.0.999"]}, "'affected[0]' is not an IPv4 address"),
        ({"attackers": "10.1.1.1 nonsense"}, "'attackers[1]' is not an IPv4 address"),
        (
            {"indicators": [{"type": "url", "value": "http://evil.example/" + "a" * 3000}]},
            "'indicators[0].value' is longer than 2048 characters",
        ),
        ({"indicators": [{"type": "malware", "value": "x"}]}, "'indicators[0].type' must be one of"),
        ({"severity": "apocalyptic"}, "'severity' must be one of"),
        ({"attack": "nmap"}, "'attack' must be"),
        ({"title": None}, "'title' is required"),
        ({"team": "serbia"}, "unknown field(s) 'team'"),
        ({"evidence": ["conn:999999"]}, "'evidence[0]' (conn:999999) names none of your alerts or events"),
        ({"evidence": ["dns:1", "no-such-alert"]}, "'evidence[0]' (dns:1) names none"),
        ({"evidence": "conn:1 ' OR 1=1"}, "'evidence[1]' must be an alert id"),
    ]
    for change, msg in bad:
        r = c.post(url, headers=h, json={**right_report(attacker, affected), **change})
        assert r.status_code == 400 and msg in r.json["error"], (change, r.json)
    r = c.post(url, headers={**h, "Content-Type": "application/json"}, data='{"title": ')
    assert r.status_code == 400 and "JSON object" in r.json["error"]
    r = c.post(url, headers=h, json={"title": "x", "description": "y" * 300_000})
    assert r.status_code == 413
    assert len(c.get(url, headers=h).json["reports"]) == had + 1  # nothing else was stored
    assert c.get(url + "/999999", headers=h).status_code == 404


def test_a_team_never_reads_another_teams_reports(env):
    c = env["app"].test_client()
    a, s = team(env, "hub", "albania"), team(env, "hub", "serbia")
    other = team(env, "other", "albania")
    attacker, affected = facts(env, "hub", "serbia")
    pk = c.post("/api/sessions/hub/teams/serbia/reports", headers=s, json=right_report(attacker, affected)).json["pk"]
    for url in (
        "/api/sessions/hub/teams/serbia/reports",
        f"/api/sessions/hub/teams/serbia/reports/{pk}",
        "/api/sessions/hub/teams/serbia/indicators",
        "/api/sessions/hub/teams/serbia/export/stix",
        "/api/sessions/hub/teams/serbia/export/misp",
    ):
        for h in (a, other):
            r = c.get(url, headers=h)
            assert r.status_code == 403 and "its own" in r.json["error"], url
        assert c.get(url).status_code == 401
    r = c.post("/api/sessions/hub/teams/serbia/reports", headers=a, json=right_report(attacker, affected))
    assert r.status_code == 403
    # its own route with another team's report number: not found, nothing leaks
    r = c.get(f"/api/sessions/hub/teams/albania/reports/{pk}", headers=a)
    assert r.status_code == 404 and "SYN" not in r.get_data(as_text=True)
    for method, url in (
        ("get", "/api/sessions/hub/reports"),
        ("get", "/api/sessions/hub/indicators"),
        ("post", f"/api/sessions/hub/reports/{pk}/comments"),
        ("post", f"/api/sessions/hub/reports/{pk}/mark"),
        ("get", "/api/sessions/hub/report.pdf"),
        ("get", "/api/programme"),
    ):
        assert getattr(c, method)(url, headers=a, json={}).status_code == 403, url
        assert getattr(c, method)(url, json={}).status_code == 401, url
    t = env["app"].test_client()
    tok = csrf_of(t)
    t.post(
        "/login",
        data={
            "csrf_token": tok,
            "role": "team",
            "session": "hub",
            "team": "albania",
            "password": env["pw"][("hub", "albania")],
        },
    )
    for page in ("/console/hub/reports", "/console/hub/report.pdf", "/console/programme"):
        assert t.get(page).status_code == 403, page
    assert (
        t.post(
            f"/console/hub/reports/{pk}/mark", data={"csrf_token": csrf_of(t), "points": "99", "reason": "x"}
        ).status_code
        == 403
    )


# ---- the feed under TLP, rules from indicators ---------------------------------------------------


def test_feed_shows_what_tlp_allows_and_indicators_become_rules(env):
    c = env["app"].test_client()
    a, s, h = team(env, "hub", "albania"), team(env, "hub", "serbia"), inst(env)
    attacker, _ = facts(env, "hub", "albania")
    pub = {}
    for marking, kind, value in (
        ("CLEAR", "ipv4", attacker),
        ("GREEN", "domain", "c2.evil-cdn.org"),
        ("AMBER", "user_agent", "sqlmap/1.7.2#stable (https://sqlmap.org)"),
        ("AMBER+STRICT", "url", "http://portal.example/uploads/x.php?cmd=id"),
        ("RED", "hash", "d41d8cd98f00b204e9800998ecf8427e"),
    ):
        r = c.post(
            "/api/sessions/hub/teams/albania/indicators",
            headers=a,
            json={"type": kind, "value": value, "tlp": marking, "comment": f"seen at {marking}"},
        )
        assert r.status_code == 201 and r.json["tlp"] == marking, r.json
        pub[marking] = r.json["pk"]
    mine = c.get("/api/sessions/hub/teams/albania/indicators", headers=a).json["indicators"]
    assert {i["tlp"] for i in mine} == set(pub) and all(i["mine"] and i["mark"] is None for i in mine)
    theirs = c.get("/api/sessions/hub/teams/serbia/indicators", headers=s).json["indicators"]
    assert {i["tlp"] for i in theirs if i["team"] == "albania"} == {"CLEAR", "GREEN", "AMBER"}
    assert "d41d8cd98f00b204e9800998ecf8427e" not in json.dumps(theirs)
    everything = c.get("/api/sessions/hub/indicators", headers=h).json["indicators"]
    assert {i["pk"] for i in everything} >= set(pub.values())
    assert (
        c.get("/api/sessions/other/teams/albania/indicators", headers=team(env, "other", "albania")).json["indicators"]
        == []
    )  # sessions never mix
    # duplicates, bad values and unknown markings are refused with the field named
    for body, msg in (
        ({"type": "ipv4", "value": attacker, "tlp": "GREEN"}, "already published"),
        ({"type": "ipv4", "value": "300.1.1.1"}, "'indicator.value' is not an IPv4 address"),
        ({"type": "user_agent", "value": "x" * 600}, "'indicator.value' is longer than 512"),
        ({"type": "domain", "value": "evil.example", "tlp": "PINK"}, "'tlp' must be one of"),
        ({"type": "domain", "value": "evil.example", "owner": "x"}, "unknown field(s) 'owner'"),
        ({"type": "domain", "value": "evil.example", "report": 999999}, "no report 999999"),
    ):
        r = c.post("/api/sessions/hub/teams/albania/indicators", headers=a, json=body)
        assert r.status_code in (400, 404) and msg in r.json["error"], (body, r.json)
    # serbia turns albania's GREEN domain into a rule (prefilled), then deploys it
    r = c.post(f"/api/sessions/hub/teams/serbia/indicators/{pub['GREEN']}/rule", headers=s, json={})
    assert r.status_code == 200 and r.json["deployed"] is None
    assert "category: dns" in r.json["yaml"] and "c2.evil-cdn.org" in r.json["yaml"]
    r = c.post(f"/api/sessions/hub/teams/serbia/indicators/{pub['CLEAR']}/rule", headers=s, json={"deploy": True})
    assert r.status_code == 201 and r.json["deployed"]["pk"] > 0
    assert [x["title"] for x in env["store"].rules("hub", "serbia")] == [
        f"Shared indicator #{pub['CLEAR']} (ipv4) from albania"
    ]
    for marking in ("AMBER+STRICT", "RED"):  # what serbia may not see, it cannot use either
        r = c.post(f"/api/sessions/hub/teams/serbia/indicators/{pub[marking]}/rule", headers=s, json={"deploy": True})
        assert r.status_code == 404
    r = c.post(f"/api/sessions/hub/teams/albania/indicators/{pub['RED']}/rule", headers=a, json={})
    assert r.status_code == 400 and "file hash cannot become a rule" in r.json["error"]
    r = c.post(f"/api/sessions/hub/teams/albania/indicators/{pub['GREEN']}/rule", headers=a, json={"deploy": "maybe"})
    assert r.status_code == 400 and "'deploy'" in r.json["error"]


# ---- marks: held back, revealed, reviewed -------------------------------------------------------


def test_marks_are_held_back_until_the_end_then_explained(env):
    fresh(env, "late", ["albania", "kosovo"])
    c, h = env["app"].test_client(), inst(env)
    a, k = team(env, "late", "albania"), team(env, "late", "kosovo")
    attacker, affected = facts(env, "late", "albania")
    c.post("/api/sessions/late/teams/albania/rules", headers=a, json={"yaml": SCAN_RULE})
    set_clock(env, "late", 60)
    alert = c.get("/api/sessions/late/teams/albania/alerts", headers=a).json["alerts"][0]["id"]
    event = c.get("/api/sessions/late/teams/albania/events?table=dns&limit=1", headers=a).json["events"][0]["_rowid"]
    before = c.get("/api/sessions/late/teams/albania/score", headers=a).json["score"]
    rep = c.post(
        "/api/sessions/late/teams/albania/reports",
        headers=a,
        json=right_report(attacker, affected, evidence=[alert, f"dns:{event}"]),
    ).json
    assert rep["evidence"] == [alert, f"dns:{event}"]
    weak = c.post(
        "/api/sessions/late/teams/albania/reports",
        headers=a,
        json=right_report(
            attacker, affected, title="again", attack="T1018", classification={"class": "other", "type": "undetermined"}
        ),
    ).json
    ind = c.post(
        "/api/sessions/late/teams/albania/indicators",
        headers=a,
        json={"type": "ipv4", "value": attacker, "tlp": "GREEN"},
    ).json
    kos_attacker, _ = facts(env, "late", "kosovo")
    c.post(
        "/api/sessions/late/teams/kosovo/indicators",
        headers=k,
        json={"type": "ipv4", "value": "198.51.100.7", "tlp": "AMBER"},
    )
    # before the end: the team and the public see no mark and no change of score
    s = c.get("/api/sessions/late/teams/albania/score", headers=a).json
    assert s["score"] == before and not s["revealed"]
    lines = [e for e in s["ledger"] if e.get("kind")]
    assert {(e["kind"], e["ref"]) for e in lines} == {
        ("report", rep["pk"]),
        ("report", weak["pk"]),
        ("sharing", ind["pk"]),
    }
    assert all(e["points"] == 0 and "marked when the session ends" in e["reason"] for e in lines)
    assert c.get("/api/sessions/late/teams/albania/reports", headers=a).json["reports"][0]["mark"] is None
    board = {x["team"]: x for x in c.get("/api/board/late").json["ranking"]}
    assert board["albania"]["score"] == before and board["kosovo"]["score"] == 0
    # the instructor sees the marks at once, comments, and overrides with a reason
    marks = {x["pk"]: x["mark"] for x in c.get("/api/sessions/late/reports", headers=h).json["reports"]}
    assert marks[rep["pk"]]["step"] == "recon" and marks[rep["pk"]]["points"] == 50 and marks[rep["pk"]]["counted"]
    assert not marks[weak["pk"]]["counted"]
    r = c.post(f"/api/sessions/late/reports/{weak['pk']}/comments", headers=h, json={"text": "Which host scanned?"})
    assert r.status_code == 201 and r.json["comments"][0]["text"] == "Which host scanned?"
    mine = {x["pk"]: x for x in c.get("/api/sessions/late/teams/albania/reports", headers=a).json["reports"]}
    assert mine[weak["pk"]]["comments"][0]["text"] == "Which host scanned?"  # comments reach the team at once
    r = c.post(f"/api/sessions/late/reports/{rep['pk']}/mark", headers=h, json={"points": 45})
    assert r.status_code == 400 and "'reason' is required" in r.json["error"]
    r = c.post(f"/api/sessions/late/reports/{rep['pk']}/mark", headers=h, json={"points": "lots", "reason": "x"})
    assert r.status_code == 400 and "'points' must be a number" in r.json["error"]
    r = c.post(
        f"/api/sessions/late/reports/{rep['pk']}/mark",
        headers=h,
        json={"points": 45, "reason": "severity should have been high"},
    )
    assert r.status_code == 200 and r.json["mark"]["points"] == 45 and r.json["mark"]["overridden"]
    assert r.json["override"]["reason"] == "severity should have been high"
    audit = [
        json.loads(x["detail"])
        for x in env["store"].q("SELECT detail FROM audit WHERE session = 'late' AND action = 'override'")
    ]
    assert audit == [
        {
            "report": rep["pk"],
            "team": "albania",
            "points": 45.0,
            "reason": "severity should have been high",
            "was": None,
        }
    ]
    mine = {x["pk"]: x for x in c.get("/api/sessions/late/teams/albania/reports", headers=a).json["reports"]}
    assert mine[rep["pk"]]["override"] is None and mine[rep["pk"]]["mark"] is None  # both wait for the end
    # the end: marks, overrides and sharing points are revealed, each explained in the ledger
    c.post("/api/sessions/late/stop", headers=h)
    s = c.get("/api/sessions/late/teams/albania/score", headers=a).json
    lines = {(e["kind"], e["ref"]): e for e in s["ledger"] if e.get("kind")}
    assert (
        lines[("report", rep["pk"])]["points"] == 45
        and "severity should have been high" in lines[("report", rep["pk"])]["reason"]
    )
    assert lines[("report", weak["pk"])]["points"] == 0 and "scores higher" in lines[("report", weak["pk"])]["reason"]
    assert (
        lines[("sharing", ind["pk"])]["points"] == 20
        and "first in the community" in lines[("sharing", ind["pk"])]["reason"]
    )
    assert s["score"] == pytest.approx(before + 45 + 20)
    reps = c.get("/api/sessions/late/teams/albania/reports", headers=a).json
    assert reps["revealed"] and {x["pk"]: x["mark"]["earned"] for x in reps["reports"]} == {
        rep["pk"]: 45,
        weak["pk"]: 0,
    }
    kos = c.get("/api/sessions/late/teams/kosovo/score", headers=k).json
    assert [e["points"] for e in kos["ledger"] if e.get("kind") == "sharing"] == [-2.0]
    feed = c.get("/api/sessions/late/teams/kosovo/indicators", headers=k).json["indicators"]
    assert {i["team"]: i["mark"] is None for i in feed} == {"albania": True, "kosovo": False}
    r = c.post("/api/sessions/late/teams/albania/reports", headers=a, json=right_report(attacker, affected))
    assert r.status_code == 400 and "can no longer be filed" in r.json["error"]
    # clearing the override brings back the computed mark, and is audited too
    r = c.post(f"/api/sessions/late/reports/{rep['pk']}/mark", headers=h, json={"points": None, "reason": "agreed"})
    assert r.json["override"] is None and r.json["mark"]["points"] == 50
    assert env["store"].q("SELECT 1 FROM audit WHERE session = 'late' AND action = 'override_cleared'")


def test_console_review_page_comments_and_marks_with_csrf(env):
    c = env["app"].test_client()
    tok = csrf_of(c)
    c.post("/login", data={"csrf_token": tok, "role": "instructor", "password": env["password"]})
    tok = csrf_of(c)
    attacker, affected = facts(env, "hub", "albania")
    pk = c.post(
        "/api/sessions/hub/teams/albania/reports",
        headers=team(env, "hub", "albania"),
        json=right_report(attacker, affected, title="for review"),
    ).json["pk"]
    c.post(
        "/api/sessions/hub/teams/albania/indicators",
        headers=team(env, "hub", "albania"),
        json={"type": "domain", "value": "review.evil-cdn.org", "tlp": "GREEN"},
    )
    page = c.get("/console/hub/reports").get_data(as_text=True)
    assert f'data-testid="review-report" data-pk="{pk}"' in page and "for review" in page
    for tid in ("comment-form", "mark-form", "export-stix", "export-misp", "review-indicators"):
        assert f'data-testid="{tid}"' in page, tid
    assert c.post(f"/console/hub/reports/{pk}/comment", data={"text": "no CSRF"}).status_code == 400
    r = c.post(f"/console/hub/reports/{pk}/comment", data={"csrf_token": tok, "text": "Good catch"})
    assert r.status_code == 303
    r = c.post(
        f"/console/hub/reports/{pk}/mark",
        data={"csrf_token": tok, "points": "30", "reason": "late triage"},
        follow_redirects=True,
    )
    assert "mark set to 30" in r.get_data(as_text=True)
    r = c.post(
        f"/console/hub/reports/{pk}/mark", data={"csrf_token": tok, "points": "30", "reason": ""}, follow_redirects=True
    )
    assert "reason" in r.get_data(as_text=True)
    page = c.get("/console/hub/reports").get_data(as_text=True)
    assert "Good catch" in page and "late triage" in page
    assert 'data-testid="open-reports"' in c.get("/console/hub").get_data(as_text=True)


def test_override_says_whether_the_mark_counts_and_what_counts_instead(env):
    """Fault 10: 'mark set to 15' while the report still counted 0, another report on the same step
    scoring more; the API answer, the console's message and its review page now say so."""
    fresh(env, "counts", ["albania"])
    c, h, a = env["app"].test_client(), inst(env), team(env, "counts", "albania")
    attacker, affected = facts(env, "counts", "albania")
    set_clock(env, "counts", 60)
    url = "/api/sessions/counts/teams/albania/reports"
    best = c.post(url, headers=a, json=right_report(attacker, affected)).json["pk"]
    other = c.post(url, headers=a, json=right_report(attacker, affected, title="the same scan again")).json["pk"]
    top = {x["pk"]: x["mark"] for x in c.get("/api/sessions/counts/reports", headers=h).json["reports"]}[best]
    assert top["counted"] and top["beaten_by"] is None
    r = c.post(f"/api/sessions/counts/reports/{other}/mark", headers=h, json={"points": 15, "reason": "own work"})
    assert r.status_code == 200 and r.json["mark"]["points"] == 15 and not r.json["mark"]["counted"]
    assert r.json["mark"]["beaten_by"] == {"report": best, "points": top["points"]}
    said = (f"it does not count: report #{best} on the same step scores higher ({top['points']:g}) and only the "
            f"best report per step counts")
    assert r.json["message"] == f"report #{other}: mark set to 15; {said}"
    # the console says the same when the instructor sets the mark there, and the review page shows it
    b, tok = browser(env)
    page = b.post(f"/console/counts/reports/{other}/mark", data={"csrf_token": tok, "points": "15", "reason": "again"},
                  follow_redirects=True).get_data(as_text=True)
    assert f"report #{other}: mark set to 15; {said}" in html.unescape(page)
    card = html.unescape(page.split(f'data-pk="{other}"', 1)[1].split('data-testid="review-report"', 1)[0])
    assert "mark set to 15 by the instructor" in card and said in card
    # set above the other report: it counts now, and the message says which report stopped counting
    r = c.post(f"/api/sessions/counts/reports/{other}/mark", headers=h, json={"points": 99, "reason": "the best"})
    assert r.json["mark"]["counted"] and r.json["message"] == (
        f"report #{other}: mark set to 99; it counts for step recon; report #{best} on the same step does not "
        f"count now"
    )
    r = c.post(f"/api/sessions/counts/reports/{other}/mark", headers=h, json={"points": None, "reason": "undo"})
    assert r.json["message"].startswith(f"report #{other}: the computed mark (")
    assert f"it does not count: report #{best} on the same step scores as much" in r.json["message"]


def test_a_report_needs_a_classification_and_long_text_is_refused_whole(env):
    """Fault 12: a report with only a title was filed as Abusive Content / Spam (the form's first
    option); fault 14: the description box cut a 24,600-character paste to 8,000 silently."""
    c, h = env["app"].test_client(), team(env, "hub", "albania")
    attacker, affected = facts(env, "hub", "albania")
    url = "/api/sessions/hub/teams/albania/reports"
    had = len(c.get(url, headers=h).json["reports"])
    for body, msg in (
        ({"title": "only a title"}, "'classification' is required"),
        ({"title": "x", "classification": {"class": "", "type": ""}}, "'classification.class' is required: choose"),
        ({"title": "x", "classification": {"class": "fraud", "type": ""}}, "'classification.type' is required"),
        (right_report(attacker, affected, description="y" * 24_600),
         "'description' is longer than 8000 characters (it has 24600): shorten it; nothing is cut"),
        (right_report(attacker, affected, actions="y" * 4_001), "'actions' is longer than 4000 characters"),
    ):
        r = c.post(url, headers=h, json=body)
        assert r.status_code == 400 and msg in r.json["error"], (msg, r.json)
    assert len(c.get(url, headers=h).json["reports"]) == had  # nothing was filed
    page = c.get("/workspace/hub/albania", headers=h).get_data(as_text=True)
    assert re.search(r'<select name="class" id="report-class" [^>]*required', page)
    assert re.search(r'<select name="type" id="report-type" [^>]*required', page)
    description = re.search(r'<textarea name="description"[^>]*>', page).group(0)
    assert "maxlength" not in description and 'data-limit="8000"' in description  # counted, never cut
    assert 'data-testid="report-description-count"' in page
    # fault 13: the evidence help names the explorer's "row" column, which the event grid now shows
    assert "“row” column" in page and "table:rowid" not in page


def test_teams_edit_and_withdraw_their_reports_while_the_session_runs(env):
    fresh(env, "edits", ["albania", "serbia"])
    c, h = env["app"].test_client(), inst(env)
    a, s = team(env, "edits", "albania"), team(env, "edits", "serbia")
    attacker, affected = facts(env, "edits", "albania")
    url = "/api/sessions/edits/teams/albania/reports"
    set_clock(env, "edits", 60)
    pk = c.post(url, headers=a, json={"title": "something odd", "classification": {"class": "other",
                                                                                  "type": "undetermined"}}).json["pk"]
    gone = c.post(url, headers=a, json=right_report(attacker, affected, title="filed twice")).json["pk"]
    before = c.get("/api/sessions/edits/reports", headers=h).json["reports"]
    assert {x["pk"]: x["mark"]["step"] for x in before} == {pk: None, gone: "recon"}
    # the placeholder completed later is marked as it stands, as of its last edit
    set_clock(env, "edits", 90)
    r = c.put(f"{url}/{pk}", headers=a, json=right_report(attacker, affected, title="SYN scan, completed"))
    assert r.status_code == 200, r.json
    assert r.json["title"] == "SYN scan, completed" and r.json["edited_at"] > r.json["filed_at"]
    assert r.json["classification"]["label"] == "Information Gathering / Scanning" and r.json["mark"] is None
    assert c.get(f"{url}/{pk}", headers=a).json["title"] == "SYN scan, completed"
    mark = {x["pk"]: x["mark"] for x in c.get("/api/sessions/edits/reports", headers=h).json["reports"]}[pk]
    assert mark["step"] == "recon" and "last edited" in mark["reason"]
    [line] = [json.loads(x["detail"]) for x in env["store"].q(
        "SELECT detail FROM audit WHERE session = 'edits' AND action = 'report_edited'")]
    assert line == {"team": "albania", "report": pk, "title": "SYN scan, completed",
                    "changed": ["affected", "attack", "attackers", "classification", "title"]}
    same = c.put(f"{url}/{pk}", headers=a, json=right_report(attacker, affected, title="SYN scan, completed"))
    assert same.json["edited_at"] == r.json["edited_at"]  # nothing changed: nothing written, the time kept
    # strict input, the team's own reports only
    for who, route, body, code, msg in (
        (a, f"{url}/{pk}", {"title": "x"}, 400, "'classification' is required"),
        (a, f"{url}/{pk}", {**right_report(attacker, affected), "owner": "me"}, 400, "unknown field(s) 'owner'"),
        (a, f"{url}/{pk}", right_report(attacker, affected, evidence=["conn:999999"]), 400, "'evidence[0]'"),
        (s, f"{url}/{pk}", right_report(attacker, affected), 403, "its own"),
        (a, f"{url}/999999", right_report(attacker, affected), 404, "no report 999999"),
    ):
        r = c.put(route, headers=who, json=body)
        assert r.status_code == code and msg in r.json["error"], (body, r.json)
    serbia = c.post("/api/sessions/edits/teams/serbia/reports", headers=s, json=right_report(attacker, affected)).json
    assert c.put(f"{url}/{serbia['pk']}", headers=a, json=right_report(attacker, affected)).status_code == 404
    assert c.delete(f"{url}/{serbia['pk']}", headers=a).status_code == 404
    assert c.delete(f"{url}/{pk}", headers=s).status_code == 403
    assert c.get(f"{url}/{pk}", headers=a).json["title"] == "SYN scan, completed"  # none of that changed it
    # withdrawn: gone from every list, mark and export; the audit keeps it
    r = c.delete(f"{url}/{gone}", headers=a)
    assert r.status_code == 200 and r.json == {"pk": gone, "withdrawn": True}
    assert [x["pk"] for x in c.get(url, headers=a).json["reports"]] == [pk]
    assert gone not in [x["pk"] for x in c.get("/api/sessions/edits/reports", headers=h).json["reports"]]
    assert c.get(f"{url}/{gone}", headers=a).status_code == 404
    assert c.delete(f"{url}/{gone}", headers=a).status_code == 404
    assert c.put(f"{url}/{gone}", headers=a, json=right_report(attacker, affected)).status_code == 404
    assert "filed twice" not in c.get("/api/sessions/edits/teams/albania/export/misp", headers=a).get_data(as_text=True)
    assert "filed twice" not in c.get("/console/edits/reports", headers=h).get_data(as_text=True)
    assert [json.loads(x["detail"]) for x in env["store"].q(
        "SELECT detail FROM audit WHERE session = 'edits' AND action = 'report_withdrawn'")] == [
        {"team": "albania", "report": gone, "title": "filed twice"}]
    # the end locks them, as it locks filing
    c.post("/api/sessions/edits/stop", headers=h)
    assert c.get(url, headers=a).json["open"] is False
    r = c.put(f"{url}/{pk}", headers=a, json=right_report(attacker, affected, title="after the end"))
    assert r.status_code == 400 and "reports can no longer be edited" in r.json["error"]
    r = c.delete(f"{url}/{pk}", headers=a)
    assert r.status_code == 400 and "reports can no longer be withdrawn" in r.json["error"]
    final = c.get(url, headers=a).json["reports"]
    assert [(x["pk"], x["title"], x["mark"]["step"]) for x in final] == [(pk, "SYN scan, completed", "recon")]


# ---- exports, the after-action report, the programme --------------------------------------------


def test_exports_read_back_by_stix2_and_pymisp(env):
    c = env["app"].test_client()
    attacker, affected = facts(env, "hub", "albania")
    assert (
        c.post(
            "/api/sessions/hub/teams/albania/reports",
            headers=team(env, "hub", "albania"),
            json=right_report(
                attacker, affected, indicators=[{"type": "ipv4", "value": attacker}], actions="blocked at the border"
            ),
        ).status_code
        == 201
    )
    c.post(
        "/api/sessions/hub/teams/albania/indicators",
        headers=team(env, "hub", "albania"),
        json={"type": "domain", "value": "exports.evil-cdn.org", "tlp": "AMBER"},
    )
    for who in (team(env, "hub", "albania"), inst(env)):
        r = c.get("/api/sessions/hub/teams/albania/export/stix", headers=who)
        assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
        bundle = stix2.parse(r.get_data(as_text=True), allow_custom=False)
        types = {o.type for o in bundle.objects}
        assert {
            "identity",
            "report",
            "incident",
            "indicator",
            "marking-definition",
            "sighting",
            "note",
            "observed-data",
            "attack-pattern",
        } <= types
        names = {o.name for o in bundle.objects if o.type == "report"}
        assert "SYN scan of the portal and the file server" in names
        r = c.get("/api/sessions/hub/teams/albania/export/misp", headers=who)
        assert r.status_code == 200
        events = json.loads(r.get_data(as_text=True))["response"]
        loaded = []
        for e in events:
            ev = MISPEvent()
            ev.load(json.dumps(e))
            loaded.append(ev)
        assert any('rsit:information-gathering="scanner"' in {t.name for t in ev.tags} for ev in loaded)
        assert any(ev.info.startswith("Indicators shared by albania") for ev in loaded)
        named = 0
        for ev in loaded:  # one attribute, one role per address: the attacker never an ip-dst as well
            roles: dict[str, list[str]] = {}
            for attr in ev.attributes:
                if attr.type in ("ip-src", "ip-dst"):
                    roles.setdefault(attr.value, []).append(attr.type)
            assert all(len(v) == 1 for v in roles.values()), (ev.info, roles)
            if attacker in roles:
                named += 1
                assert roles[attacker] == ["ip-src"], (ev.info, roles)
            assert all(roles[a] == ["ip-dst"] for a in affected if a in roles), (ev.info, roles)
        assert named >= 1
    ws = c.get("/workspace/hub/albania", headers=team(env, "hub", "albania")).get_data(as_text=True)
    for tid in (
        "tab-reports",
        "report-form",
        "report-class",
        "report-type",
        "report-submit",
        "reports-table",
        "tab-sharing",
        "indicator-form",
        "indicator-tlp",
        "feed-table",
        "export-stix",
        "export-misp",
    ):
        assert f'data-testid="{tid}"' in ws, tid
    assert c.get("/static/csirt.js").status_code == 200
    assert "<th>Comment</th>" in ws.split('data-testid="feed-table"', 1)[1]  # fault 11: the feed shows comments


def finished_exercise(env, name: str, teams: list[str]) -> None:
    """A session where the first team detects the scan, reports it and shares the attacker; then it ends."""
    fresh(env, name, teams)
    c, first = env["app"].test_client(), team(env, name, teams[0])
    attacker, affected = facts(env, name, teams[0])
    c.post(f"/api/sessions/{name}/teams/{teams[0]}/rules", headers=first, json={"yaml": SCAN_RULE})
    set_clock(env, name, 60)
    c.post(f"/api/sessions/{name}/teams/{teams[0]}/reports", headers=first, json=right_report(attacker, affected))
    c.post(
        f"/api/sessions/{name}/teams/{teams[0]}/indicators",
        headers=first,
        json={"type": "ipv4", "value": attacker, "tlp": "GREEN"},
    )
    c.post(f"/api/sessions/{name}/stop", headers=inst(env))


def test_after_action_report_html_and_pdf(env):
    finished_exercise(env, "aar", ["albania", "kosovo"])
    c, h = env["app"].test_client(), inst(env)
    html = c.get("/console/aar/report", headers=h).get_data(as_text=True)
    for part in (
        "6. Incident reports",
        "7. Indicator sharing",
        "Where each team",
        "chart-breakdown",
        "chart-mttd",
        "Would have been caught by",
        "net_conn_port_scan.yml",
        "Information Gathering / Scanning",
        'class="mark-report"',
        'data-testid="report-pdf"',
    ):
        assert part in html, part
    for url in ("/console/aar/report.pdf", "/api/sessions/aar/report.pdf"):
        r = c.get(url, headers=h)
        assert r.status_code == 200 and r.mimetype == "application/pdf", url
        assert r.data.startswith(b"%PDF-")
        pages = PdfReader(io.BytesIO(r.data)).pages
        assert len(pages) >= 2
        text = "\n".join(p.extract_text() for p in pages)
        for word in (
            "After-action report: aar",
            "smoke",
            "albania",
            "kosovo",
            "Incident reports",
            "Indicator sharing",
            "What each team missed",
            "Port scan",
        ):
            assert word in text, word
        assert all(p.extract_text().strip() for p in pages)  # every page is text, not an image of it
    rep = c.get("/api/sessions/aar/report", headers=h).json
    alb = next(t for t in rep["teams"] if t["team"] == "albania")
    assert alb["breakdown"]["reports"] == 50 and alb["breakdown"]["sharing"] == 20
    assert alb["report_summary"]["steps_reported"] == 1 and alb["sharing"]["correct"] == 1
    kos = next(t for t in rep["teams"] if t["team"] == "kosovo")
    assert kos["missed"][0]["reference_rules"][0]["file"] == "net_conn_port_scan.yml"
    assert c.get("/api/sessions/nope/report.pdf", headers=h).status_code == 404


def test_programme_follows_teams_across_sessions(env):
    fresh(env, "prog1", ["montenegro", "bosnia"])
    finished_exercise(env, "prog2", ["montenegro", "macedonia"])
    c, h = env["app"].test_client(), inst(env)
    p = c.get("/api/programme", headers=h).json
    names = [s["name"] for s in p["sessions"]]
    assert names.index("hub") < names.index("prog1") < names.index("prog2")  # oldest first
    assert [x["session"] for x in p["teams"]["montenegro"]] == ["prog1", "prog2"]
    assert [x["session"] for x in p["teams"]["macedonia"]] == ["prog2"]
    first, second = p["teams"]["montenegro"]
    assert first["recall"] == 0 and first["report_quality"] is None
    assert second["recall"] == 1.0 and second["report_quality"] == 1.0 and second["steps_reported"] == 1
    assert second["score"] > first["score"] and second["sharing"] == 20
    page = c.get("/console/programme", headers=h).get_data(as_text=True)
    assert 'data-testid="programme-row" data-team="bosnia"' in page and "programme-chart-score" in page
    assert "<polyline" in page  # montenegro's line joins its two sessions


def test_new_answers_match_the_openapi_document(env):
    c, h = env["app"].test_client(), inst(env)
    doc = c.get("/api/openapi.json").json
    a = team(env, "hub", "albania")
    T = "/api/sessions/{name}/teams/{team}"

    check = documented(c, doc)
    check("get", "/api/rsit", "/api/rsit")
    attacker, affected = facts(env, "hub", "albania")
    rep = check(
        "post",
        "/api/sessions/hub/teams/albania/reports",
        T + "/reports",
        201,
        headers=a,
        json=right_report(attacker, affected, indicators=[{"type": "domain", "value": "x.example.org"}]),
    )
    for who in (a, h):
        check("get", "/api/sessions/hub/teams/albania/reports", T + "/reports", headers=who)
        check("get", f"/api/sessions/hub/teams/albania/reports/{rep.json['pk']}", T + "/reports/{pk}", headers=who)
        check("get", "/api/sessions/hub/teams/albania/indicators", T + "/indicators", headers=who)
    ind = check(
        "post",
        "/api/sessions/hub/teams/albania/indicators",
        T + "/indicators",
        201,
        headers=a,
        json={"type": "url", "value": "http://x.example.org/a.php", "tlp": "AMBER"},
    )
    check(
        "post",
        f"/api/sessions/hub/teams/albania/indicators/{ind.json['pk']}/rule",
        T + "/indicators/{pk}/rule",
        headers=a,
        json={},
    )
    check(
        "post",
        f"/api/sessions/hub/teams/albania/indicators/{ind.json['pk']}/rule",
        T + "/indicators/{pk}/rule",
        201,
        headers=a,
        json={"deploy": True},
    )
    check("get", "/api/sessions/hub/reports", "/api/sessions/{name}/reports", headers=h)
    check("get", "/api/sessions/hub/indicators", "/api/sessions/{name}/indicators", headers=h)
    check(
        "post",
        f"/api/sessions/hub/reports/{rep.json['pk']}/comments",
        "/api/sessions/{name}/reports/{pk}/comments",
        201,
        headers=h,
        json={"text": "ok"},
    )
    check(
        "post",
        f"/api/sessions/hub/reports/{rep.json['pk']}/mark",
        "/api/sessions/{name}/reports/{pk}/mark",
        headers=h,
        json={"points": 10, "reason": "test"},
    )
    check(
        "put",
        f"/api/sessions/hub/teams/albania/reports/{rep.json['pk']}",
        T + "/reports/{pk}",
        headers=a,
        json=right_report(attacker, affected, title="edited for the document"),
    )
    spare = c.post("/api/sessions/hub/teams/albania/reports", headers=a, json=right_report(attacker, affected)).json
    check("delete", f"/api/sessions/hub/teams/albania/reports/{spare['pk']}", T + "/reports/{pk}", headers=a)
    check("get", "/api/programme", "/api/programme", headers=h)
    check("get", "/api/sessions/hub/report", "/api/sessions/{name}/report", headers=h)
    check("get", "/api/sessions/hub/teams/albania/score", T + "/score", headers=a)
    check("get", "/api/sessions/hub/teams/albania", T, headers=a)
    assert c.get("/api/sessions/hub/report.pdf", headers=h).data.startswith(b"%PDF-")
