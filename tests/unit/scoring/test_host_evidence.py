"""Truth and scoring of host records: a step's host evidence (node, table, window, process ids)
names its records and none of anything else's, so that an alert on host logs detects a step like
an alert on traffic, and an alert on benign host activity is a false positive."""
from __future__ import annotations

from range.core import iso
from range.scoring import HOST_ID, StepTruth, Truth, compact_host, event_in_step, event_key, host_key
from range.scoring import score as score_of
from range.scoring.truth import SLACK

T0 = 1_800_000_000.0


def proc(t: float, pid: int, node: str = "web", cmd: str = "id") -> dict:
    return {"_path": "process_creation", "ts": iso(T0 + t), "host": node, "ProcessId": pid, "CommandLine": cmd,
            "User": "www-data"}


def sshd(t: float, pid: int, node: str = "files") -> dict:
    return {"_path": "syslog", "ts": iso(T0 + t), "host": node, "program": "sshd", "pid": pid,
            "message": "Failed password for root from 10.0.0.9 port 40000 ssh2"}


def key(ev: dict) -> tuple:
    table = ev["_path"]
    return host_key(table, {**ev, "ts": event_key(ev)[0]})


STEP = StepTruth("webshell", "webshell", "T1505.003", "persistence", 200, T0 + 10, T0 + 40, 100,
                 [{"src": "10.0.0.9", "dst": "10.0.0.5", "proto": "tcp", "dport": 80}], "",
                 compact_host([key(proc(12, 500)), key(proc(12.001, 501)), key(proc(30, 510))], []), 3)


def test_host_id_names_every_host_table():
    from range.events import HOST_TABLES
    assert set(HOST_ID) == set(HOST_TABLES)


def test_a_host_record_belongs_to_the_step_whose_evidence_names_it():
    (ev,) = STEP.host
    assert (ev["host"], ev["table"], ev["pids"]) == ("web", "process_creation", [500, 501, 510])
    assert event_in_step(event_key(proc(12, 500)), STEP) and event_in_step(event_key(proc(30, 510)), STEP)
    assert event_in_step(event_key(proc(12 - SLACK / 2, 500)), STEP)
    assert not event_in_step(event_key(proc(12, 502)), STEP)  # another process
    assert not event_in_step(event_key(proc(31, 510)), STEP)  # after its window
    assert not event_in_step(event_key(proc(12, 500, node="files")), STEP)  # another node
    assert not event_in_step(event_key({**proc(12, 500), "_path": "file_event"}), STEP)  # another table
    # and no network flow of the step makes a host record its own, nor the other way round
    assert not event_in_step(event_key({**proc(12, 500), "id.orig_h": "10.0.0.9"}), StepTruth(
        "x", "x", "T1", "t", 1, T0, T0 + 60, 1, STEP.flows))


def test_evidence_is_split_where_a_benign_record_shares_a_process_id():
    mine = [key(sshd(10, 700)), key(sshd(12, 701)), key(sshd(14, 700)), key(sshd(20, 702))]
    benign = [key(sshd(13, 701)), key(sshd(100, 700)), key(sshd(12, 700, node="web"))]
    ev = compact_host(mine, benign)
    step = StepTruth("b", "ssh_bruteforce", "T1110.001", "credential-access", 1, T0, T0 + 30, 1, [], "", ev, 4)
    assert all(event_in_step(event_key(sshd(t, p)), step) for t, p in ((10, 700), (12, 701), (14, 700), (20, 702)))
    assert not any(event_in_step(k, step) for k in (event_key(sshd(13, 701)), event_key(sshd(12, 700, "web"))))
    assert len(ev) == 3  # pid 701 stands alone (a benign line shares it inside the window); 700 and 702 do not
    # no clash: one entry per node and table
    assert len(compact_host(mine, [key(sshd(100, 700))])) == 1


def test_truth_file_keeps_host_evidence(tmp_path):
    t = Truth("s", 1, "blue", [STEP], start=T0, end=T0 + 600)
    t.write(tmp_path / "truth.json")
    back = Truth.read(tmp_path / "truth.json")
    assert back.steps[0].host == STEP.host and back.steps[0].host_records == 3
    old = tmp_path / "old.json"  # a truth written before host records: no host evidence
    data = t.to_json()
    for s in data["steps"]:
        del s["host"], s["host_records"]
    import json
    old.write_text(json.dumps(data))
    assert Truth.read(old).steps[0].host == []


def test_an_alert_on_host_records_detects_the_step_and_one_on_benign_host_records_is_a_false_positive():
    truth = Truth("s", 1, "blue", [STEP], start=T0, end=T0 + 600)
    hit = {"id": "a1", "rule_id": "recon", "raised_at": iso(T0 + 12.5), "events": [proc(12.001, 501, cmd="uname -a")]}
    benign = {"id": "a2", "rule_id": "recon", "raised_at": iso(T0 + 400),
              "events": [proc(400, 900, cmd="sh -c /usr/sbin/sendmail -t -i")]}
    s = score_of(truth, [hit, benign])
    (step,) = s["steps"]
    assert step["detected"] and step["rules"] == ["recon"] and step["ttd_seconds"] == 2.5
    assert s["false_positives"] == 1 and s["precision"] == 0.5
    missed = score_of(truth, [benign])["ledger"][0]["reason"]
    assert "traffic or host records" in missed
