"""The public scoreboard's projector mode in a real browser (Debian's Chromium through Playwright, as
in test_e2e_browser.py), at 1280x720: the whole board (ranking, score legend, timeline, ATT&CK
coverage) fits the window without scrolling, with no site header; no two of the timeline's labels
(team names, step ids, times) overlap and none is smaller than 14 px; marks at the same time stay
apart; every score shows as a whole number; the legend explains how the score is made, sharing
included, and each team's row shows where its points come from. Checked while the session runs and
after its end (when the steps' bands and labels and the coverage matrix appear).

The session: ministry-breach (8 steps, two pairs of them close together: "sweep"/"portscan" and
"mitm"/"creds") for six teams, one with a long name. Two teams deploy every reference rule from the
start (one of them two noisy DNS rules too: false positives raised with its detections), one only
halfway (late detections, fractional scores), one takes a hint, two share indicators (one right,
one wrong) and one does nothing. The driver is ticked by hand every 150 s of scenario time, so
detections of several steps land at the same instant. The web app runs in this process (werkzeug,
threaded: the board's event stream holds a thread), over the state these steps made.

Screenshots go to ``test-artifacts/e2e/board-projector/``. Chromium missing fails the test.
"""

from __future__ import annotations

import math
import re
import threading

import pytest
from werkzeug.serving import make_server

from range import sessions
from range.scoring import Truth
from tests.conftest import app_over_fresh_state
from tests.e2e.test_e2e_browser import ARTIFACTS, WAIT_MS, browser  # noqa: F401 (the browser fixture)
from tests.web.common import RULES, SCAN_RULE, basic, set_clock

SESSION = "projector"
TEAMS = ["albania", "kosovo", "montenegro", "north-macedonia", "serbia", "bosnia-and-herzegovina"]
SHOTS = ARTIFACTS / "board-projector"
STEPS = ["sweep", "portscan", "bruteforce", "sqli", "webshell", "mitm", "creds", "exfil"]  # ministry-breach's
VIEW = {"width": 1280, "height": 720}
MIN_LABEL_PX = 14
NOISY = """title: Every DNS query ({n})
id: 00000000-0000-4000-8000-00000000000{n}
logsource:
    category: dns
detection:
    sel:
        query|contains: '.'
    condition: sel
level: low
"""


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    app, store, password, mp = app_over_fresh_state(tmp_path_factory)
    env = {"app": app, "store": store, "driver": app.extensions["cyberrange"].driver, "password": password}
    pw = sessions.create_session(store, SESSION, "ministry-breach", TEAMS, speed=20)["teams"]
    c, inst = app.test_client(), basic("instructor", password)

    def post(team, what, body):
        r = c.post(f"/api/sessions/{SESSION}/teams/{team}/{what}", headers=basic(f"{SESSION}/{team}", pw[team]),
                   json=body)
        assert r.status_code == 201, r.json

    every_rule = [p.read_text() for p in sorted(RULES.glob("*.yml"))]
    for team in ("albania", "kosovo"):
        for text in every_rule:
            post(team, "rules", {"yaml": text})
    for n in (1, 2):
        post("albania", "rules", {"yaml": NOISY.format(n=n)})
    for team in ("north-macedonia", "bosnia-and-herzegovina"):
        post(team, "rules", {"yaml": SCAN_RULE})
    r = c.post(f"/api/sessions/{SESSION}/hints", headers=inst, json={"step": "bruteforce", "teams": ["kosovo"]})
    assert r.status_code == 200, r.json
    for t in (150, 300, 450, 600):
        set_clock(env, SESSION, t)
    for text in every_rule:
        post("montenegro", "rules", {"yaml": text})
    attacker = Truth.read(store.team_dir(SESSION, "north-macedonia").truth).steps[0].flows[0]["src"]
    for team, value in (("north-macedonia", attacker), ("north-macedonia", "203.0.113.9"),
                        ("bosnia-and-herzegovina", attacker)):
        post(team, "indicators", {"type": "ipv4", "value": value, "tlp": "GREEN"})
    for t in (750, 900, 1050, 1190):
        set_clock(env, SESSION, t)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"base": f"http://127.0.0.1:{server.server_port}", "client": c, "inst": inst}
    finally:
        server.shutdown()
        thread.join(timeout=10)
        mp.undo()


def open_board(browser, base: str, errors: list, query: str = "projector=1", viewport=VIEW):  # noqa: F811
    ctx = browser.new_context(base_url=base, viewport=viewport)
    ctx.set_default_timeout(WAIT_MS)
    page = ctx.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.goto(f"/board/{SESSION}?{query}")
    page.wait_for_selector('[data-testid="rank-row"]')
    page.wait_for_selector('#timeline [data-testid="timeline-row"]')
    return ctx, page


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def overlapping(boxes: list[dict], slack: float = 0.5) -> list[tuple]:
    """Pairs of boxes ({x, y, w, h, what}) that overlap by more than ``slack`` px both ways."""
    out = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            dx = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
            dy = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
            if dx > slack and dy > slack:
                out.append((a["what"], b["what"]))
    return out


