"""The instructor's view of a session: every team's progress, every step's state and hints."""
from __future__ import annotations

import json

from range.results.disclosure import summary
from range.results.standings import team_facts


def session_detail(store, driver, name: str) -> dict:
    row = store.session(name)
    out = summary(store, row)
    elapsed = out["elapsed"]
    problems = driver.rule_problems(name)
    schedule = {k: float(v) for k, v in json.loads(row["schedule"]).items()}
    released = store.hints(name)
    teams = []
    for t in store.teams(name):
        f = team_facts(store, name, t)
        rules = store.rules(name, t)
        s = f.score if f else None
        teams.append({
            "team": t, "score": s["score"] if s else None,
            "steps_detected": sum(1 for st in s["steps"] if st["detected"]) if s else 0,
            "steps": len(s["steps"]) if s else None,
            "detected": [st["id"] for st in s["steps"] if st["detected"]] if s else [],
            "alerts": s["alerts"] if s else 0, "precision": s["precision"] if s else None,
            "mttd_seconds": s["mttd_seconds"] if s else None, "false_positives": s["false_positives"] if s else 0,
            "rules_deployed": sum(1 for r in rules if r["withdrawn_at"] is None), "rules_total": len(rules),
            "broken_rules": {str(r["pk"]): problems[r["pk"]] for r in rules if r["pk"] in problems},
            "hints": sum(1 for h in released if h["team"] == t)})
    out["teams_progress"] = teams
    out["steps"] = []
    try:
        scn = store.scenario(name)
    except Exception as e:  # noqa: BLE001 - the scenario file changed or vanished: say so, show the rest
        out["scenario_error"] = str(e)
        return out
    for st in scn.steps:
        at = schedule.get(st.id, st.spec.at)
        out["steps"].append({
            "id": st.id, "technique": st.technique.name, "attack": st.attack, "tactic": st.tactic,
            "at": at, "duration": st.duration, "points": st.spec.points, "briefing": st.spec.briefing,
            "moved": st.id in schedule,
            "state": "done" if elapsed >= at + st.duration else "running" if elapsed >= at else "pending",
            "hints": [{"index": i, "text": h.text, "cost": h.cost,
                       "released_to": sorted(r["team"] for r in released if r["step"] == st.id and r["idx"] == i)}
                      for i, h in enumerate(st.spec.hints)]})
    out["description"] = scn.spec.description
    return out
