"""The exercise web app in a real browser: Playwright drives Debian's Chromium against the real
server (``cyberrange serve`` in a subprocess, gunicorn, the session driver inside it).

One exercise from end to end, with three browser contexts (three separate logins):
the **instructor** logs in, creates an offline session of 'smoke' for two teams at a high speed,
reads the team passwords, starts it and (once the port scan has happened) pauses it; a
**trainee** logs in as one team, is refused the other team's workspace, sees an invalid rule
rejected inline, dry-runs and deploys the port-scan rule, then finds its alert and its score
ledger, files an incident report through the form (a typo is refused naming the field), publishes
the attacker's address on the session's hub and turns it into a rule; a **viewer** keeps the public
scoreboard open the whole time, and the test checks that
the team's score goes from 0 to a positive number through server-sent events, with no reload (a
marker set in the page at load and ``performance.timeOrigin`` are unchanged), and that a viewer
whose stream the server refuses (503, all stream slots taken) keeps up by polling. The instructor
then stops the session, opens the after-action report (and its PDF, whose text is checked) and
comments on the team's incident report.

Screenshots of each stage go to ``test-artifacts/e2e/`` (gitignored). Chromium missing (or
Playwright not installed) fails the test with what to install; nothing here is skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
SCAN_RULE = (ROOT / "detections" / "rules" / "net_conn_port_scan.yml").read_text()
PASSWORD = "e2e-instructor-Pa55word"
SESSION = "e2e-smoke"
SPEED = 6  # 'smoke' lasts 2 min of scenario time: 20 s of wall time at this speed
WAIT_MS = 60_000  # upper bound for anything the page waits for (a failure bound, not a performance check)


def launch_chromium(playwright, executable: str = CHROMIUM):
    """Debian's Chromium, headless (Playwright's own browser download is not used)."""
    if not (os.path.isfile(executable) and os.access(executable, os.X_OK)):
        pytest.fail(
            f"Chromium is not installed at {executable}: the browser tests need Debian's chromium "
            f"(apt-get install chromium, or run scripts/bootstrap)",
            pytrace=False,
        )
    return playwright.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])


def sync_playwright():
    try:
        from playwright.sync_api import sync_playwright as sp
    except ImportError as e:
        pytest.fail(
            f"Playwright for Python is missing ({e}): run scripts/bootstrap "
            f"(it installs the test extras pinned in pyproject.toml)",
            pytrace=False,
        )
    # Playwright starts its driver as an asyncio subprocess; under pytest-xdist the test may not
    # run on the main thread, where Python 3.11's default child watcher is not attached
    import asyncio
    import sys

    if sys.version_info < (3, 12):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            asyncio.set_child_watcher(asyncio.ThreadedChildWatcher())
    return sp()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the server -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``cyberrange serve`` on a free port over a fresh state directory; yields its base URL."""
    exe = ROOT / ".venv" / "bin" / "cyberrange"
    if not exe.exists():
        pytest.fail(f"{exe} is missing: run scripts/bootstrap", pytrace=False)
    state = tmp_path_factory.mktemp("e2e-state")
    log_path = state.parent / "serve.log"
    port = free_port()
    env = dict(os.environ, CYBERRANGE_STATE=str(state), CYBERRANGE_INSTRUCTOR_PASSWORD=PASSWORD, PYTHONUNBUFFERED="1")
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            pytest.fail(f"cyberrange serve exited with {proc.returncode}:\n{log_path.read_text()}", pytrace=False)
        try:
            with urllib.request.urlopen(base + "/api/board", timeout=2) as r:
                if r.status == 200:
                    break
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(
                f"cyberrange serve did not answer on {base} within 60 s:\n{log_path.read_text()}", pytrace=False
            )
        time.sleep(0.2)
    try:
        yield {"base": base, "log": log_path}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(log_path, ARTIFACTS / "serve.log")  # the server's side of the run, next to the screenshots


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = launch_chromium(p)
        try:
            yield b
        finally:
            b.close()


class Shots:
    """Numbered full-page screenshots of each stage."""

    def __init__(self, folder: str = ""):
        self.dir = ARTIFACTS / folder
        self.dir.mkdir(parents=True, exist_ok=True)
        for old in self.dir.glob("*.png"):
            old.unlink()
        self.n = 0

    def __call__(self, page, name: str) -> Path:
        self.n += 1
        path = self.dir / f"{self.n:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


