"""The web server's own log, offline: nginx's access log (host table ``webserver``) written by the
scripts from the very requests and answers they send, stored beside the sensor's view of them.

On ministry-breach: every HTTP request to the portal in the capture has its access line (same
count, methods, URIs, statuses, user agents, clients), the same seed gives the same lines and
another team its own, the reference rule on the access log (detections/rules/web_webshell_access.yml)
catches the web shell with no false positive on the staff's browsing, and SigmaHQ's web rules of the
webserver category and of Apache's and nginx's logs convert and run over the store (at least 95%;
the rest are listed with the reason). The line format, nginx's escaping and which log source reads
which lines are checked on small records.
"""
from __future__ import annotations

import json
import random
import re
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from range.core import TeamDir, team_seed
from range.detect import load_rules, rule_files, run
from range.events import EventStore, read_host_log
from range.exercise import TeamSpec, run_offline
from range.replay import replay
from range.scenario import catalog, load_scenario
from range.scoring import Truth, score
from range.topology import layout
from range.traffic import HostLog
from tests.conftest import ROOT

RULES = ROOT / "detections" / "rules"
ACCESS_RULE = RULES / "web_webshell_access.yml"
SHELL_COMMAND = "b6131859-a301-4e54-8d60-0963d97f6832"   # a script in an upload folder given a command
SHELL_PLANTED = "e32678f8-4963-435f-8c0b-f4b0b2621a84"   # an upload, then a script from the upload folder
SIGMAHQ = ROOT.parent / "shared" / "corpus" / "sigmahq"
SIGMAHQ_WEB = SIGMAHQ / "rules" / "web"
SEED, TEAM = 4, "albania"
COMBINED = re.compile(r'(?P<ip>\S+) - (?P<user>\S+) \[(?P<time>\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000)\] '
                      r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+) "(?P<referer>[^"]*)" "(?P<ua>[^"]*)"$')
T0 = 1_800_000_000.0


@pytest.fixture(scope="module")
def exercise(tmp_path_factory):
    """ministry-breach offline, one team with the access-log rule alone."""
    out = tmp_path_factory.mktemp("exercise")
    scn = load_scenario(catalog().path_of("scenario", "ministry-breach"))
    run_offline(scn, [TeamSpec(TEAM, [ACCESS_RULE])], out, seed=SEED)
    return scn, out / TEAM


def _web_ip(scn) -> str:
    return layout(scn.env, TEAM, team_seed(SEED, TEAM)).host("web").ip


def test_every_request_to_the_portal_has_its_access_line(exercise):
    scn, d = exercise
    db = sqlite3.connect(TeamDir(d).events)
    web = _web_ip(scn)
    http = db.execute("SELECT `id.orig_h`, method, uri_raw, status_code, user_agent, response_body_len FROM http "
                      "WHERE `id.resp_h` = ? AND `id.resp_p` = 80", (web,)).fetchall()
    access = db.execute("SELECT `c-ip`, `cs-method`, `cs-uri`, `sc-status`, `cs-user-agent`, `sc-bytes`, host, log "
                        "FROM webserver").fetchall()
    assert len(http) > 1000 and len(access) == len(http)
    assert {a[6:] for a in access} == {("web", "access")}
    assert Counter(h[:5] for h in http) == Counter(a[:5] for a in access)
    # the body the sensor saw of each answer is in the bytes nginx sent (a chunked one adds its framing)
    seen, sent = Counter(), Counter()
    for h in http:
        seen[h[:5]] += h[5] or 0
    for a in access:
        sent[a[:5]] += a[5]
    assert all(sent[k] >= seen[k] for k in seen) and sum(sent.values()) > sum(seen.values())
    steps = Counter(a[0] for a in access)
    attacker = layout(scn.env, TEAM, team_seed(SEED, TEAM)).host("attacker").ip
    assert steps[attacker] > 150   # sqlmap's requests and the web shell's
    assert {s for s, in db.execute("SELECT DISTINCT `sc-status` FROM webserver")} >= {200, 301, 302, 304, 404, 500}


def test_each_line_is_nginx_combined_and_its_fields_are_its_parts(exercise):
    _, d = exercise
    rows = [r for t, r in read_host_log(TeamDir(d).host_log) if t == "webserver"]
    assert rows
    for r in rows:
        m = COMBINED.match(r["message"])
        assert m, r["message"]
        method, target, version = m["request"].split(" ")
        assert (m["ip"], method, target, version) == (r["c-ip"], r["cs-method"], r["cs-uri"], r["cs-version"])
        assert (int(m["status"]), int(m["bytes"])) == (r["sc-status"], r["sc-bytes"])
        assert m["ua"] == r.get("cs-user-agent", "-") and m["referer"] == r.get("cs-referer", "-")
        stem, _, query = target.partition("?")
        assert r["cs-uri-stem"] == stem and r.get("cs-uri-query", "") == query
        assert r["cs-bytes"] > 0 and r["cs-host"].startswith("portal.")
    uploads = [r for r in rows if r["cs-method"] == "POST" and r["cs-uri-stem"] == "/upload.php"]
    assert uploads and all(r["cs-bytes"] > 1000 for r in uploads)


def test_access_lines_are_deterministic_per_seed(exercise, tmp_path):
    scn, d = exercise

    def lines(path) -> list[dict]:
        return [r for t, r in read_host_log(path) if t == "webserver"]

    mine = lines(TeamDir(d).host_log)
    again = replay(scn, tmp_path / "again", seed=team_seed(SEED, TEAM), team=TEAM)
    assert lines(again.host_log) == mine
    other = replay(scn, tmp_path / "other", seed=team_seed(SEED, "serbia"), team="serbia")
    theirs = lines(other.host_log)
    assert theirs and theirs != mine and {r["c-ip"] for r in theirs}.isdisjoint({r["c-ip"] for r in mine})


def test_the_reference_rule_detects_the_web_shell_without_a_false_positive(exercise):
    scn, d = exercise
    s = json.loads((d / "score.json").read_text())
    detected = {st["id"]: sorted(st["rules"]) for st in s["steps"] if st["detected"]}
    assert detected == {"webshell": sorted([SHELL_COMMAND, SHELL_PLANTED])}
    assert s["false_positives"] == 0 and s["precision"] == 1.0
    alerts = json.loads((d / "alerts.json").read_text())
    assert alerts["errors"] == []
    attacker = layout(scn.env, TEAM, team_seed(SEED, TEAM)).host("attacker").ip
    for a in alerts["alerts"]:
        assert a["group"] == {"c-ip": attacker}   # grouped by the web client, not by the server
        assert {e["_path"] for e in a["events"]} == {"webserver"}
    planted = next(a for a in alerts["alerts"] if a["rule_id"] == SHELL_PLANTED)
    first, then = planted["events"][:2]
    assert (first["cs-method"], first["cs-uri-stem"]) == ("POST", "/upload.php")
    assert then["cs-uri-stem"].startswith("/uploads/img_") and then["sc-status"] == 200
    # the truth names the step's lines by the client that sent them
    truth = Truth.read(d / "truth.json")
    shell = next(st for st in truth.steps if st.id == "webshell")
    assert any(e["table"] == "webserver" and e["pids"] == [attacker] for e in shell.host)


def _table_of(rs, f: str) -> str | None:
    return next((r.table for r in rs.rules.values() if r.file == f), None)


SERVER_LOGS = ("category: webserver", "service: apache", "service: nginx", "product: apache", "product: nginx")
SQLI_IN_ACCESS_LOG = "5513deaf-f49a-46c2-a6c8-3f111b5cb453"   # web_sql_injection_in_access_logs.yml
RECON_AGENT = "19aa4f58-94ca-45ff-bc34-92e533c0994a"          # web_susp_useragents.yml (sqlmap/)
WEBSHELL_STRINGS = "7ff9db12-1b94-4a79-ba68-a2402c5d6729"     # web_win_webshells_in_access_logs.yml (=whoami)


def test_sigmahq_web_rules_convert_and_run_on_the_store(exercise, capsys):
    """SigmaHQ's rules of the web server's logs (category webserver, Apache's and nginx's: those
    of rules/web and every other one in the corpus) read the webserver table; at least 95% of
    each set convert and run over ministry-breach, and those that fit the steps catch them."""
    scn, d = exercise
    web = [str(f) for f in rule_files([SIGMAHQ_WEB]) if "/proxy_generic/" not in str(f)]  # proxy: the http log
    assert len(web) >= 15, f"the SigmaHQ web rules are missing under {SIGMAHQ_WEB}"
    every = [str(f) for f in rule_files([SIGMAHQ]) if any(k in f.read_text() for k in SERVER_LOGS)]
    assert set(web) <= set(every) and len(every) >= 80
    rs = load_rules(every)
    alerts, errors = run(rs, TeamDir(d).events)
    failed: dict[str, list[str]] = {}
    for e in [*rs.errors, *errors]:
        failed.setdefault(e["file"], []).append(e["message"])
    s = score(Truth.read(d / "truth.json"), alerts)
    by_step = {st["id"]: set(st["rules"]) for st in s["steps"] if st["detected"]}
    names = {r.id: Path(r.file).name for r in rs.rules.values()}
    with capsys.disabled():
        for label, files in (("rules/web", web), ("the whole corpus", every)):
            ran = [f for f in files if _table_of(rs, f) == "webserver" and f not in failed]
            print(f"\nSigmaHQ web server rules of {label} on the webserver table: {len(ran)} of {len(files)} ran "
                  f"({100 * len(ran) / len(files):.1f}%)")
            for f in files:
                if f not in ran:
                    why = failed.get(f) or [f"reads {_table_of(rs, f)}"]
                    print(f"  FAILED {Path(f).relative_to(SIGMAHQ)}: {' / '.join(why)}")
            assert len(ran) >= 0.95 * len(files), {f: failed.get(f) for f in files if f not in ran}
        for w in rs.warnings:
            print(f"  warning {Path(w['file']).name}: {w['message']}")
        for step, ids in sorted(by_step.items()):
            print(f"  {step} detected by {', '.join(sorted(names.get(i, i) for i in ids))}")
        print(f"  false positives: {s['false_positives']}")
    assert all(e["file"] and e["message"] for e in errors)
    # the access log shows what they look for: sqlmap's agent and its UNION SELECT, the shell's =whoami
    assert by_step == {"sqli": {SQLI_IN_ACCESS_LOG, RECON_AGENT}, "webshell": {WEBSHELL_STRINGS}}
    assert s["false_positives"] == 0


# ---- the line, its escaping, and which log source reads which lines ----------------------------


def test_an_access_line_is_composed_and_escaped_as_nginx_writes_it():
    log = HostLog(random.Random(1))
    rec = log.access(T0 + 0.25, "web", "10.0.0.7", "GET", '/search.php?q="x"\\y', 200, 1234, referer=None,
                     user_agent="Mozilla/5.0 \x01caf\xe9", vhost="portal.gov.test", request_length=410)
    assert rec["message"] == ('10.0.0.7 - - [15/Jan/2027:08:00:00 +0000] "GET /search.php?q=\\x22x\\x22\\x5Cy '
                              'HTTP/1.1" 200 1234 "-" "Mozilla/5.0 \\x01caf\\xE9"')
    assert rec["cs-uri-stem"] == "/search.php" and rec["cs-uri-query"] == "q=\\x22x\\x22\\x5Cy"
    assert "cs-referer" not in rec and rec["cs-bytes"] == 410 and rec["log"] == "access"
    assert "cs-uri-query" not in log.access(T0, "web", "10.0.0.7", "GET", "/", 304, 0)
    for bad in ({"method": "GE T"}, {"status": 99}, {"status": True}, {"body_bytes": -1}, {"target": ""}):
        args = {"method": "GET", "target": "/", "status": 200, "body_bytes": 0, **bad}
        with pytest.raises(ValueError):
            log.access(T0, "web", "10.0.0.7", args["method"], args["target"], args["status"], args["body_bytes"])
    err = log.web_error(T0, "web", "error", 812, 'FastCGI sent in stderr: "PHP message: PHP Warning:  x"',
                        connection=57, client="10.0.0.7", method="GET", target="/a.php?b=1", vhost="portal")
    assert err["message"] == ('2027/01/15 08:00:00 [error] 812#812: *57 FastCGI sent in stderr: "PHP message: PHP '
                              'Warning:  x", client: 10.0.0.7, server: _, request: "GET /a.php?b=1 HTTP/1.1", '
                              'host: "portal"')
    assert (err["log"], err["level"], err["pid"], err["cs-uri-query"]) == ("error", "error", 812, "b=1")
    with pytest.raises(ValueError):
        log.web_error(T0, "web", "fatal", 812, "x")


def test_access_rules_read_access_lines_and_the_server_logs_rules_error_lines(tmp_path):
    log = HostLog(random.Random(1))
    log.access(T0, "web", "10.0.0.7", "GET", "/mgmt/tm/util/bash", 200, 10, user_agent="sqlmap/1.7.2")
    log.access(T0 + 1, "web", "10.0.0.8", "GET", "/x.php?cmd=exited+on+signal+6+(core+dumped)", 200, 10)
    log.web_error(T0 + 2, "web", "alert", 811, "worker process 812 exited on signal 6 (core dumped)")
    db = tmp_path / "e.db"
    s = EventStore(db)
    for table, rec in log.records:
        s.add(table, [rec])
    s.close()
    rules = tmp_path / "r.yml"
    rules.write_text("""
title: path in cs-uri-query, as SigmaHQ writes it
id: 0d7d7a4e-0000-4000-8000-000000000001
logsource: {category: webserver}
detection: {sel: {cs-uri-query|endswith: /mgmt/tm/util/bash, c-useragent|startswith: sqlmap}, condition: sel}
level: high
---
title: a query string as W3C means it
id: 0d7d7a4e-0000-4000-8000-000000000002
logsource: {category: webserver, product: linux}
detection: {sel: {cs-uri-query|startswith: 'cmd='}, condition: sel}
level: high
---
title: nginx core dump (keywords over the error log)
id: 0d7d7a4e-0000-4000-8000-000000000003
logsource: {service: nginx}
detection: {keywords: ['exited on signal 6 (core dumped)'], condition: keywords}
level: high
---
title: everything the server logged
id: 0d7d7a4e-0000-4000-8000-000000000004
logsource: {product: cyberrange, service: webserver}
detection: {sel: {host: web}, condition: sel}
level: low
""")
    rs = load_rules([rules])
    assert rs.errors == [] and rs.warnings == [] and {r.table for r in rs.rules.values()} == {"webserver"}
    alerts, errors = run(rs, db)
    assert errors == []
    got = {a["rule_id"][-1]: [e["message"][:30] for e in a["events"]] for a in alerts if a["rule_id"][-1] != "4"}
    assert got == {"1": ['10.0.0.7 - - [15/Jan/2027:08:0'], "2": ['10.0.0.8 - - [15/Jan/2027:08:0'],
                   "3": ['2027/01/15 08:00:02 [alert] 81']}
    assert sum(len(a["events"]) for a in alerts if a["rule_id"].endswith("4")) == 3
