"""A trainee's whole hunt of ministry-breach in the workspace, in a real browser (Debian's Chromium
through Playwright, the real server as in test_e2e_browser.py):

the live tail holds new events behind a banner while the pointer is on the grid; tabs and rows work
from the keyboard; a query, a drag across the histogram to zoom, relative times, a facet filter on
the tool's user agent, sorting, the column chooser, a saved search that survives a reload; one
event's document view and its pivots (the same uid in conn, its packets, a dissection and the TCP
stream); a rule drafted from the event, dry-run with Ctrl+Enter, deployed, and its alert and points
in the ledger once the session runs on.
"""

from __future__ import annotations

import re

from tests.e2e.test_csirt_browser import call, wait_for
from tests.e2e.test_e2e_browser import WAIT_MS, Shots, browser, context, server  # noqa: F401 (fixtures)

SESSION = "hunt-ui"


def step_done(base: str, step: str) -> bool:
    return any(s["id"] == step and s["state"] == "done" for s in call(base, "GET", f"/api/sessions/{SESSION}")["steps"])


def first_rowid(page) -> str:
    return page.get_by_test_id("event-row").first.get_attribute("data-rowid")


def test_a_trainee_hunts_ministry_breach_in_the_workspace(browser, server):  # noqa: F811 (fixtures)
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    base, errors, shot = server["base"], [], Shots("hunt")
    out = call(base, "POST", "/api/sessions", {"name": SESSION, "scenario": "ministry-breach", "teams": "blue",
                                               "speed": 12})
    wait_for("the session to be ready", lambda: call(base, "GET", f"/api/sessions/{SESSION}")["status"] == "ready")
    call(base, "POST", f"/api/sessions/{SESSION}/start")
    ctx, page = context(browser, base, errors, "trainee")
    page.goto(f"/login?session={SESSION}")
    page.get_by_test_id("team-login-team").fill("blue")
    page.get_by_test_id("team-login-password").fill(out["teams"]["blue"])
    page.get_by_test_id("team-login-submit").click()
    page.wait_for_url(f"**/workspace/{SESSION}/blue")

    # -- the live tail does not move rows under the pointer ----------------------------------
    expect(page.get_by_test_id("event-row").first).to_be_visible()
    expect(page.get_by_test_id("ws-tod")).to_have_text(re.compile(r"^\d\d:\d\d:\d\d UTC$"))
    page.get_by_test_id("events-table").hover()
    held = first_rowid(page)
    banner = page.get_by_test_id("event-banner")
    expect(banner).to_have_text(re.compile(r"^\d+ new events? · show$"))
    assert first_rowid(page) == held, "a new event moved the rows under the pointer"
    shot(page, "tail-banner")
    page.mouse.move(5, 5)  # the pointer leaves the grid: the new events come in
    expect(banner).to_be_hidden()
    wait_for("newer rows", lambda: int(first_rowid(page)) > int(held))

    # -- tabs and rows from the keyboard -------------------------------------------------------
    page.get_by_test_id("tab-events").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_test_id("tab-rules")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_test_id("tab-rules")).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_test_id("tab-events")).to_have_attribute("aria-selected", "true")

    wait_for("the SQL injection", lambda: step_done(base, "sqli"))
    call(base, "POST", f"/api/sessions/{SESSION}/pause")

    # -- a query over http, a relative time, the histogram zoomed by a drag ----------------------
    page.get_by_test_id("event-table").select_option("http")
    page.get_by_test_id("event-query").fill("method:GET OR method:POST")
    page.get_by_test_id("event-from").fill("-5m")  # the session has run 7 minutes: events all through
    page.get_by_test_id("event-apply").click()
    expect(page.get_by_test_id("histogram-bar")).to_have_count(60)
    expect(page.get_by_test_id("event-error")).to_have_text("")
    total = page.get_by_test_id("event-range").inner_text()
    box = page.get_by_test_id("event-histogram").bounding_box()  # drag from the 11th bucket to the 41st
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 10.5 / 60, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 40.5 / 60, y, steps=5)
    page.mouse.up()
    expect(page.get_by_test_id("event-from")).to_have_value(re.compile(r"^\d{4}-\d\d-\d\dT"))
    expect(page.get_by_test_id("event-to")).to_have_value(re.compile(r"^\d{4}-\d\d-\d\dT"))
    expect(page.get_by_test_id("event-range")).not_to_have_text(total)
    expect(page.get_by_test_id("event-row").first).to_be_visible()  # the span zoomed into has its events
    assert "from=" in page.url and "to=" in page.url
    shot(page, "histogram-zoomed")
    zoomed_to = page.get_by_test_id("event-to").input_value()
    page.locator('[data-testid="histogram-bar"][tabindex="0"]').first.focus()  # the keyboard zooms in too
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("event-to")).not_to_have_value(zoomed_to)  # one bucket of the 60: narrower
    page.get_by_test_id("event-from").fill("")
    page.get_by_test_id("event-to").fill("")
    page.get_by_test_id("event-apply").click()

    # -- a facet: the tool announces itself in its user agent ---------------------------------------
    sqlmap = page.locator('[data-testid="facet-value"][data-field="user_agent"]', has_text="sqlmap")
    sqlmap.get_by_test_id("facet-in").click()
    expect(page.get_by_test_id("event-query")).to_have_value(re.compile(r'AND user_agent:"sqlmap[^"]*"$'))
    expect(page.get_by_test_id("event-row").first).to_be_visible()
    agents = page.locator('[data-testid="event-row"] td').all_inner_texts()
    assert any("sqlmap" in t for t in agents)

    # -- sorting and the column chooser -------------------------------------------------------------
    page.get_by_test_id("sort-uri").click()
    expect(page.locator("th", has=page.get_by_test_id("sort-uri"))).to_have_attribute("aria-sort", "descending")
    expect(page.get_by_test_id("event-range")).to_contain_text("by uri descending")
    uri_col = page.evaluate("""() => [...document.querySelectorAll('#events-table thead th')]
                                     .findIndex(th => th.textContent.startsWith('uri'))""")
    uris = page.evaluate(f"""() => [...document.querySelectorAll('#events-table tbody tr')]
                                  .map(tr => tr.children[{uri_col}].textContent)""")
    assert uris == sorted(uris, reverse=True) and len(uris) > 1, uris
    page.get_by_test_id("event-columns").locator("summary").click()
    page.get_by_test_id("column-referrer").uncheck()
    expect(page.get_by_test_id("sort-referrer")).to_have_count(0)
    assert "cols=" in page.url

    # -- a saved search survives a reload ------------------------------------------------------------
    page.get_by_test_id("saved-name").fill("sqlmap on the portal")
    page.get_by_test_id("saved-save").click()
    expect(page.get_by_test_id("saved-msg")).to_have_text("saved “sqlmap on the portal”")
    query = page.get_by_test_id("event-query").input_value()
    page.goto(f"/workspace/{SESSION}/blue")
    expect(page.get_by_test_id("event-table")).to_have_value("conn")
    page.get_by_test_id("saved-list").select_option(label="sqlmap on the portal · http")
    expect(page.get_by_test_id("event-table")).to_have_value("http")
    expect(page.get_by_test_id("event-query")).to_have_value(query)
    expect(page.get_by_test_id("sort-referrer")).to_have_count(0)  # its columns came back too
    shot(page, "saved-search")

    # -- one event: keyboard, document view, cite, pivots --------------------------------------------
    rows = page.get_by_test_id("event-row")
    rows.first.focus()
    page.keyboard.press("ArrowDown")
    expect(rows.nth(1)).to_be_focused()
    page.keyboard.press("Enter")
    doc = page.get_by_test_id("event-doc")
    expect(doc).to_be_visible()
    rowid = rows.nth(1).get_attribute("data-rowid")
    expect(page.get_by_test_id("doc-cite")).to_have_text(f"http:{rowid}")
    expect(doc.locator('[data-testid="doc-field"][data-field="user_agent"]')).to_contain_text("sqlmap")
    uid = doc.locator('[data-testid="doc-field"][data-field="uid"] td').first.inner_text()
    shot(page, "document-view")
    page.keyboard.press("Escape")
    expect(doc).to_be_hidden()
    page.keyboard.press("Enter")  # the row kept the focus
    expect(doc).to_be_visible()
    page.get_by_test_id("sort-uri").click()  # sorted by a field conn lacks (the document stays open)
    expect(page.get_by_test_id("event-range")).to_contain_text("by uri descending")
    page.get_by_test_id("pivot-uid-conn").click()
    expect(page.get_by_test_id("event-table")).to_have_value("conn")
    expect(page.get_by_test_id("event-query")).to_have_value(f'uid:"{uid}"')
    expect(rows).to_have_count(1)
    # the pivot left http's sort behind (no 400 "cannot sort by"): the grid is conn's, newest first
    expect(page.get_by_test_id("event-error")).to_have_text("")
    expect(page.get_by_test_id("sort-conn_state")).to_be_visible()
    expect(page.get_by_test_id("event-range")).to_contain_text("newest first")
    rows.first.click()
    page.get_by_test_id("pivot-packets").click()
    packets = page.get_by_test_id("packet-row")
    expect(packets.first).to_be_visible()
    packets.first.click()
    expect(page.locator('[data-testid="layer"][data-layer="tcp"]')).to_be_visible()
    expect(page.get_by_test_id("hex")).to_be_visible()
    page.get_by_test_id("follow-stream").click()
    expect(page.get_by_test_id("stream-view")).to_contain_text("sqlmap")
    shot(page, "packets-and-stream")

    # -- a rule drafted from the event, dry-run with Ctrl+Enter, deployed ------------------------------
    page.get_by_test_id("saved-list").select_option(label="sqlmap on the portal · http")
    expect(page.get_by_test_id("event-table")).to_have_value("http")
    expect(page.get_by_test_id("events-table")).to_have_attribute("aria-busy", "false")
    expect(page.get_by_test_id("sort-user_agent")).to_be_visible()  # the grid holds http rows again
    rows.first.click()
    page.get_by_test_id("pivot-rule").click()
    expect(page.get_by_test_id("tab-rules")).to_have_attribute("aria-selected", "true")
    editor = page.get_by_test_id("rule-editor")
    expect(editor).to_be_focused()
    draft = editor.input_value()
    assert "logsource:" in draft and "sqlmap" in draft and "condition: selection" in draft, draft
    page.keyboard.press("Control+Enter")
    expect(page.get_by_test_id("dry-run-count")).to_contain_text("Would raise")
    n = int(re.search(r"Would raise (\d+) alert", page.get_by_test_id("dry-run-count").inner_text()).group(1))
    assert n >= 1
    page.get_by_test_id("rule-deploy").click()
    expect(page.get_by_test_id("deploy-ok")).to_contain_text("Deployed rule")
    shot(page, "rule-from-event")
    call(base, "POST", f"/api/sessions/{SESSION}/resume")
    page.get_by_test_id("tab-alerts").click()
    expect(page.get_by_test_id("alert").first).to_be_visible()
    page.get_by_test_id("tab-score").click()
    expect(page.get_by_test_id("ledger-row").first).to_contain_text("+")
    shot(page, "alert-in-the-ledger")
    ctx.close()
    call(base, "POST", f"/api/sessions/{SESSION}/stop")
    assert not errors, errors