def context(browser, base: str, errors: list, who: str, expected: str = r"^Failed to load resource"):
    """A fresh browser context (its own cookies: its own login) whose pages report script errors
    (console errors matching ``expected`` are part of the plan)."""
    ctx = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(WAIT_MS)
    page = ctx.new_page()
    page.on("pageerror", lambda e: errors.append(f"{who}: {e}"))
    page.on(
        "console",
        lambda m: (
            errors.append(f"{who}: console {m.type}: {m.text}")
            if m.type == "error" and not re.search(expected, m.text)
            else None
        ),
    )
    page.on("dialog", lambda d: d.accept())  # the Stop and Delete buttons ask for confirmation
    return ctx, page


def assert_fits(page) -> None:
    """The page is no wider than the window (wide tables scroll inside their own box)."""
    wide = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert wide[0] <= wide[1], f"{page.url} is {wide[0]} px wide in a {wide[1]} px window"


def score_of(page, team: str) -> str:
    return page.locator(f'#ranking tr[data-testid="rank-row"][data-team="{team}"] [data-field="score"]').inner_text()


# ---- the test -------------------------------------------------------------------------------


def test_launch_fails_clearly_without_chromium():
    """No Chromium: the browser tests fail and say what to install (they are never skipped)."""
    with pytest.raises(pytest.fail.Exception, match=r"Chromium is not installed at /nonexistent/chromium.*apt-get"):
        launch_chromium(None, "/nonexistent/chromium")


