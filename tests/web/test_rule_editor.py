"""The workspace's rule editor in a real browser (Debian's Chromium through Playwright, as in
tests/e2e), against the web app served from this process over a paused session of 'smoke':

- line numbers beside the text, scrolling with it; the YAML highlighted under a transparent
  textarea, line for line; Tab indents;
- Ctrl+Enter dry-runs the rule: a misspelt field's warning is shown and its line marked, a YAML
  error's line (the parser's "line N") is marked as an error;
- the side panel lists each table with the Sigma log source that reads it (from the pipeline, also
  in ``/events/tables``) and its fields: a log source click puts or replaces the ``logsource:``
  block, a field click inserts ``field: `` (or ``field|contains: ``) where the caret is;
- the status line names the table the rule reads as the pipeline picks it (``product: linux,
  category: process_creation`` reads process_creation, not syslog through its catch-all);
- ``draft(table, event)`` writes a rule from one event that the API accepts and that matches it.
"""
from __future__ import annotations

import re

import pytest
import yaml

from range import sessions
from range.events import SCHEMA
from tests.conftest import app_over_fresh_state
from tests.e2e.test_e2e_browser import WAIT_MS
from tests.web.common import basic, serving, set_clock, team_page

SESSION = "editor"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TYPO_RULE = """title: 'Long DNS names'   # a comment
id: 0c1d2e3f-4a5b-4c6d-8e7f-a1b2c3d4e5f6
status: experimental
logsource:
  category: dns
detection:
  selection:
    qurey|contains: 'tunnel'
  filter:
    qtype_name:
      - PTR
  condition: selection and not filter
level: medium
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The app on a free local port, a session of 'smoke' for team blue paused after its scan."""
    app, store, password, mp = app_over_fresh_state(tmp_path_factory, SSE_MIN_INTERVAL=0, SSE_WAIT=0.05)
    env = {"app": app, "store": store, "driver": app.extensions["cyberrange"].driver, "password": password}
    team_pw = sessions.create_session(store, SESSION, "smoke", ["blue"], speed=20)["teams"]["blue"]
    set_clock(env, SESSION, 60)
    try:
        with serving(app) as base:
            yield {**env, "base": base, "team_pw": team_pw}
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def page(served):
    with team_page(served["base"], SESSION, "blue", served["team_pw"]) as pg:
        pg.get_by_test_id("tab-rules").click()
        yield pg


def test_tables_name_the_log_source_that_reads_them(served):
    c = served["app"].test_client()
    auth = basic(f"{SESSION}/blue", served["team_pw"])
    res = c.get(f"/api/sessions/{SESSION}/teams/blue/events/tables", headers=auth).json
    assert set(res["logsources"]) == set(res["tables"]) == set(res["counts"])
    assert res["logsources"]["dns"][0] == {"category": "dns"}
    assert res["logsources"]["conn"][0] == {"category": "firewall"}
    assert {"product": "zeek", "service": "ssh"} in res["logsources"]["ssh"]
    for table, sources in res["logsources"].items():  # every one is a log source the detector maps to that table
        for ls in sources:
            rule = yaml.safe_dump({"title": "t", "logsource": ls, "detection": {"s": {"ts": 0}, "condition": "s"}})
            r = c.post(f"/api/sessions/{SESSION}/teams/blue/dry-run", headers=auth, json={"yaml": rule})
            assert r.status_code == 200, (table, ls, r.json)
    # the table mapping in the pipeline's order (the last entry a log source matches wins): syslog's
    # catch-all product: linux comes before the Linux categories' tables
    order = [m["table"] for m in res["mapping"]]
    assert set(order) == set(res["tables"]) and order.index("syslog") < order.index("process_creation")
    assert {t: [ls for m in res["mapping"] if m["table"] == t for ls in m["logsources"]]
            for t in res["tables"]} == res["logsources"]


