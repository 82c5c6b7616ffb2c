"""The CSIRT parts of the trainee workspace in a real browser (Debian's Chromium through Playwright,
the real server as in test_e2e_browser.py), each a fault the walk-through found:

- the event grid shows each event's row id (the "row" column), which a report's evidence cites;
- the RSIT selects start on an empty "choose…" option the form requires: a report with only a
  title is not filed as Abusive Content / Spam;
- the description counts its characters live and says when a paste is too long, never cutting it;
- a team edits and withdraws its own report while the session runs, and no longer after the end;
- the sharing feed shows the indicators' comments.
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.request

from tests.e2e.test_e2e_browser import PASSWORD, WAIT_MS, browser, context, server  # noqa: F401 (fixtures)

SESSION = "csirt-ui"
AUTH = "Basic " + base64.b64encode(f"instructor:{PASSWORD}".encode()).decode()


def call(base: str, method: str, path: str, body: dict | None = None) -> dict:
    """The JSON API as the instructor (HTTP Basic: no CSRF token needed)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Authorization": AUTH, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def wait_for(what: str, test, timeout: float = WAIT_MS / 1000):
    deadline = time.monotonic() + timeout
    while True:
        got = test()
        if got:
            return got
        assert time.monotonic() < deadline, f"waited {timeout:.0f} s for {what}"
        time.sleep(0.3)


def running_session(base: str) -> str:
    """A session of 'smoke' for team blue, paused once the scan has happened; blue's password."""
    out = call(base, "POST", "/api/sessions", {"name": SESSION, "scenario": "smoke", "teams": "blue", "speed": 6})
    wait_for("the session to be ready", lambda: call(base, "GET", f"/api/sessions/{SESSION}")["status"] == "ready")
    call(base, "POST", f"/api/sessions/{SESSION}/start")

    def scanned():
        steps = call(base, "GET", f"/api/sessions/{SESSION}")["steps"]
        return all(s["state"] == "done" for s in steps if s["id"] == "recon")
    wait_for("the scan", scanned)
    call(base, "POST", f"/api/sessions/{SESSION}/pause")
    return out["teams"]["blue"]


