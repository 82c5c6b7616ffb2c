"""An exercise: every team's copy of a scenario, detected with that team's rules and scored.

Offline, each team gets its own replay (its own seed, addresses, names and timing), its capture
is ingested into its own event store, its rules run over it, and its alerts are scored against
its truth. ``DIR/<team>/`` holds capture.pcap, truth.json, events.db, alerts.json, score.json;
``DIR/results.json`` the ranking.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from range.core.errors import InputError
from range.scenario.model import Scenario
from range.core.seeds import derive
from range.scoring.truth import write_json

Progress = Callable[[str], None]


@dataclass
class TeamSpec:
    name: str
    rules: list[Path] = field(default_factory=list)


def parse_team(text: str) -> TeamSpec:
    """``NAME=RULES[,RULES...]`` from the command line."""
    name, sep, rules = text.partition("=")
    name = name.strip()
    if not sep or not name or not rules:
        raise InputError(f"--team {text!r}: write NAME=RULES_PATH (a Sigma file or folder), e.g. blue=detections/rules")
    if not name.replace("-", "").replace("_", "").isalnum() or len(name) > 40:
        raise InputError(f"--team {text!r}: a team name is letters, digits, '-' and '_' (at most 40)")
    paths = [Path(p) for p in rules.split(",")]
    for p in paths:
        if not p.exists():
            raise InputError(f"--team {name}: rules path {p} does not exist")
    return TeamSpec(name, paths)


def team_seed(seed: int, team: str) -> int:
    return derive("team-seed", seed, team) % 1_000_000


def rank(scores: list[dict]) -> list[dict]:
    """Order by score, then recall, then MTTD (faster first); equal keys share a rank."""
    def key(s):
        return (-s["score"], -(s["recall"] or 0), s["mttd_seconds"] if s["mttd_seconds"] is not None else float("inf"))
    out, prev, place = [], None, 0
    for i, s in enumerate(sorted(scores, key=lambda s: (key(s), s["team"]))):
        if key(s) != prev:
            place, prev = i + 1, key(s)
        out.append({"rank": place, "team": s["team"], "score": s["score"], "recall": s["recall"],
                    "precision": s["precision"], "mttd_seconds": s["mttd_seconds"],
                    "false_positives": s["false_positives"],
                    "steps_detected": sum(1 for st in s["steps"] if st["detected"]), "steps": len(s["steps"])})
    return out


def run_team(scn: Scenario, team: TeamSpec, out: Path, seed: int, progress: Progress) -> dict:
    from range.detect.rules import load_rules
    from range.events.ingest import ingest
    from range.replay.offline import replay
    from range.scoring.score import score
    d = out / team.name
    s = team_seed(seed, team.name)
    progress(f"[{team.name}] replay (seed {s})")
    rep = replay(scn, d, seed=s, team=team.name, progress=lambda m: progress(f"[{team.name}]   {m}"))
    progress(f"[{team.name}] ingest {rep.packets:,} packets")
    ing = ingest(rep.pcap, d / "events.db", progress=lambda m: progress(f"[{team.name}]   {m}"))
    progress(f"[{team.name}] detect with {', '.join(map(str, team.rules))}")
    rules = load_rules(team.rules)
    alerts, errors = rules.run(d / "events.db")
    write_json(d / "alerts.json", {"alerts": alerts, "errors": errors})
    result = score(rep.truth, alerts)
    write_json(d / "score.json", result)
    progress(f"[{team.name}] {len(alerts)} alerts, {len(errors)} rule errors, "
             f"{sum(ing.records.values()):,} events -> score {result['score']}")
    return result


def run_offline(scn: Scenario, teams: list[TeamSpec], out: str | Path, seed: int = 1,
                progress: Progress = lambda m: None) -> dict:
    names = [t.name for t in teams]
    if len(set(names)) != len(names):
        raise InputError(f"team names must differ: {', '.join(names)}")
    began = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    scores = [run_team(scn, t, out, seed, progress) for t in teams]
    results = {"scenario": scn.name, "environment": scn.env.name, "mode": "offline", "seed": seed,
               "seconds": round(time.perf_counter() - began, 2), "ranking": rank(scores)}
    write_json(out / "results.json", results)
    return results


def ranking_table(results: dict) -> str:
    rows = [("#", "team", "score", "steps", "recall", "precision", "MTTD s", "FP")]
    for r in results["ranking"]:
        rows.append((str(r["rank"]), r["team"], f"{r['score']:g}", f"{r['steps_detected']}/{r['steps']}",
                     f"{r['recall']:.2f}" if r["recall"] is not None else "-",
                     f"{r['precision']:.2f}" if r["precision"] is not None else "-",
                     f"{r['mttd_seconds']:.1f}" if r["mttd_seconds"] is not None else "-", str(r["false_positives"])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) if i == 1 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     for r in rows)
