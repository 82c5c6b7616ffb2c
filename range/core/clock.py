"""Timestamps as the project writes them: ISO-8601 UTC with microseconds and a ``Z``."""
from __future__ import annotations

import datetime as dt

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
