"""The scoring model at its edges: the decay curve's corners, when an event belongs to a step
(time slack, flows by prefix, port and MAC, either direction), false positives counted once per
rule and window, adjustments and the ranking's ties."""
from __future__ import annotations

import pytest

from range.core import iso
from range.scoring import Adjustment, StepTruth, Truth, decay, event_in_step, event_key, extend, flow_matches, rank
from range.scoring import score as score_of
from range.scoring.score import SLACK

T0 = 1_800_000_000.0
STEP = StepTruth("recon", "syn_scan", "T1046", "discovery", 100, T0 + 10, T0 + 20, 50,
                 [{"src": "10.1.0.0/24", "dst": "10.2.0.5", "proto": "tcp", "dport": 22}])


def dns(t: float, src="10.1.0.7", sport=40000) -> dict:
    return {"_path": "dns", "ts": iso(T0 + t), "id.orig_h": src, "id.orig_p": sport, "id.resp_h": "10.2.0.5",
            "id.resp_p": 53, "proto": "udp"}


def conn(t: float, src="10.1.0.7", dst="10.2.0.5", dport=22) -> dict:
    return {"_path": "conn", "ts": iso(T0 + t), "id.orig_h": src, "id.orig_p": 50000, "id.resp_h": dst,
            "id.resp_p": dport, "proto": "tcp"}


def alert(aid: str, rule: str, raised: float, *events) -> dict:
    return {"id": aid, "rule_id": rule, "raised_at": iso(T0 + raised), "events": list(events)}


def truth(*steps: StepTruth, **scoring) -> Truth:
    return Truth("s", 1, "blue", list(steps), start=T0, end=T0 + 3600, scoring=scoring)


@pytest.mark.parametrize("ttd, factor", [(0, 1.0), (60, 1.0), (60.001, pytest.approx(1.0, abs=1e-5)),
                                         (360, 0.625), (660, 0.25), (661, 0.25), (10**6, 0.25)])
def test_decay_corners(ttd, factor):
    assert decay(ttd, 60, 600, 0.25) == factor


def test_decay_with_no_floor_reaches_zero():
    assert decay(700, 100, 600, 0.0) == 0.0


def test_an_event_belongs_to_a_step_inside_its_window_with_slack():
    assert event_in_step(event_key(conn(10)), STEP) and event_in_step(event_key(conn(20)), STEP)
    assert event_in_step(event_key(conn(10 - SLACK / 2)), STEP)
    assert not event_in_step(event_key(conn(9.99)), STEP) and not event_in_step(event_key(conn(20.01)), STEP)


def test_flows_match_by_prefix_port_and_either_direction():
    assert event_in_step(event_key(conn(15, src="10.1.0.200")), STEP)
    assert not event_in_step(event_key(conn(15, src="10.1.1.200")), STEP)  # outside the /24
    assert not event_in_step(event_key(conn(15, dport=23)), STEP)
    reply = {**conn(15), "id.orig_h": "10.2.0.5", "id.orig_p": 22, "id.resp_h": "10.1.0.7", "id.resp_p": 50000}
    assert event_in_step(event_key(reply), STEP)
    assert not event_in_step(event_key(dns(15)), STEP)  # another protocol


def test_arp_flows_name_the_sender_mac():
    flow = {"src": "10.0.0.1", "dst": "10.0.0.20", "proto": "arp", "src_mac": "02:42:00:00:00:66"}
    assert flow_matches(flow, "10.0.0.1", "10.0.0.20", "arp", None, None, "02:42:00:00:00:66")
    assert not flow_matches(flow, "10.0.0.1", "10.0.0.20", "arp", None, None, "02:42:00:00:00:01")
    forged = {"_path": "arp", "ts": iso(T0), "id.orig_h": "10.0.0.1", "id.resp_h": "10.0.0.20",
              "src_mac": "02:42:00:00:00:01", "orig_mac": "02:42:00:00:00:66"}
    assert event_key(forged)[-1] == "02:42:00:00:00:66"  # the frame's sender, not the forged field


def test_false_positives_count_once_per_rule_and_window():
    t = truth(STEP, fp_window=300, fp_penalty=10)
    alerts = [alert("f1", "noisy", 100, dns(99)), alert("f2", "noisy", 399.9, dns(398)),
              alert("f3", "noisy", 400.1, dns(400)), alert("g1", "other", 150, dns(149))]
    s = score_of(t, alerts)
    # f1 opens noisy's window [100, 400]: f2 falls in it; f3 opens the next; other counts apart
    assert s["false_positives"] == 3 and s["score"] == -30
    assert s["precision"] == 0 and s["recall"] == 0 and s["mttd_seconds"] is None


def test_the_first_alert_to_hold_the_steps_event_times_the_detection():
    s = score_of(truth(STEP), [alert("late", "r2", 500, conn(12)), alert("early", "r1", 30, conn(15))])
    (st,) = s["steps"]
    assert st["ttd_seconds"] == 20 and st["rules"] == ["r1", "r2"] and st["points"] == 100
    hit = next(e for e in s["ledger"] if e["step"] == "recon")
    assert hit["alert_id"] == "early"


def test_an_alert_raised_before_the_step_detects_it_when_its_event_joins():
    opened = alert("a", "r", 5, conn(5, dport=80), conn(18))  # opened on other traffic at 5 s
    (st,) = score_of(truth(STEP), [opened])["steps"]
    assert st["detected"] and st["ttd_seconds"] == 8  # from the step's start to its event's arrival


def test_adjustments_are_ledger_lines_and_extend_keeps_the_input():
    base = score_of(truth(STEP), [alert("a", "r", 15, conn(15))], [Adjustment(-20, "hint for step recon", "recon")])
    assert base["score"] == 80
    more = extend(base, [Adjustment(12.5, "report #1", "recon", "report", 1)])
    assert more["score"] == 92.5 and base["score"] == 80
    assert more["ledger"][-1] == {"points": 12.5, "reason": "report #1", "step": "recon", "rule_id": None,
                                  "alert_id": None, "kind": "report", "ref": 1}


def test_ranking_ties_share_a_place_and_break_on_recall_then_speed():
    def s(team, score, recall, mttd):
        return {"team": team, "score": score, "recall": recall, "precision": 1.0, "mttd_seconds": mttd,
                "false_positives": 0, "steps": []}
    ranking = rank([s("a", 100, 0.5, 30), s("b", 100, 0.5, 30), s("c", 100, 1.0, 90), s("d", 100, 0.5, None)])
    assert [(r["team"], r["rank"]) for r in ranking] == [("c", 1), ("a", 2), ("b", 2), ("d", 4)]