def test_exercise_in_a_real_browser(browser, server):
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    base, shot, errors = server["base"], Shots(), []

    # -- the instructor logs in and creates the session ----------------------------------------
    ictx, inst = context(browser, base, errors, "instructor")
    inst.goto("/login")
    expect(inst.get_by_test_id("instructor-login")).to_be_visible()
    shot(inst, "login")
    inst.get_by_test_id("instructor-password").fill("not-the-password")
    inst.get_by_test_id("instructor-login-submit").click()
    expect(inst.get_by_test_id("login-error")).to_contain_text("wrong instructor password")
    inst.get_by_test_id("instructor-password").fill(PASSWORD)
    inst.get_by_test_id("instructor-login-submit").click()
    inst.wait_for_url("**/console")
    expect(inst.get_by_test_id("whoami")).to_have_text("instructor")
    expect(inst.get_by_test_id("create-session")).to_be_visible()
    name = inst.get_by_test_id("create-name")
    name.fill("Not A Name")  # the browser checks the name as the server will (the pattern must compile)
    assert name.evaluate("e => e.validity.patternMismatch"), "the session-name pattern is not applied"
    name.fill(SESSION)
    assert name.evaluate("e => e.checkValidity()")
    inst.get_by_test_id("create-scenario").select_option("smoke")
    inst.get_by_test_id("create-teams").fill("blue, red")
    inst.get_by_test_id("create-mode").select_option("offline")
    inst.get_by_test_id("create-speed").fill(str(SPEED))
    shot(inst, "console-new-session")
    inst.get_by_test_id("create-submit").click()

    rows = inst.get_by_test_id("team-password-row")
    expect(rows).to_have_count(2)
    passwords = {}
    for team in ("blue", "red"):
        pw = inst.locator(f'[data-testid="team-password-row"][data-team="{team}"] [data-testid="team-password"]')
        passwords[team] = pw.inner_text().strip()
        assert len(passwords[team]) >= 12, passwords
    assert passwords["blue"] != passwords["red"]
    shot(inst, "console-team-passwords")

    # -- the viewer opens the public scoreboard before anything happens -----------------------
    vctx, viewer = context(browser, base, errors, "viewer")
    viewer.goto("/")
    expect(viewer.locator('[data-testid="session-row"]').first).to_be_visible()
    viewer.goto(f"/board/{SESSION}")
    marker = viewer.evaluate("() => (window.__e2eMarker = 'loaded-' + Math.random())")
    origin = viewer.evaluate("() => performance.timeOrigin")
    # a second viewer whose stream the server refuses (503: it follows as many streams as it can)
    # must fall back to polling the JSON twin, still without reloading
    pctx, poller = context(
        browser, base, errors, "poller", expected=r"^Failed to load resource|EventSource's response has a MIME type"
    )
    refused = []

    def refuse(route):
        refused.append(route.request.url)
        route.fulfill(
            status=503,
            content_type="application/json",
            headers={"Retry-After": "30"},
            body='{"error": "the server follows 224 live streams already"}',
        )

    pctx.route(re.compile(r"/api/board/[^/]+/stream$"), refuse)
    poller.goto(f"/board/{SESSION}")
    poller.evaluate("() => { window.__e2eMarker = 'poller'; }")

    # -- the instructor opens the session, waits for it to be ready, starts it ---------------
    inst.get_by_test_id("open-session").click()
    expect(inst.get_by_test_id("btn-start")).to_be_enabled()  # the page reloads itself when prepared
    expect(inst.get_by_test_id("session-status")).to_have_text("ready")
    # ready: every team is on the board with 0 points
    for team in ("blue", "red"):
        expect(viewer.locator(f'#ranking tr[data-team="{team}"] [data-field="score"]')).to_have_text("0")
    expect(viewer.locator("#ranking tr.leader")).to_have_count(0)  # tied at 0: nobody leads
    shot(viewer, "board-ready")
    inst.get_by_test_id("btn-start").click()
    expect(inst.get_by_test_id("session-status")).to_have_text("running")
    expect(inst.get_by_test_id("flash-message")).to_contain_text("running")
    # once the scan has happened, pause: the team has all the time it needs to write its rule
    expect(inst.locator('#steps tr[data-step="recon"] [data-field="state"]')).to_have_text("done")
    inst.get_by_test_id("btn-pause").click()
    expect(inst.get_by_test_id("session-status")).to_have_text("paused")
    shot(inst, "console-paused")
    expect(viewer.get_by_test_id("board-status")).to_have_text("paused")

    # -- the trainee logs in as blue ----------------------------------------------------------
    tctx, team = context(browser, base, errors, "trainee")
    team.goto(f"/login?session={SESSION}")
    expect(team.get_by_test_id("team-login-session")).to_have_value(SESSION)
    team.get_by_test_id("team-login-team").fill("blue")
    team.get_by_test_id("team-login-password").fill(passwords["blue"])
    team.get_by_test_id("team-login-submit").click()
    team.wait_for_url(f"**/workspace/{SESSION}/blue")
    expect(team.get_by_test_id("whoami")).to_have_text(f"{SESSION} / blue")
    expect(team.get_by_test_id("event-row").first).to_be_visible()  # the explorer shows delivered events
    expect(team.get_by_test_id("ws-score")).to_have_text("0")
    shot(team, "workspace-events")
    # another table does not inherit the filter of the last one (its fields are not there)
    team.get_by_test_id("event-filters").fill("proto=tcp")
    team.get_by_test_id("event-apply").click()
    team.get_by_test_id("event-table").select_option("dns")
    expect(team.get_by_test_id("event-filters")).to_have_value("")
    expect(team.get_by_test_id("event-error")).to_have_text("")
    team.get_by_test_id("event-table").select_option("conn")
    # hunting: a query, the histogram and facets of its hits; the search lives in the address
    team.get_by_test_id("event-query").fill("proto:tcp AND id.resp_p<1024")
    team.get_by_test_id("event-apply").click()
    expect(team.get_by_test_id("histogram-bar")).to_have_count(60)
    expect(team.get_by_test_id("histogram-span")).to_contain_text("hits")
    expect(team.locator('[data-testid="facet-value"][data-field="id.resp_p"]').first).to_be_visible()
    assert "query=proto" in team.url, team.url
    team.reload()
    expect(team.get_by_test_id("event-query")).to_have_value("proto:tcp AND id.resp_p<1024")
    team.locator('[data-testid="facet-value"][data-field="id.resp_p"] [data-testid="facet-in"]').first.click()
    expect(team.get_by_test_id("event-query")).to_have_value(re.compile(r"AND id\.resp_p:\d+$"))
    expect(team.get_by_test_id("event-row").first).to_be_visible()
    team.get_by_test_id("event-query").fill("proto:tcp AND (")
    team.get_by_test_id("event-apply").click()
    expect(team.get_by_test_id("event-error")).to_contain_text("character 16")
    team.get_by_test_id("event-query").fill("")
    team.get_by_test_id("event-apply").click()
    shot(team, "workspace-hunt")

    # the other team's workspace (page and API) is refused
    denied = team.goto(f"/workspace/{SESSION}/red")
    assert denied.status == 403
    expect(team.get_by_test_id("error-message")).to_contain_text("a team sees only its own")
    shot(team, "workspace-other-team-denied")
    api = team.request.get(f"/api/sessions/{SESSION}/teams/red/alerts")
    assert api.status == 403
    team.goto(f"/workspace/{SESSION}/blue")

    # an invalid rule: the editor shows the parser's message inline, nothing is deployed
    team.get_by_test_id("tab-rules").click()
    editor = team.get_by_test_id("rule-editor")
    expect(editor).to_be_visible()
    assert "mono" in editor.evaluate("e => getComputedStyle(e).fontFamily").lower(), "YAML needs a monospace editor"
    editor.fill("title: broken rule\nlogsource:\n  category: firewall\ndetection:\n  selection: [unclosed\n")
    team.get_by_test_id("rule-deploy").click()
    err = team.get_by_test_id("rule-error")
    expect(err).to_be_visible()
    assert err.inner_text().strip(), "the validation error is empty"
    expect(team.get_by_test_id("rule-row")).to_have_count(0)
    shot(team, "workspace-invalid-rule")
    editor.fill("title: no detection\nlogsource:\n  category: firewall\n")
    team.get_by_test_id("rule-dry-run").click()
    expect(err).to_contain_text("detection")
    # a misspelt field: the dry run shows the warning with its count, not only "would raise 0"
    editor.fill("title: typo\nlogsource:\n  category: dns\ndetection:\n  sel:\n    qurey|contains: x\n"
                "  condition: sel\n")
    team.get_by_test_id("rule-dry-run").click()
    expect(team.get_by_test_id("dry-run-warnings")).to_contain_text("field 'qurey' is not in the dns log")
    assert score_of(viewer, "blue") == "0"

    # the port-scan rule: a dry run finds the scan, then it is deployed
    editor.fill(SCAN_RULE)
    team.get_by_test_id("rule-dry-run").click()
    count = team.get_by_test_id("dry-run-count")
    expect(count).to_contain_text("Would raise")
    expect(err).to_be_hidden()
    n = int(re.search(r"Would raise (\d+) alert", count.inner_text()).group(1))
    assert n >= 1, count.inner_text()
    expect(team.get_by_test_id("dry-run-result").get_by_test_id("alert").first).to_be_visible()
    shot(team, "workspace-dry-run")
    assert score_of(viewer, "blue") == "0", "a dry run must not change the score"
    team.get_by_test_id("rule-deploy").click()
    expect(team.get_by_test_id("deploy-ok")).to_contain_text("Deployed rule")
    expect(team.get_by_test_id("rule-row")).to_have_count(1)
    expect(team.get_by_test_id("rule-row").first).to_contain_text("active")
    shot(team, "workspace-rule-deployed")

    # -- the public scoreboard follows without a reload ---------------------------------------
    viewer.wait_for_function(
        """team => { const c = document.querySelector(
             '#ranking tr[data-testid="rank-row"][data-team="' + team + '"] [data-field="score"]');
           return c && Number(c.textContent) > 0; }""",
        arg="blue",
        timeout=WAIT_MS,
    )
    assert float(score_of(viewer, "blue")) > 0
    assert score_of(viewer, "red") == "0"
    expect(viewer.locator("#ranking tr.leader")).to_have_attribute("data-team", "blue")
    first = viewer.locator('#ranking tr[data-testid="rank-row"]').first
    expect(first).to_have_attribute("data-team", "blue")
    expect(first.locator('[data-field="steps_detected"]')).to_have_text("1")
    expect(viewer.get_by_test_id("mark-detect")).to_have_count(1)
    assert viewer.evaluate("() => window.__e2eMarker") == marker, "the scoreboard page was reloaded"
    assert viewer.evaluate("() => performance.timeOrigin") == origin, "the scoreboard page was reloaded"
    nav = viewer.evaluate("() => performance.getEntriesByType('navigation').map(e => e.type)")
    assert nav == ["navigate"], nav
    expect(viewer.get_by_test_id("board-live")).to_have_class(re.compile(r"\bon\b"))
    shot(viewer, "board-score-changed")
    poller.wait_for_function(  # the refused viewer catches up by polling (every 3 s)
        """() => { const c = document.querySelector('#ranking tr[data-team="blue"] [data-field="score"]');
                   return c && Number(c.textContent) > 0; }""",
        timeout=WAIT_MS,
    )
    assert refused and poller.evaluate("() => window.__e2eMarker") == "poller"
    expect(poller.get_by_test_id("board-live")).not_to_have_class(re.compile(r"\bon\b"))

    # -- the team's alert and ledger in its workspace -----------------------------------------
    expect(team.get_by_test_id("ws-alerts")).not_to_have_text("0")
    expect(team.get_by_test_id("ws-score")).not_to_have_text("0")
    team.get_by_test_id("tab-alerts").click()
    alert = team.get_by_test_id("alerts-list").get_by_test_id("alert").first
    expect(alert).to_contain_text("Port scan")
    alert.locator("summary").click()
    expect(alert.locator("table")).to_be_visible()
    shot(team, "workspace-alerts")
    team.get_by_test_id("tab-score").click()
    ledger = team.get_by_test_id("ledger-row")
    expect(ledger.first).to_be_visible()
    expect(ledger.first).to_contain_text("detected an attack step")
    assert float(ledger.first.locator("td").first.inner_text()) > 0
    expect(team.get_by_test_id("score-summary")).to_contain_text("Score")
    assert_fits(team)
    shot(team, "workspace-ledger")

    # -- the CSIRT workflow: an incident report through the form, an indicator on the hub -----
    evidence = team.request.get(f"/api/sessions/{SESSION}/teams/blue/alerts").json()["alerts"][0]
    attacker = evidence["events"][0]["id.orig_h"]
    victims = sorted({e["id.resp_h"] for e in evidence["events"]})
    team.get_by_test_id("tab-reports").click()
    expect(team.get_by_test_id("report-class").locator("option")).to_have_count(12)  # "choose…", the RSIT classes
    team.get_by_test_id("report-title").fill("SYN scan of the portal")
    team.get_by_test_id("report-class").select_option("information-gathering")
    team.get_by_test_id("report-type").select_option("scanner")
    team.get_by_test_id("report-severity").select_option("medium")
    team.get_by_test_id("report-attack").fill("T1046")
    team.get_by_test_id("report-attackers").fill(attacker)
    team.get_by_test_id("report-affected").fill("10.0.0.999")  # a typo: the server names the field
    team.get_by_test_id("report-evidence").fill(evidence["id"])
    team.get_by_test_id("report-indicators").fill(f"ipv4 {attacker}")
    team.get_by_test_id("report-submit").click()
    expect(team.get_by_test_id("report-error")).to_contain_text("'affected[0]' is not an IPv4 address")
    team.get_by_test_id("report-affected").fill(", ".join(victims))
    team.get_by_test_id("report-submit").click()
    expect(team.get_by_test_id("report-ok")).to_contain_text("Filed report #")
    expect(team.get_by_test_id("report-error")).to_be_empty()
    expect(team.get_by_test_id("report-row")).to_have_count(1)
    expect(team.get_by_test_id("report-row").first).to_contain_text("Information Gathering / Scanning")
    expect(team.get_by_test_id("report-row").first).to_contain_text("at the end")  # marked when it ends
    shot(team, "workspace-report")
    team.get_by_test_id("tab-sharing").click()
    team.get_by_test_id("indicator-type").select_option("ipv4")
    team.get_by_test_id("indicator-value").fill(attacker)
    team.get_by_test_id("indicator-tlp").select_option("GREEN")
    team.get_by_test_id("indicator-submit").click()
    expect(team.get_by_test_id("feed-row")).to_have_count(1)
    expect(team.get_by_test_id("feed-row").first).to_contain_text("TLP:GREEN")
    team.get_by_test_id("indicator-to-rule").first.click()  # the rule editor, prefilled
    expect(team.get_by_test_id("rule-editor")).to_have_value(re.compile(r"Shared indicator #\d+ \(ipv4\) from blue"))
    shot(team, "workspace-indicator-rule")
    assert_fits(team)

    # -- the instructor ends the session; the report and the revealed board ------------------
    inst.reload()
    expect(inst.locator('#progress tr[data-team="blue"] [data-field="alerts"]')).not_to_have_text("0")
    inst.get_by_test_id("btn-stop").click()
    expect(inst.get_by_test_id("session-status")).to_have_text("finished")
    shot(inst, "console-finished")
    inst.get_by_test_id("open-report").click()
    inst.wait_for_url(f"**/console/{SESSION}/report")
    report = inst.get_by_test_id("report")
    expect(report).to_contain_text(f"After-action report: {SESSION}")
    for heading in (
        "1. The scenario",
        "2. Results per team",
        "3. Timeline",
        "4. ATT&CK coverage",
        "5. What each team missed",
    ):
        expect(report.get_by_role("heading", name=heading)).to_be_visible()
    ranking = inst.get_by_test_id("report-ranking")
    expect(ranking.locator('tr[data-team="blue"]')).to_contain_text("1 / 1")
    expect(ranking.locator('tr[data-team="red"]')).to_contain_text("0 / 1")
    expect(inst.get_by_test_id("report-timeline")).to_contain_text("detected")
    expect(inst.get_by_test_id("report-timeline")).to_contain_text("missed")
    expect(report.get_by_test_id("chart-timeline")).to_be_visible()
    expect(report.get_by_test_id("chart-breakdown")).to_be_visible()
    for heading in ("6. Incident reports", "7. Indicator sharing"):
        expect(report.get_by_role("heading", name=heading)).to_be_visible()
    expect(report.locator('[data-testid="report-reports"][data-team="blue"]')).to_contain_text("SYN scan of the portal")
    expect(report.get_by_test_id("reference-rule").first).to_be_visible()  # red missed the scan: the rule for it
    assert_fits(inst)
    labels = report.locator("#chart-timeline text.tiny")  # the time axis: every label inside the chart
    last = labels.last.evaluate(
        "e => { const b = e.getBBox(), v = e.ownerSVGElement.viewBox.baseVal; return [b.x + b.width, v.width]; }"
    )
    assert last[0] <= last[1], f"the time axis' last label is cut off: {last}"
    shot(inst, "report")
    pdf = inst.request.get(f"/console/{SESSION}/report.pdf")  # the same report as a PDF
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    import io

    from pypdf import PdfReader

    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.body())).pages)
    for word in (f"After-action report: {SESSION}", "smoke", "blue", "red", "SYN scan of the portal"):
        assert word in text, word
    inst.goto(f"/console/{SESSION}/reports")  # the instructor's review: comment on the report
    card = inst.get_by_test_id("review-report").first
    expect(card).to_contain_text("SYN scan of the portal")
    expect(card.get_by_test_id("review-mark")).to_contain_text("50")
    card.get_by_test_id("comment-text").fill("Good: the scanner is named and blocked.")
    card.get_by_test_id("comment-submit").click()
    expect(inst.get_by_test_id("review-comment").first).to_contain_text("Good: the scanner is named")
    shot(inst, "console-review")

    expect(viewer.get_by_test_id("board-status")).to_have_text("finished")
    expect(viewer.get_by_test_id("technique").first).to_be_visible()  # the ATT&CK matrix, revealed at the end
    assert viewer.evaluate("() => window.__e2eMarker") == marker, "the scoreboard page was reloaded"
    assert_fits(viewer)
    shot(viewer, "board-finished")
    viewer.get_by_test_id("theme-toggle").click()
    expect(viewer.locator("html")).to_have_attribute("data-theme", "dark")
    shot(viewer, "board-finished-dark")

    # the team's Score tab after the end: the final score, no stray "null"
    team.get_by_test_id("tab-alerts").click()
    team.get_by_test_id("tab-score").click()
    expect(team.get_by_test_id("score-final")).to_be_visible()
    expect(team.get_by_test_id("score-summary")).to_contain_text("Steps detected 1 / 1")
    expect(team.get_by_test_id("score-summary")).not_to_contain_text("null")

    # a team cannot open the report
    r = team.goto(f"/console/{SESSION}/report")
    assert r.status == 403

    for ctx in (ictx, vctx, tctx, pctx):
        ctx.close()
    assert not errors, "script errors in the pages:\n" + "\n".join(errors)