# each element's box on the page, its team (of its timeline row), time (a mark's data-t) and font size
BOXES = """sel => [...document.querySelectorAll(sel)].map(e => {
  const r = e.getBoundingClientRect(), row = e.closest('[data-team]');
  return {x: r.x, y: r.y, w: r.width, h: r.height, team: row ? row.dataset.team : null, step: e.dataset.step || null,
          t: e.dataset.t === undefined ? null : +e.dataset.t, text: e.textContent, kind: e.dataset.testid,
          px: parseFloat(getComputedStyle(e).fontSize), what: (row ? row.dataset.team + ': ' : '')
            + e.dataset.testid + ' ' + (e.dataset.t === undefined ? e.textContent : '@' + e.dataset.t)}; })"""


def check_projector(page, b: dict, revealed: bool) -> None:
    from playwright.sync_api import expect

    # -- the whole board in the window, no site chrome -------------------------------------------
    size = page.evaluate("""() => ({sw: document.documentElement.scrollWidth, sh: document.documentElement.scrollHeight,
                                     w: innerWidth, h: innerHeight})""")
    assert (size["w"], size["h"]) == (1280, 720)
    assert size["sw"] <= size["w"] and size["sh"] <= size["h"], f"the board scrolls: {size}"
    for chrome in ("header.top", "#nav-boards", "#theme-toggle", "#login-link"):
        expect(page.locator(chrome)).to_be_hidden()
    expect(page.get_by_test_id("projector-link")).to_have_count(0)
    expect(page.locator("body")).to_have_class(re.compile(r"\bprojector-mode\b"))
    for part in ("ranking", "score-legend", "timeline", "attack-matrix"):
        box = page.get_by_test_id(part).bounding_box()
        assert box and box["height"] > 0 and box["y"] >= 0 and box["y"] + box["height"] <= 720 + 0.5, (part, box)
        assert box["x"] >= 0 and box["x"] + box["width"] <= 1280 + 0.5, (part, box)
    expect(page.get_by_test_id("rank-row")).to_have_count(6)
    type_px = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('#ranking td.team')).fontSize)")
    assert type_px >= 16, f"the ranking's type is {type_px} px"

    # -- the timeline's labels: none overlaps another, none too small to read -----------------------
    labels = page.evaluate(BOXES, '#timeline [data-testid="timeline-label"], #timeline [data-testid="timeline-tick"]')
    names = [x for x in labels if x["team"]]
    steps = [x["step"] for x in labels if x["step"]]
    ticks = [x["text"] for x in labels if x["kind"] == "timeline-tick"]
    assert sorted(x["team"] for x in names) == sorted(TEAMS) and len(ticks) >= 5 and ticks[0] == "00:00"
    assert ticks[-1] == "20:00"
    if revealed:  # "mitm" (680 s) and "creds" (700 s) overlapped in the after-action report's timeline
        assert sorted(steps) == sorted(STEPS)
    else:
        assert steps == [], "the attack steps show only after the end"
    assert overlapping(labels) == []
    assert min(x["px"] for x in labels) >= MIN_LABEL_PX
    svg = page.locator("#timeline svg").bounding_box()
    for x in labels:  # and each is whole, inside the chart
        assert svg["x"] - 0.5 <= x["x"] and x["x"] + x["w"] <= svg["x"] + svg["width"] + 0.5, x
        assert svg["y"] - 0.5 <= x["y"] and x["y"] + x["h"] <= svg["y"] + svg["height"] + 0.5, x

    # -- marks at the same time are drawn apart ------------------------------------------------------
    marks = page.evaluate(BOXES, '#timeline [data-testid="mark-detect"], #timeline [data-testid="mark-fp"]')
    api_marks = sum(len(t["marks"]) for t in b["teams"].values())
    assert len(marks) == api_marks
    alb = [m for m in marks if m["team"] == "albania" and m["t"] == 150]
    assert len(alb) >= 3 and {m["kind"] for m in alb} == {"mark-detect", "mark-fp"}, \
        "albania's first tick raised detections and false positives together"
    for team in TEAMS:
        mine = [m for m in marks if m["team"] == team]
        assert overlapping(mine) == [], team
    together = [m for m in marks if m["team"] == "montenegro" and m["t"] == 750]
    assert len(together) >= 4 and len({(round(m["x"]), round(m["y"])) for m in together}) == len(together)

    # -- whole-number scores, and where they come from -----------------------------------------------
    api = {r["team"]: r for r in b["ranking"]}
    assert any(r["score"] != int(r["score"]) for r in api.values()), "the data hold a fractional score"
    for team, r in api.items():
        row = page.locator(f'#ranking tr[data-testid="rank-row"][data-team="{team}"]')
        shown = row.locator('[data-field="score"]').inner_text()
        assert re.fullmatch(r"-?\d+", shown), (team, shown)
        assert int(shown) == _js_round(r["score"])
        parts = row.locator("[data-part]")
        got = {}
        for i in range(parts.count()):
            p = parts.nth(i)
            text = p.inner_text()
            assert re.fullmatch(r"\S [+−]?\d+", text), (team, text)
            got[p.get_attribute("data-part")] = int(text.split(" ")[1].replace("−", "-").replace("+", ""))
        assert set(got) == {k for k, v in r["breakdown"].items() if abs(v) >= 0.005}, (team, got)
        assert sum(got.values()) == int(shown), (team, got, shown)  # the parts add up to the score shown

    legend = page.get_by_test_id("score-legend")
    expect(legend).to_be_visible()
    expect(legend).to_contain_text("How the score is made")
    expect(legend).to_contain_text("sharing")
    expect(legend).to_contain_text("indicators shared with the other teams")
    for part in ("detection", "false_positives", "hints", "reports", "sharing"):
        expect(legend.locator(f'[data-part="{part}"]')).to_be_visible()
    kos = page.locator('#ranking tr[data-team="kosovo"] [data-part="hints"]')
    expect(kos).to_have_text(f"? −{round(-api['kosovo']['breakdown']['hints'])}")
    nm = page.locator('#ranking tr[data-team="north-macedonia"] [data-part="sharing"]')
    if revealed:  # the first right indicator less the wrong one
        assert api["north-macedonia"]["breakdown"]["sharing"] > 0
        expect(nm).to_have_text(f"⇄ +{_js_round(api['north-macedonia']['breakdown']['sharing'])}")
        expect(page.get_by_test_id("coverage-grid")).to_be_visible()
        techniques = sum(len(t["techniques"]) for t in b["attack"]["tactics"])
        expect(page.get_by_test_id("coverage-cell")).to_have_count(6 * techniques)
    else:  # its mark waits for the end
        expect(nm).to_have_count(0)
        expect(page.get_by_test_id("coverage-counts")).to_be_visible()


