"""An instructor meets the faults of issue 12 that are theirs, in a real browser (Debian's Chromium
through Playwright, the real server as in test_e2e_browser.py), and sees each one fixed:

- fault 16: the pages' icon loads and ``/favicon.ico`` answers (no 404 anywhere in the run);
- fault 15: every team tied at 0 on the board: no leader is highlighted (and one is, once a team leads);
- fault 2: on a ready session, "Move" with an empty "at s" box does not fire the step: the form
  refuses, the server refuses too should the browser not check, and "Fire now" is a separate button;
- fault 1: once the session is stopped the console offers no Release, and a Release from a page
  opened before the end (its live stream held, so it never heard of the end) is refused with a
  clear error; the final scores on the console, the board and in the results do not change;
- fault 10: overriding a report's mark while another report of the team on the same step scores
  higher: the console's message and the review card say the overridden report does not count and why;
- fault 9: the programme chart draws a negative score (a hint bought, nothing detected) below the
  zero line, where its axis says, with the axis title clear of the tick labels;
- fault 8: the after-action report on screen and laid out for print at A4's width: section 7's
  "Why" column is inside the page, no cell of one word (a team, a TLP, a time, points) is broken
  inside it to fit, and no two of the timeline's labels overlap.

The session: 'smoke' (2 min of scenario time) at a high speed for three teams, made through the
API: blue deploys the port-scan rule, files two reports on the scan and shares three indicators
(one a long URL); red buys a hint (released in the console) and detects nothing; green does nothing.
Screenshots go to ``test-artifacts/e2e/instructor/``.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.request

from tests.e2e.test_board_projector import overlapping
from tests.e2e.test_csirt_browser import call, wait_for
from tests.e2e.test_e2e_browser import (  # noqa: F401 (fixtures)
    PASSWORD,
    SCAN_RULE,
    WAIT_MS,
    Shots,
    assert_fits,
    browser,
    context,
    score_of,
    server,
)

SESSION = "faults-ui"
TEAMS = ("blue", "red", "green")
SPEED = 8  # 'smoke' lasts 2 min of scenario time: 15 s of wall time
NOTHING = r"(?!)"  # no console error is part of the plan, a failed load (a 404 icon) included
LONG_URL = "http://updates.evil-cdn.example.org/" + "/".join(["static-content-delivery-path"] * 6) + "/payload.php"
A4_CONTENT_PX = 703  # 210 mm less the report's 2 x 12 mm margins, at 96 px per inch

# each element's box on the page, with its text
BOXES = """els => els.map(e => { const r = e.getBoundingClientRect();
  return {x: r.x, y: r.y, w: r.width, h: r.height, text: e.textContent.trim(), what: e.textContent.trim()}; })"""


def as_team(base: str, team: str, password: str, method: str, path: str, body: dict | None = None) -> dict:
    """The JSON API as a team (HTTP Basic ``session/team``)."""
    auth = "Basic " + base64.b64encode(f"{SESSION}/{team}:{password}".encode()).decode()
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Authorization": auth, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def watch(page, errors: list, failed: list, who: str) -> None:
    """Script errors, console errors (any) and failed loads (any status >= 400) of a page."""
    page.on("pageerror", lambda e: errors.append(f"{who}: {e}"))
    page.on("console", lambda m: errors.append(f"{who}: console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("response", lambda r: failed.append(f"{who}: {r.status} {r.url}") if r.status >= 400 else None)


def number(text: str) -> float:
    return float(text.strip().replace("−", "-"))


def console_scores(page) -> dict[str, float]:
    """The console's scores (the page prints "166.0", its live update "166": the numbers are compared)."""
    return {t: number(page.locator(f'#progress tr[data-team="{t}"] [data-field="score"]').inner_text())
            for t in TEAMS}


def final_results(base: str) -> dict[str, float]:
    return {r["team"]: r["score"] for r in call(base, "GET", f"/api/sessions/{SESSION}/results")["ranking"]}


