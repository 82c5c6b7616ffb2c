"""How the after-action report and the programme view are laid out: the PDF's tables fit the A4
page (section 7's "Why" column was cut off at its edge), the timeline's step labels do not overlap,
and the programme chart draws a negative score below 0 with its axis title clear of the tick
labels. A real finished session of 'smoke' (its driver ticked by hand); the PDF is WeasyPrint's
layout of the very page the console shows."""
from __future__ import annotations

import re

import pytest

from range import sessions
from range.results import after_action
from range.scoring import Truth
from scoreboard import aar as web_aar
from tests.conftest import app_over_fresh_state
from tests.web.common import SCAN_RULE, basic, set_clock

LONG_URL = "http://updates.evil-cdn.example.org/" + "/".join(["static-content-delivery-path"] * 6) + "/payload.php"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    app, store, password, mp = app_over_fresh_state(tmp_path_factory)
    env = {"app": app, "store": store, "driver": app.extensions["cyberrange"].driver, "password": password}
    pw = sessions.create_session(store, "layout", "smoke", ["albania", "kosovo"], speed=20)["teams"]
    c, alb = app.test_client(), basic("layout/albania", pw["albania"])
    truth = Truth.read(store.team_dir("layout", "albania").truth)
    attacker, affected = truth.steps[0].flows[0]["src"], sorted({f["dst"] for f in truth.steps[0].flows})
    c.post("/api/sessions/layout/teams/albania/rules", headers=alb, json={"yaml": SCAN_RULE})
    set_clock(env, "layout", 60)
    r = c.post("/api/sessions/layout/teams/albania/reports", headers=alb, json={
        "title": "SYN scan of the portal and the file server from one outside address, then nothing else",
        "classification": {"class": "information-gathering", "type": "scanner"}, "affected": affected,
        "attackers": [attacker], "attack": "T1046", "severity": "medium"})
    assert r.status_code == 201, r.json
    for kind, value in (("ipv4", attacker), ("url", LONG_URL), ("domain", "updates.evil-cdn.example.org")):
        r = c.post("/api/sessions/layout/teams/albania/indicators", headers=alb,
                   json={"type": kind, "value": value, "tlp": "GREEN"})
        assert r.status_code == 201, r.json
    assert c.post("/api/sessions/layout/stop", headers=basic("instructor", password)).status_code == 200
    yield env
    mp.undo()


def past_the_right_edge(doc) -> list[tuple[int, str]]:
    """(page, text) of every box that reaches beyond the page's content area on the right."""
    out = []
    for n, page in enumerate(doc.pages, 1):
        root = page._page_box
        edge = root.content_box_x() + root.width + 0.5
        for box in root.descendants():
            if getattr(box, "width", None) is None or not hasattr(box, "border_box_x"):
                continue
            if box.border_box_x() + box.border_width() > edge:
                out.append((n, getattr(box, "text", None) or box.element_tag))
    return out


def test_the_pdf_fits_the_page_width(env):
    with env["app"].test_request_context("/console/layout/report.pdf"):
        doc = web_aar.laid_out("layout")
    assert len(doc.pages) >= 2
    assert past_the_right_edge(doc) == []
    words = " ".join(getattr(b, "text", "") or "" for p in doc.pages for b in p._page_box.descendants())
    assert "7. Indicator sharing" in words and "payload.php" in words


def test_timeline_labels_take_lanes_and_rows_make_room(env):
    r = after_action(env["store"], "layout")
    assert r["timeline"]["row"] == 40 and all(d["lane"] == 0 for t in r["teams"] for d in t["steps_detail"])
    c = env["app"].test_client()
    html = c.get("/console/layout/report", headers=basic("instructor", env["password"])).get_data(as_text=True)
    svg = html[html.index('id="chart-timeline"'):]
    svg = svg[:svg.index("</svg>")]
    assert re.search(r'viewBox="0 0 900 110"', svg)  # two teams of 40 px, and the time axis
    assert svg.count('data-lane="0"') == 2


def _fig(session: str, score: float, recall: float) -> dict:
    return {"session": session, "score": score, "recall": recall, "precision": None, "mttd_seconds": None,
            "report_quality": None, "reports": 0, "steps_reported": 0, "sharing": 0.0}


def test_programme_chart_draws_a_negative_score_below_zero(env):
    p = {"sessions": [{"name": n, "scenario": "smoke", "status": "finished", "created_at": i, "teams": ["a", "b"]}
                      for i, n in enumerate(("first", "second"))],
         "teams": {"a": [_fig("first", -22, 0.0), _fig("second", 40, 1.0)],
                   "b": [_fig("first", 0, 0.0), _fig("second", 10, 0.5)]}}
    with env["app"].test_request_context("/console/programme"):
        html = web_aar.programme_html(p)
    svg = html[html.index('data-testid="programme-chart-score"'):]
    svg = svg[:svg.index("</svg>")]

    def cy(team, session):
        return float(re.search(rf'cy="([-\d.]+)"[^>]*data-team="{team}" data-session="{session}"', svg).group(1))
    zero = float(re.search(r'y1="([-\d.]+)" y2="[-\d.]+" class="axis zero"', svg).group(1))
    ticks = {float(t): float(y) for y, t in re.findall(r'y="([-\d.]+)"[^>]*class="tiny tick"[^>]*>([^<]+)<', svg)}
    assert ticks[0] == pytest.approx(zero + 4) and cy("b", "first") == pytest.approx(zero)
    low = cy("a", "first")
    assert low > zero + 40  # -22 is drawn below 0, not at it, and where the axis says -22 is
    assert min(ticks) == -40 and ticks[-20] - 4 == pytest.approx(zero + (low - zero) * 20 / 22, abs=0.2)
    assert cy("a", "second") < cy("b", "second") < zero
    # the axis title sits above the highest tick label (whose glyphs reach ~9 px above its baseline)
    title_y = float(re.search(r'y="([-\d.]+)"[^>]*class="tiny axis-title"', svg).group(1))
    assert title_y + 3 < min(ticks.values()) - 9


def test_the_pdf_keeps_short_values_whole(env):
    """Fitting the page let every table cell break anywhere, and the tables shrank their short
    columns to a few letters ("GRE|EN", "T+|01:|00", "albani|a", "+10|0.0"); only prose and URL
    cells (td.wrap, td.text, td.rsit) may break inside a word."""
    with env["app"].test_request_context("/console/layout/report.pdf"):
        doc = web_aar.laid_out("layout")
    broken, cells = [], 0
    for page in doc.pages:
        for box in page._page_box.descendants():
            if type(box).__name__ != "TableCellBox" or box.element_tag != "td":
                continue
            if {"wrap", "text", "rsit"} & set((box.element.get("class") or "").split()):
                continue
            cells += 1
            words = set(" ".join(box.element.itertext()).split())
            lines = [b.text for b in box.descendants() if type(b).__name__ == "TextBox"]
            broken += [(w, lines) for line in lines for w in line.split() if w not in words]
    assert cells > 50 and broken == []
