"""Where each team stands: its ground truth, alerts and score read once together, and a session's
results (the ranking and every team's score). The score's ledger ends with the marks of the
team's incident reports and shared indicators (lines with ``kind`` report or sharing)."""
from __future__ import annotations

from dataclasses import dataclass

from range.csirt import adjustments
from range.scoring import Adjustment, Truth, extend, rank, score
from range.sessions import StateStore


@dataclass
class TeamFacts:
    team: str
    truth: Truth
    alerts: list
    score: dict

    def rule_title(self, rule_id: str) -> str:
        return next((a.get("rule_title") or rule_id for a in self.alerts if a["rule_id"] == rule_id), rule_id)

    def alert(self, alert_id: str | None) -> dict:
        for a in self.alerts:
            if a["id"] == alert_id:
                return a
        return {}


def team_facts(store: StateStore, session: str, team: str) -> TeamFacts | None:
    """A team's truth, alerts and score, each read once; None while the session is being prepared."""
    d = store.team_dir(session, team)
    if not d.truth.exists():
        return None
    truth = Truth.read(d.truth)
    adj = [Adjustment(-h["cost"], f"hint for step {h['step']}: {h['text']}", h["step"])
           for h in store.hints(session, team)]
    found = store.alerts(session, team)
    detection = score(truth, found, adj)
    return TeamFacts(team, truth, found, extend(detection, adjustments(store, session, team, truth, detection, found)))


def team_score(store: StateStore, session: str, team: str) -> dict:
    f = team_facts(store, session, team)
    if f is None:
        raise FileNotFoundError(f"session {session}: team {team} has no ground truth yet (still being prepared)")
    return f.score


def results(store: StateStore, session: str) -> dict:
    row = store.session(session)
    scores = [team_score(store, session, t) for t in store.teams(session)]
    clock = store.clock(row)
    ended = row["status"] == "finished" and row["finished_at"]
    elapsed = clock.elapsed(row["finished_at"]) if ended else clock.elapsed()
    return {"session": session, "scenario": row["scenario"], "environment": row["env"], "mode": row["mode"],
            "status": row["status"], "elapsed": round(min(elapsed, row["duration"]), 1), "duration": row["duration"],
            "ranking": rank(scores), "scores": {s["team"]: s for s in scores}}