def _js_round(v: float) -> int:
    """JavaScript's Math.round (halves go up)."""
    return math.floor(v + 0.5)


def test_the_projector_board_fits_1280x720_while_it_runs_and_after_the_end(browser, board):  # noqa: F811
    errors = []
    b = board["client"].get(f"/api/board/{SESSION}").json
    assert b["status"] == "paused" and not b["revealed"] and len(b["ranking"]) == 6
    ctx, page = open_board(browser, board["base"], errors)
    check_projector(page, b, revealed=False)
    shot(page, "1-running")
    ctx.close()

    assert board["client"].post(f"/api/sessions/{SESSION}/stop", headers=board["inst"]).status_code == 200
    b = board["client"].get(f"/api/board/{SESSION}").json
    assert b["revealed"]
    ctx, page = open_board(browser, board["base"], errors, "projector=1&theme=dark")
    page.wait_for_selector('[data-testid="coverage-grid"]')
    check_projector(page, b, revealed=True)
    shot(page, "2-finished-dark")
    ctx.close()
    assert errors == []


def test_the_board_links_to_its_projector_mode_and_back(browser, board):  # noqa: F811
    from playwright.sync_api import expect

    errors = []
    ctx, page = open_board(browser, board["base"], errors, "theme=dark", viewport={"width": 1280, "height": 900})
    expect(page.locator("header.top")).to_be_visible()
    expect(page.get_by_test_id("score-legend")).to_be_visible()
    link = page.get_by_test_id("projector-link")
    expect(link).to_be_visible()
    link.click()
    page.wait_for_url(re.compile(rf"/board/{SESSION}\?projector=1&theme=dark$"))
    page.wait_for_selector('[data-testid="rank-row"]')
    expect(page.locator("header.top")).to_be_hidden()
    assert page.evaluate("() => document.documentElement.dataset.theme") == "dark"
    page.keyboard.press("Escape")  # back to the ordinary board of the same session
    page.wait_for_url(re.compile(rf"/board/{SESSION}\?theme=dark$"))
    expect(page.locator("header.top")).to_be_visible()
    expect(page.get_by_test_id("projector-link")).to_be_visible()
    ctx.close()
    assert errors == []
