"""Correlations evaluated one event at a time (range.detect.correlate): windows and their
boundaries, grouping, each kind of correlation, closing conditions, evidence caps, and the same
alerts whether the events arrive in one feed or in many."""
from __future__ import annotations

import pytest

from range.detect.correlate import EVIDENCE_MAX, Evaluator, Event, Spec


def ev(ts: float, rowid: int = 0, interim: bool = False, **row) -> Event:
    return Event(ts, "conn", rowid or int(ts * 1000), row, interim)


def spec(kind="event_count", timespan=10.0, op="gte", threshold=3, sources=("a",), group=("src",),
         value=None, expression=None) -> Spec:
    return Spec(kind, timespan, list(sources), {s: list(group) for s in sources}, list(group), op, threshold,
                {s: value for s in sources} if value else {}, expression)


def run(e: Evaluator, events, source="a", now=None) -> list:
    for x in events:
        e.feed(x, source, now)
    return e.take()


# ---- sliding windows ---------------------------------------------------------------------------

def test_count_raises_on_the_event_that_crosses_the_threshold_and_later_ones_join():
    e = Evaluator("r", spec())
    assert run(e, [ev(0, src="A"), ev(1, src="A")]) == []
    (a,) = run(e, [ev(2, src="A")])
    assert (a.rule, a.group, a.first_ts, a.raised_ts, a.window_end, a.matched) == ("r", {"src": "A"}, 0, 2, 10, 3)
    (same,) = run(e, [ev(5, src="A")])  # inside the alert's span: evidence of the same alert
    assert same is a and a.matched == 4 and a.last_ts == 5 and a.revision == 2
    assert run(e, [ev(11, src="A"), ev(12, src="A")]) == []  # after the span the group counts afresh
    (b,) = run(e, [ev(13, src="A")])
    assert b is not a and b.first_ts == 11


def test_a_window_includes_an_event_exactly_one_timespan_earlier_and_no_more():
    inside = Evaluator("r", spec(threshold=2))
    assert len(run(inside, [ev(0, src="A"), ev(10.0, src="A")])) == 1
    outside = Evaluator("r", spec(threshold=2))
    assert run(outside, [ev(0, src="A"), ev(10.001, src="A")]) == []


def test_groups_count_apart_and_no_group_by_is_one_group():
    e = Evaluator("r", spec(threshold=2))
    alerts = run(e, [ev(0, src="A"), ev(1, src="B"), ev(2, src="A"), ev(3, src="C")])
    assert [a.group for a in alerts] == [{"src": "A"}]
    e = Evaluator("r", spec(threshold=2, group=()))
    (a,) = run(e, [ev(0, src="A"), ev(1, src="B")])
    assert a.group == {} and a.matched == 2


def test_a_group_field_missing_from_a_rule_puts_its_events_in_one_group():
    s = Spec("event_count", 10, ["a"], {"a": [None]}, ["src"], "gte", 2)
    (a,) = run(Evaluator("r", s), [ev(0, src="A"), ev(1, src="B")])
    assert a.group == {"src": None}


def test_value_count_counts_distinct_values():
    e = Evaluator("r", spec("value_count", threshold=3, value="port"))
    assert run(e, [ev(0, src="A", port=22), ev(1, src="A", port=22), ev(2, src="A", port=80)]) == []
    (a,) = run(e, [ev(3, src="A", port=443)])
    assert a.matched == 4  # every matching event is evidence, duplicates included


def test_value_count_forgets_values_that_left_the_window():
    e = Evaluator("r", spec("value_count", threshold=3, value="port"))
    assert run(e, [ev(0, src="A", port=1), ev(1, src="A", port=2), ev(20, src="A", port=3)]) == []


@pytest.mark.parametrize("kind, threshold, values, fires", [
    ("value_sum", 100, [40, 50, 20], True),
    ("value_sum", 200, [40, 50, 20], False),
    ("value_avg", 30, [40, 50, 20], True),   # 40 >= 30 at once
    ("value_avg", 45, [40, "x", None], False),   # non-numbers are not counted
])
def test_sum_and_average(kind, threshold, values, fires):
    e = Evaluator("r", spec(kind, threshold=threshold, value="bytes"))
    alerts = run(e, [ev(i, src="A", bytes=v) for i, v in enumerate(values)])
    assert bool(alerts) == fires


# ---- closing conditions ----------------------------------------------------------------------------

def test_lt_is_judged_when_the_window_closes():
    e = Evaluator("r", spec(op="lt", threshold=3))
    assert run(e, [ev(0, src="A"), ev(1, src="A"), ev(2, src="B"), ev(3, src="B"), ev(4, src="B")]) == []
    e.advance(10.0)  # the window [0, 10] is not over until the stream passes it
    assert e.take() == []
    e.advance(10.5)
    (a,) = e.take()
    assert a.group == {"src": "A"} and a.matched == 2 and a.window_end == 10 and a.raised_ts == 10


def test_a_closing_window_is_never_raised_before_its_evidence_arrived():
    """Live, a poll may come with a clock that is late for the window but early for its event."""
    e = Evaluator("r", spec(op="eq", threshold=1))
    e.feed(ev(0, src="A"), "a", now=25.0)
    e.advance(30, now=12.0)
    (a,) = e.take()
    assert a.raised_ts == 25.0


# ---- temporal -----------------------------------------------------------------------------------

def test_temporal_needs_every_rule_within_the_timespan_in_any_order():
    e = Evaluator("t", spec("temporal", timespan=5, threshold=2, sources=("dns", "http")))
    assert run(e, [ev(0, src="A")], source="http") == []
    (a,) = run(e, [ev(4, src="A")], source="dns")
    assert [x.ts for x in a.events] == [0, 4]
    e = Evaluator("t", spec("temporal", timespan=5, threshold=2, sources=("dns", "http")))
    run(e, [ev(0, src="A")], source="dns")
    assert run(e, [ev(6, src="A")], source="http") == []