def test_an_instructor_meets_the_faults_of_the_walk_through(browser, server):  # noqa: F811 (fixtures)
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    base, shot, errors, failed = server["base"], Shots("instructor"), [], []
    out = call(base, "POST", "/api/sessions", {"name": SESSION, "scenario": "smoke", "teams": ", ".join(TEAMS),
                                               "speed": SPEED})
    pw = out["teams"]
    wait_for("the session to be ready", lambda: call(base, "GET", f"/api/sessions/{SESSION}")["status"] == "ready")
    as_team(base, "blue", pw["blue"], "POST", f"/api/sessions/{SESSION}/teams/blue/rules", {"yaml": SCAN_RULE})

    ictx, inst = context(browser, base, errors, "instructor", expected=NOTHING)
    inst.on("response", lambda r: failed.append(f"instructor: {r.status} {r.url}") if r.status >= 400 else None)
    inst.goto("/login")
    inst.get_by_test_id("instructor-password").fill(PASSWORD)
    inst.get_by_test_id("instructor-login-submit").click()
    inst.wait_for_url("**/console")
    expect(inst.get_by_test_id("whoami")).to_have_text("instructor")

    # -- fault 16: the icon loads; /favicon.ico, which browsers ask for anyway, answers ---------
    href = inst.locator('link[rel="icon"]').get_attribute("href")
    loaded = inst.evaluate("""href => new Promise(done => { const i = new Image();
        i.onload = () => done('loaded'); i.onerror = () => done('failed'); i.src = href; })""", href)
    assert loaded == "loaded", f"the page's icon {href} did not load"
    fav = inst.evaluate("""async () => { const r = await fetch('/favicon.ico');
        return [r.status, r.headers.get('content-type'), (await r.text()).slice(0, 300)]; }""")
    assert fav[0] == 200 and fav[1].startswith("image/svg+xml") and "<svg" in fav[2], fav

    # -- fault 15: every team at 0 on the board: nobody leads ----------------------------------
    vctx, viewer = context(browser, base, errors, "viewer", expected=NOTHING)
    viewer.on("response", lambda r: failed.append(f"viewer: {r.status} {r.url}") if r.status >= 400 else None)
    viewer.goto(f"/board/{SESSION}")
    ranks = viewer.locator('#ranking tr[data-testid="rank-row"]')
    expect(ranks).to_have_count(3)
    for t in TEAMS:
        row = viewer.locator(f'#ranking tr[data-testid="rank-row"][data-team="{t}"]')
        expect(row.locator('[data-field="score"]')).to_have_text("0")
        expect(row).to_have_attribute("data-tied", "yes")
        expect(row.locator("td.rank")).to_have_text("=1")
    expect(viewer.locator("#ranking tr.leader")).to_have_count(0)
    looks = viewer.evaluate("""() => [...document.querySelectorAll('#ranking tr[data-testid="rank-row"]')].map(tr =>
        [...tr.querySelectorAll('td')].map(td => { const s = getComputedStyle(td);
          return [s.color, s.fontWeight, s.backgroundColor].join(' '); }).join(' | '))""")
    assert len(set(looks)) == 1, f"a row of the tie is drawn apart: {looks}"
    shot(viewer, "board-tied-at-0")

    # -- fault 2: on the ready session, Move with an empty "at s" box does not fire the step ----
    inst.goto(f"/console/{SESSION}")
    expect(inst.get_by_test_id("session-status")).to_have_text("ready")
    step = inst.locator('#steps tr[data-step="recon"]')
    state, at_cell = step.locator('[data-field="state"]'), step.locator("td.num")
    expect(state).to_have_text("pending")
    planned = at_cell.inner_text()
    assert planned.startswith("T+00:20"), planned  # smoke's scan starts 20 s in
    fire, move, box = step.get_by_test_id("fire-step"), step.get_by_test_id("move-step"), step.get_by_test_id("move-at")
    expect(fire).to_be_disabled()  # "Fire now" is its own button, and a ready session fires nothing
    expect(fire).to_have_attribute("title", "start the session first")
    assert fire.evaluate("b => b.form.elements.intent.value") == "fire"
    assert move.evaluate("b => b.form.elements.intent.value") == "move"
    assert fire.evaluate("(b, m) => b.form !== m.form", move.element_handle()), "Move and Fire now share a form"
    expect(box).to_have_value("")
    marker = inst.evaluate("""() => { window.__seen = [];  // the browser checks a form before its submit event
        document.addEventListener('submit', () => window.__seen.push('submit'), true);
        document.addEventListener('invalid', e => window.__seen.push('invalid ' + e.target.name), true);
        return (window.__e2eMarker = 'console-' + Math.random()); }""")
    move.click()
    assert box.evaluate("e => e.validity.valueMissing"), "the empty 'at s' box must stop the form"
    assert inst.evaluate("() => window.__seen") == ["invalid at"], "the empty Move was submitted"
    assert inst.evaluate("() => window.__e2eMarker") == marker, "the empty Move replaced the page"
    expect(inst.get_by_test_id("flash-message")).to_have_count(0)
    shot(inst, "console-move-empty-refused")
    # a browser that does not check the form: the server refuses it too, and nothing fires
    inst.locator('[data-testid="move-form"]').evaluate_all("forms => forms.forEach(f => { f.noValidate = true; })")
    move.click()
    expect(inst.get_by_test_id("flash-error")).to_have_text(
        "step recon: give the second it should start at, or use Fire now")
    expect(inst.get_by_test_id("session-status")).to_have_text("ready")
    expect(state).to_have_text("pending")
    expect(at_cell).to_have_text(planned)
    [recon] = [s for s in call(base, "GET", f"/api/sessions/{SESSION}")["steps"] if s["id"] == "recon"]
    assert (recon["state"], recon["at"], recon["moved"]) == ("pending", 20, False), recon
    # a second in the box moves the step
    box.fill("10")
    move.click()
    expect(inst.get_by_test_id("flash-message")).to_have_text("step recon moved: it starts at 10 s")
    expect(at_cell).to_have_text(re.compile(r"^T\+00:10\s*\(moved\)$"))
    expect(state).to_have_text("pending")
    expect(inst.get_by_test_id("session-status")).to_have_text("ready")
    shot(inst, "console-moved")

    # -- the session runs until the scan is over, then waits --------------------------------------
    inst.get_by_test_id("btn-start").click()
    expect(inst.get_by_test_id("session-status")).to_have_text("running")
    expect(state).to_have_text("done")
    expect(inst.locator('#progress tr[data-team="blue"] [data-field="alerts"]')).not_to_have_text("0")  # blue saw it
    inst.get_by_test_id("btn-pause").click()
    expect(inst.get_by_test_id("session-status")).to_have_text("paused")

    # blue's reports and indicators, made through the API (the trainees' forms are tested elsewhere)
    alerts = wait_for("blue's alert", lambda: as_team(
        base, "blue", pw["blue"], "GET", f"/api/sessions/{SESSION}/teams/blue/alerts")["alerts"])
    attacker = alerts[0]["events"][0]["id.orig_h"]
    affected = sorted({e["id.resp_h"] for a in alerts for e in a["events"]})
    report = {"title": "SYN scan of the portal and the file server",
              "classification": {"class": "information-gathering", "type": "scanner"}, "affected": affected,
              "attackers": [attacker], "attack": "T1046", "severity": "medium"}
    reports = f"/api/sessions/{SESSION}/teams/blue/reports"
    best = as_team(base, "blue", pw["blue"], "POST", reports, report)["pk"]
    other = as_team(base, "blue", pw["blue"], "POST", reports, dict(report, title="The same scan, filed again"))["pk"]
    for kind, value in (("ipv4", attacker), ("url", LONG_URL), ("domain", "updates.evil-cdn.example.org")):
        as_team(base, "blue", pw["blue"], "POST", f"/api/sessions/{SESSION}/teams/blue/indicators",
                {"type": kind, "value": value, "tlp": "GREEN"})

    # red buys the scan's hint, released in the console
    hint = step.get_by_test_id("hint-form").first
    hint.locator('input[name="teams"][value="red"]').check()
    hint.get_by_test_id("release-hint").click()
    expect(inst.get_by_test_id("flash-message")).to_have_text("hint for recon released to red (costs 20 points)")
    expect(inst.locator('#progress tr[data-team="red"] [data-field="hints"]')).to_have_text("1")

    # -- fault 1: after the end, a hint is refused and the final results stay --------------------
    stale = ictx.new_page()  # a second console tab, opened before the end, whose live stream never answers
    watch(stale, errors, failed, "instructor (stale tab)")
    held = []
    stale.route(re.compile(rf"/api/sessions/{SESSION}/stream$"), lambda route: held.append(route))
    stale.goto(f"/console/{SESSION}")
    expect(stale.get_by_test_id("session-status")).to_have_text("paused")
    expect(stale.get_by_test_id("release-hint")).to_be_enabled()

    inst.bring_to_front()
    inst.get_by_test_id("btn-stop").click()  # the confirmation dialog is accepted
    expect(inst.get_by_test_id("session-status")).to_have_text("finished")
    expect(inst.get_by_test_id("release-hint")).to_have_count(0)  # no control to release a hint
    expect(inst.get_by_test_id("hint-teams")).to_have_count(0)
    expect(inst.get_by_test_id("hint-form").first).to_contain_text("released to red")
    final = final_results(base)
    assert final["blue"] > 0 and final["red"] < 0 and final["green"] == 0, final
    for t in TEAMS:
        expect(inst.locator(f'#progress tr[data-team="{t}"] [data-field="score"]')).to_have_text(
            re.compile(r"\S"))
    on_console = console_scores(inst)
    assert on_console == final, on_console
    expect(viewer.get_by_test_id("board-status")).to_have_text("finished")
    viewer.wait_for_function(
        """final => Object.entries(final).every(([t, v]) => { const c = document.querySelector(
             '#ranking tr[data-testid="rank-row"][data-team="' + t + '"] [data-field="score"]');
           return c && Math.abs(Number(c.textContent.replace('\u2212', '-')) - v) <= 0.5; })""",
        arg=final, timeout=WAIT_MS)
    on_board = {t: score_of(viewer, t) for t in TEAMS}
    expect(viewer.locator("#ranking tr.leader")).to_have_attribute("data-team", "blue")  # a lead is highlighted
    shot(inst, "console-finished")
    shot(viewer, "board-finished")

    assert stale.get_by_test_id("session-status").inner_text() == "paused", "the stale tab heard of the end"
    assert held, "the stale tab's live stream was not held"
    stale.bring_to_front()
    hint = stale.locator('#steps tr[data-step="recon"]').get_by_test_id("hint-form").first
    hint.locator('input[name="teams"][value="green"]').check()
    shot(stale, "stale-tab-release")
    hint.get_by_test_id("release-hint").click()
    expect(stale.get_by_test_id("flash-error")).to_have_text(
        f"session {SESSION} is finished; hints can no longer be released (its results are final)")
    expect(stale.get_by_test_id("session-status")).to_have_text("finished")
    expect(stale.get_by_test_id("release-hint")).to_have_count(0)
    expect(stale.locator('#progress tr[data-team="green"] [data-field="hints"]')).to_have_text("0")
    assert console_scores(stale) == on_console
    shot(stale, "stale-tab-refused")
    stale.close()
    assert final_results(base) == final
    inst.reload()
    assert console_scores(inst) == on_console
    viewer.reload()
    expect(viewer.locator('#ranking tr[data-testid="rank-row"]')).to_have_count(3)
    assert {t: score_of(viewer, t) for t in TEAMS} == on_board
    hints = call(base, "GET", f"/api/sessions/{SESSION}")["steps"][0]["hints"][0]["released_to"]
    assert hints == ["red"], hints

    # -- fault 10: a mark that does not count says so, and why -----------------------------------
    inst.get_by_test_id("open-reports").click()
    inst.wait_for_url(f"**/console/{SESSION}/reports")
    expect(inst.get_by_test_id("review-report")).to_have_count(2)
    marks = {r["pk"]: r["mark"] for r in call(base, "GET", f"/api/sessions/{SESSION}/reports")["reports"]}
    top = marks[best]
    assert top["counted"] and top["points"] > 15, top
    card_best = inst.locator(f'[data-testid="review-report"][data-pk="{best}"]')
    card = inst.locator(f'[data-testid="review-report"][data-pk="{other}"]')
    expect(card_best.get_by_test_id("review-counts")).to_have_text("it counts for step recon")
    card.get_by_test_id("mark-points").fill("15")
    card.get_by_test_id("mark-reason").fill("own work, filed separately")
    card.get_by_test_id("mark-submit").click()
    said = (f"it does not count: report #{best} on the same step scores higher ({top['points']:g}) and only the "
            f"best report per step counts")
    expect(inst.get_by_test_id("flash-message")).to_have_text(f"report #{other}: mark set to 15; {said}")
    computed = call(base, "GET", f"/api/sessions/{SESSION}/reports")["reports"]
    [mine] = [r["mark"] for r in computed if r["pk"] == other]
    assert mine["points"] == 15 and not mine["counted"], mine
    counts = card.get_by_test_id("review-counts")
    expect(counts).to_have_text(f"mark set to 15 by the instructor (computed {mine['computed']:g}); {said}")
    expect(counts).to_have_class(re.compile(r"\bbad\b"))
    expect(card.get_by_test_id("review-mark")).to_contain_text("0 pts (not counted)")
    expect(card.get_by_test_id("mark-points")).to_have_value(re.compile(r"^15(\.0)?$"))
    expect(card_best.get_by_test_id("review-counts")).to_have_text("it counts for step recon")
    assert final_results(base) == final  # the best report still counts; the team's score is the same
    shot(inst, "reports-override-not-counted")

    # -- fault 9: the programme draws red's negative score below the zero line --------------------
    inst.goto("/console/programme")
    expect(inst.locator('[data-testid="programme-row"][data-team="red"]')).to_contain_text(f"{final['red']:.0f}")
    chart = inst.get_by_test_id("programme-chart-score")
    expect(chart).to_be_visible()
    dots = {t: chart.locator(f'circle[data-team="{t}"][data-session="{SESSION}"]') for t in TEAMS}
    expect(dots["red"].locator("title")).to_have_text(f"red in {SESSION}: {final['red']:.0f}")

    def middle(loc) -> float:
        b = loc.bounding_box()
        return b["y"] + b["height"] / 2

    zero = middle(chart.locator("line.axis.zero"))
    y = {t: middle(d) for t, d in dots.items()}
    radius = dots["red"].bounding_box()["height"] / 2
    assert y["red"] > zero + radius, f"red's {final['red']} is drawn at or above 0: {y}, zero line at {zero}"
    assert abs(y["green"] - zero) <= 1 and y["blue"] < zero - radius, (y, zero)
    ticks = chart.locator("text.tick").evaluate_all(BOXES)
    at = {float(t["text"]): t["y"] + t["h"] / 2 for t in ticks}
    low = min(at)
    assert low < final["red"] < 0 < max(at), sorted(at)
    where = at[0] + (at[low] - at[0]) * final["red"] / low  # where the axis says red's score is
    assert abs(y["red"] - where) <= 2, f"red at {y['red']:.1f} px, its axis says {where:.1f} px"
    title = chart.locator("text.axis-title").evaluate_all(BOXES)
    assert overlapping(title + ticks) == [], "the axis title overlaps the tick labels"
    shot(inst, "programme")

    # -- fault 8: the after-action report: section 7 inside the page, timeline labels apart -------
    inst.goto(f"/console/{SESSION}/report")
    report = inst.get_by_test_id("report")
    expect(report.get_by_role("heading", name="7. Indicator sharing")).to_be_visible()
    sharing = inst.get_by_test_id("report-indicators")
    expect(sharing).to_contain_text("payload.php")
    expect(sharing.locator("thead th").last).to_have_text("Why")
    expect(inst.locator(f'[data-testid="report-reports"][data-team="blue"] tr:has(td:text-is("{other}"))')) \
        .to_contain_text("(not counted)")

    def check_layout(where: str) -> None:
        assert_fits(inst)
        width = inst.evaluate("() => document.documentElement.clientWidth")
        why = sharing.locator("tr > :last-child").evaluate_all(
            """els => els.map(e => { const r = e.getBoundingClientRect();
                 return {right: r.right, text: e.textContent.trim(), clipped: e.scrollWidth > e.clientWidth + 1}; })""")
        assert len(why) == 4 and why[0]["text"] == "Why" and all(w["text"] for w in why), why
        outside = [w for w in why if w["right"] > width + 0.5 or w["clipped"]]
        assert outside == [], f"{where}: the 'Why' column reaches past the page ({width} px): {outside}"
        # fitting the page must not break short values inside a word ("GRE|EN", "T+|01:|00", "+10|0.0"):
        # a cell of one word (not prose: td.wrap, td.text, td.rsit) stays on one line
        split = report.locator("table.grid td:not(.wrap):not(.text):not(.rsit)").evaluate_all(
            """els => els.filter(e => /^\\S+$/.test(e.innerText.trim())).map(e => {
                 const r = document.createRange(); r.selectNodeContents(e);
                 const lines = new Set([...r.getClientRects()].filter(b => b.width > 0).map(b => Math.round(b.top)));
                 return {text: e.innerText.trim(), lines: lines.size}; }).filter(c => c.lines > 1)""")
        assert split == [], f"{where}: words broken inside: {split}"
        labels = inst.locator("#chart-timeline text").evaluate_all(BOXES)
        names = {x["text"] for x in labels}
        assert set(TEAMS) | {"recon", "T+00:00", "T+02:00"} <= names, names
        assert overlapping(labels) == [], f"{where}: timeline labels overlap"
        svg = inst.locator("#chart-timeline").bounding_box()
        for x in labels:
            assert svg["x"] - 0.5 <= x["x"] and x["x"] + x["w"] <= svg["x"] + svg["width"] + 0.5, (where, x)

    check_layout("screen")
    shot(inst, "report-screen")
    inst.set_viewport_size({"width": A4_CONTENT_PX, "height": 1000})
    inst.emulate_media(media="print")
    expect(inst.get_by_test_id("print-report")).to_be_hidden()
    check_layout("print at A4's width")
    shot(inst, "report-print-a4")
    inst.emulate_media(media="screen")
    inst.set_viewport_size({"width": 1280, "height": 900})
    pdf = inst.request.get(inst.get_by_test_id("report-pdf").get_attribute("href"))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"

    for ctx in (ictx, vctx):
        ctx.close()
    assert not failed, "failed loads:\n" + "\n".join(failed)
    assert not errors, "script errors in the pages:\n" + "\n".join(errors)
