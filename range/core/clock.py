"""Timestamps as the project writes them: ISO-8601 UTC with microseconds and a ``Z``."""
from __future__ import annotations

import datetime as dt
import math
import re
from typing import Callable

UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


def iso(ts: float) -> str:
    """Epoch seconds to ``2026-11-28T10:02:00.123456Z`` (exact to the microsecond)."""
    us = round(ts * 1_000_000)
    d = EPOCH + dt.timedelta(microseconds=us)
    return d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> float:
    """ISO-8601 (``Z`` or offset; naive means UTC) to epoch seconds."""
    d = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    return ((d - EPOCH) // dt.timedelta(microseconds=1)) / 1_000_000


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RELATIVE = re.compile(r"^now\s*(?:([+-])\s*(\d+(?:\.\d+)?)\s*([smhd]))?$|^([+-])\s*(\d+(?:\.\d+)?)\s*([smhd])$")
_TIME_OF_DAY = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?$")
WHEN_FORMS = ("epoch seconds, an ISO-8601 time such as 2026-11-28T10:02:00Z, a time of day in UTC such as 14:39 "
              "or 14:39:05, or a time relative to the session clock such as -5m, -90s, -2h or now")
MAX_WHEN = 64  # characters of a time as typed: every form fits with room to spare


def parse_when(text: str, now: float | Callable[[], float] | None = None) -> float:
    """A time as a hunter types it, to epoch seconds: epoch seconds; ISO-8601; ``14:39`` / ``14:39:05``
    (UTC, on the day before, of or after ``now``: whichever is nearest to ``now``); ``-5m``, ``now-2h``,
    ``now`` (relative to ``now``: the session clock, not the wall clock of this machine). ``now`` may be
    a function, called (once) only when the text is relative or a time of day. Text longer than
    ``MAX_WHEN`` characters and what is not a finite time (``nan``, ``inf``, ``1e400``) are refused.
    Raises ValueError saying which forms are understood."""
    if len(text) > MAX_WHEN:
        raise ValueError(f"the time is {len(text)} characters long: at most {MAX_WHEN}")
    try:
        t = _parse(text, now)
    except OverflowError:
        t = math.nan
    if not math.isfinite(t):
        raise ValueError(f"{text!r} is not a time: write {WHEN_FORMS}")
    return t


def _parse(text: str, now: float | Callable[[], float] | None) -> float:
    t = text.strip().lower()
    try:
        return float(t)
    except ValueError:
        pass
    rel = _RELATIVE.match(t)
    tod = _TIME_OF_DAY.match(t)
    if (rel or tod) and now is None:
        raise ValueError("a relative time or a time of day needs the session clock")
    if rel or tod:
        now = now() if callable(now) else now
    if rel:
        sign, n, unit = (rel.group(1), rel.group(2), rel.group(3)) if t.startswith("now") else rel.group(4, 5, 6)
        return now if n is None else now + (-1 if sign == "-" else 1) * float(n) * _UNITS[unit]
    if tod:
        h, m, s = int(tod.group(1)), int(tod.group(2)), int(tod.group(3) or 0)
        if h > 23 or m > 59 or s > 59:
            raise ValueError(f"{text!r} is not a time: no time of day has an hour over 23 or a minute or "
                             f"second over 59")
        day = dt.datetime.fromtimestamp(now, UTC).replace(hour=h, minute=m, second=s, microsecond=0)
        frac = float(tod.group(4) or 0)
        cands = [((day - EPOCH) + dt.timedelta(days=d)).total_seconds() + frac for d in (-1, 0, 1)]
        return min(cands, key=lambda c: abs(c - now))
    try:
        return parse_iso(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a time: write {WHEN_FORMS}") from None
