"""Indicator sharing through the session's regional hub: indicator kinds and their checks, TLP 2.0
markings and who may see what, the sharing score, and a Sigma rule made from an indicator.

Visibility (TLP 2.0, the session's teams being the community):

| marking | seen by |
| --- | --- |
| ``CLEAR``, ``GREEN`` | every team of the session (and the instructor) |
| ``AMBER`` | every team of the session: the community, on a need-to-know basis |
| ``AMBER+STRICT``, ``RED`` | the publishing team and the instructor only |

No indicator ever leaves its session, and nobody who is not logged in sees the feed.

Score (pure, :func:`share_marks`): an indicator marked CLEAR, GREEN or AMBER is *shared*; one that
is right for the publisher's own copy (:meth:`range.csirt.answerkey.StepKey.matches`, a step that had
begun when it was published) earns ``first`` points when no team published the identical value
earlier, ``later`` points otherwise; a wrong one costs ``wrong``. At most ``cap`` indicators per
team and step earn points. AMBER+STRICT and RED indicators are kept for the team's own records
and exports and earn nothing (they are not shared); file hashes cannot be checked against this
range's ground truth (it carries no files) and earn nothing either.
"""
from __future__ import annotations

import ipaddress
import re
import uuid
from typing import Iterable
from urllib.parse import urlsplit

import yaml

from range.core import InputError

KINDS = ("ipv4", "domain", "url", "user_agent", "hash")
TLPS = ("CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED")
SHARED = ("CLEAR", "GREEN", "AMBER")
MAX_LEN = {"ipv4": 15, "domain": 253, "url": 2048, "user_agent": 512, "hash": 64}
POINTS = {"first": 20.0, "later": 5.0, "wrong": -2.0, "cap": 5}
HASH_NAMES = {32: "MD5", 40: "SHA-1", 64: "SHA-256"}
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)\Z")
_HEX = re.compile(r"^[0-9a-f]+\Z")
NAMESPACE = uuid.UUID("7d6f0a8e-3c1b-4b4e-9c2a-5e1f0c9b2d11")


# ---- indicators --------------------------------------------------------------------------------

def tlp(value: object, field: str = "tlp") -> str:
    """A TLP 2.0 marking: CLEAR, GREEN, AMBER, AMBER+STRICT or RED (``TLP:`` and case optional)."""
    if not isinstance(value, str):
        raise InputError(f"'{field}' must be one of: {', '.join(TLPS)}")
    v = value.strip().upper()
    v = v[4:] if v.startswith("TLP:") else v
    if v == "WHITE":
        v = "CLEAR"  # TLP 1.0's name for CLEAR
    if v not in TLPS:
        raise InputError(f"'{field}' must be one of: {', '.join(TLPS)} (TLP 2.0; got {value!r})")
    return v


def indicator(kind: object, value: object, field: str = "indicator") -> tuple[str, str]:
    """Check one indicator and return (kind, normalised value); errors name the field."""
    if not isinstance(kind, str) or kind not in KINDS:
        raise InputError(f"'{field}.type' must be one of: {', '.join(KINDS)} (got {kind!r})")
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"'{field}.value' must be a non-empty string")
    v = value.strip()
    if len(v) > MAX_LEN[kind]:
        if kind == "ipv4":
            raise InputError(f"'{field}.value' is not an IPv4 address (got {v[:40]!r})")
        raise InputError(f"'{field}.value' is longer than {MAX_LEN[kind]} characters (the longest {kind} allowed)")
    if any(ord(c) < 32 or ord(c) == 127 for c in v):
        raise InputError(f"'{field}.value' holds control characters")
    if kind == "ipv4":
        try:
            return kind, str(ipaddress.IPv4Address(v))
        except ValueError:
            raise InputError(f"'{field}.value' is not an IPv4 address (got {v!r})") from None
    if kind == "domain":
        d = v.lower().rstrip(".")
        labels = d.split(".")
        if len(labels) < 2 or not all(_LABEL.match(x) for x in labels) or labels[-1].isdigit():
            raise InputError(f"'{field}.value' is not a domain name such as c2.example.org (got {v!r})")
        return kind, d
    if kind == "url":
        parts = urlsplit(v)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname or " " in v:
            raise InputError(f"'{field}.value' is not an http(s) URL such as http://host/path (got {v!r})")
        rest = v.split("://", 1)[1]
        rest = rest[len(parts.netloc):]
        return kind, f"{parts.scheme.lower()}://{parts.netloc.lower()}{rest or '/'}"
    if kind == "hash":
        h = v.lower()
        if not _HEX.match(h) or len(h) not in HASH_NAMES:
            raise InputError(f"'{field}.value' is not an MD5, SHA-1 or SHA-256 hex digest (got {v!r})")
        return kind, h
    return kind, v  # a user agent, exactly as sent


def address(value: object, field: str) -> str:
    """An IPv4 address or network (CIDR) of a report."""
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"'{field}' must be an IPv4 address or network such as 10.0.0.5 or 10.0.0.0/24")
    v = value.strip()
    try:
        if "/" in v:
            net = ipaddress.IPv4Network(v, strict=False)
            if net.prefixlen < 8:
                raise InputError(f"'{field}' is too wide a network ({v}): at most /8")
            return str(net)
        return str(ipaddress.IPv4Address(v))
    except ValueError:
        raise InputError(f"'{field}' is not an IPv4 address or network (got {v[:60]!r})") from None