def test_temporal_extended_condition():
    s = spec("temporal", timespan=5, threshold=1, sources=("a", "b"), expression=lambda present: "a" in present
             and "b" not in present)
    e = Evaluator("t", s)
    assert len(run(e, [ev(0, src="A")], source="a")) == 1


def test_temporal_ordered_follows_the_rules_order():
    e = Evaluator("o", spec("temporal_ordered", timespan=5, threshold=1, sources=("a", "b")))
    assert run(e, [ev(0, src="A")], source="b") == []
    assert run(e, [ev(1, src="A")], source="a") == []
    (a,) = run(e, [ev(2, src="A")], source="b")
    assert [x.ts for x in a.events] == [1, 2]


# ---- evidence, memory, incrementality -----------------------------------------------------------

def test_evidence_keeps_the_first_events_and_the_one_that_crossed_the_threshold():
    e = Evaluator("r", spec(threshold=EVIDENCE_MAX + 10))
    (a,) = run(e, [ev(i / 100, src="A") for i in range(EVIDENCE_MAX + 10)])
    assert len(a.events) == EVIDENCE_MAX and a.matched == EVIDENCE_MAX
    assert a.events[-1].ts == (EVIDENCE_MAX + 9) / 100 and a.events[0].ts == 0


def test_idle_groups_are_forgotten():
    """Memory stays bounded by the window, not the stream: a sweep once per timespan forgets groups
    idle for longer than a timespan, so at most two timespans' worth of groups remain."""
    e = Evaluator("r", spec(threshold=5, timespan=10))
    run(e, [ev(i, src=f"10.0.0.{i}") for i in range(50)])
    assert 0 < len(e.groups) <= 21 and ("10.0.0.0",) not in e.groups and ("10.0.0.49",) in e.groups


def test_one_feed_or_many_give_the_same_alerts():
    events = [ev(t / 4, src="AB"[int(t) % 2], port=int(t) % 7) for t in range(400)]
    whole = Evaluator("r", spec("value_count", threshold=5, value="port"))
    a = [(x.group["src"], x.first_ts, x.raised_ts, x.matched) for x in run(whole, events)]
    parts = Evaluator("r", spec("value_count", threshold=5, value="port"))
    b = []
    for i in range(0, len(events), 37):
        b += [(x.group["src"], x.first_ts, x.raised_ts) for x in run(parts, events[i:i + 37])]
    assert [x[:3] for x in a] == sorted(set(b), key=b.index) and len(a) > 10


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "value_median"}, "not supported"),
    ({"op": "between"}, "not supported"),
    ({"kind": "temporal_ordered", "op": "lt"}, "only gte/gt"),
])
def test_unsupported_specs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        spec(**kwargs)


# ---- versions of a connection (the live sensor rewrites an open connection's line) ---------------

def test_a_newer_version_of_a_connection_counts_once_and_replaces_the_evidence():
    e = Evaluator("r", spec(threshold=2))
    assert run(e, [ev(0, 1, True, src="A", uid="C1", orig_bytes=10), ev(0, 2, src="A", uid="C1", orig_bytes=90)]) == []
    (a,) = run(e, [ev(1, 3, True, src="A", uid="C2", orig_bytes=5)])  # the second connection crosses 2
    assert a.matched == 2 and [x.row["orig_bytes"] for x in a.events] == [90, 5]
    (same,) = run(e, [ev(1, 4, src="A", uid="C2", orig_bytes=50)])  # its final line: the alert shows it
    assert same is a and a.matched == 2 and [x.row["orig_bytes"] for x in a.events] == [90, 50]
    assert e._held == {}  # final lines end what was held of their open versions


def test_a_simple_rule_raises_one_alert_for_all_the_versions_of_one_connection():
    e = Evaluator("r", spec(threshold=1, timespan=5))
    alerts = run(e, [ev(0, i, i < 29, src="A", uid="C1", duration=i) for i in range(1, 30)])
    assert len(alerts) == 1 and alerts[0].matched == 1 and alerts[0].events[0].row["duration"] == 29


def test_a_version_arriving_after_its_window_is_not_counted_again():
    e = Evaluator("r", spec(threshold=2, timespan=10))
    run(e, [ev(0, 1, True, src="A", uid="C1")])
    assert run(e, [ev(0, 50, src="A", uid="C1"), ev(30, 51, src="A", uid="C9")]) == []  # one connection only


def test_value_sum_takes_a_versions_new_value_instead_of_adding_it():
    e = Evaluator("r", spec(kind="value_sum", threshold=100, value="orig_bytes"))
    assert run(e, [ev(0, 1, True, src="A", uid="C1", orig_bytes=60), ev(0, 2, src="A", uid="C1", orig_bytes=70)]) == []
    (a,) = run(e, [ev(1, 3, src="A", uid="C2", orig_bytes=30)])  # 70 + 30, not 60 + 70 + 30
    assert a.matched == 2


def test_final_lines_of_a_finished_capture_are_not_held_as_versions():
    """An offline store has only final lines: nothing to remember per connection (no cost per uid)."""
    e = Evaluator("r", spec(threshold=3))
    alerts = run(e, [ev(i * 0.1, i + 1, src="A", uid=f"C{i}") for i in range(10)])
    assert len(alerts) == 1 and alerts[0].matched == 10 and e._held == {}


def test_alert_anchor_is_the_connection_not_its_row():
    e = Evaluator("r", spec(threshold=1))
    (a,) = run(e, [ev(0, 7, src="A", uid="C1")])
    assert a.anchor == "conn:C1:0"
