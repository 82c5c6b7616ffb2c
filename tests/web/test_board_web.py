"""The public scoreboard's score breakdown and its projector mode, through Flask's test client: each
ranking row says where its points come from (detection, false positives, hints, reports, sharing),
adding up to the score; the marks of reports and shared indicators stay at 0 until the end, as the
score does; the board page in projector mode (``?projector=1``) and the link to it. A real offline
session of 'smoke', the driver ticked by hand (as in test_web.py). The layout itself (1280x720, no
overlap) is checked in a real browser: tests/e2e/test_board_projector.py."""
from __future__ import annotations

import re

import pytest

from range import sessions
from range.scoring import Truth
from tests.conftest import app_over_fresh_state
from tests.web.common import SCAN_RULE, basic, documented, set_clock

PARTS = {"detection", "false_positives", "hints", "reports", "sharing", "other"}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    app, store, password, mp = app_over_fresh_state(tmp_path_factory)
    env = {"app": app, "store": store, "driver": app.extensions["cyberrange"].driver, "password": password}
    env["pw"] = sessions.create_session(store, "bd", "smoke", ["albania", "kosovo", "serbia"], speed=20)["teams"]
    yield env
    mp.undo()


def team(env, name: str) -> dict:
    return basic(f"bd/{name}", env["pw"][name])


def rows(client) -> dict:
    return {r["team"]: r for r in client.get("/api/board/bd").json["ranking"]}


def adds_up(r: dict) -> None:
    assert set(r["breakdown"]) == PARTS
    assert sum(r["breakdown"].values()) == pytest.approx(r["score"], abs=0.05), r


def test_each_ranking_row_says_where_its_points_come_from(env):
    c, store = env["app"].test_client(), env["store"]
    doc = c.get("/api/openapi.json").json
    check = documented(c, doc)
    b = check("get", "/api/board/bd", "/api/board/{name}").json  # ready: nothing scored yet
    assert [r["breakdown"] for r in b["ranking"]] == [dict.fromkeys(PARTS, 0.0)] * 3

    truth = Truth.read(store.team_dir("bd", "albania").truth)
    [step] = truth.steps
    attacker, affected = step.flows[0]["src"], sorted({f["dst"] for f in step.flows})
    for t in ("albania", "kosovo"):
        assert c.post(f"/api/sessions/bd/teams/{t}/rules", headers=team(env, t), json={"yaml": SCAN_RULE}).status_code \
            == 201
    hint = c.post("/api/sessions/bd/hints", headers=basic("instructor", env["password"]),
                  json={"step": "recon", "teams": ["kosovo"]})
    assert hint.status_code == 200, hint.json
    set_clock(env, "bd", 90)
    r = c.post("/api/sessions/bd/teams/albania/reports", headers=team(env, "albania"), json={
        "title": "SYN scan of the portal and the file server", "attack": "T1046", "severity": "medium",
        "classification": {"class": "information-gathering", "type": "scanner"}, "affected": affected,
        "attackers": [attacker]})
    assert r.status_code == 201, r.json
    r = c.post("/api/sessions/bd/teams/albania/indicators", headers=team(env, "albania"),
               json={"type": "ipv4", "value": attacker, "tlp": "GREEN"})
    assert r.status_code == 201, r.json

    # while the session runs: detection and hints show; the report and the indicator count 0, as in the score
    check("get", "/api/board/bd", "/api/board/{name}")
    run = rows(c)
    for r in run.values():
        adds_up(r)
    alb, kos = run["albania"]["breakdown"], run["kosovo"]["breakdown"]
    assert alb["detection"] > 0 and alb["reports"] == alb["sharing"] == 0
    assert kos["detection"] > 0 and kos["hints"] == -20
    assert run["serbia"]["breakdown"] == dict.fromkeys(PARTS, 0.0)

    # after the end the marks count, in the breakdown as in the score (the after-action report's split)
    assert c.post("/api/sessions/bd/stop", headers=basic("instructor", env["password"])).status_code == 200
    check("get", "/api/board/bd", "/api/board/{name}")
    end = rows(c)
    for r in end.values():
        adds_up(r)
    alb = end["albania"]["breakdown"]
    assert alb["sharing"] == 20 and alb["reports"] > 0
    assert end["albania"]["score"] == pytest.approx(run["albania"]["score"] + alb["sharing"] + alb["reports"], abs=0.05)
    assert alb["detection"] == run["albania"]["breakdown"]["detection"]
    # the results API's ranking (instructor) carries no breakdown: it is the board's
    res = c.get("/api/sessions/bd/results", headers=basic("instructor", env["password"]))
    assert res.status_code == 200 and all("breakdown" not in r for r in res.json["ranking"])


def test_the_projector_mode_and_the_link_to_it(env):
    c = env["app"].test_client()
    page = c.get("/board/bd?theme=dark").get_data(as_text=True)
    assert re.search(r'<body class="projector">', page)  # the ordinary board: large type, the site header
    assert '<header class="top' in page and 'data-testid="score-legend"' in page
    link = re.search(r'<a class="button no-print" id="projector-link" data-testid="projector-link"\s+href="([^"]+)"',
                     page)
    assert link and link.group(1) == "/board/bd?projector=1&amp;theme=dark"  # the same session, the same theme
    assert "/board/bd?projector=1" in c.get("/board/bd").get_data(as_text=True)

    for on in ("1", "true", "yes"):
        pj = c.get(f"/board/bd?projector={on}&theme=dark").get_data(as_text=True)
        assert '<body class="projector projector-mode">' in pj
        assert 'data-projector="1"' in pj and 'data-exit="/board/bd?theme=dark"' in pj  # Esc leads back
        assert 'id="projector-link"' not in pj
        assert 'data-testid="score-legend"' in pj and "indicators shared with the other teams" in pj
    off = c.get("/board/bd?projector=0").get_data(as_text=True)
    assert 'projector-mode' not in off and 'id="projector-link"' in off
    # only a theme the page knows is passed on
    odd = c.get("/board/bd?theme=%22%3E%3Cscript%3E").get_data(as_text=True)
    assert re.search(r'href="/board/bd\?projector=1"', odd) and "<script>" not in odd.split("<main>")[1]
    assert c.get("/board/nope?projector=1").status_code == 404
