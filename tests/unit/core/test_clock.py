"""Times as a hunter types them: absolute, time of day, relative to the session clock."""
from __future__ import annotations

import re

import pytest

from range.core import MAX_WHEN, parse_iso, parse_when

NOW = parse_iso("2026-11-28T10:02:30Z")


@pytest.mark.parametrize("text, expected", [
    ("-5m", "2026-11-28T09:57:30Z"),
    ("-90s", "2026-11-28T10:01:00Z"),
    ("now-2h", "2026-11-28T08:02:30Z"),
    ("now", "2026-11-28T10:02:30Z"),
    ("+1m", "2026-11-28T10:03:30Z"),
    ("09:58", "2026-11-28T09:58:00Z"),
    ("10:01:05", "2026-11-28T10:01:05Z"),
    ("23:50", "2026-11-27T23:50:00Z"),          # nearer to the clock on the day before
    ("2026-11-28T10:00:00Z", "2026-11-28T10:00:00Z"),
    ("2026-11-28T11:00:00+01:00", "2026-11-28T10:00:00Z"),
    ("1764324000", "2025-11-28T10:00:00Z"),
])
def test_every_form_names_one_instant(text, expected):
    assert parse_when(text, NOW) == parse_iso(expected)


def test_a_time_of_day_after_midnight_goes_to_the_next_day_when_the_clock_is_late():
    late = parse_iso("2026-11-28T23:58:00Z")
    assert parse_when("00:01", late) == parse_iso("2026-11-29T00:01:00Z")


@pytest.mark.parametrize("text", ["yesterday", "-5x", "25:00", "10:61", "--5m", "now-", ""])
def test_what_is_not_a_time_says_which_forms_are(text):
    with pytest.raises(ValueError, match="not a time|no time of day|could not convert"):
        parse_when(text, NOW)


def test_relative_forms_need_the_session_clock():
    with pytest.raises(ValueError, match="session clock"):
        parse_when("-5m")
    assert parse_when("2026-11-28T10:00:00Z") == parse_iso("2026-11-28T10:00:00Z")


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "infinity", "1e400", " nan "])
def test_what_is_not_a_finite_time_is_refused(text):
    with pytest.raises(ValueError, match=re.escape(f"{text!r} is not a time: write epoch seconds")):
        parse_when(text, NOW)


def test_at_most_max_when_characters_are_read():
    assert MAX_WHEN == 64
    assert parse_when(" " * 58 + "now-5m", NOW) == NOW - 300  # 64 characters
    for text in (" " * 59 + "now-5m", "1" * 65, "x" * 10_000):
        with pytest.raises(ValueError, match=f"the time is {len(text)} characters long: at most 64"):
            parse_when(text, NOW)


def test_a_clock_function_is_called_only_for_a_relative_time_or_a_time_of_day():
    calls = []

    def clock():
        calls.append(1)
        return NOW

    for text in ("1764324000", "2026-11-28T10:00:00Z", "yesterday", "nan", "x" * 65):
        try:
            parse_when(text, clock)
        except ValueError:
            pass
    assert calls == []
    assert parse_when("-5m", clock) == NOW - 300 and parse_when("09:58", clock) == parse_iso("2026-11-28T09:58:00Z")
    assert calls == [1, 1]
