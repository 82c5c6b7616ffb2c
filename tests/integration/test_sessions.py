"""Offline sessions driven in real time: clock, pause, rules deployed late, hints, restart."""
import json
import time

import pytest

from range import sessions
from range.core import InputError, NotFound
from range.results import results
from range.sessions import Driver, StateStore, accounts, run_until_done

RULES = __import__("pathlib").Path(__file__).resolve().parents[2] / "detections" / "rules"


@pytest.fixture()
def store(tmp_path, monkeypatch):
    monkeypatch.setattr("range.core.paths.STATE", tmp_path / "state")
    return StateStore(tmp_path / "state" / "cyberrange.db")


def scan_rule():
    return (RULES / "net_conn_port_scan.yml").read_text()


def test_session_runs_detects_and_ranks(store):
    out = sessions.create_session(store, "s1", "smoke", ["blue", "red"], speed=30)
    assert set(out["teams"]) == {"blue", "red"} and all(len(p) >= 12 for p in out["teams"].values())
    assert accounts.check_team(store, "s1", "blue", out["teams"]["blue"])
    assert not accounts.check_team(store, "s1", "blue", out["teams"]["red"])
    sessions.deploy_rule(store, "s1", "blue", scan_rule())
    sessions.start(store, "s1")
    run_until_done(store, "s1")
    res = results(store, "s1")
    assert res["status"] == "finished"
    assert [r["team"] for r in res["ranking"]] == ["blue", "red"]
    blue = res["scores"]["blue"]
    assert blue["recall"] == 1.0 and blue["false_positives"] == 0 and blue["steps"][0]["ttd_seconds"] >= 0


def test_events_appear_only_as_the_clock_passes_them(store):
    import sqlite3
    sessions.create_session(store, "s2", "smoke", ["blue"], speed=1)
    d = Driver(store)
    sessions.start(store, "s2")
    start_wall = store.session("s2")["started_wall"]
    d.tick(wall=start_wall + 5)
    db = store.team_dir("s2", "blue").events
    n5 = sqlite3.connect(db).execute("SELECT count(*) FROM dns").fetchone()[0]
    total = sqlite3.connect(store.team_dir("s2", "blue").source).execute("SELECT count(*) FROM dns").fetchone()[0]
    assert 0 < n5 < total
    latest = sqlite3.connect(db).execute("SELECT max(_seen) FROM dns").fetchone()[0]
    assert latest <= store.clock(store.session("s2")).now(start_wall + 5)
    d.tick(wall=start_wall + 10_000)
    assert sqlite3.connect(db).execute("SELECT count(*) FROM dns").fetchone()[0] == total


def test_pause_freezes_the_clock(store):
    sessions.create_session(store, "s3", "smoke", ["blue"], speed=1)
    sessions.start(store, "s3")
    time.sleep(0.3)
    sessions.pause(store, "s3")
    a = store.clock(store.session("s3")).elapsed()
    time.sleep(0.3)
    assert store.clock(store.session("s3")).elapsed() == a
    sessions.start(store, "s3")
    time.sleep(0.2)
    assert store.clock(store.session("s3")).elapsed() > a
    with pytest.raises(InputError):
        sessions.start(store, "s3")


def test_retro_hunt_restart_and_hints(store):
    sessions.create_session(store, "s4", "smoke", ["blue"], speed=50)
    sessions.start(store, "s4")
    run_until_done(store, "s4")  # no rule deployed: the scan passes unseen
    assert results(store, "s4")["scores"]["blue"]["recall"] == 0
    with pytest.raises(InputError, match="finished"):
        sessions.deploy_rule(store, "s4", "blue", scan_rule())
    final = results(store, "s4")
    with pytest.raises(InputError, match="finished; hints can no longer"):  # a hint must not rewrite final results
        sessions.release_hint(store, "s4", "recon", 0)
    assert store.hints("s4") == [] and results(store, "s4") == final
    # a second session: the rule arrives after the scan (retro-hunt), and the driver restarts
    sessions.create_session(store, "s5", "smoke", ["blue"], speed=50)
    sessions.start(store, "s5")
    d1 = Driver(store)
    while store.clock(store.session("s5")).elapsed() < 60:
        d1.tick()
        time.sleep(0.05)
    sessions.deploy_rule(store, "s5", "blue", scan_rule())
    d1.tick()
    first = store.alerts("s5", "blue")
    assert first, "the late rule finds the earlier scan"
    d1.stop()
    d2 = Driver(store)  # a restarted driver reruns detection from the store: same alerts, same raise times
    d2.tick()
    assert store.alerts("s5", "blue") == first
    hint = sessions.release_hint(store, "s5", "recon", 0)
    assert hint["cost"] == 20 and hint["teams"] == ["blue"]
    run_until_done(store, "s5", driver=d2)
    s = results(store, "s5")["scores"]["blue"]
    assert s["recall"] == 1.0 and s["steps"][0]["ttd_seconds"] >= 35  # detected only once the rule was deployed
    assert s["score"] == pytest.approx(s["steps"][0]["points"] - 20)
    assert any(e["points"] == -20 and "hint" in e["reason"] for e in s["ledger"])


def test_bad_input(store):
    with pytest.raises(InputError, match="session name"):
        sessions.create_session(store, "../etc", "smoke", ["blue"])
    with pytest.raises(InputError, match="team name"):
        sessions.create_session(store, "ok", "smoke", ["Blue Team"])
    with pytest.raises(NotFound):
        sessions.create_session(store, "ok", "no-such-scenario", ["blue"])
    sessions.create_session(store, "ok", "smoke", ["blue"])
    with pytest.raises(InputError, match="already exists"):
        sessions.create_session(store, "ok", "smoke", ["red"])
    with pytest.raises(InputError, match="rule"):
        sessions.deploy_rule(store, "ok", "blue", "title: [unclosed")
    with pytest.raises(NotFound):
        sessions.deploy_rule(store, "ok", "green", scan_rule())
    with pytest.raises(InputError, match="hint"):
        sessions.release_hint(store, "ok", "recon", 3)
    dry = sessions.dry_run(store, "ok", "blue", scan_rule())
    assert dry["alerts"] == [] and store.alerts("ok", "blue") == []


def test_move_step_offline(store):
    sessions.create_session(store, "s6", "smoke", ["blue"], speed=1)
    before = json.loads((store.team_dir("s6", "blue").truth).read_text())["steps"][0]["start"]
    sessions.move_step(store, "s6", "recon", at=80)
    after = json.loads((store.team_dir("s6", "blue").truth).read_text())["steps"][0]["start"]
    assert after > before
    with pytest.raises(InputError):
        sessions.move_step(store, "s6", "recon", at=119)
    with pytest.raises(InputError, match="ready; start it before firing"):  # "fire now" means nothing before the start
        sessions.move_step(store, "s6", "recon", at=None)
    assert json.loads(store.session("s6")["schedule"]) == {"recon": 80}
