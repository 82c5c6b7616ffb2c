"""Detection with real pySigma and real SQLite: rules, correlations, errors, safety, the CLI."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from range.detect import Detector, load_rules, run
from range.events import EventStore
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "detections" / "rules"
T0 = 1_800_000_000.0


def make_store(path: Path, **tables: list[dict]) -> Path:
    s = EventStore(path)
    for t, rows in tables.items():
        s.add(t, rows)
    s.close()
    return path


def conn(ts, src, dport, state="REJ", dst="10.1.0.10", **kw) -> dict:
    return {"ts": ts, "uid": f"C{ts}{src}{dport}", "id.orig_h": src, "id.orig_p": 40000 + dport % 20000,
            "id.resp_h": dst, "id.resp_p": dport, "proto": "tcp", "conn_state": state, **kw}


def http(ts, src, ua="Mozilla/5.0", uri="/", **kw) -> dict:
    return {"ts": ts, "uid": f"H{ts}", "id.orig_h": src, "id.orig_p": 50000, "id.resp_h": "10.1.0.5", "id.resp_p": 80,
            "method": "GET", "host": "intranet.gov.test", "uri": uri, "user_agent": ua, "status_code": 200, **kw}


def dns(ts, src, query, **kw) -> dict:
    return {"ts": ts, "uid": f"D{ts}", "id.orig_h": src, "id.orig_p": 5353, "id.resp_h": "10.1.0.2", "id.resp_p": 53,
            "proto": "udp", "query": query, "qtype_name": "A", **kw}


def write_rule(d: Path, name: str, text: str) -> Path:
    p = d / name
    p.write_text(textwrap.dedent(text))
    return p


def by_rule(alerts: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for a in alerts:
        out.setdefault(a["rule_id"], []).append(a)
    return out


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


SQLMAP = "8d2a4f6e-0b1c-4d3e-a5f6-7a8b9c0d1e04"
LONGDNS = "1c7e0b6a-3d2f-4b8e-9f1a-5e6d7c8b9a03"
SCAN = "6b1b0f3c-9a7e-4e0b-8d3e-2f6f1e4c9b02"
TEMPORAL = "9f8e7d6c-5b4a-4c3d-9e2f-1a0b9c8d7e07"


# ---- simple rules -------------------------------------------------------------------------------

def test_example_rules_load_cleanly():
    rs = load_rules([RULES])
    assert rs.errors == [] and rs.warnings == []
    # the reference set (tests/test_reference_rules.py) keeps the four original examples
    ids = {r.id for r in rs.rules.values()} | {c.id for c in rs.correlations}
    assert {SQLMAP, LONGDNS, SCAN, TEMPORAL} <= ids


def test_simple_rules_fire_on_the_right_records(tmp_path):
    long_q = "a" * 45 + ".tunnel.test"
    db = make_store(tmp_path / "e.db",
                    http=[http(T0 + 1, "10.1.0.40", ua="sqlmap/1.7.2#stable (https://sqlmap.org)", uri="/?id=1"),
                          http(T0 + 2, "10.1.0.41", ua="Mozilla/5.0 (X11; Linux x86_64)"),
                          http(T0 + 3, "10.1.0.40", ua="SQLMAP/1.8", uri="/?id=2")],
                    dns=[dns(T0 + 4, "10.1.0.30", long_q), dns(T0 + 5, "10.1.0.31", "www.example.org")])
    alerts, errors = run(load_rules([RULES]), db)
    assert errors == []
    got = by_rule(alerts)
    assert set(got) == {SQLMAP, LONGDNS}
    (sq,) = got[SQLMAP]   # two matches from one source within the window: one alert
    assert sq["group"] == {"id.orig_h": "10.1.0.40"}
    assert [e["uri"] for e in sq["events"]] == ["/?id=1", "/?id=2"]   # contains is case-insensitive
    assert sq["events"][0]["_path"] == "http" and sq["events"][0]["ts"].endswith("Z")
    assert sq["raised_at"] == sq["first_event_at"] == sq["events"][0]["ts"]
    assert sq["level"] == "high" and sq["rule_title"] == "sqlmap user agent"
    (dq,) = got[LONGDNS]
    assert [e["query"] for e in dq["events"]] == [long_q]
    assert set(alerts[0]) == {"id", "rule_id", "rule_title", "level", "raised_at", "first_event_at",
                              "last_event_at", "group", "events"}


def test_chatty_rule_folds_into_one_alert_per_source_and_window(tmp_path):
    rows = [http(T0 + i, "10.1.0.40", ua="sqlmap/1.7") for i in range(0, 200, 2)]   # 100 over 200 s
    rows += [http(T0 + 1, "10.1.0.41", ua="sqlmap/1.7")]
    db = make_store(tmp_path / "e.db", http=rows)
    alerts, _ = run(load_rules([RULES], window=60), db)
    mine = [a for a in alerts if a["group"] == {"id.orig_h": "10.1.0.40"}]
    assert len(mine) == 4        # windows opening at 0, 62, 124, 186 s
    assert sum(len(a["events"]) for a in mine) == 100
    assert len([a for a in alerts if a["group"] == {"id.orig_h": "10.1.0.41"}]) == 1


def test_missing_field_is_absent_not_an_error(tmp_path):
    d = tmp_path / "rules"
    d.mkdir()
    write_rule(d, "m.yml", """
        title: missing field in a filter
        id: 11111111-0000-4000-8000-000000000001
        logsource: {category: proxy}
        detection:
            sel:
                c-useragent|contains: curl
            filter:
                no_such_field: x
            condition: sel and not filter
        level: low
        ---
        title: only a missing field
        id: 11111111-0000-4000-8000-000000000002
        logsource: {category: proxy}
        detection:
            sel:
                no_such_field|contains: curl
            condition: sel
        level: low
        ---
        title: missing field is null
        id: 11111111-0000-4000-8000-000000000003
        logsource: {category: proxy}
        detection:
            sel:
                c-useragent|contains: curl
                no_such_field: null
            condition: sel
        level: low
    """)
    db = make_store(tmp_path / "e.db", http=[http(T0, "10.1.0.7", ua="curl/8.5")])
    rs = load_rules([d])
    assert rs.errors == []
    assert {w["rule_id"] for w in rs.warnings} == {"11111111-0000-4000-8000-000000000001",
                                                  "11111111-0000-4000-8000-000000000002",
                                                  "11111111-0000-4000-8000-000000000003"}
    assert all("no_such_field" in w["message"] for w in rs.warnings)
    alerts, errors = run(rs, db)
    assert errors == []
    assert set(by_rule(alerts)) == {"11111111-0000-4000-8000-000000000001", "11111111-0000-4000-8000-000000000003"}


def test_keywords_search_every_text_field_and_own_categories(tmp_path):
    d = tmp_path / "rules"
    d.mkdir()
    write_rule(d, "k.yml", """
        title: keyword
        id: 22222222-0000-4000-8000-000000000001
        logsource: {category: proxy}
        detection:
            keywords:
                - '${jndi:ldap:/'
            condition: keywords
        level: high
        ---
        title: telnet root login
        id: 22222222-0000-4000-8000-000000000002
        logsource: {category: telnet}
        detection:
            sel:
                user: root
            condition: sel
        level: high
        ---
        title: arp reply from a sender on the zeek name
        id: 22222222-0000-4000-8000-000000000003
        logsource: {product: zeek, service: arp}
        detection:
            sel:
                operation: reply
                sender_ip: 10.1.0.1
            condition: sel
        level: high
    """)
    db = make_store(tmp_path / "e.db",
                    http=[http(T0, "10.1.0.9", ua="Mozilla/5.0 ${jndi:ldap://x.test/a}"), http(T0 + 1, "10.1.0.8")],
                    telnet=[{"ts": T0, "id.orig_h": "10.1.0.3", "id.resp_h": "10.1.0.4", "user": "ROOT"}],
                    arp=[{"ts": T0, "operation": "reply", "id.orig_h": "10.1.0.1", "id.resp_h": "10.1.0.66"},
                         {"ts": T0, "operation": "reply", "id.orig_h": "10.1.0.2", "id.resp_h": "10.1.0.66"}])
    alerts, errors = run(load_rules([d]), db)
    assert errors == []
    got = by_rule(alerts)
    assert [e["id.orig_h"] for e in got["22222222-0000-4000-8000-000000000001"][0]["events"]] == ["10.1.0.9"]
    assert len(got["22222222-0000-4000-8000-000000000002"]) == 1      # equality is case-insensitive
    assert [e["id.orig_h"] for e in got["22222222-0000-4000-8000-000000000003"][0]["events"]] == ["10.1.0.1"]


# ---- correlations ---------------------------------------------------------------------------------

def scan_store(path: Path, probes: int = 1000, seconds: float = 5.0) -> Path:
    rows = [conn(T0 + i * seconds / probes, "10.1.0.66", 1 + i) for i in range(probes)]
    rows += [conn(T0 + i * 0.5, "10.1.0.20", 443, state="SF") for i in range(200)]     # a busy benign host
    rows += [conn(T0 + i * 0.5, "10.1.0.21", 443, state="S0") for i in range(200)]     # retries, one port
    return make_store(path, conn=rows)


def test_port_scan_is_a_handful_of_alerts_not_one_per_probe(tmp_path):
    db = scan_store(tmp_path / "e.db", probes=1000, seconds=5.0)
    alerts, errors = run(load_rules([RULES]), db)
    assert errors == []
    got = by_rule(alerts)
    assert set(got) == {SCAN}            # the base rule (generate: false) raises nothing of its own
    (a,) = got[SCAN]
    assert a["group"] == {"id.orig_h": "10.1.0.66"}
    assert len(a["events"]) == 50
    assert a["first_event_at"] == a["events"][0]["ts"]
    # raised by the 20th distinct port, the event that crossed the threshold
    assert a["raised_at"] == a["events"][19]["ts"]
    assert a["last_event_at"] > a["raised_at"]


def test_slow_scan_gives_one_alert_per_window(tmp_path):
    db = scan_store(tmp_path / "e.db", probes=1000, seconds=100.0)   # 10 probes/s for 100 s
    alerts, _ = run(load_rules([RULES]), db)
    scans = by_rule(alerts)[SCAN]
    assert 5 <= len(scans) <= 10
    firsts = [a["first_event_at"] for a in scans]
    assert firsts == sorted(firsts) and len(set(firsts)) == len(firsts)


def test_temporal_ordered_correlation(tmp_path):
    long_q = "x" * 70 + ".stage.test"
    db = make_store(tmp_path / "e.db",
                    dns=[dns(T0, "10.1.0.30", long_q), dns(T0 + 1, "10.1.0.31", long_q),
                         dns(T0 + 500, "10.1.0.32", long_q)],
                    http=[http(T0 + 30, "10.1.0.30", ua="curl/8.5"),       # in order, in time: fires
                          http(T0 - 10, "10.1.0.31", ua="curl/8.5"),       # before the lookup: no
                          http(T0 + 800, "10.1.0.32", ua="curl/8.5")])     # too late: no
    alerts, errors = run(load_rules([RULES]), db)
    assert errors == []
    (a,) = by_rule(alerts)[TEMPORAL]
    assert a["group"] == {"id.orig_h": "10.1.0.30"}
    assert [e["_path"] for e in a["events"]] == ["dns", "http"]
    assert a["raised_at"] == a["events"][1]["ts"]


def test_temporal_unordered_with_aliases_and_legacy_count(tmp_path):
    d = tmp_path / "rules"
    d.mkdir()
    write_rule(d, "t.yml", """
        title: ssh login
        name: t_ssh
        id: 33333333-0000-4000-8000-000000000001
        logsource: {product: zeek, service: ssh}
        detection:
            sel: {auth_success: 1}
            condition: sel
        ---
        title: ftp retrieve
        name: t_ftp
        id: 33333333-0000-4000-8000-000000000002
        logsource: {product: zeek, service: ftp}
        detection:
            sel: {command: RETR}
            condition: sel
        ---
        title: ssh login and ftp download to the same server
        id: 33333333-0000-4000-8000-000000000003
        correlation:
            type: temporal
            rules: [t_ftp, t_ssh]
            aliases:
                server:
                    t_ssh: dst_ip
                    t_ftp: id.resp_h
            group-by: [server]
            timespan: 1m
        level: high
        ---
        title: many DNS requests (legacy aggregation)
        id: 33333333-0000-4000-8000-000000000004
        logsource: {category: dns}
        detection:
            selection:
                query: '*'
            timeframe: 1m
            condition: selection | count() by src_ip > 5
        level: medium
    """)
    srv = {"id.resp_h": "10.1.0.50", "id.orig_p": 1, "id.resp_p": 22}
    db = make_store(tmp_path / "e.db",
                    ssh=[{"ts": T0 + 20, "id.orig_h": "10.1.0.7", "auth_success": 1, **srv}],
                    ftp=[{"ts": T0, "id.orig_h": "10.1.0.8", "command": "RETR", **srv},
                         {"ts": T0 + 200, "id.orig_h": "10.1.0.8", "command": "RETR", "id.resp_h": "10.1.0.51"}],
                    dns=[dns(T0 + i, "10.1.0.9", f"h{i}.test") for i in range(6)] +
                        [dns(T0 + i * 30, "10.1.0.10", f"h{i}.test") for i in range(6)])
    rs = load_rules([d])
    assert rs.errors == []
    alerts, errors = run(rs, db)
    got = by_rule(alerts)
    (t,) = got["33333333-0000-4000-8000-000000000003"]
    assert t["group"] == {"id.resp_h": "10.1.0.50"}  # the stored name both aliases map to and [e["_path"] for e in t["events"]] == ["ftp", "ssh"]  # noqa: E501
    (c,) = got["33333333-0000-4000-8000-000000000004"]
    assert c["group"] == {"id.orig_h": "10.1.0.9"} and len(c["events"]) == 6


def test_incremental_polls_match_the_offline_run(tmp_path):
    rows = [conn(T0 + i * 0.01, "10.1.0.66", 1 + i) for i in range(300)]
    rows += [http(T0 + 100 + i, "10.1.0.40", ua="sqlmap/1.7") for i in range(5)]
    db = tmp_path / "e.db"
    s = EventStore(db)
    rs = load_rules([RULES])
    det = Detector(rs, db)
    seen: dict[str, dict] = {}
    for chunk in (rows[:10], rows[10:150], rows[150:302], rows[302:]):
        for r in chunk:
            s.add("http" if "user_agent" in r else "conn", [r])
        s.commit()
        for a in det.poll():
            seen[a["id"]] = a  # upsert by id
    assert det.poll() == []  # nothing new
    s.close()
    det.close()
    offline, _ = run(rs, db)
    assert sorted(seen) == sorted(a["id"] for a in offline)
    assert {k: len(v["events"]) for k, v in seen.items()} == {a["id"]: len(a["events"]) for a in offline}


def test_live_clock_stamps_raised_at(tmp_path):
    db = make_store(tmp_path / "e.db", http=[http(T0, "10.1.0.40", ua="sqlmap/1.7")])
    det = Detector(load_rules([RULES]), db)
    (a,) = det.poll(now=T0 + 7.5)
    assert a["raised_at"] == "2027-01-15T08:00:07.500000Z" and a["first_event_at"] == "2027-01-15T08:00:00.000000Z"
    det.close()


# ---- errors and safety -----------------------------------------------------------------------------


def test_bad_rules_are_reported_and_the_others_still_fire(tmp_path):
    d = tmp_path / "rules"
    d.mkdir()
    (d / "broken.yml").write_text("title: broken\ndetection: [unclosed\n  condition: x\n")
    write_rule(
        d,
        "unknown_source.yml",
        """
        title: windows thing
        id: 44444444-0000-4000-8000-000000000001
        logsource: {product: windows, category: process_creation}
        detection:
            sel: {Image: x.exe}
            condition: sel
    """,
    )
    write_rule(
        d,
        "redos.yml",
        """
        title: catastrophic regex
        id: 44444444-0000-4000-8000-000000000002
        logsource: {category: proxy}
        detection:
            sel:
                c-uri|re: '(a+)+$'
            condition: sel
        level: low
    """,
    )
    write_rule(
        d,
        "bad_ref.yml",
        """
        title: correlation on nothing
        id: 44444444-0000-4000-8000-000000000003
        correlation: {type: event_count, rules: [nope], timespan: 1m, condition: {gte: 2}}
    """,
    )
    db = make_store(tmp_path / "e.db", http=[http(T0, "10.1.0.40", ua="sqlmap/1.7", uri="/" + "a" * 30000 + "!")])
    rs = load_rules([d, RULES])
    errs = {Path(e["file"]).name: e for e in rs.errors}
    assert set(errs) == {"broken.yml", "unknown_source.yml", "bad_ref.yml"}
    assert "malformed YAML" in errs["broken.yml"]["message"] and "line" in errs["broken.yml"]["message"]
    assert errs["unknown_source.yml"]["rule_id"] == "44444444-0000-4000-8000-000000000001"
    assert "not mapped" in errs["unknown_source.yml"]["message"]
    assert "nope" in errs["bad_ref.yml"]["message"]
    alerts, errors = run(rs, db, regex_timeout=0.2)
    (redos,) = [e for e in errors if e["rule_id"] == "44444444-0000-4000-8000-000000000002"]
    assert redos["file"].endswith("redos.yml")
    assert "regular expression" in redos["message"] and "stopped" in redos["message"]
    assert set(by_rule(alerts)) == {SQLMAP}


def test_per_rule_time_limit_stops_a_rule(tmp_path):
    db = make_store(tmp_path / "e.db", http=[http(T0 + i * 0.001, "10.1.0.40", ua="Mozilla/5.0") for i in range(50000)])
    alerts, errors = run(load_rules([RULES]), db, rule_timeout=0.0)
    assert errors and all("time limit" in e["message"] for e in errors)
    assert alerts == []


def test_sql_breakout_values_match_literally_and_alter_nothing(tmp_path):
    evil = "' OR 1=1; DROP TABLE conn; --"
    d = tmp_path / "rules"
    d.mkdir()
    write_rule(
        d,
        "evil.yml",
        f"""
        title: literal quote
        id: 55555555-0000-4000-8000-000000000001
        logsource: {{category: proxy}}
        detection:
            sel:
                c-uri|contains: "{evil}"
            condition: sel
        ---
        title: literal quote, exact
        id: 55555555-0000-4000-8000-000000000002
        logsource: {{category: proxy}}
        detection:
            sel:
                cs-method: "{evil}"
            condition: sel
        ---
        title: literal quote in a regex
        id: 55555555-0000-4000-8000-000000000003
        logsource: {{category: dns}}
        detection:
            sel:
                query|re: "DROP TABLE conn; --$"
            condition: sel
    """,
    )
    db = make_store(
        tmp_path / "e.db",
        http=[
            http(T0, "10.1.0.1", uri="/item?id=1" + evil),
            http(T0 + 1, "10.1.0.2", uri="/item?id=1"),
            http(T0 + 2, "10.1.0.3", method=evil),
        ],
        dns=[dns(T0, "10.1.0.4", "x" + evil)],
        conn=[conn(T0, "10.1.0.5", 80)],
    )
    before = sha(db)
    alerts, errors = run(load_rules([d]), db)
    assert errors == []
    got = {k: [e["id.orig_h"] for a in v for e in a["events"]] for k, v in by_rule(alerts).items()}
    assert got == {
        "55555555-0000-4000-8000-000000000001": ["10.1.0.1"],
        "55555555-0000-4000-8000-000000000002": ["10.1.0.3"],
        "55555555-0000-4000-8000-000000000003": ["10.1.0.4"],
    }
    assert sha(db) == before


def test_reruns_give_identical_files(tmp_path):
    db = scan_store(tmp_path / "e.db", probes=300, seconds=30.0)
    outs = []
    for i in range(2):
        out = tmp_path / f"a{i}.json"
        r = cli("detect", "--rules", str(RULES), "--db", str(db), "--out", str(out))
        assert r.returncode == 0, r.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    data = json.loads(outs[0])
    assert set(data) == {"alerts", "errors"} and data["alerts"]


# ---- the command line ---------------------------------------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess:
    return run_cli(*args)


def test_cli_ok_writes_alerts_and_errors(tmp_path):
    d = tmp_path / "rules"
    d.mkdir()
    (d / "bad.yaml").write_text("title: [\n")
    db = make_store(tmp_path / "e.db", http=[http(T0, "10.1.0.40", ua="sqlmap/1.7")])
    out = tmp_path / "alerts.json"
    r = cli("detect", "--rules", str(RULES), "--rules", str(d), "--db", str(db), "--out", str(out))
    assert r.returncode == 0, r.stderr
    data = json.loads(out.read_text())
    assert [a["rule_id"] for a in data["alerts"]] == [SQLMAP]
    assert [Path(e["file"]).name for e in data["errors"]] == ["bad.yaml"]
    assert "bad.yaml" in r.stderr


@pytest.mark.parametrize("what", ["db_missing", "db_not_sqlite", "rules_missing"])
def test_cli_exit_2_on_bad_paths(tmp_path, what):
    db = make_store(tmp_path / "e.db", http=[])
    junk = tmp_path / "junk.db"
    junk.write_text("this is not a database, it is plain text that goes on for a while " * 20)
    args = {
        "db_missing": ["--rules", str(RULES), "--db", str(tmp_path / "nope.db")],
        "db_not_sqlite": ["--rules", str(RULES), "--db", str(junk)],
        "rules_missing": ["--rules", str(tmp_path / "no_rules_here"), "--db", str(db)],
    }[what]
    r = cli("detect", *args, "--out", str(tmp_path / "o.json"))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    bad = {"db_missing": "nope.db", "db_not_sqlite": "junk.db", "rules_missing": "no_rules_here"}[what]
    assert f"{bad}: " in r.stderr
    assert not (tmp_path / "o.json").exists()


def test_sigma_modifiers_and_null_fields_under_not(tmp_path):
    d = tmp_path / "rules"
    d.mkdir()
    rules = {
        "not_null": "sel: {cs-method: GET}\n            filter: {cs-referrer|contains: evil}\n"
        "            condition: sel and not filter",
        "re_i": "sel: {c-useragent|re|i: '^curl/[0-9]+'}\n            condition: sel",
        "cased": "sel: {c-useragent|cased: 'Curl/8.5'}\n            condition: sel",
        "exists": "sel: {cs-cookie|exists: true}\n            condition: sel",
        "fieldref": "sel: {cs-host|fieldref: c-ip}\n            condition: sel",
        "cidr_cmp": "sel: {dst_ip|cidr: '192.0.2.0/24', sc-status|gte: 500}\n            condition: sel",
        "uri_ext": "sel: {c-uri-extension: exe}\n            condition: sel",
    }
    for i, (name, det) in enumerate(rules.items()):
        write_rule(
            d,
            f"{name}.yml",
            f"""
        title: {name}
        id: 66666666-0000-4000-8000-00000000000{i}
        logsource: {{category: proxy}}
        detection:
            {det}
        """,
        )
    db = make_store(
        tmp_path / "e.db",
        http=[
            http(T0, "10.1.0.1", ua="curl/8.5"),  # no referrer at all
            http(T0 + 1, "10.1.0.2", ua="Curl/8.5", referrer="http://evil.test/"),
            http(T0 + 2, "10.1.0.3", cookie="s=1", uri="/dl/Setup.EXE?x=1"),
            http(T0 + 3, "10.1.0.4", host="10.1.0.4"),
            {**http(T0 + 4, "10.1.0.5"), "id.resp_h": "192.0.2.9", "status_code": 503},
            {**http(T0 + 5, "10.1.0.6"), "id.resp_h": "192.0.2.9", "status_code": 200},
        ],
    )
    rs = load_rules([d])
    assert rs.errors == [] and rs.warnings == []
    alerts, errors = run(rs, db)
    assert errors == []
    got: dict[str, list[str]] = {}
    for a in alerts:  # one alert per source: gather them per rule
        got.setdefault(a["rule_title"], []).extend(e["id.orig_h"] for e in a["events"])
    got = {k: sorted(v) for k, v in got.items()}
    assert got["not_null"] == ["10.1.0.1", "10.1.0.3", "10.1.0.4", "10.1.0.5", "10.1.0.6"]
    assert got["re_i"] == ["10.1.0.1", "10.1.0.2"]
    assert got["cased"] == ["10.1.0.2"]
    assert got["exists"] == ["10.1.0.3"]
    assert got["fieldref"] == ["10.1.0.4"]
    assert got["cidr_cmp"] == ["10.1.0.5"]
    assert got["uri_ext"] == ["10.1.0.3"]


def test_closing_conditions_value_sum_and_the_live_clock(tmp_path):
    d = tmp_path / "rules"
    d.mkdir()
    write_rule(
        d,
        "c.yml",
        """
        title: ssh session
        name: c_ssh
        id: 77777777-0000-4000-8000-000000000001
        logsource: {product: zeek, service: ssh}
        detection:
            sel: {dst_port: 22}
            condition: sel
        ---
        title: at most two ssh sessions in a minute (closing window)
        id: 77777777-0000-4000-8000-000000000002
        correlation: {type: event_count, rules: [c_ssh], group-by: [src_ip], timespan: 1m, condition: {lte: 2}}
        ---
        title: outbound connection
        name: c_out
        id: 77777777-0000-4000-8000-000000000003
        logsource: {category: firewall}
        detection:
            sel: {proto: tcp}
            condition: sel
        ---
        title: 1000 bytes or more out in a minute
        id: 77777777-0000-4000-8000-000000000004
        correlation:
            type: value_sum
            rules: [c_out]
            group-by: [src_ip]
            timespan: 1m
            condition: {gte: 1000, field: src_bytes}
    """,
    )
    ssh = lambda ts, src: {"ts": ts, "id.orig_h": src, "id.orig_p": 1, "id.resp_h": "10.1.0.9", "id.resp_p": 22}  # noqa: E731
    db = make_store(
        tmp_path / "e.db",
        ssh=[ssh(T0, "10.1.0.1"), ssh(T0 + 5, "10.1.0.1")] + [ssh(T0 + i, "10.1.0.2") for i in range(5)],
        conn=[conn(T0 + i, "10.1.0.3", 443, state="SF", orig_bytes=300) for i in range(4)]
        + [conn(T0 + i, "10.1.0.4", 443, state="SF", orig_bytes=300) for i in range(0, 400, 100)],
    )
    rs = load_rules([d])
    assert rs.errors == []
    with Detector(rs, db) as det:
        first = by_rule(det.poll(now=T0 + 30))
        assert "77777777-0000-4000-8000-000000000002" not in first  # window still open
        (s,) = first["77777777-0000-4000-8000-000000000004"]
        assert s["group"] == {"id.orig_h": "10.1.0.3"} and len(s["events"]) == 4
        later = by_rule(det.poll(now=T0 + 61))
        (c,) = later["77777777-0000-4000-8000-000000000002"]
        assert c["group"] == {"id.orig_h": "10.1.0.1"} and len(c["events"]) == 2
        assert c["raised_at"] == "2027-01-15T08:01:01.000000Z"  # the live clock


def test_pipeline_works_with_sigma_cli(tmp_path):
    sigma = Path(sys.executable).parent / "sigma"
    linux = write_rule(tmp_path, "linux.yml", """
        title: shadow read
        logsource: {product: linux, category: process_creation}
        detection: {sel: {CommandLine|contains: /etc/shadow}, condition: sel}
        ---
        title: sudo to root
        logsource: {product: linux, service: sudo}
        detection: {sel: {USER: root}, condition: sel}
    """)
    r = subprocess.run(
        [
            str(sigma),
            "convert",
            "-t",
            "sqlite",
            "-p",
            str(ROOT / "detections" / "pipeline.yml"),
            str(RULES / "http_sqlmap_user_agent.yml"),
            str(RULES / "dns_long_query.yml"),
            str(linux),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert "SELECT * FROM http WHERE user_agent LIKE '%sqlmap%'" in r.stdout
    assert "SELECT * FROM dns WHERE query REGEXP" in r.stdout
    assert "SELECT * FROM process_creation WHERE CommandLine LIKE '%/etc/shadow%'" in r.stdout
    assert "SELECT * FROM syslog WHERE program='sudo' AND USER='root'" in r.stdout


# ---- host logs ----------------------------------------------------------------------------------

def test_linux_log_sources_read_the_host_tables(tmp_path):
    """Sigma's Linux log sources map onto the host tables; a service's rules read its own lines only;
    keywords search syslog's message; a simple rule's alerts are grouped by the node that logged."""
    d = tmp_path / "rules"
    d.mkdir()
    write_rule(d, "host.yml", """
        title: www-data runs a shell
        id: 44444444-0000-4000-8000-000000000001
        logsource: {product: linux, category: process_creation}
        detection:
          sel: {User: www-data, Image|endswith: [/sh, /bash, /dash]}
          condition: sel
        ---
        title: guessed passwords (sshd)
        id: 44444444-0000-4000-8000-000000000002
        logsource: {product: linux, service: sshd}
        detection: {keywords: ['Failed password'], condition: keywords}
        ---
        title: guessed passwords (auth)
        id: 44444444-0000-4000-8000-000000000003
        logsource: {product: linux, service: auth}
        detection: {keywords: ['Failed password'], condition: keywords}
        ---
        title: sudo to root
        id: 44444444-0000-4000-8000-000000000004
        logsource: {product: linux, service: sudo}
        detection: {sel: {USER: root, COMMAND|contains: /bin/}, condition: sel}
        ---
        title: shell history reads
        id: 44444444-0000-4000-8000-000000000005
        logsource: {product: linux}
        detection: {keywords: ['.bash_history'], condition: keywords}
        ---
        title: shadow read (auditd)
        id: 44444444-0000-4000-8000-000000000006
        logsource: {product: linux, service: auditd}
        detection:
          sel: {type: PATH, name: /etc/shadow}
          condition: sel
        ---
        title: cron entry written
        id: 44444444-0000-4000-8000-000000000007
        logsource: {product: linux, category: file_event}
        detection: {sel: {TargetFilename|startswith: /var/spool/cron/}, condition: sel}
        ---
        title: outbound to 4444
        id: 44444444-0000-4000-8000-000000000008
        logsource: {product: linux, category: network_connection}
        detection: {sel: {Initiated: 'true', dst_port: 4444}, condition: sel}
        ---
        title: a linux category the range does not record
        id: 44444444-0000-4000-8000-000000000009
        logsource: {product: linux, category: file_access}
        detection: {sel: {TargetFilename: /etc/shadow}, condition: sel}
        ---
        title: a linux service the range does not record
        id: 44444444-0000-4000-8000-00000000000a
        logsource: {product: linux, service: mysql}
        detection: {keywords: [x], condition: keywords}
    """)
    proc = lambda ts, host, image, user="www-data": {  # noqa: E731
        "ts": ts, "host": host, "Image": image, "CommandLine": image.rsplit("/", 1)[1], "User": user}
    line = lambda ts, host, program, message, facility="auth", **kw: {  # noqa: E731
        "ts": ts, "host": host, "facility": facility, "program": program, "message": message, **kw}
    db = make_store(
        tmp_path / "e.db",
        process_creation=[proc(T0, "portal", "/usr/bin/dash"), proc(T0 + 1, "portal", "/usr/bin/bash"),
                          proc(T0 + 2, "mail", "/usr/bin/dash"), proc(T0 + 3, "files", "/usr/bin/bash", "alice")],
        syslog=[line(T0, "files", "sshd", "Failed password for root from 203.0.113.9 port 40022 ssh2"),
                line(T0 + 1, "files", "sshd", "Failed password for admin from 203.0.113.9 port 40024 ssh2",
                     facility="authpriv"),
                line(T0 + 2, "files", "login", "FAILED LOGIN (1) on '/dev/tty1' FOR 'root', Failed password"),
                line(T0 + 3, "files", "cron", "(root) CMD (echo Failed password)", facility="cron"),
                line(T0 + 4, "files", "sudo", "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash",
                     facility="authpriv", USER="root", TTY="pts/0", PWD="/home/alice", COMMAND="/bin/bash"),
                line(T0 + 5, "portal", "bash", "HISTORY: cat ~/.bash_history", facility="user")],
        auditd=[{"ts": T0, "host": "files", "serial": 7, "type": "SYSCALL", "SYSCALL": "openat", "exe": "/usr/bin/cat"},
                {"ts": T0, "host": "files", "serial": 7, "type": "PATH", "name": "/etc/shadow", "nametype": "NORMAL"}],
        file_event=[{"ts": T0, "host": "portal", "Image": "/usr/bin/crontab",
                     "TargetFilename": "/var/spool/cron/crontabs/www-data"}],
        network_connection=[{"ts": T0, "host": "portal", "Image": "/usr/bin/bash", "Initiated": "true",
                             "DestinationIp": "203.0.113.9", "DestinationPort": 4444},
                            {"ts": T0 + 1, "host": "portal", "Image": "/usr/sbin/nginx", "Initiated": "false",
                             "DestinationIp": "10.1.1.5", "DestinationPort": 4444}],
    )
    rs = load_rules([d])
    assert {e["rule_id"]: e["message"].split(" is ")[1][:10] for e in rs.errors} == {
        "44444444-0000-4000-8000-000000000009": "not mapped", "44444444-0000-4000-8000-00000000000a": "not mapped"}
    assert rs.warnings == []
    assert {r.title: r.table for r in rs.rules.values()} == {
        "www-data runs a shell": "process_creation", "guessed passwords (sshd)": "syslog",
        "guessed passwords (auth)": "syslog", "sudo to root": "syslog", "shell history reads": "syslog",
        "shadow read (auditd)": "auditd", "cron entry written": "file_event", "outbound to 4444": "network_connection"}
    alerts, errors = run(rs, db)
    assert errors == rs.errors
    got = by_rule(alerts)
    shells = got["44444444-0000-4000-8000-000000000001"]   # one alert per node, not one for the range
    assert sorted((a["group"]["host"], len(a["events"])) for a in shells) == [("mail", 1), ("portal", 2)]
    assert all(e["_path"] == "process_creation" and "uid" not in e for a in shells for e in a["events"])
    (sshd,) = got["44444444-0000-4000-8000-000000000002"]   # sshd's lines only: not login's, not cron's
    assert [e["message"][:21] for e in sshd["events"]] == ["Failed password for r", "Failed password for a"]
    (auth,) = got["44444444-0000-4000-8000-000000000003"]   # the auth facilities: sshd's and login's lines
    assert [e["program"] for e in auth["events"]] == ["sshd", "sshd", "login"]
    (sudo,) = got["44444444-0000-4000-8000-000000000004"]
    assert sudo["events"][0]["COMMAND"] == "/bin/bash"
    (hist,) = got["44444444-0000-4000-8000-000000000005"]
    assert hist["group"] == {"host": "portal"}
    assert [e["name"] for a in got["44444444-0000-4000-8000-000000000006"] for e in a["events"]] == ["/etc/shadow"]
    assert len(got["44444444-0000-4000-8000-000000000007"]) == 1
    (out,) = got["44444444-0000-4000-8000-000000000008"]   # dst_port is DestinationPort here
    assert [e["Image"] for e in out["events"]] == ["/usr/bin/bash"]
