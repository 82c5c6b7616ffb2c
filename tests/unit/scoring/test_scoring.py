"""Scoring model: detected steps, TTD and decay, false positives per rule and window, ledger."""
import json

import pytest

from range.core import iso
from range.scoring import Adjustment, StepTruth, Truth, decay, score
from tests.helpers import run_cli

T0 = 1_800_000_000.0


def truth():
    return Truth("s", 1, "blue", [
        StepTruth("recon", "syn_scan", "T1046", "discovery", 100, T0 + 10, T0 + 13, 400,
                  [{"src": "10.0.0.66", "dst": "10.0.0.10", "proto": "tcp"}]),
        StepTruth("exfil", "dns_tunnel_exfil", "T1048.003", "exfiltration", 200, T0 + 100, T0 + 160, 300,
                  [{"src": "10.0.0.20", "dst": "10.0.0.53", "proto": "udp", "dport": 53, "sport": 40001}]),
        StepTruth("mitm", "arp_spoof", "T1557.002", "collection", 50, T0 + 200, T0 + 260, 30,
                  [{"src": "10.0.0.1", "dst": "10.0.0.20", "proto": "arp", "src_mac": "02:00:00:00:00:66"}]),
    ], start=T0, end=T0 + 600, scoring={"grace": 60, "decay": 600, "floor": 0.25, "fp_penalty": 10, "fp_window": 300})


def alert(aid, rule, raised, *events):
    return {
        "id": aid,
        "rule_id": rule,
        "rule_title": rule.upper(),
        "raised_at": iso(T0 + raised),
        "events": list(events),
    }


def conn(t, src, dst, dport, sport=50000, proto="tcp"):
    return {
        "_path": "conn",
        "ts": iso(T0 + t),
        "id.orig_h": src,
        "id.orig_p": sport,
        "id.resp_h": dst,
        "id.resp_p": dport,
        "proto": proto,
    }


def test_decay_shape():
    assert decay(30, 60, 600, 0.25) == 1.0
    assert decay(360, 60, 600, 0.25) == pytest.approx(0.625)
    assert decay(10_000, 60, 600, 0.25) == 0.25


def test_detection_ttd_fp_and_ledger():
    alerts = [
        alert("a1", "scan", 12.5, conn(11, "10.0.0.66", "10.0.0.10", 22)),
        alert("a2", "scan", 14.0, conn(12, "10.0.0.66", "10.0.0.10", 80)),
        # the tunnel: only the query with the tunnel's source port is the step's
        alert(
            "a3",
            "dns-long",
            400.0,
            {
                "_path": "dns",
                "ts": iso(T0 + 120),
                "id.orig_h": "10.0.0.20",
                "id.orig_p": 40001,
                "id.resp_h": "10.0.0.53",
                "id.resp_p": 53,
                "proto": "udp",
            },
        ),
        alert(
            "b1",
            "dns-long",
            130.0,
            {
                "_path": "dns",
                "ts": iso(T0 + 129),
                "id.orig_h": "10.0.0.20",
                "id.orig_p": 40777,
                "id.resp_h": "10.0.0.53",
                "id.resp_p": 53,
                "proto": "udp",
            },
        ),
        alert("b2", "dns-long", 140.0, conn(139, "10.0.0.21", "10.0.0.53", 53, proto="udp")),
        alert("b3", "any-post", 350.0, conn(349, "10.0.0.21", "10.0.0.10", 80)),
    ]
    s = score(truth(), alerts)
    steps = {x["id"]: x for x in s["steps"]}
    assert steps["recon"] == {"id": "recon", "detected": True, "ttd_seconds": 2.5, "points": 100.0, "rules": ["scan"]}
    assert steps["exfil"]["detected"] and steps["exfil"]["ttd_seconds"] == 300.0
    assert steps["exfil"]["points"] == pytest.approx(200 * (1 - 0.75 * 240 / 600), abs=0.01)
    assert not steps["mitm"]["detected"]
    # b1 and b2: same rule, same 300 s window -> one false positive; b3 another rule -> another
    assert s["false_positives"] == 2
    assert s["precision"] == pytest.approx(3 / 6, abs=1e-4)
    assert s["recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert s["mttd_seconds"] == pytest.approx((2.5 + 300) / 2, abs=1e-3)
    assert s["score"] == pytest.approx(sum(e["points"] for e in s["ledger"]))
    assert s["score"] == pytest.approx(100 + 140 - 20, abs=0.01)
    fp = [e for e in s["ledger"] if e["points"] < 0]
    assert {e["rule_id"] for e in fp} == {"dns-long", "any-post"} and all("false positive" in e["reason"] for e in fp)
    hit = next(e for e in s["ledger"] if e["step"] == "recon")
    assert hit["alert_id"] == "a1" and hit["evidence"]["id.resp_p"] == 22 and "2.5 s after" in hit["reason"]


def test_arp_and_retro_hunt_and_adjustment():
    ev = {
        "_path": "arp",
        "ts": iso(T0 + 230),
        "id.orig_h": "10.0.0.1",
        "id.resp_h": "10.0.0.20",
        "src_mac": "02:00:00:00:00:66",
        "operation": "reply",
    }
    benign_arp = dict(ev, src_mac="02:00:00:00:00:01")
    s = score(
        truth(),
        [alert("r1", "arp", 5000, ev), alert("r2", "arp", 235, benign_arp)],
        [Adjustment(-20, "hint bought for step mitm", "mitm")],
    )
    mitm = next(x for x in s["steps"] if x["id"] == "mitm")
    assert mitm["detected"] and mitm["ttd_seconds"] == 4800 and mitm["points"] == pytest.approx(12.5)
    assert s["false_positives"] == 1
    assert s["score"] == pytest.approx(12.5 - 10 - 20)


def test_no_alerts():
    s = score(truth(), [])
    assert s["score"] == 0 and s["recall"] == 0 and s["precision"] is None and s["mttd_seconds"] is None
    assert [e["reason"].startswith("missed step") for e in s["ledger"]] == [True, True, True]


def test_cli_and_bad_alerts_file(tmp_path):
    t = tmp_path / "truth.json"
    truth().write(t)
    good = tmp_path / "alerts.json"
    good.write_text(
        json.dumps({"alerts": [alert("a1", "scan", 12.5, conn(11, "10.0.0.66", "10.0.0.10", 22))], "errors": []})
    )
    out = tmp_path / "score.json"
    r = run_cli("score", "--truth", t, "--alerts", good, "--out", out)
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["score"] == 100.0
    bad = tmp_path / "bad.json"
    bad.write_text('{"alerts": [{"x": 1}]}')
    r = run_cli("score", "--truth", t, "--alerts", bad)
    assert r.returncode == 2 and "not an alerts file" in r.stderr and "Traceback" not in r.stderr
    bad.write_text('{"alerts": [')
    r = run_cli("score", "--truth", t, "--alerts", bad)
    assert r.returncode == 2 and "malformed JSON" in r.stderr


def test_alert_opened_before_the_step_detects_it_when_its_event_joins():
    early = alert("e1", "scan", 5.0, conn(4, "10.0.0.66", "10.0.0.99", 443), conn(12, "10.0.0.66", "10.0.0.10", 22))
    s = score(truth(), [early])
    recon = next(x for x in s["steps"] if x["id"] == "recon")
    assert recon["detected"] and recon["ttd_seconds"] == 2.0
