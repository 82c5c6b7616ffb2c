"""Host records end to end, offline: the replay writes what the nodes log beside the capture,
ingest stores it with the packets' events, rules on host logs detect the steps that left them
(the web shell's www-data commands, sshd's refused passwords) with no false positive on the
nodes' benign activity, truth and scoring count them, and an offline session delivers them on
its clock like the packets' events."""
from __future__ import annotations

import json
import sqlite3
from collections import Counter

import pytest

from range.core import TeamDir
from range.detect import load_rules, run
from range.events import HOST_TABLES, ingest, read_host_log
from range.exercise import TeamSpec, run_offline
from range.scenario import catalog, load_scenario
from range.scoring import Truth, event_in_step, event_key, score
from range.sessions.feed_offline import OfflineFeed
from tests.conftest import ROOT
from tests.helpers import one_step

RULES = ROOT / "detections" / "rules"
HOST_RULES = [RULES / "lnx_webshell_recon.yml", RULES / "lnx_sshd_bruteforce.yml"]
SHELL_RECON = "d952242d-95f6-4faf-9c7b-4ab434c820fc"
SSHD_FAILED = "62e437a4-8626-468b-a37c-557ebf9b5bdc"
HOST_STEPS = {"webshell": SHELL_RECON, "bruteforce": SSHD_FAILED}


@pytest.fixture(scope="module")
def exercise(tmp_path_factory):
    """ministry-breach offline, as ``cyberrange exercise run --offline`` plays it: one team with
    the host rules alone, one with every reference rule."""
    out = tmp_path_factory.mktemp("exercise")
    scn = load_scenario(catalog().path_of("scenario", "ministry-breach"))
    results = run_offline(scn, [TeamSpec("albania", HOST_RULES), TeamSpec("serbia", [RULES])], out, seed=4)
    return out, results


def _score(out, team: str) -> dict:
    return json.loads((out / team / "score.json").read_text())


def test_the_exercise_stores_every_host_record(exercise):
    out, _ = exercise
    for team in ("albania", "serbia"):
        d = TeamDir(out / team)
        written = Counter(t for t, _ in read_host_log(d.host_log))
        assert set(written) == set(HOST_TABLES)
        db = sqlite3.connect(d.events)
        stored = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in HOST_TABLES}
        assert stored == dict(written)
        # delivered at their own time, and none on the intruder's laptop
        assert all(db.execute(f"SELECT count(*) FROM {t} WHERE _seen != ts").fetchone()[0] == 0 for t in HOST_TABLES)
        assert db.execute("SELECT count(*) FROM process_creation WHERE host = 'attacker'").fetchone()[0] == 0
        programs = {r[0] for r in db.execute("SELECT DISTINCT program FROM syslog")}
        assert {"sshd", "sudo", "CRON"} <= programs


def test_host_rules_detect_the_host_steps_without_a_false_positive(exercise):
    out, _ = exercise
    s = _score(out, "albania")
    detected = {st["id"]: st["rules"] for st in s["steps"] if st["detected"]}
    assert detected == {step: [rule] for step, rule in HOST_STEPS.items()}
    assert s["false_positives"] == 0 and s["precision"] == 1.0 and s["recall"] == 0.25
    alerts = json.loads((out / "albania" / "alerts.json").read_text())["alerts"]
    assert {a["rule_id"] for a in alerts} == set(HOST_STEPS.values())
    assert all(ev["_path"] in HOST_TABLES for a in alerts for ev in a["events"])


