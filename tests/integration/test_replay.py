"""Replay: deterministic per seed, different per team, truth windows exact."""
import hashlib
import json
import subprocess
import sys

from tests.conftest import tshark_fields
from tests.helpers import assert_truth_exact


def _replay(tmp_path, scenario="smoke", seed=7, team="blue", name="a"):
    out = tmp_path / name
    r = subprocess.run([sys.executable, "-m", "range.cli", "replay", scenario, "--out", str(out), "--seed", str(seed),
                        "--team", team], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out


def _digest(p):
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_same_seed_byte_identical(tmp_path):
    a = _replay(tmp_path, name="a")
    b = _replay(tmp_path, name="b")
    assert _digest(a / "capture.pcap") == _digest(b / "capture.pcap")
    assert _digest(a / "truth.json") == _digest(b / "truth.json")
    c = _replay(tmp_path, name="c", seed=8)
    assert _digest(a / "capture.pcap") != _digest(c / "capture.pcap")


def test_other_team_other_addresses_and_timing(tmp_path):
    a = json.loads((_replay(tmp_path, name="a", team="albania") / "truth.json").read_text())
    b = json.loads((_replay(tmp_path, name="b", team="serbia") / "truth.json").read_text())
    fa, fb = a["steps"][0]["flows"], b["steps"][0]["flows"]
    assert {f["src"] for f in fa} != {f["src"] for f in fb}
    assert a["steps"][0]["start"] != b["steps"][0]["start"]
    assert a["team"] == "albania" and b["team"] == "serbia"


def test_truth_window_exact_and_format(tmp_path):
    out = _replay(tmp_path)
    truth = assert_truth_exact(out)
    assert truth["scenario"] == "smoke" and truth["seed"] == 7
    step = truth["steps"][0]
    assert set(step) >= {"id", "technique", "attack", "points", "start", "end", "flows"}
    assert step["attack"] == "T1046" and step["start"].endswith("Z")
    # the first and last packets of the capture inside the window are the step's
    rows = tshark_fields(out / "capture.pcap", ["frame.time_epoch"])
    assert len(rows) > step["packets"]


def test_unknown_scenario_is_a_clear_error(tmp_path):
    r = subprocess.run([sys.executable, "-m", "range.cli", "replay", "nosuch", "--out", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "no scenario named 'nosuch'" in r.stderr and "Traceback" not in r.stderr
