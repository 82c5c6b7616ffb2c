"""The after-action report's data and the results as CSV.

The report: the story with each step's expected RSIT class, every team's figures (score by
source, recall, precision, MTTD, report quality, sharing), its detections, reports and missed
steps with the reference rule that would have caught each, every shared indicator with its mark,
and the ATT&CK coverage. The web app renders it as HTML and PDF.
"""
from __future__ import annotations

import csv
import io
import time

from range.core import iso
from range.csirt import indicators, reports, rsit, session_share_marks, team_marks
from range.csirt.incidents import summary as report_summary
from range.results import aar
from range.results.disclosure import hints, marks, matrix, steps_of, summary
from range.results.standings import team_facts
from range.scoring import rank
from range.sessions import StateStore
from range.traffic import TECHNIQUES


def results_csv(res: dict) -> str:
    step_ids: list[str] = []
    for s in res["scores"].values():
        for st in s["steps"]:
            if st["id"] not in step_ids:
                step_ids.append(st["id"])
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["rank", "team", "score", "steps_detected", "steps", "recall", "precision", "mttd_seconds",
                "false_positives", "alerts"] + [f"ttd_{s}" for s in step_ids])
    for r in res["ranking"]:
        s = res["scores"][r["team"]]
        ttd = {st["id"]: st["ttd_seconds"] for st in s["steps"]}
        w.writerow([r["rank"], r["team"], r["score"], r["steps_detected"], r["steps"], _c(r["recall"]),
                    _c(r["precision"]), _c(r["mttd_seconds"]), r["false_positives"], s["alerts"]]
                   + [_c(ttd.get(sid)) for sid in step_ids])
    return buf.getvalue()


def _c(v) -> str:
    return "" if v is None else str(v)


def _story(store: StateStore, name: str) -> dict:
    row = store.session(name)
    origin = row["scenario_start"]
    all_facts = [f for f in (team_facts(store, name, t) for t in store.teams(name)) if f]
    scn = store.scenario(name)
    story = [{"id": st.id, "technique": st.technique.name, "summary": TECHNIQUES.get(st.technique.name).summary,
              "attack": st.attack, "tactic": st.tactic, "points": st.spec.points, "briefing": st.spec.briefing}
             for st in scn.steps]
    teams = []
    for r in rank([f.score for f in all_facts]):
        f = next(x for x in all_facts if x.team == r["team"])
        steps = steps_of(f, origin)
        teams.append({**r, "alerts": f.score["alerts"], "steps_detail": steps, "marks": marks(f, origin, True),
                      "missed": [s for s in steps if not s["detected"]], "ledger": f.score["ledger"],
                      "rules": store.rules(name, f.team), "hints": hints(store, name, f.team, True)})
    return {"session": summary(store, row), "description": scn.spec.description, "story": story, "teams": teams,
            "attack": matrix(all_facts), "generated": iso(time.time())}


def _place_labels(steps: list[dict], duration: float) -> None:
    """Each step's ``lane`` on the timeline chart: labels that would overlap go below the band."""
    for d, lane in zip(steps, aar.label_lanes([(d["start"], d["id"]) for d in steps], duration)):
        d["lane"] = lane


def after_action(store: StateStore, name: str) -> dict:
    """Everything the after-action report shows, for the instructor."""
    r = _story(store, name)
    origin = store.session(name)["scenario_start"]
    share = session_share_marks(store, name)
    rules = aar.reference_rules()
    expect = {}
    for st in r["story"]:
        e = rsit.expected(st["technique"])
        expect[st["id"]] = st["rsit"] = [rsit.label(c, t) for c, t in e.rsit]
    reports_all = reports(store, name)
    for t in r["teams"]:
        f = team_facts(store, name, t["team"])
        got = team_marks(store, name, t["team"], f.truth, f.score, f.alerts) if f else []
        by_pk = {x["pk"]: x for x in reports_all if x["team"] == t["team"]}
        t["breakdown"] = aar.breakdown(t["ledger"])
        t["report_summary"] = report_summary(got, t["steps"])
        t["report_marks"] = [{"pk": m["report"], "title": by_pk[m["report"]]["title"],
                              "label": by_pk[m["report"]]["classification"]["label"],
                              "severity": by_pk[m["report"]]["severity"], "step": m["step"],
                              "points": m["points"] if m["counted"] else 0.0, "counted": m["counted"],
                              "accuracy": m["accuracy"], "delay": m["delay_seconds"], "reason": m["reason"],
                              "overridden": bool(m.get("overridden")),
                              "filed": round((by_pk[m["report"]]["edited_at"] or by_pk[m["report"]]["filed_at"])
                                             - origin, 1),  # as marked: an edited report as of its last edit
                              "comments": by_pk[m["report"]]["comments"]} for m in got]
        t["marks"] = sorted(t["marks"] + [{"t": x["filed"], "kind": "report", "step": x["step"], "pk": x["pk"]}
                                          for x in t["report_marks"]], key=lambda m: m["t"])
        t["sharing"] = aar.sharing_figures(share, t["team"])
        for d in t["missed"]:
            d["reference_rules"] = aar.rules_for(d["attack"], rules)
            d["rsit"] = expect.get(d["id"], [])
        for d in t["steps_detail"]:
            d["reports"] = [x for x in t["report_marks"] if x["step"] == d["id"] and x["counted"]]
        _place_labels(t["steps_detail"], r["session"]["duration"])
    r["timeline"] = {"row": 40 + aar.TIMELINE["lane"] * max([d["lane"] for t in r["teams"] for d in t["steps_detail"]],
                                                            default=0)}
    by_pk = {m["pk"]: m for m in share}
    r["indicators"] = [dict(i, mark=by_pk.get(i["pk"]), at=round(i["published_at"] - origin, 1))
                       for i in indicators(store, name)]
    return r