def test_truth_holds_host_evidence_and_scoring_counts_it(exercise):
    out, _ = exercise
    truth = Truth.read(out / "serbia" / "truth.json")
    steps = {s.id: s for s in truth.steps}
    shell, brute, sqli = steps["webshell"], steps["bruteforce"], steps["sqli"]
    assert shell.host_records > 0 and {(e["host"], e["table"]) for e in shell.host} >= {
        ("web", "process_creation"), ("web", "auditd"), ("web", "file_event"), ("web", "webserver")}
    assert brute.host_records > 0 and ("files", "syslog") in {(e["host"], e["table"]) for e in brute.host}
    assert sqli.host_records > 0 and {(e["host"], e["table"]) for e in sqli.host} == {("web", "webserver")}
    assert all(not s.host for s in truth.steps if s.id not in {*HOST_STEPS, "sqli"})   # nginx logs sqlmap too
    # every host record is its step's, or nobody's: the evidence names no benign record
    owned = Counter()
    for table, rec in read_host_log(TeamDir(out / "serbia").host_log):
        key = event_key({**rec, "_path": table})
        owners = [s.id for s in truth.steps if event_in_step(key, s)]
        assert len(owners) <= 1
        owned.update(owners)
    assert owned == {"webshell": shell.host_records, "bruteforce": brute.host_records, "sqli": sqli.host_records}
    s = _score(out, "serbia")
    assert s["recall"] == 1.0 and s["precision"] == 1.0 and s["false_positives"] == 0
    rules = {st["id"]: set(st["rules"]) for st in s["steps"]}
    assert all(rule in rules[step] for step, rule in HOST_STEPS.items())


def test_a_careless_host_rule_pays_for_the_benign_activity(exercise, tmp_path):
    """"Any process of the web server's user" also catches PHP's mail() of the contact form."""
    out, _ = exercise
    rule = tmp_path / "www_data.yml"
    rule.write_text("title: any process of www-data\nid: 0b3a1c55-8f0e-4a59-9d47-51a2d6c0e7a1\nstatus: test\n"
                    "logsource: {product: linux, category: process_creation}\n"
                    "detection: {sel: {User: www-data}, condition: sel}\nlevel: low\n")
    alerts, errors = run(load_rules([rule]), out / "serbia" / "events.db")
    assert errors == []
    s = score(Truth.read(out / "serbia" / "truth.json"), alerts)
    assert [st["id"] for st in s["steps"] if st["detected"]] == ["webshell"]
    assert s["false_positives"] >= 1 and s["precision"] < 1.0


def test_ingest_refuses_a_malformed_host_log(tmp_path):
    from range.core import InputError
    res, _, out = one_step(tmp_path, "syn_scan", "attacker", ["web"], {"ports": "80"}, duration="2m")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"_path": "syslog", "ts": 1.5, "host": "web", "message": "ok"}\n'
                   '{"_path": "syslog", "ts": 2.5, "host": "web", "uid": "C1"}\n')
    with pytest.raises(InputError) as e:
        ingest(res.pcap, out / "events.db", host_log=bad)
    assert e.value.line == 2 and "syslog has no field uid" in e.value.message
    assert not (out / "events.db").exists()


def test_an_offline_session_delivers_host_records_on_its_clock(tmp_path):
    res, scn, _ = one_step(tmp_path, "webshell", "attacker", ["web"], {}, benign={"host": {"rate": 0.2}},
                           duration="4m", at=20)
    d = TeamDir(tmp_path / "session" / "blue").make()
    feed = OfflineFeed("s1", {"blue": d}, store=None)
    start = scn.start.timestamp()
    feed.prepare(scn, lambda team: 1, start, lambda m: None)
    records = read_host_log(d.host_log)
    assert records and d.source.exists()

    def delivered() -> int:
        db = sqlite3.connect(d.events)
        try:
            return sum(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in HOST_TABLES)
        finally:
            db.close()

    mid = start + 60
    feed.advance(mid)
    assert delivered() == sum(1 for _, r in records if r["ts"] <= mid)
    db = sqlite3.connect(d.events)
    assert all(db.execute(f"SELECT count(*) FROM {t} WHERE ts > ?", (mid,)).fetchone()[0] == 0 for t in HOST_TABLES)
    db.close()
    feed.advance(start + scn.spec.duration + 5)
    assert delivered() == len(records)
