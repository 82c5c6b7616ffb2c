"""What the after-action report and the programme view add to a session's results: the reference
rule that would have caught each missed step, each team's score split by where its points came
from, report and sharing figures, and each team's progress across sessions.

The reference rules are ``detections/rules/*.yml``; a rule catches a technique when one of its
``attack.tNNNN`` tags names it (or, failing that, its parent technique).
"""
from __future__ import annotations

import math
import threading
from pathlib import Path

import yaml

from range.core import paths
from range.csirt import team_marks
from range.csirt.incidents import summary
from range.results.standings import team_facts

_rules: dict[str, tuple[float, list[dict]]] = {}
_lock = threading.Lock()


def reference_rules(folder: Path | None = None) -> list[dict]:
    """Every reference rule: file, title, id, level and the ATT&CK ids its tags name."""
    folder = folder or paths.DETECTIONS / "rules"
    stamp = max((p.stat().st_mtime for p in folder.glob("*.yml")), default=0.0)
    with _lock:
        hit = _rules.get(str(folder))
        if hit and hit[0] == stamp:
            return hit[1]
    out = []
    for p in sorted(folder.glob("*.yml")):
        try:
            docs = [d for d in yaml.safe_load_all(p.read_text()) if isinstance(d, dict)]
        except yaml.YAMLError:
            continue
        attack = sorted({t.split(".", 1)[1].upper() for d in docs for t in d.get("tags") or []
                         if isinstance(t, str) and t.lower().startswith("attack.t")})
        main = next((d for d in docs if "correlation" in d), None) or (docs[0] if docs else {})
        out.append({"file": p.name, "title": main.get("title", p.stem), "id": main.get("id"),
                    "level": main.get("level"), "attack": attack})
    with _lock:
        _rules[str(folder)] = (stamp, out)
    return out


def rules_for(attack_id: str, rules: list[dict] | None = None) -> list[dict]:
    """The reference rules whose ATT&CK tags name the technique (else its parent technique)."""
    rules = reference_rules() if rules is None else rules
    exact = [r for r in rules if attack_id.upper() in r["attack"]]
    if exact:
        return exact
    parent = attack_id.upper().split(".")[0]
    return [r for r in rules if any(a.split(".")[0] == parent for a in r["attack"])]


# the after-action report's timeline, as report.html draws it: px from the team names to the axis'
# end, the label's font size, and the height a row of step labels takes
TIMELINE = {"width": 760.0, "char": 7.0, "gap": 6.0, "lane": 14}


def label_lanes(steps: list[tuple[float, str]], span: float, width: float = TIMELINE["width"]) -> list[int]:
    """Where each step's label goes on a timeline ``width`` px wide covering ``span`` seconds: lane 0
    above the step's band, 1 below it, 2 further below... A label starts at its step's start; the
    first lane where it does not overlap the label before it there takes it ("mitm" at 680 s and
    "creds" at 700 s of 1200 s are 13 px apart). ``steps``: (start in seconds, label) pairs."""
    span = max(span, 1.0)
    ends: list[float] = []  # per lane: the x where its last label (and the gap after it) ends
    lanes = [0] * len(steps)
    for i in sorted(range(len(steps)), key=lambda i: steps[i][0]):
        start, label = steps[i]
        x = width * max(0.0, min(start, span)) / span
        lane = next((k for k, end in enumerate(ends) if x >= end), len(ends))
        if lane == len(ends):
            ends.append(0.0)
        ends[lane] = x + TIMELINE["char"] * len(label) + TIMELINE["gap"]
        lanes[i] = lane
    return lanes


def axis(values: list, top: float = 1.0) -> dict:
    """A chart's value axis: from the lowest value (0 unless one is negative) to the highest (at least
    ``top``), widened to round ticks (steps of 1, 2, 2.5 or 5 x 10^k, 0 among them)."""
    vals = [v for v in values if v is not None]
    lo, hi = min([0.0, *vals]), max([top, *vals])
    step = _round_step((hi - lo) / 4 or 1.0)
    lo, hi = math.floor(lo / step) * step, math.ceil(hi / step) * step
    n = round((hi - lo) / step)
    return {"lo": lo, "hi": hi, "ticks": [round(lo + step * i, 6) for i in range(n + 1)]}


def _round_step(raw: float) -> float:
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw - 1e-12)


def breakdown(ledger: list[dict]) -> dict:
    """Where a score's points come from: detection, false positives, hints, reports, sharing."""
    out = {"detection": 0.0, "false_positives": 0.0, "hints": 0.0, "reports": 0.0, "sharing": 0.0, "other": 0.0}
    for e in ledger:
        if e.get("kind") == "report":
            k = "reports"
        elif e.get("kind") == "sharing":
            k = "sharing"
        elif e.get("alert_id") and e.get("step"):
            k = "detection"
        elif e.get("alert_id"):
            k = "false_positives"
        elif e["reason"].startswith("hint for step"):
            k = "hints"
        else:
            k = "other"
        out[k] += e["points"]
    return {k: round(v, 2) for k, v in out.items()}


def sharing_figures(marks: list[dict], team: str) -> dict:
    mine = [m for m in marks if m["team"] == team]
    return {"published": len(mine), "shared": sum(1 for m in mine if not m["reason"].startswith("kept")),
            "correct": sum(1 for m in mine if m["correct"]), "first": sum(1 for m in mine if m["first"]),
            "points": round(sum(m["points"] for m in mine), 2)}


def programme(store) -> dict:
    """Each team's figures in every session it played (teams matched by name), oldest first."""
    sessions, teams = [], {}
    for row in sorted(store.sessions(), key=lambda r: r["created_at"]):
        name = row["name"]
        entry = {"name": name, "scenario": row["scenario"], "status": row["status"], "created_at": row["created_at"],
                 "teams": []}
        for t in store.teams(name):
            f = team_facts(store, name, t)
            if f is None:
                continue
            s = f.score
            rep = summary(team_marks(store, name, t, f.truth, s, f.alerts), len(f.truth.steps))
            fig = {"session": name, "score": s["score"], "recall": s["recall"], "precision": s["precision"],
                   "mttd_seconds": s["mttd_seconds"], "report_quality": rep["quality"],
                   "reports": rep["reports"], "steps_reported": rep["steps_reported"],
                   "sharing": breakdown(s["ledger"])["sharing"]}
            teams.setdefault(t, []).append(fig)
            entry["teams"].append(t)
        if entry["teams"]:
            sessions.append(entry)
    return {"sessions": sessions, "teams": {t: teams[t] for t in sorted(teams)}}
