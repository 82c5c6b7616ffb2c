"""The geometry of the after-action report's timeline labels and of the programme's value axis."""
from __future__ import annotations

from range.results.aar import TIMELINE, axis, label_lanes

# ministry-breach: 20 minutes, eight steps; 'mitm' (680 s) and 'creds' (700 s) are 13 px apart
MINISTRY = [(60, "sweep"), (120, "portscan"), (200, "bruteforce"), (420, "sqli"), (480, "webshell"),
            (680, "mitm"), (700, "creds"), (900, "exfil")]


def _extent(start: float, label: str, span: float) -> tuple[float, float]:
    x = TIMELINE["width"] * start / span
    return x, x + TIMELINE["char"] * len(label)


def test_close_steps_get_labels_in_different_lanes():
    lanes = dict(zip([s for _, s in MINISTRY], label_lanes(MINISTRY, 1200)))
    assert lanes["mitm"] != lanes["creds"] and lanes["sweep"] != lanes["portscan"]
    assert lanes["sqli"] == lanes["exfil"] == 0  # room enough: above the band
    assert max(lanes.values()) == 1
    for lane in set(lanes.values()):  # no two labels of one lane overlap
        spans = sorted(_extent(t, s, 1200) for t, s in MINISTRY if lanes[s] == lane)
        assert all(a[1] < b[0] for a, b in zip(spans, spans[1:])), (lane, spans)


def test_label_lanes_keep_the_input_order_and_take_more_lanes_when_needed():
    steps = [(30, "c"), (10, "a"), (20, "b")]  # 10 s apart on 100 s: 76 px, labels of 7 px
    assert label_lanes(steps, 100) == [0, 0, 0]
    crowded = [(0, "recon"), (1, "scan"), (2, "brute"), (50, "late")]
    assert label_lanes(crowded, 100) == [0, 1, 2, 0]
    assert label_lanes([], 100) == [] and label_lanes([(5, "x")], 0) == [0]


def test_axis_reaches_below_zero_for_negative_values():
    assert axis([-22, 40]) == {"lo": -40, "hi": 40, "ticks": [-40, -20, 0, 20, 40]}
    assert axis([-22]) == {"lo": -30, "hi": 10, "ticks": [-30, -20, -10, 0, 10]}
    assert axis([0, None, 0.5]) == {"lo": 0, "hi": 1, "ticks": [0, 0.25, 0.5, 0.75, 1]}
    assert axis([250, 130])["ticks"] == [0, 100, 200, 300]
