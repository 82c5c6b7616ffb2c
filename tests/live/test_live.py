"""A live exercise on the real Docker engine: every technique of the library, acted out in the
team's containers against real services, captured on the bridge, detected while it happens."""
import json
import subprocess
import sys

import pytest

from range.results import team_score


@pytest.fixture(scope="module")
def live_run(tmp_path_factory, office_images):
    out = tmp_path_factory.mktemp("live")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "range.cli",
            "exercise",
            "run",
            "live-check",
            "--live",
            "--team",
            "alb=detections/rules",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return out, r


def test_every_step_detected_live(live_run):
    out, r = live_run
    score = json.loads((out / "alb" / "score.json").read_text())
    missed = [s["id"] for s in score["steps"] if not s["detected"]]
    assert not missed, f"steps not detected live: {missed}"
    assert score["recall"] == 1.0 and score["false_positives"] == 0
    truth = json.loads((out / "alb" / "truth.json").read_text())
    assert len(truth["steps"]) == 12 and all(s["packets"] > 0 and s["flows"] for s in truth["steps"])
    assert score["sensor"]["packets"] > 1000 and score["sensor"]["errors"] == []
    assert "live" in r.stdout
    # the web shell's commands ran for real in the portal's container: the host sensor recorded
    # them, the truth ties them to the step, and the rule on them counts as a detection
    webshell = next(s for s in truth["steps"] if s["id"] == "webshell")
    assert webshell["host_records"] > 0 and {e["host"] for e in webshell["host"]} == {"web"}
    by_step = {s["id"]: s for s in score["steps"]}
    assert "d952242d-95f6-4faf-9c7b-4ab434c820fc" in by_step["webshell"]["rules"]


def test_live_outputs_match_offline_ones(live_run):
    out, _ = live_run
    d = out / "alb"
    for name in ("capture.pcap", "truth.json", "events.db", "alerts.json", "score.json"):
        assert (d / name).stat().st_size > 0, name
    results = json.loads((out / "results.json").read_text())
    assert results["mode"] == "live" and results["ranking"][0]["team"] == "alb"


def test_session_removed_afterwards(live_run):
    out, _ = live_run
    session = json.loads((out / "results.json").read_text())["session"]
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=cyberrange.session={session}"], capture_output=True, text=True
    ).stdout.split()
    nets = subprocess.run(
        ["docker", "network", "ls", "-q", "--filter", f"label=cyberrange.session={session}"],
        capture_output=True,
        text=True,
    ).stdout.split()
    assert left == [] and nets == []


def test_a_live_session_driven_like_the_web_console(tmp_path, monkeypatch, office_images):
    """The instructor's path: a live session created, a rule deployed, started, run to its end by
    the driver; the range comes up on create and goes away at the end."""
    from range import sessions
    from range.sessions import StateStore, run_until_done

    monkeypatch.setattr("range.core.paths.STATE", tmp_path / "state")
    store = StateStore(tmp_path / "state" / "cyberrange.db")
    name = f"lv{__import__('os').getpid() % 100000}"
    sessions.create_session(store, name, "smoke", ["blue"], mode="live")
    assert store.session(name)["status"] == "ready"
    sessions.deploy_rule(store, name, "blue", (RULES / "net_conn_port_scan.yml").read_text())
    sessions.start(store, name)
    run_until_done(store, name)
    score = team_score(store, name, "blue")
    assert score["recall"] == 1.0 and score["false_positives"] == 0
    assert score["steps"][0]["ttd_seconds"] > 0 and score["steps"][0]["points"] > 0
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=cyberrange.session={name}"], capture_output=True, text=True
    ).stdout.split()
    assert left == []


RULES = __import__("pathlib").Path(__file__).resolve().parents[2] / "detections" / "rules"
