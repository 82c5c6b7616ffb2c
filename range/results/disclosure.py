"""What each audience may see of a session, and when.

Ground truth (step names, times and techniques, the steps hints belong to, what was missed)
reaches teams and the public only once a session has ended; before that they see scores (and
where their points come from: detection, false positives, hints), counts and the times of their
own detections. The marks of incident reports and shared indicators wait for the end too (they
count 0 until then). The instructor sees everything at any time.
"""
from __future__ import annotations

import threading
import time

from range.core import iso, parse_iso
from range.csirt import session_share_marks, team_marks
from range.results.aar import breakdown
from range.results.standings import TeamFacts, team_facts
from range.scoring import rank

ENDED = ("finished", "failed")
TACTICS = ["reconnaissance", "resource-development", "initial-access", "execution", "persistence",
           "privilege-escalation", "defense-evasion", "credential-access", "discovery", "lateral-movement",
           "collection", "command-and-control", "exfiltration", "impact"]


def ended(row) -> bool:
    return row["status"] in ENDED


def now(store, row) -> float:
    """The session clock (epoch s of scenario time); it stops where a finished session stopped."""
    c = store.clock(row)
    wall = row["finished_at"] if row["status"] == "finished" and row["finished_at"] else None
    return min(c.now(wall), row["scenario_start"] + row["duration"]) if wall else c.now()


def clock(store, row) -> dict:
    t = now(store, row)
    return {"status": row["status"], "elapsed": round(t - row["scenario_start"], 1), "duration": row["duration"],
            "speed": row["speed"], "now": t, "now_iso": iso(t), "scenario_start": row["scenario_start"],
            "ended": ended(row)}


def summary(store, row) -> dict:
    return {"name": row["name"], "scenario": row["scenario"], "environment": row["env"], "mode": row["mode"],
            "created_at": row["created_at"], "error": row["error"], "teams": store.teams(row["name"]),
            **clock(store, row)}


# ---- a team's own score, before and after the end ------------------------------------------

def held(s: dict) -> dict:
    """A score without the marks of reports and shared indicators: before a session ends they would
    tell a team (and the public) which of its claims match the ground truth. Each such line stays,
    at 0 points, saying the mark shows at the end."""
    if not any(e.get("kind") for e in s["ledger"]):
        return s
    ledger, pending = [], 0.0
    for e in s["ledger"]:
        if e.get("kind") == "report":
            pending += e["points"]
            e = {**e, "points": 0.0, "step": None,
                 "reason": f"incident report #{e['ref']} filed: it is marked when the session ends"}
        elif e.get("kind") == "sharing":
            pending += e["points"]
            e = {**e, "points": 0.0, "step": None,
                 "reason": f"indicator #{e['ref']} published: it is marked when the session ends"}
        ledger.append(e)
    return {**s, "ledger": ledger, "score": round(s["score"] - pending, 2)}


def team_view(f: TeamFacts, reveal: bool) -> dict:
    s = f.score
    detected = sum(1 for st in s["steps"] if st["detected"])
    if reveal:
        return {**s, "steps_detected": detected, "revealed": True}
    s = held(s)
    ledger = []
    for e in s["ledger"]:
        if e.get("kind"):
            ledger.append(e)
        elif e.get("alert_id") and e.get("step"):
            a = f.alert(e["alert_id"])
            ledger.append({"points": e["points"], "reason": f"rule '{a.get('rule_title') or e['rule_id']}' detected an "
                           f"attack step (which one, and how fast, shows once the session ends)",
                           "step": None, "rule_id": e["rule_id"], "alert_id": e["alert_id"]})
        elif e.get("alert_id"):
            ledger.append({k: e[k] for k in ("points", "reason", "step", "rule_id", "alert_id")})
        elif e["reason"].startswith("hint for step"):
            ledger.append({"points": e["points"], "reason": "hint: " + e["reason"].split(": ", 1)[-1],
                           "step": None, "rule_id": None, "alert_id": None})
        # a missed step's line names the step: it waits for the end
    return {"team": s["team"], "score": s["score"], "precision": s["precision"], "mttd_seconds": s["mttd_seconds"],
            "false_positives": s["false_positives"], "alerts": s["alerts"], "steps_detected": detected,
            "ledger": ledger, "revealed": False}


def hints(store, name: str, team: str, reveal: bool) -> list[dict]:
    rows = store.hints(name, team)
    return [{"text": r["text"], "cost": r["cost"], "released_at": r["released_at"],
             **({"step": r["step"], "index": r["idx"]} if reveal else {})} for r in rows]


# ---- the public scoreboard -----------------------------------------------------------------

_cache: dict[tuple, tuple[float, dict]] = {}
_cache_lock = threading.Lock()


def board(store, name: str, version: int = 0) -> dict:
    """The scoreboard of one session (cached per driver version for a second: streams share it)."""
    row = store.session(name)
    key = (str(store.path), name, version, row["status"], row["schedule"])
    with _cache_lock:
        hit = _cache.get(key)
        if hit and hit[0] > time.monotonic():
            body = hit[1]
        else:
            body = None
    if body is None:
        body = _board(store, row)
        with _cache_lock:
            if len(_cache) > 256:
                _cache.clear()
            _cache[key] = (time.monotonic() + 1.0, body)
    return {"session": name, "scenario": row["scenario"], "mode": row["mode"], **clock(store, row), **body}


def _rel(t: float, origin: float) -> float:
    return round(t - origin, 3)


