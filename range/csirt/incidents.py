"""Incident reports: their strict validation and their marks against the ground truth (pure).

A team files a structured report: a title, an RSIT classification (:mod:`range.csirt.rsit`), the
affected hosts, the attacker's addresses, an ATT&CK technique, a severity, the time the attack
was first seen, indicators, the actions taken, free text and the evidence (alert ids or event
references ``table:rowid``) it rests on.

The mark (:func:`mark_all`; default points in :data:`POINTS`):

- A report is matched to the attack step it fits best among the steps that had begun when it
  was filed: its evidence citing the step's traffic counts most, then the technique, the
  attacker, the affected hosts, the classification and the first-seen time. A report that fits
  no step earns nothing.
- Points: the RSIT class right (``class``), the type right as well (``type``), the affected hosts
  (``affected``: full when every host named took part, half when some did, none when none did),
  the attacker (``attacker``: the same rule; for a step whose attacker is only a domain, a right
  domain among the indicators; for a step with no attacker address, naming none), the ATT&CK
  technique (``technique``; half for the right technique with another sub-technique).
- Timeliness multiplies the sum: full within ``grace`` seconds of the team's first detection of
  the step, then falling linearly over ``span`` seconds to ``floor``. A step the team never
  detected with an alert is measured from its start: the report is then the detection.
- One report per step counts: the best (the first of equals); the others on the same step earn
  nothing, and their reason names the report that counts instead.
- An instructor's override replaces a report's points; the reason is kept and shown.
- A report the team edited is marked as it stands, as of its last edit (matching and timeliness):
  a placeholder filed early and completed later earns no early-report bonus.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Iterable

from range.core import InputError, iso, parse_iso
from range.csirt import rsit
from range.csirt.sharing import address, indicator
from range.scoring import decay

POINTS = {"class": 10.0, "type": 10.0, "affected": 10.0, "attacker": 10.0, "technique": 10.0,
          "grace": 300.0, "span": 900.0, "floor": 0.5}
SEVERITIES = ("low", "medium", "high", "critical")
LIMITS = {"title": 200, "actions": 4000, "description": 8000, "addresses": 64, "indicators": 50, "evidence": 100,
          "evidence_ref": 100}
ATTACK_ID = re.compile(r"^T\d{4}(\.\d{3})?\Z")
EVIDENCE = re.compile(r"^[A-Za-z0-9_.:-]{1,100}\Z")


# ---- validation ----------------------------------------------------------------------------------

def _text(data: dict, key: str, required: bool = False, default: str = "") -> str:
    v = data.get(key)
    if v is None or v == "":
        if required:
            raise InputError(f"'{key}' is required")
        return default
    if not isinstance(v, str):
        raise InputError(f"'{key}' must be a string")
    if len(v) > LIMITS[key]:
        raise InputError(f"'{key}' is longer than {LIMITS[key]} characters (it has {len(v)}): shorten it; "
                         f"nothing is cut on the way")
    return plain_text(v, key, multiline=key != "title").strip()


def plain_text(v: str, key: str, multiline: bool = True) -> str:
    """Text a person typed: no NUL or other control characters (tabs and, when ``multiline``, line
    breaks excepted) and valid Unicode; they would break the exports, the PDF and the terminals."""
    allowed = "\t\n\r" if multiline else "\t"
    bad = next(
        (c for c in v if (ord(c) < 32 and c not in allowed) or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF), None
    )
    if bad is not None:
        what = (
            "a NUL character"
            if bad == "\x00"
            else "a lone surrogate"
            if ord(bad) >= 0xD800
            else f"the control character U+{ord(bad):04X}"
        )
        raise InputError(f"'{key}' holds {what}; write plain text" + ("" if multiline else " on one line"))
    return v


def _list(data: dict, key: str, limit: int) -> list:
    v = data.get(key)
    if v is None or v == "":
        return []
    if isinstance(v, str):
        v = [x for x in re.split(r"[\s,;]+", v) if x]
    if not isinstance(v, list):
        raise InputError(f"'{key}' must be a list")
    if len(v) > limit:
        raise InputError(f"'{key}' holds {len(v)} entries; at most {limit}")
    return v


def validate(data: Any) -> dict:
    """A report as the API and the form send it, checked strictly; returns its normal form."""
    if not isinstance(data, dict):
        raise InputError("a report is a JSON object")
    known = {
        "title",
        "classification",
        "affected",
        "attackers",
        "attack",
        "severity",
        "first_seen",
        "indicators",
        "actions",
        "description",
        "evidence",
    }
    extra = sorted(set(data) - known - {"csrf_token"})
    if extra:
        raise InputError(f"unknown field(s) {', '.join(map(repr, extra))}; a report has {', '.join(sorted(known))}")
    c = data.get("classification")
    if not isinstance(c, dict):
        raise InputError(
            '\'classification\' is required: {"class": ..., "type": ...} from the RSIT taxonomy (GET /api/rsit)'
        )
    cls, typ = rsit.check(c.get("class"), c.get("type"))
    attack = data.get("attack") or None
    if attack is not None:
        if not isinstance(attack, str) or not ATTACK_ID.match(attack.strip().upper()):
            raise InputError(f"'attack' must be an ATT&CK technique id such as T1046 or T1110.001 (got {attack!r})")
        attack = attack.strip().upper()
    severity = data.get("severity", "medium")
    if severity not in SEVERITIES:
        raise InputError(f"'severity' must be one of: {', '.join(SEVERITIES)} (got {severity!r})")
    first_seen = data.get("first_seen")
    if first_seen in (None, ""):
        first_seen = None
    else:
        first_seen = _time(first_seen)
    indicators = []
    for i, ind in enumerate(_list(data, "indicators", LIMITS["indicators"])):
        if not isinstance(ind, dict):
            raise InputError(f'\'indicators[{i}]\' must be an object {{"type": ..., "value": ...}}')
        kind, value = indicator(ind.get("type"), ind.get("value"), f"indicators[{i}]")
        indicators.append({"type": kind, "value": value})
    evidence = []
    for i, ref in enumerate(_list(data, "evidence", LIMITS["evidence"])):
        if not isinstance(ref, str) or not EVIDENCE.match(ref):
            raise InputError(f"'evidence[{i}]' must be an alert id or an event reference such as conn:42")
        evidence.append(ref)
    return {
        "title": _text(data, "title", required=True),
        "classification": {"class": cls, "type": typ},
        "affected": [address(a, f"affected[{i}]") for i, a in enumerate(_list(data, "affected", LIMITS["addresses"]))],
        "attackers": [
            address(a, f"attackers[{i}]") for i, a in enumerate(_list(data, "attackers", LIMITS["addresses"]))
        ],
        "attack": attack,
        "severity": severity,
        "first_seen": first_seen,
        "indicators": indicators,
        "actions": _text(data, "actions"),
        "description": _text(data, "description"),
        "evidence": evidence,
    }


def _time(v: Any) -> float:
    if isinstance(v, bool):
        raise InputError("'first_seen' must be epoch seconds or an ISO-8601 time")
    if isinstance(v, (int, float)):
        f = float(v)
    elif isinstance(v, str):
        try:
            f = float(v)
        except ValueError:
            try:
                f = parse_iso(v.strip())
            except ValueError:
                raise InputError(
                    f"'first_seen' must be epoch seconds or an ISO-8601 time such as "
                    f"2026-11-28T10:02:00Z (got {v[:40]!r})"
                ) from None
    else:
        raise InputError("'first_seen' must be epoch seconds or an ISO-8601 time")
    if not math.isfinite(f) or not 0 <= f < 1e11:
        raise InputError("'first_seen' is not a plausible time")
    return f


# ---- marking -------------------------------------------------------------------------------------


@dataclass
class Filed:
    """A report as marking sees it."""

    pk: int
    team: str
    filed_at: float  # the session clock when it was filed (epoch s of scenario time)
    body: dict
    evidence_steps: frozenset = frozenset()  # steps whose traffic its evidence cites
    override: dict | None = None  # {"points": float, "reason": str}
    edited: bool = False  # filed_at is then the time of its last edit: the report as it stands now

    def when(self) -> str:
        return "last edited" if self.edited else "filed"


def _addresses(named: list[str], test) -> tuple[int, int]:
    right = sum(1 for a in named if test(a))
    return right, len(named) - right


def _affinity(r: Filed, key) -> float:
    b = r.body
    score = 0.0
    if key.id in r.evidence_steps:
        score += 4
    if b.get("attack") and b["attack"] == key.attack:
        score += 2
    elif b.get("attack") and b["attack"].split(".")[0] == key.attack.split(".")[0]:
        score += 1
    if any(key.is_attacker(a) for a in b["attackers"]):
        score += 2
    if any(key.is_affected(a) for a in b["affected"]):
        score += 1
    if any(key.matches(i["type"], i["value"]) for i in b["indicators"]):
        score += 1
    c = (b["classification"]["class"], b["classification"]["type"])
    if c in key.rsit:
        score += 1
    elif c[0] in {x[0] for x in key.rsit}:
        score += 0.5
    if b.get("first_seen") is not None and key.start - 120 <= b["first_seen"] <= key.end + 120:
        score += 0.5
    return score


def _fmt(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def mark(r: Filed, key, detected_at: float | None, points: dict | None = None) -> dict:
    """The mark of one report against one step (its matched step)."""
    p = dict(POINTS, **(points or {}))
    b, parts, notes = r.body, {}, []
    cls, typ = b["classification"]["class"], b["classification"]["type"]
    classes = {c for c, _ in key.rsit}
    parts["class"] = p["class"] if cls in classes else 0.0
    parts["type"] = p["type"] if (cls, typ) in key.rsit else 0.0
    want = rsit.label(*key.rsit[0])
    notes.append(
        f"classification {rsit.label(cls, typ)} "
        + (
            "right"
            if parts["type"]
            else f"partly right (expected {want})"
            if parts["class"]
            else f"wrong (expected {want})"
        )
    )
    right, wrong = _addresses(b["affected"], key.is_affected)
    parts["affected"] = p["affected"] if right and not wrong else p["affected"] / 2 if right else 0.0
    notes.append(
        "affected hosts "
        + (
            "right"
            if parts["affected"] == p["affected"]
            else f"partly right ({right} of {right + wrong})"
            if right
            else "not named"
            if not b["affected"]
            else "wrong"
        )
    )
    if key.attackers or key.attacker_nets:
        right, wrong = _addresses(b["attackers"], key.is_attacker)
        parts["attacker"] = p["attacker"] if right and not wrong else p["attacker"] / 2 if right else 0.0
        notes.append(
            "attacker "
            + (
                "right"
                if parts["attacker"] == p["attacker"]
                else f"partly right ({right} of {right + wrong})"
                if right
                else "not named"
                if not b["attackers"]
                else "wrong"
            )
        )
    elif key.bases:
        ok = any(i["type"] in ("domain", "url") and key.matches(i["type"], i["value"]) for i in b["indicators"])
        parts["attacker"] = p["attacker"] if ok and not b["attackers"] else p["attacker"] / 2 if ok else 0.0
        notes.append("attacker's domain " + ("named" if ok else "not named"))
    else:
        parts["attacker"] = 0.0 if b["attackers"] else p["attacker"]
        notes.append("no attacker address to name" + (": the ones named are wrong" if b["attackers"] else ""))
    att = b.get("attack")
    parts["technique"] = (
        p["technique"]
        if att == key.attack
        else p["technique"] / 2
        if att and att.split(".")[0] == key.attack.split(".")[0]
        else 0.0
    )
    notes.append(
        f"technique {att or 'not named'} "
        + (
            "right"
            if parts["technique"] == p["technique"]
            else "partly right"
            if parts["technique"]
            else f"(the step was {key.attack})"
        )
    )
    raw = sum(parts.values())
    best = sum(p[k] for k in ("class", "type", "affected", "attacker", "technique"))
    ref = detected_at if detected_at is not None else key.start
    delay = max(0.0, r.filed_at - ref)
    factor = decay(delay, p["grace"], p["span"], p["floor"])
    since = (
        "after the team's first detection of the step"
        if detected_at is not None
        else "after the step began (no alert detected it: the report is the detection)"
    )
    pts = round(raw * factor, 2)
    reason = (
        f"report #{r.pk} '{_short(b['title'])}' on step {key.id} ({key.technique}): "
        + "; ".join(notes)
        + f": {_fmt(raw)} of {_fmt(best)} x {factor:.2f} ({r.when()} {_fmt(delay)} s {since})"
    )
    return {
        "report": r.pk,
        "team": r.team,
        "step": key.id,
        "points": pts,
        "raw": raw,
        "max": best,
        "accuracy": round(raw / best, 4) if best else 0.0,
        "factor": round(factor, 4),
        "delay_seconds": round(delay, 3),
        "parts": parts,
        "reason": reason,
        "counted": True,
    }


def _short(t: str) -> str:
    return t if len(t) <= 60 else t[:57] + "..."


CLAIMS = {"evidence": "evidence", "attack": "ATT&CK technique", "attackers": "attacker address",
          "affected": "affected host", "indicators": "indicator", "first_seen": "first-seen time"}


def _listed(words: list[str], last: str) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + f" {last} " + words[-1]


def unmatched(r: Filed, keys: dict) -> str:
    """Why a report matches no attack step: none had begun when it was filed, or nothing in it
    points at one of those that had (its classification and each claim it makes, or does not)."""
    head = f"report #{r.pk} '{_short(r.body['title'])}'"
    begun = sum(1 for k in keys.values() if k.start <= r.filed_at + 0.001)
    if not begun:
        return f"{head} matches no attack step: none had begun when it was {r.when()}"
    b, c, one = r.body, r.body["classification"], begun == 1
    given = [w for k, w in CLAIMS.items() if b.get(k) not in (None, "", [])]
    missing = [w for w in CLAIMS.values() if w not in given]
    label = rsit.label(c["class"], c["type"])
    why = [f"its classification {label} " + ("does not fit it" if one else "fits none of them")]
    if given:
        why.append(f"its {_listed(given, 'and')} " + ("do not point at it" if one else "point at none of them"))
    if missing:
        why.append(f"it names no {_listed(missing, 'or')}")
    steps = "does not match the one attack step" if one else f"matches none of the {begun} attack steps"
    return f"{head} {steps} that had begun when it was {r.when()}: " + "; ".join(why)


def counting(m: dict) -> str:
    """Whether a report's mark counts, and if not, which report counts instead."""
    b = m.get("beaten_by")
    if m["counted"] or b is None:
        return "it counts" + (f" for step {m['step']}" if m["step"] else "")
    head = f"it does not count: report #{b['report']} on the same step scores"
    if b["points"] > m["points"]:
        return f"{head} higher ({b['points']:g}) and only the best report per step counts"
    return f"{head} as much ({b['points']:g}) and came first: only the best report per step counts, the first of equals"