# the tops of line n's highlighted text and of its number's text, on the page
TEXT_TOPS = """lines => lines.map(n => ['#rule-highlight', '#rule-gutter'].map(box => {
    const r = document.createRange();
    r.selectNodeContents(document.querySelector(box + ' [data-line="' + n + '"]'));
    return r.getBoundingClientRect().top;
}))"""


def editor_state(page) -> dict:
    return page.evaluate("""() => {
        const ta = document.getElementById('rule-editor');
        return {value: ta.value, start: ta.selectionStart, focused: document.activeElement === ta};
    }""")


@pytest.mark.e2e  # a real browser: left out of scripts/test --fast with the other browser tests
def test_line_numbers_highlighting_and_the_dry_run_on_ctrl_enter(page):
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    editor = page.get_by_test_id("rule-editor")
    editor.fill(TYPO_RULE)
    n_lines = TYPO_RULE.count("\n") + 1
    expect(page.get_by_test_id("rule-line-number")).to_have_count(n_lines)
    expect(page.get_by_test_id("rule-line-number").nth(7)).to_have_text("8")
    hl = page.get_by_test_id("rule-highlight")
    expect(hl.locator(".t-key").first).to_have_text("title")
    expect(hl.locator(".t-str").first).to_have_text("'Long DNS names'")
    expect(hl.locator(".t-comment").first).to_have_text("# a comment")
    expect(hl.locator('[data-line="8"] .t-key')).to_have_text("qurey")
    expect(hl.locator('[data-line="8"] .t-mod')).to_have_text("contains")
    expect(hl.locator('[data-line="11"] .t-dash')).to_have_text("-")
    expect(hl.locator('[data-line="12"] .t-kw')).to_have_text(["and", "not"])
    # the overlay lines up: the same text metrics, each highlighted line beside its number
    same = page.evaluate("""() => {
        const a = getComputedStyle(document.getElementById('rule-editor')),
              b = getComputedStyle(document.getElementById('rule-highlight'));
        return ['fontFamily', 'fontSize', 'lineHeight', 'paddingTop', 'paddingLeft', 'whiteSpace', 'tabSize']
          .filter(k => a[k] !== b[k]);
    }""")
    assert same == []
    tops = page.evaluate(TEXT_TOPS, [8, 12])
    for hl_top, num_top in tops:
        assert abs(hl_top - num_top) <= 1, tops
    # the text is invisible in the textarea itself: what shows is the highlighted copy under it
    assert editor.evaluate("e => getComputedStyle(e).color") == "rgba(0, 0, 0, 0)"

    # Ctrl+Enter: the dry run, its warning, the warned line marked
    editor.press("Control+Enter")
    expect(page.get_by_test_id("dry-run-count")).to_contain_text("Would raise 0 alert(s)")
    expect(page.get_by_test_id("dry-run-warnings")).to_contain_text("field 'qurey' is not in the dns log")
    mark = page.locator('[data-testid="rule-line-number"][data-line="8"]')
    expect(mark).to_have_class(re.compile(r"\bmark-warning\b"))
    expect(mark).to_have_attribute("title", re.compile("qurey"))
    expect(page.get_by_test_id("rule-problem")).to_have_count(1)
    expect(page.get_by_test_id("rule-problem")).to_contain_text("line 8 warning: field 'qurey'")
    expect(page.locator(".code-gutter .mark-warning")).to_have_count(1)

    # a YAML error: the line the parser names is marked as an error
    editor.fill(TYPO_RULE.replace("  condition:", " condition:"))
    editor.press("Control+Enter")
    expect(page.get_by_test_id("rule-error")).to_contain_text("line 12")
    expect(page.locator('[data-testid="rule-line-number"][data-line="12"]')).to_have_class(re.compile(r"\bmark-error\b"))
    expect(hl.locator('[data-line="12"]')).to_have_class(re.compile(r"\bmark-error\b"))
    page.get_by_test_id("rule-problem").get_by_role("button").click()  # "line 12": the caret goes there
    st = editor_state(page)
    assert st["focused"] and st["value"][:st["start"]].count("\n") == 11

    # the numbers scroll with the text
    editor.fill("\n".join(f"key{i}: value {i}" for i in range(1, 81)))
    editor.evaluate("e => { e.scrollTop = e.scrollHeight; }")
    page.wait_for_function("""() => {
        const ta = document.getElementById('rule-editor');
        return ta.scrollTop > 0 && document.getElementById('rule-gutter').scrollTop === ta.scrollTop
          && document.getElementById('rule-highlight').scrollTop === ta.scrollTop; }""")
    (hl_top, num_top), = page.evaluate(TEXT_TOPS, [80])
    bottom = editor.evaluate("e => e.getBoundingClientRect().top + e.clientHeight")
    assert abs(hl_top - num_top) <= 1 and num_top < bottom, (hl_top, num_top, bottom)  # line 80 in view, beside "80"

    # Tab indents by two spaces (and Shift+Tab takes them back)
    editor.fill("a")
    editor.press("End")
    editor.press("Tab")
    assert editor_state(page)["value"] == "a  "
    editor.press("Shift+Tab")
    assert editor_state(page)["value"] == "a  "  # the line has no indent: nothing to take back
    editor.press("Home")
    editor.press("Tab")
    assert editor_state(page)["value"] == "  a  "
    editor.press("Shift+Tab")
    assert editor_state(page)["value"] == "a  "