def _board(store, row) -> dict:
    name, reveal, origin = row["name"], ended(row), row["scenario_start"]
    all_facts = {t: team_facts(store, name, t) for t in store.teams(name)}
    have = {t: f for t, f in all_facts.items() if f}
    shown = {t: f.score if reveal else held(f.score) for t, f in have.items()}
    ranking = []
    for r in rank(list(shown.values())):
        f = have[r["team"]]
        entry = {"rank": r["rank"], "team": r["team"], "score": r["score"], "steps_detected": r["steps_detected"],
                 "precision": r["precision"], "mttd_seconds": r["mttd_seconds"],
                 "false_positives": r["false_positives"], "alerts": f.score["alerts"],
                 "breakdown": breakdown(shown[r["team"]]["ledger"])}
        if reveal:
            entry.update(steps=r["steps"], recall=r["recall"])
        ranking.append(entry)
    _mark_ties(ranking)
    teams = {}
    for t in all_facts:
        f = all_facts[t]
        teams[t] = {"marks": marks(f, origin, reveal) if f else [], "coverage": len(covered(f)) if f else 0}
        if reveal and f:
            teams[t]["steps"] = steps_of(f, origin)
    return {"revealed": reveal, "ranking": ranking, "teams": teams,
            "attack": matrix(list(have.values())) if reveal else None}


def _mark_ties(ranking: list[dict]) -> None:
    """Teams with the same rank are tied; the leader is the one team ranked first alone (no leader
    while the top teams are tied, e.g. every team at 0 before the first detection)."""
    places = [e["rank"] for e in ranking]
    for e in ranking:
        e["tied"] = places.count(e["rank"]) > 1
        e["leader"] = e["rank"] == 1 and not e["tied"] and len(ranking) > 1


def marks(f: TeamFacts, origin: float, reveal: bool) -> list[dict]:
    """Detections (first alert on each step) and false positives, as seconds since the start."""
    by_id = {s.id: s for s in f.truth.steps}
    out = []
    for st in f.score["steps"]:
        if st["detected"]:
            m = {"t": _rel(by_id[st["id"]].start + st["ttd_seconds"], origin), "kind": "detect"}
            if reveal:
                m.update(step=st["id"], ttd=st["ttd_seconds"], rules=st["rules"])
            out.append(m)
    for e in f.score["ledger"]:
        if e.get("alert_id") and not e.get("step"):
            a = f.alert(e["alert_id"])
            if a:
                out.append({"t": _rel(parse_iso(a["raised_at"]), origin), "kind": "fp", "rule": e["rule_id"]})
    return sorted(out, key=lambda m: m["t"])


def steps_of(f: TeamFacts, origin: float) -> list[dict]:
    got = {s["id"]: s for s in f.score["steps"]}
    return [{"id": s.id, "technique": s.technique, "attack": s.attack, "tactic": s.tactic, "points": s.points,
             "start": _rel(s.start, origin), "end": _rel(s.end, origin), "briefing": s.briefing,
             "detected": got[s.id]["detected"], "ttd": got[s.id]["ttd_seconds"], "earned": got[s.id]["points"],
             "rules": [f.rule_title(r) for r in got[s.id]["rules"]]} for s in f.truth.steps]


def covered(f: TeamFacts) -> set[str]:
    got = {s["id"] for s in f.score["steps"] if s["detected"]}
    return {s.attack for s in f.truth.steps if s.id in got}


def matrix(all_facts: list[TeamFacts]) -> dict:
    """ATT&CK tactics x techniques, each technique with the teams that detected it."""
    techniques: dict[str, dict] = {}
    for f in all_facts:
        cov = covered(f)
        for s in f.truth.steps:
            t = techniques.setdefault(s.attack, {"attack": s.attack, "tactic": _tactic(s.tactic), "techniques": [],
                                                 "steps": [], "teams": {}})
            if s.technique not in t["techniques"]:
                t["techniques"].append(s.technique)
            if s.id not in t["steps"]:
                t["steps"].append(s.id)
            t["teams"][f.team] = t["teams"].get(f.team, False) or s.attack in cov
    tactics = sorted({t["tactic"] for t in techniques.values()},
                     key=lambda x: (TACTICS.index(x) if x in TACTICS else len(TACTICS), x))
    return {"teams": sorted(f.team for f in all_facts),
            "tactics": [{"tactic": tac, "techniques": sorted((t for t in techniques.values() if t["tactic"] == tac),
                                                             key=lambda t: t["attack"])} for tac in tactics]}


def _tactic(text: str) -> str:
    return (text or "unknown").strip().lower().replace(" ", "-").replace("_", "-")


# ---- incident reports and shared indicators ----------------------------------------------

def report_marks(store, name: str, team: str) -> dict[int, dict]:
    """report number -> its mark (computed now, overrides applied)."""
    f = team_facts(store, name, team)
    if f is None:
        return {}
    return {m["report"]: m for m in team_marks(store, name, team, f.truth, f.score, f.alerts)}


def indicator_marks(store, name: str) -> dict[int, dict]:
    return {m["pk"]: m for m in session_share_marks(store, name)}


def with_marks(reports: list[dict], marks: dict[int, dict] | None) -> list[dict]:
    out = []
    for r in reports:
        m = marks.get(r["pk"]) if marks is not None else None
        r = dict(r, mark=_mark(m) if marks is not None else None)
        if marks is None:
            r["override"] = None  # its points are a mark too: shown at the end
        out.append(r)
    return out


def _mark(m: dict | None) -> dict | None:
    if m is None:
        return None
    return {"step": m["step"], "points": m["points"], "earned": m["points"] if m["counted"] else 0.0,
            "counted": m["counted"], "accuracy": m["accuracy"], "factor": m["factor"],
            "delay_seconds": m["delay_seconds"], "parts": m["parts"], "reason": m["reason"],
            "overridden": bool(m.get("overridden")), "computed": m["computed"], "beaten_by": m.get("beaten_by")}