def test_csirt_workspace_in_a_real_browser(browser, server):  # noqa: F811 (the fixtures imported above)
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    base, errors = server["base"], []
    password = running_session(base)
    ctx, page = context(browser, base, errors, "trainee")
    page.goto(f"/login?session={SESSION}")
    page.get_by_test_id("team-login-team").fill("blue")
    page.get_by_test_id("team-login-password").fill(password)
    page.get_by_test_id("team-login-submit").click()
    page.wait_for_url(f"**/workspace/{SESSION}/blue")

    # -- fault 13: the event grid's first column is each event's row id ----------------------
    row = page.get_by_test_id("event-row").first
    expect(row).to_be_visible()
    expect(page.locator("#events-table thead th").first).to_have_text("row")
    rowid = row.get_attribute("data-rowid")
    assert rowid and rowid.isdigit()
    expect(row.locator("td").first).to_have_text(rowid)
    expect(row.get_by_test_id("event-rowid")).to_have_text(rowid)

    # -- fault 12: nothing is classified for the team --------------------------------------------
    page.get_by_test_id("tab-reports").click()
    cls, typ = page.get_by_test_id("report-class"), page.get_by_test_id("report-type")
    expect(cls.locator("option")).to_have_count(12)  # "choose a class…" and the 11 RSIT classes
    expect(cls).to_have_value("")
    expect(cls.locator("option").first).to_have_text("choose a class…")
    expect(typ).to_have_value("")
    expect(page.get_by_test_id("report-evidence-help")).to_contain_text("“row” column")
    page.get_by_test_id("report-title").fill("only a title")
    page.get_by_test_id("report-submit").click()
    assert cls.evaluate("e => e.validity.valueMissing"), "an empty class must stop the form"
    page.wait_for_timeout(500)
    expect(page.get_by_test_id("report-ok")).to_be_empty()
    assert call(base, "GET", f"/api/sessions/{SESSION}/teams/blue/reports")["reports"] == []

    # -- fault 14: a long paste is kept whole, counted, and stops the form with a clear message ---
    desc, counter = page.get_by_test_id("report-description"), page.get_by_test_id("report-description-count")
    expect(counter).to_have_text("0 / 8000")
    desc.fill("x" * 24_600)
    assert desc.evaluate("e => e.value.length") == 24_600, "the paste was cut"
    expect(counter).to_contain_text("24600 / 8000: 16600 too many, shorten it (nothing is cut)")
    expect(counter).to_have_class(re.compile(r"\bover\b"))
    assert "'description' holds 24600 characters" in desc.evaluate("e => e.validationMessage")
    desc.fill("x" * 8000)
    expect(counter).to_have_text("8000 / 8000: the limit")
    assert desc.evaluate("e => e.checkValidity()")
    desc.fill("Nmap SYN scan of the portal")

    # a report through the form, then edited and withdrawn
    cls.select_option("information-gathering")
    expect(typ.locator("option").first).to_have_text("choose a type…")
    typ.select_option("scanner")
    page.get_by_test_id("report-evidence").fill(f"conn:{rowid}")
    page.get_by_test_id("report-submit").click()
    expect(page.get_by_test_id("report-ok")).to_contain_text("Filed report #")
    expect(page.get_by_test_id("report-error")).to_be_empty()
    expect(cls).to_have_value("")  # the form starts empty again
    expect(counter).to_have_text("0 / 8000")
    page.get_by_test_id("report-title").fill("a second report")
    cls.select_option("other")
    typ.select_option("undetermined")
    page.get_by_test_id("report-submit").click()
    rows = page.get_by_test_id("report-row")
    expect(rows).to_have_count(2)
    first = page.locator('[data-testid="report-row"]', has_text="only a title")
    first.get_by_test_id("report-edit").click()
    expect(page.get_by_test_id("report-form-title")).to_have_text(
        "Edit report #" + first.get_attribute("data-pk"))
    expect(page.get_by_test_id("report-title")).to_have_value("only a title")
    expect(cls).to_have_value("information-gathering")
    expect(typ).to_have_value("scanner")
    expect(page.get_by_test_id("report-evidence")).to_have_value(f"conn:{rowid}")
    expect(desc).to_have_value("Nmap SYN scan of the portal")
    page.get_by_test_id("report-title").fill("SYN scan of the portal")
    page.get_by_test_id("report-submit").click()
    expect(page.get_by_test_id("report-ok")).to_contain_text("Saved report #")
    edited = page.locator('[data-testid="report-row"]', has_text="SYN scan of the portal")
    expect(edited.get_by_test_id("report-edited")).to_be_visible()
    expect(page.get_by_test_id("report-form-title")).to_have_text("File an incident report")
    second = page.locator('[data-testid="report-row"]', has_text="a second report")
    second.get_by_test_id("report-withdraw").click()  # the confirmation dialog is accepted
    expect(page.get_by_test_id("report-ok")).to_contain_text("Withdrew report #")
    expect(rows).to_have_count(1)
    listed = call(base, "GET", f"/api/sessions/{SESSION}/teams/blue/reports")["reports"]
    assert [(r["title"], r["evidence"]) for r in listed] == [("SYN scan of the portal", [f"conn:{rowid}"])]

    # -- fault 11: the feed shows each indicator's comment --------------------------------------
    page.get_by_test_id("tab-sharing").click()
    page.get_by_test_id("indicator-type").select_option("domain")
    page.get_by_test_id("indicator-value").fill("c2.evil-cdn.org")
    page.get_by_test_id("indicator-comment").fill("looked up right after the scan")
    page.get_by_test_id("indicator-submit").click()
    expect(page.get_by_test_id("feed-row")).to_have_count(1)
    expect(page.get_by_test_id("feed-comment").first).to_have_text("looked up right after the scan")

    # -- the end locks the reports: no edit, no withdrawal --------------------------------------
    call(base, "POST", f"/api/sessions/{SESSION}/stop")
    page.reload()
    page.get_by_test_id("tab-reports").click()
    expect(rows).to_have_count(1)
    expect(page.get_by_test_id("report-edit")).to_have_count(0)
    expect(page.get_by_test_id("report-withdraw")).to_have_count(0)
    assert not errors, errors
    ctx.close()
