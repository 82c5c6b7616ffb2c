"""Ranking teams: by score, then recall, then mean time to detect; and the ranking as a text table."""
from __future__ import annotations


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