@pytest.mark.e2e
def test_log_sources_and_fields_one_click_away(page):
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    editor = page.get_by_test_id("rule-editor")
    editor.fill("")
    panel = page.get_by_test_id("rule-sources")
    expect(panel.get_by_test_id("rule-source")).to_have_count(len(SCHEMA))   # every table, the host tables too
    dns = panel.locator('[data-testid="rule-source"][data-table="dns"]')
    expect(dns.get_by_test_id("rule-logsource").first).to_have_text("category: dns")
    # an empty editor: the log source starts a rule, the caret waits in its selection
    dns.get_by_test_id("rule-logsource").first.click()
    value = editor_state(page)["value"]
    assert "logsource:\n  category: dns\ndetection:\n  selection:\n" in value and "condition: selection" in value
    expect(dns).to_have_class(re.compile(r"\bcurrent\b"))
    expect(page.get_by_test_id("rule-status")).to_contain_text("reads the dns log")
    dns.locator('[data-field="query"]').click()
    page.keyboard.type("nothing.invalid")
    page.get_by_test_id("rule-field-as").select_option("|contains")
    dns.locator('[data-field="qtype_name"]').click()
    page.keyboard.type("TXT")
    value = editor_state(page)["value"]
    assert "  selection:\n    query: nothing.invalid\n    qtype_name|contains: TXT\n  condition: selection" in value, \
        value
    editor.press("Control+Enter")
    expect(page.get_by_test_id("dry-run-count")).to_contain_text("Would raise 0 alert(s)")
    expect(page.get_by_test_id("dry-run-warnings")).to_have_count(0)
    expect(page.get_by_test_id("rule-error")).to_be_hidden()

    # another table's log source replaces the block: the dns fields are now unknown there
    http = panel.locator('[data-testid="rule-source"][data-table="http"]')
    http.get_by_test_id("rule-logsource").first.click()
    value = editor_state(page)["value"]
    assert value.count("logsource:") == 1 and "logsource:\n  category: proxy\ndetection:" in value, value
    expect(http).to_have_class(re.compile(r"\bcurrent\b"))
    editor.press("Control+Enter")
    expect(page.get_by_test_id("dry-run-warnings")).to_contain_text("field 'query' is not in the http log")
    # the caret stayed where it was (after "TXT"): a field at the end of a line goes on the next,
    # beside the field above
    page.get_by_test_id("rule-field-as").select_option("")
    http.locator('[data-field="user_agent"]').click()
    value = editor_state(page)["value"]
    assert "    qtype_name|contains: TXT\n    user_agent: \n  condition:" in value, value