def override_message(r: dict, displaced: Iterable[int] = ()) -> str:
    """What an instructor's override (or its clearing) does to a report that carries its mark
    (``r["mark"]``, None when the session has no ground truth yet) and, when the report now counts,
    to the reports on the same step it ``displaced``."""
    m = r.get("mark")
    if r["override"]:
        what = f"mark set to {r['override']['points']:g}"
    else:
        what = "the computed mark" + (f" ({_fmt(m['computed'])})" if m else "") + " applies again"
    if m is None:
        return f"report #{r['pk']}: {what}"
    out = f"report #{r['pk']}: {what}; {counting(m)}"
    others = [f"#{pk}" for pk in displaced]
    if m["counted"] and others:
        many = len(others) > 1
        out += (f"; report{'s' if many else ''} {', '.join(others)} on the same step "
                f"do{'' if many else 'es'} not count now")
    return out


def match(r: Filed, keys: dict) -> Any:
    """The step a report fits best (None when it fits none that had begun)."""
    best, best_score = None, 0.0
    for k in keys.values():
        if k.start > r.filed_at + 0.001:
            continue
        s = _affinity(r, k)
        if s > best_score:
            best, best_score = k, s
    return best


def mark_all(
    reports: Iterable[Filed], keys: dict, detected_at: dict[str, float | None], points: dict | None = None
) -> list[dict]:
    """Mark one team's reports: each against its best step, one counted report per step, the
    instructor's overrides applied. Returns one mark per report, in filing order."""
    out = []
    for r in sorted(reports, key=lambda x: (x.filed_at, x.pk)):
        key = match(r, keys)
        if key is None:
            m = {
                "report": r.pk,
                "team": r.team,
                "step": None,
                "points": 0.0,
                "raw": 0.0,
                "max": 0.0,
                "accuracy": 0.0,
                "factor": 0.0,
                "delay_seconds": None,
                "parts": {},
                "counted": True,
                "reason": unmatched(r, keys),
            }
        else:
            m = mark(r, key, detected_at.get(key.id), points)
        m["computed"] = m["points"]
        if r.override is not None:
            m["points"] = round(float(r.override["points"]), 2)
            m["overridden"] = True
            m["reason"] += (
                f"; the instructor set the mark to {_fmt(m['points'])} (was {_fmt(m['computed'])}): "
                f"{r.override['reason']}"
            )
        out.append(m)
    best: dict[str, dict] = {}
    for m in out:
        if m["step"] is None:
            continue
        cur = best.get(m["step"])
        if cur is None or m["points"] > cur["points"]:
            best[m["step"]] = m
    for m in out:
        b = best.get(m["step"])
        m["beaten_by"] = None if b is None or b is m else {"report": b["report"], "points": b["points"]}
        if m["beaten_by"]:
            m["counted"] = False
            m["reason"] += "; " + counting(m)
    return out


def earned(m: dict) -> float:
    return m["points"] if m["counted"] else 0.0


def summary(marks: list[dict], steps: int) -> dict:
    """Report quality figures of one team: reports, steps reported, mean accuracy, points."""
    counted = [m for m in marks if m["counted"] and m["step"] is not None]
    return {
        "reports": len(marks),
        "steps_reported": len(counted),
        "steps": steps,
        "quality": round(sum(m["accuracy"] for m in counted) / len(counted), 4) if counted else None,
        "coverage": round(len(counted) / steps, 4) if steps else None,
        "points": round(sum(earned(m) for m in marks), 2),
    }


def public(body: dict) -> dict:
    """A report body for JSON answers (first_seen also as ISO)."""
    out = dict(body)
    out["first_seen_iso"] = iso(body["first_seen"]) if body.get("first_seen") is not None else None
    out["classification"] = dict(
        body["classification"], label=rsit.label(body["classification"]["class"], body["classification"]["type"])
    )
    return out