# ---- who sees what -----------------------------------------------------------------------------

def visible(marking: str, publisher: str, viewer_team: str | None, instructor: bool) -> bool:
    """May this viewer (a team of the same session, or the instructor) see the indicator?"""
    if instructor or viewer_team == publisher:
        return True
    return viewer_team is not None and marking in SHARED


# ---- the sharing score -------------------------------------------------------------------------

def share_marks(indicators: Iterable[dict], keys: dict[str, dict], points: dict | None = None) -> list[dict]:
    """Mark every indicator of a session. ``indicators``: dicts with pk, team, kind, value,
    tlp, published_at; ``keys``: team -> {step id -> StepKey}. Returns one mark per indicator:
    {pk, team, points, correct, step, first, reason}, in publication order."""
    p = dict(POINTS, **(points or {}))
    ordered = sorted(indicators, key=lambda i: (i["published_at"], i["pk"]))
    first_seen: dict[tuple[str, str], str] = {}  # (kind, value) -> the first team right about it
    credited: dict[tuple[str, str], int] = {}
    out = []
    for ind in ordered:
        kind, value, team = ind["kind"], ind["value"], ind["team"]
        what = f"{kind} {value if len(value) <= 80 else value[:77] + '...'} (TLP:{ind['tlp']})"
        mark = {"pk": ind["pk"], "team": team, "points": 0.0, "correct": None, "step": None, "first": False}
        if kind == "hash":
            mark["reason"] = f"shared {what}: file hashes cannot be checked in this range (no points)"
            out.append(mark)
            continue
        step = next((k for k in (keys.get(team) or {}).values()
                     if k.start <= ind["published_at"] + 0.001 and k.matches(kind, value)), None)
        mark["correct"] = step is not None
        mark["step"] = step.id if step else None
        if ind["tlp"] not in SHARED:
            mark["reason"] = (f"kept {what} to the team: {'right' if step else 'not an indicator of the attack'}; "
                              f"not shared, no points")
            out.append(mark)
            continue
        if step is None:
            mark["points"] = p["wrong"]
            mark["reason"] = f"shared {what}: not an indicator of any attack step seen so far"
            out.append(mark)
            continue
        n = credited.get((team, step.id), 0)
        ident = (kind, value.lower() if kind != "user_agent" else value)
        earlier = first_seen.get(ident)
        if earlier is None:
            first_seen[ident] = team
            mark["first"] = True
        if n >= p["cap"]:
            mark["reason"] = f"shared {what}: right (step {step.id}), but {int(p['cap'])} indicators of this step " \
                             f"already earned points"
        else:
            credited[(team, step.id)] = n + 1
            mark["points"] = p["first"] if mark["first"] else p["later"]
            mark["reason"] = (f"shared {what}: right for step {step.id} ({step.technique}); "
                              + ("first in the community" if mark["first"] else f"{earlier} shared it first"))
        out.append(mark)
    return out


# ---- from an indicator to a Sigma rule ----------------------------------------------------------

def _sigma_value(v: str) -> str:
    """Sigma treats * and ? as wildcards and \\ as their escape: keep the value literal."""
    return v.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


def sigma_rule(kind: str, value: str, pk: int, publisher: str, marking: str) -> str:
    """A Sigma rule that alerts on an indicator in this range's events."""
    if kind == "ipv4":
        logsource = {"category": "firewall"}
        detection = {"dst": {"dst_ip": value}, "src": {"src_ip": value}, "condition": "dst or src"}
        what, tags = f"traffic to or from {value}", ["attack.command-and-control"]
    elif kind == "domain":
        logsource = {"category": "dns"}
        detection = {"name": {"query": _sigma_value(value)}, "sub": {"query|endswith": "." + _sigma_value(value)},
                     "condition": "name or sub"}
        what, tags = f"DNS lookups of {value} and its subdomains", ["attack.command-and-control"]
    elif kind == "url":
        parts = urlsplit(value)
        rest = value.split("://", 1)[1][len(parts.netloc):] or "/"
        sel = {"c-uri|contains": _sigma_value(rest)}
        if parts.hostname and not _is_ip(parts.hostname):
            sel["cs-host"] = _sigma_value(parts.hostname)
        logsource, detection = {"category": "proxy"}, {"selection": sel, "condition": "selection"}
        what, tags = f"HTTP requests for {value}", ["attack.initial-access"]
    elif kind == "user_agent":
        logsource = {"category": "proxy"}
        detection = {"selection": {"c-useragent": _sigma_value(value)}, "condition": "selection"}
        what, tags = f"HTTP requests with the user agent {value!r}", ["attack.command-and-control"]
    else:
        raise InputError("this range records no files: a file hash cannot become a rule here "
                         "(use it in your own endpoint tools)")
    rule = {
        "title": f"Shared indicator #{pk} ({kind}) from {publisher}",
        "id": str(uuid.uuid5(NAMESPACE, f"{pk}:{kind}:{value}")),
        "status": "experimental",
        "description": f"{what}; indicator #{pk} shared by {publisher} (TLP:{marking}) on the regional hub",
        "author": "cyberrange indicator import",
        "tags": tags,
        "logsource": logsource,
        "detection": detection,
        "level": "high",
    }
    return yaml.safe_dump(rule, sort_keys=False, allow_unicode=True, width=1000)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False
