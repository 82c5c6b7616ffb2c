"""A live range's detached processes outlive an upgrade of cyberrange: a process recorded under
``<state>/procs/`` by an older release (whose sensors ran as ``python -m range.capture`` and whose
actuators as ``python -m range.actuator``) is still found by its pid and start time, listed, not
started twice, and stopped by ``cyberrange down``'s path. Nothing in a record depends on where the
code that wrote it lived."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from range.runtime import procs

# what release 0.1 wrote for a sensor, field for field (its argv named the module path of the time)
OLD_ARGV = [sys.executable, "-c", "import time; time.sleep(120)", "-m", "range.capture", "--iface", "cr0ld",
            "--db", "/tmp/x/events.db", "--ring", "/tmp/x/pcap/lan", "--status", "/tmp/x/sensor-lan.json"]


def _old_record(state, session: str, name: str, pid: int) -> None:
    stat = open(f"/proc/{pid}/stat").read()
    ticks = int(stat[stat.rindex(")") + 2:].split()[19])
    reg = state / "procs" / session
    reg.mkdir(parents=True)
    (reg / f"{name}.json").write_text(json.dumps({
        "session": session, "name": name, "pid": pid, "ticks": ticks, "argv": OLD_ARGV, "started": time.time(),
        "stop_signal": int(signal.SIGINT), "meta": {}}))


def test_a_process_recorded_by_the_old_module_path_is_found_and_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr("range.core.paths.STATE", tmp_path)
    p = subprocess.Popen(OLD_ARGV, start_new_session=True)
    try:
        _old_record(tmp_path, "s1", "sensor-blue-lan", p.pid)
        found = procs.find("s1", "sensor-blue-lan")
        assert found is not None and found.pid == p.pid and "range.capture" in found.argv
        assert [x.pid for x in procs.recorded("s1", "sensor-")] == [p.pid]
        assert procs.stop_session("s1", timeout=5) == 1
        assert p.wait(timeout=10) is not None
        assert not (tmp_path / "procs" / "s1").exists()
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def test_a_stale_record_is_dropped_not_mistaken_for_a_live_process(tmp_path, monkeypatch):
    """The pid of an old record may have been reused since: the start time tells them apart."""
    monkeypatch.setattr("range.core.paths.STATE", tmp_path)
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    reg = tmp_path / "procs" / "s2"
    reg.mkdir(parents=True)
    (reg / "act-blue-recon-ws1.json").write_text(json.dumps({
        "session": "s2", "name": "act-blue-recon-ws1", "pid": os.getpid(), "ticks": 1, "argv": OLD_ARGV,
        "started": 0.0, "stop_signal": int(signal.SIGTERM), "meta": {}}))
    assert procs.find("s2", "act-blue-recon-ws1") is None
    assert not (reg / "act-blue-recon-ws1.json").exists()