@pytest.mark.e2e
def test_the_status_line_names_the_table_the_pipeline_picks(page):
    """A Linux host rule reads its category's table, though it matches syslog's catch-all
    ``product: linux`` too: the pipeline's later entry wins, as in ``cyberrange detect``."""
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    editor = page.get_by_test_id("rule-editor")
    panel = page.get_by_test_id("rule-sources")
    rule = ("title: a shell\nlogsource:\n  product: linux\n  {}\ndetection:\n  selection:\n"
            "    Image|endswith: /sh\n  condition: selection\n")
    editor.fill(rule.format("category: process_creation"))
    expect(page.get_by_test_id("rule-status")).to_contain_text("reads the process_creation log")
    expect(panel.locator('[data-testid="rule-source"][data-table="process_creation"]')).to_have_class(
        re.compile(r"\bcurrent\b"))
    editor.fill(rule.format("service: sshd"))
    expect(page.get_by_test_id("rule-status")).to_contain_text("reads the syslog log")
    expect(panel.locator('[data-testid="rule-source"][data-table="syslog"]')).to_have_class(re.compile(r"\bcurrent\b"))


@pytest.mark.e2e
def test_a_rule_drafted_from_an_event(page):
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    page.get_by_test_id("tab-events").click()
    ev = page.evaluate("""() => CR.api('GET', document.getElementById('workspace').dataset.api
        + '/events?table=conn&limit=1').then(p => p.events[0])""")
    text = page.evaluate("ev => WS.ruleEditor.draft('conn', ev)", ev)
    expect(page.get_by_test_id("tab-rules")).to_have_class(re.compile(r"\bactive\b"))
    st = editor_state(page)
    assert st["focused"] and st["value"] == text
    rule = yaml.safe_load(text)
    assert UUID4.match(rule["id"]) and rule["status"] == "experimental" and rule["level"] == "medium"
    assert rule["logsource"] == {"category": "firewall"}
    assert rule["detection"] == {"selection": {k: ev[k] for k in ("id.resp_h", "id.resp_p", "proto")},
                                 "condition": "selection"}
    assert f"conn:{ev['_rowid']}" in rule["description"]
    editor = page.get_by_test_id("rule-editor")
    editor.press("Control+Enter")
    count = page.get_by_test_id("dry-run-count")
    expect(count).to_contain_text("Would raise")
    assert int(re.search(r"Would raise (\d+) alert", count.inner_text()).group(1)) >= 1  # it finds its own event
    expect(page.get_by_test_id("rule-error")).to_be_hidden()
    expect(page.get_by_test_id("dry-run-warnings")).to_have_count(0)
    # the caret waits in the selection: a field click adds one more line to it
    page.locator('[data-testid="rule-source"][data-table="conn"] [data-field="service"]').click()
    assert "    proto: " + ev["proto"] + "\n    service: \n  condition: selection" in editor_state(page)["value"]

    # values YAML or Sigma would read otherwise are quoted and escaped: the rule says what the event says
    odd = {"_rowid": 7, "method": "GET", "uri": "/find.php?q=a*b: c #x 'y' \\ z", "user_agent": "true"}
    text = page.evaluate("ev => WS.ruleEditor.draft('http', ev)", odd)
    sel = yaml.safe_load(text)["detection"]["selection"]
    assert sel == {"method": "GET", "uri": "/find.php\\?q=a\\*b: c #x 'y' \\\\ z", "user_agent": "true"}
    assert yaml.safe_load(text)["logsource"] == {"category": "proxy"}
    editor.press("Control+Enter")
    expect(page.get_by_test_id("dry-run-count")).to_contain_text("Would raise 0 alert(s)")
    expect(page.get_by_test_id("rule-error")).to_be_hidden()
    expect(page.get_by_test_id("dry-run-warnings")).to_have_count(0)
    dns = page.evaluate("ev => WS.ruleEditor.draft('dns', ev)", {"query": "0x1F", "qtype_name": "A", "ts": 1.5e9})
    assert yaml.safe_load(dns)["detection"]["selection"] == {"query": "0x1F", "qtype_name": "A"}
