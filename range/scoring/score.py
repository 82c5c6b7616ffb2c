"""Scoring: pure functions from ground truth and alerts to a team's score and its ledger.

The model (DESIGN.md): a step is detected when an alert's evidence includes an event of that
step; time to detect (TTD) is the first such alert's raise time minus the step's start. A
detected step earns ``points x decay(TTD)``: full within ``grace``, then falling linearly over
``decay`` seconds to ``floor``. An alert whose evidence holds no event of any step is a false
positive; false positives cost ``fp_penalty`` each, counted once per rule per ``fp_window``.
Every point is a ledger line naming its step, rule, alert, evidence and latency.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Iterable

from range.core import parse_iso
from range.scoring.truth import HOST_ID, SLACK, StepTruth, Truth, flow_matches, host_matches

DEFAULTS = {"grace": 60.0, "decay": 600.0, "floor": 0.25, "fp_penalty": 10.0, "fp_window": 300.0}
HOST = "host"  # the protocol slot of a host record's key
TABLE_PROTO = {"http": "tcp", "ssh": "tcp", "ftp": "tcp", "telnet": "tcp", "arp": "arp"}


@dataclass(frozen=True)
class Adjustment:
    """Points given or taken outside detection (a hint bought, an incident report's mark, a shared
    indicator). ``kind`` (``report``, ``sharing``) and ``ref`` (the report's or indicator's number)
    name where the points come from; they appear in the ledger line when set."""
    points: float
    reason: str
    step: str | None = None
    kind: str | None = None
    ref: int | None = None


def adjustment_line(adj: Adjustment) -> dict:
    line = {"points": adj.points, "reason": adj.reason, "step": adj.step, "rule_id": None, "alert_id": None}
    if adj.kind:
        line.update(kind=adj.kind, ref=adj.ref)
    return line


def extend(result: dict, adjustments: Iterable[Adjustment]) -> dict:
    """A score with more ledger lines (and their points) added; the input is left unchanged."""
    extra = [adjustment_line(a) for a in adjustments]
    if not extra:
        return result
    ledger = result["ledger"] + extra
    return {**result, "ledger": ledger, "score": round(sum(e["points"] for e in ledger), 2)}


def event_key(ev: dict) -> tuple:
    """(ts, src, dst, proto, sport, dport, src_mac) of a stored event record; of a host record,
    (ts, node, table, ``"host"``, process id, None, None)."""
    path = ev.get("_path", "conn")
    ts = ev.get("ts")
    t = parse_iso(ts) if isinstance(ts, str) else float(ts) if ts is not None else None
    if path in HOST_ID:
        return (t, ev.get("host"), path, HOST, ev.get(HOST_ID[path]), None, None)
    proto = ev.get("proto") or TABLE_PROTO.get(path)
    # an ARP frame's flow key names its Ethernet source (what truth reads back as eth.src): the
    # arp log's orig_mac; src_mac, the hardware address inside the message, differs when the frame
    # is forged (a spoofer's re-ARP announces the true MAC from its own)
    mac = (ev.get("orig_mac") or ev.get("src_mac")) if path == "arp" else None
    return (t, ev.get("id.orig_h"), ev.get("id.resp_h"), proto, ev.get("id.orig_p"), ev.get("id.resp_p"), mac)


def event_in_step(key: tuple, step: StepTruth) -> bool:
    t, src, dst, proto, sport, dport, mac = key
    if proto == HOST:
        return t is not None and any(host_matches(ev, t, src, dst, sport) for ev in step.host)
    if t is None or t < step.start - SLACK or t > step.end + SLACK:
        return False
    if proto in ("icmp", "arp"):
        sport = dport = None
    return any(
        flow_matches(f, src, dst, proto, sport, dport, mac) or flow_matches(f, dst, src, proto, dport, sport, mac)
        for f in step.flows
    )


_HITS: OrderedDict = OrderedDict()  # (truth, alert id, its size) -> the steps its evidence falls in
_HITS_MAX = 50_000
_hits_lock = threading.Lock()


def _truth_key(truth: Truth) -> tuple:
    return (
        truth.scenario,
        truth.team,
        truth.seed,
        tuple((s.id, s.start, s.end, s.packets, len(s.flows), len(s.host)) for s in truth.steps),
    )


def _alert_hits(truth: Truth, tkey: tuple, a: dict) -> list[tuple[str, float, int]]:
    """(step id, event time, index of the event in the alert) for each evidence event that belongs
    to a step. Remembered per truth and alert state: the scoreboard scores every team about once a
    second while a session runs, and matching every event against every flow each time grew with
    the session (bench/sustained.py); an alert only changes when its evidence grows."""
    events = a.get("events", [])
    key = (tkey, a["id"], len(events), a.get("last_event_at"))
    with _hits_lock:
        hit = _HITS.get(key)
        if hit is not None:
            _HITS.move_to_end(key)
            return hit
    out = []
    for i, ev in enumerate(events):
        k = event_key(ev)
        out += [(s.id, k[0], i) for s in truth.steps if event_in_step(k, s)]
    with _hits_lock:
        _HITS[key] = out
        while len(_HITS) > _HITS_MAX:
            _HITS.popitem(last=False)
    return out


def decay(ttd: float, grace: float, span: float, floor: float) -> float:
    if ttd <= grace:
        return 1.0
    return max(floor, 1.0 - (1.0 - floor) * (ttd - grace) / span)


def _params(truth: Truth) -> dict:
    p = dict(DEFAULTS)
    p.update({k: float(v) for k, v in (truth.scoring or {}).items() if k in DEFAULTS})
    return p


def _fmt(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def score(truth: Truth, alerts: Iterable[dict], adjustments: Iterable[Adjustment] = ()) -> dict[str, Any]:
    """A team's score for one exercise (see the module docstring for the model)."""
    p = _params(truth)
    alerts = sorted(alerts, key=lambda a: (a["raised_at"], a["id"]))
    tkey = _truth_key(truth)
    steps_hit: dict[str, list[tuple[float, dict, dict]]] = {s.id: [] for s in truth.steps}
    true_alerts = 0
    false_positive_alerts: list[dict] = []
    for a in alerts:
        raised = parse_iso(a["raised_at"])
        hits = _alert_hits(truth, tkey, a)
        for sid, t, i in hits:
            # an alert opened earlier (on other traffic) detects the step only once the step's
            # event has joined it
            steps_hit[sid].append((max(raised, t), a, a["events"][i]))
        if hits:
            true_alerts += 1
        else:
            false_positive_alerts.append(a)
    ledger: list[dict] = []
    steps_out = []
    ttds = []
    for s in truth.steps:
        hits = steps_hit[s.id]
        if not hits:
            steps_out.append({"id": s.id, "detected": False, "ttd_seconds": None, "points": 0.0, "rules": []})
            ledger.append(
                {
                    "points": 0.0,
                    "reason": f"missed step {s.id} ({s.technique}, {s.attack}): no alert's "
                    f"evidence includes its traffic" + (" or host records" if s.host else ""),
                    "step": s.id,
                    "rule_id": None,
                    "alert_id": None,
                }
            )
            continue
        raised, a, ev = min(hits, key=lambda h: (h[0], h[1]["id"]))
        ttd = max(0.0, raised - s.start)
        factor = decay(ttd, p["grace"], p["decay"], p["floor"])
        pts = round(s.points * factor, 2)
        ttds.append(ttd)
        rules = sorted({h[1]["rule_id"] for h in hits})
        steps_out.append({"id": s.id, "detected": True, "ttd_seconds": round(ttd, 3), "points": pts, "rules": rules})
        ledger.append(
            {
                "points": pts,
                "reason": f"detected step {s.id} ({s.technique}, {s.attack}) with rule "
                f"'{a.get('rule_title') or a['rule_id']}' {_fmt(ttd)} s after it began: "
                f"{_fmt(s.points)} x {factor:.2f}",
                "step": s.id,
                "rule_id": a["rule_id"],
                "alert_id": a["id"],
                "ttd_seconds": round(ttd, 3),
                "evidence": ev,
            }
        )
    windows: dict[tuple, dict] = {}
    for a in false_positive_alerts:
        w = int((parse_iso(a["raised_at"]) - truth.start) // p["fp_window"])
        windows.setdefault((a["rule_id"], w), a)
    for (rule_id, w), a in sorted(windows.items(), key=lambda kv: (kv[1]["raised_at"], kv[0][0])):
        ledger.append(
            {
                "points": -p["fp_penalty"],
                "reason": f"false positive: rule '{a.get('rule_title') or rule_id}' "
                f"alerted on benign activity (window {w + 1} of {_fmt(p['fp_window'])} s)",
                "step": None,
                "rule_id": rule_id,
                "alert_id": a["id"],
            }
        )
    for adj in adjustments:
        ledger.append(adjustment_line(adj))
    detected = [s for s in steps_out if s["detected"]]
    return {
        "team": truth.team,
        "scenario": truth.scenario,
        "score": round(sum(e["points"] for e in ledger), 2),
        "recall": round(len(detected) / len(truth.steps), 4) if truth.steps else None,
        "precision": round(true_alerts / len(alerts), 4) if alerts else None,
        "mttd_seconds": round(sum(ttds) / len(ttds), 3) if ttds else None,
        "false_positives": len(windows),
        "alerts": len(alerts),
        "steps": steps_out,
        "ledger": ledger,
    }
