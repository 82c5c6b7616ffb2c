"""The host-record contract (range.traffic.hostlog): what a technique or benign kind writes beside
its packets, from the plan's own random stream, so that the same seed gives the same records,
another team its own, and writing them never moves a packet."""
from __future__ import annotations

import random
import re
from dataclasses import replace

import pytest

from attack_scripts._linux import argvs, daemon_pid, image
from attack_scripts._tcptime import session_end
from range.core import rng
from range.events import HOST_TABLES, SCHEMA
from range.replay import benign_actions, step_plan
from range.scenario import catalog, load_scenario
from range.topology import layout
from range.traffic import TECHNIQUES, HostLog, TcpSession
from range.traffic.hostlog import TABLES

SCN = load_scenario(catalog().path_of("scenario", "ministry-breach"))


def _step(step_id: str):
    return next(s for s in SCN.steps if s.id == step_id)


def _plan(step_id: str, seed: int = 1, team: str = "blue"):
    return step_plan(SCN, layout(SCN.env, team, seed), _step(step_id), seed, team)


def _benign(kind: str, seed: int = 1, team: str = "blue"):
    lay = layout(SCN.env, team, seed)
    for k, actions, log in benign_actions(SCN, lay, seed, team):
        if k == kind:
            return list(actions), log.records
    raise AssertionError(kind)


def test_tables_are_the_event_stores_host_tables():
    assert TABLES == HOST_TABLES
    with pytest.raises(ValueError):
        HostLog(random.Random(1)).add("conn", 1.0, "web")


def test_a_process_is_its_creation_and_its_execve_audit_records():
    log = HostLog(random.Random(1))
    php = log.daemon("web", 812, "/usr/sbin/php-fpm8.2", "php-fpm: pool www", "www-data", 33, "/var/www/html")
    sh = log.process(10.0, php, ["sh", "-c", "id"], "/usr/bin/dash")
    (pc, *audit) = log.records
    assert pc == ("process_creation", {
        "ts": 10.0, "host": "web", "ProcessId": sh.pid, "Image": "/usr/bin/dash", "CommandLine": "sh -c id",
        "CurrentDirectory": "/var/www/html", "User": "www-data", "ParentProcessId": 812,
        "ParentImage": "/usr/sbin/php-fpm8.2", "ParentCommandLine": "php-fpm: pool www", "ParentUser": "www-data"})
    assert [r["type"] for _, r in audit] == ["SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE"]
    assert len({r["serial"] for _, r in audit}) == 1 and {r["pid"] for _, r in audit} == {sh.pid}
    syscall, execve = audit[0][1], audit[1][1]
    assert syscall["SYSCALL"] == "execve" and syscall["euid"] == 33 and syscall["ppid"] == 812
    assert syscall["exe"] == "/usr/bin/dash" and syscall["comm"] == "sh"
    assert (execve["argc"], execve["a0"], execve["a1"], execve["a2"]) == (3, "sh", "-c", "id")
    nxt = log.process(10.1, sh, ["id"], "/usr/bin/id")
    assert nxt.pid > sh.pid  # Linux counts up


def test_command_lines_become_the_processes_a_shell_starts():
    assert argvs("top -bn1 | head -20") == [["top", "-bn1"], ["head", "-20"]]
    assert argvs("id 2>&1") == [["id"]]
    assert argvs("cat ~/.bash_history", "/home/ahoxha") == [["cat", "/home/ahoxha/.bash_history"]]
    assert argvs("[ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/x ]; then /usr/lib/php/sessionclean; fi")[-1] \
        == ["/usr/lib/php/sessionclean"]
    assert argvs('echo "unbalanced') == [["echo", '"unbalanced']]
    assert image("sh") == "/usr/bin/dash" and image("nginx") == "/usr/sbin/nginx" and image("id") == "/usr/bin/id"


def _columns_ok(records):
    for table, rec in records:
        assert table in HOST_TABLES
        assert set(rec) <= {c for c, _ in SCHEMA[table]} - {"_seen"}, (table, set(rec))
        assert isinstance(rec["ts"], float) and rec["host"]


@pytest.mark.parametrize("step_id", ["webshell", "bruteforce"])
def test_same_seed_same_records_another_team_its_own(step_id):
    a, b = _plan(step_id), _plan(step_id)
    assert a.host and a.host == b.host
    _columns_ok(a.host)
    other = _plan(step_id, team="red")
    assert other.host != a.host
    assert len(other.host) > 0


def test_host_records_never_move_a_packet():
    """Only the host log's own stream feeds the records: another stream, the same actions."""
    from range.replay import step_context
    lay = layout(SCN.env, "blue", 1)
    for step_id in ("webshell", "bruteforce"):
        st = _step(step_id)
        plan = _plan(step_id)
        ctx = step_context(SCN, lay, st, 1, "blue", plan.t0)
        ctx = replace(ctx, host=HostLog(random.Random(12345)))
        assert list(st.technique.generate(ctx)) == plan.actions
        assert ctx.host.records and ctx.host.records != plan.host


def test_webshell_shells_are_www_data_under_php_fpm():
    plan = _plan("webshell")
    procs = [r for t, r in plan.host if t == "process_creation"]
    shells = [r for r in procs if r["Image"] == "/usr/bin/dash"]
    commands = [c.replace("{attacker}", plan.actions[0].client) for c in _step("webshell").params.commands]
    assert [r["CommandLine"] for r in shells] == [f"sh -c {c}" for c in commands]
    assert all(r["User"] == "www-data" and r["ParentImage"] == "/usr/sbin/php-fpm8.2"
               and r["ParentCommandLine"] == "php-fpm: pool www" for r in shells)
    kids = {r["CommandLine"]: r for r in procs if r["Image"] != "/usr/bin/dash"}
    for cmd, img in (("id", "/usr/bin/id"), ("uname -a", "/usr/bin/uname"), ("cat /etc/passwd", "/usr/bin/cat")):
        k = kids[cmd]
        assert k["Image"] == img and k["ParentCommandLine"] == f"sh -c {cmd}" and k["User"] == "www-data"
        assert k["CurrentDirectory"] == "/var/www/html/uploads"
        execve = [r for t, r in plan.host if t == "auditd" and r["type"] == "EXECVE" and r["pid"] == k["ProcessId"]]
        assert len(execve) == 1 and execve[0]["a0"] == cmd.split()[0]
    # each command runs while its request is served, on the portal
    web = [a for a in plan.actions if isinstance(a, TcpSession) and a.dport == 80]
    lo, hi = min(a.t for a in web), max(session_end(a) for a in web)
    assert all(lo <= r["ts"] <= hi and r["host"] == "web" for _, r in plan.host)
    files = [r["TargetFilename"] for t, r in plan.host if t == "file_event"]
    assert any(re.fullmatch(r"/var/www/html/uploads/img_\w+\.php", f) for f in files) and "/tmp/lse.sh" in files
    # what `ps aux` answered shows its own shell with the pid its record has
    ps_sh = next(r for r in shells if r["CommandLine"] == "sh -c ps aux")
    answers = b"".join(m[2] for a in web for m in a.messages if m[1] == "s")
    assert re.search(rb"www-data +%d .* sh -c ps aux\n" % ps_sh["ProcessId"], answers)
    (conn,) = [r for t, r in plan.host if t == "network_connection"]
    assert conn["Image"] == "/usr/bin/wget" and conn["DestinationPort"] == 8000 and conn["Initiated"] == "true"


def _php_workers(records, host: str = "web") -> set[int]:
    php = "/usr/sbin/php-fpm8.2"
    return ({r["ParentProcessId"] for t, r in records if t == "process_creation" and r["ParentImage"] == php
             and r["host"] == host}
            | {r["ProcessId"] for t, r in records if t == "file_event" and r["Image"] == php and r["host"] == host})


def test_the_web_servers_daemons_are_the_same_for_every_script():
    """The php-fpm workers the web shell's commands run under, those the staff's contact form
    and uploads use and those its ``ps aux`` lists are one pool; its sshd is the one sshd logs."""
    lay = layout(SCN.env, "blue", 1)
    plan = _plan("webshell")
    web = [a for a in plan.actions if isinstance(a, TcpSession) and a.dport == 80]
    (answer,) = [m[2] for a in web for m in a.messages if m[1] == "s" and b"USER         PID" in m[2]]
    rows = [(int(pid), cmd) for pid, cmd in re.findall(rb"^\S+ +(\d+) +(?:\S+ +){8}(.+)$", answer, re.M)]
    pids = [pid for pid, _ in rows]
    assert len(rows) == 12 and pids == sorted(pids) and len(set(pids)) == len(pids)
    listed = {pid for pid, cmd in rows if cmd == b"php-fpm: pool www"}
    master = next(pid for pid, cmd in rows if cmd.startswith(b"php-fpm: master"))
    _, benign_web = _benign("web")
    assert len(listed) == 2 and master < min(listed)
    assert _php_workers(plan.host) and _php_workers(plan.host) <= listed
    assert _php_workers(benign_web) and _php_workers(benign_web) <= listed
    assert next(pid for pid, cmd in rows if cmd.startswith(b"sshd: ")) == daemon_pid(lay, "web", "sshd")


def test_bruteforce_writes_sshd_lines_matching_its_packets():
    plan = _plan("bruteforce")
    p = _step("bruteforce").params
    lines = [r for t, r in plan.host if t == "syslog" and r["program"] == "sshd"]
    failed = [r for r in lines if r["message"].startswith("Failed password for ")]
    # every refused guess before the find, and those of the tasks still running then
    assert p.success_at - 1 <= len(failed) <= p.attempts
    sessions = {(a.client, a.sport): a for a in plan.actions if isinstance(a, TcpSession)}
    for r in failed:
        m = re.fullmatch(r"Failed password for (invalid user )?(\S+) from (\S+) port (\d+) ssh2", r["message"])
        assert m, r["message"]
        sess = sessions[(m.group(3), int(m.group(4)))]
        assert sess.t <= r["ts"] <= session_end(sess) and sess.dport == 22
        assert r["host"] == "files" and r["facility"] == "auth"
        assert (m.group(1) is None) == (m.group(2) in ("root", *(u for _, u, _ in plan.accounts)))
    per_connection = {}
    for r in failed:
        per_connection.setdefault(r["pid"], []).append(r)
    assert all(1 <= len(v) <= 6 for v in per_connection.values())
    assert any(r["message"].startswith("Invalid user admin from ") for r in lines)
    accepted = [r for r in lines if r["message"].startswith("Accepted password for ")]
    login = plan.accounts[0][1]
    assert len(accepted) == 2 and all(f"Accepted password for {login} from " in r["message"] for r in accepted)
    # one sshd per connection, its pid on all its lines
    pids = {}
    for r in lines:
        port = re.search(r" port (\d+)", r["message"])
        if port:
            pids.setdefault(int(port.group(1)), set()).add(r["pid"])
    assert all(len(v) == 1 for v in pids.values()) and len({next(iter(v)) for v in pids.values()}) == len(pids)
    # the intruder's login: its commands, and sudo refusing a non-sudoer
    cmds = {r["CommandLine"] for t, r in plan.host if t == "process_creation"}
    assert sum("maximum authentication attempts exceeded" in r["message"] for r in lines) >= 1
    assert {"id", "uname -a", "cat /etc/passwd", "sudo -l"} <= cmds
    assert any(r["program"] == "sudo" and "user NOT in sudoers" in r["message"] for t, r in plan.host
               if t == "syslog")


def test_benign_host_activity_on_every_node_but_the_intruders():
    actions, records = _benign("host")
    assert actions == []
    _columns_ok(records)
    hosts = {r["host"] for _, r in records}
    assert "attacker" not in hosts and {"web", "files", "ws1"} <= hosts
    end = SCN.start.timestamp() + SCN.spec.duration
    assert all(SCN.start.timestamp() <= r["ts"] <= end for _, r in records)
    programs = {r["program"] for t, r in records if t == "syslog"}
    assert {"CRON", "sudo"} <= programs
    cmds = [r["CommandLine"] for t, r in records if t == "process_creation"]
    assert any(c.startswith("tar -czf /var/backups/") for c in cmds)
    assert any(c == "/usr/sbin/logrotate /etc/logrotate.conf" for c in cmds)
    assert any(c.startswith("git ") for c in cmds)
    sudo = [r for t, r in records if t == "syslog" and r["program"] == "sudo" and "COMMAND=" in r["message"]]
    assert sudo and all(r["USER"] == "root" and r["COMMAND"].startswith("/usr/bin/") for r in sudo)
    again = _benign("host")[1]
    assert again == records and _benign("host", team="red")[1] != records


def test_benign_ssh_and_web_write_what_the_servers_log():
    _, ssh = _benign("ssh")
    msgs = [r["message"] for t, r in ssh if t == "syslog" and r["program"] == "sshd"]
    assert any(m.startswith("Accepted publickey for ") and "ED25519 SHA256:" in m for m in msgs)
    assert any(m.startswith("Accepted password for ") for m in msgs)
    _, web = _benign("web")
    www = [r for t, r in web if t == "process_creation" and r["User"] == "www-data"]
    assert any(r["CommandLine"] == "sh -c /usr/sbin/sendmail -t -i" for r in www)


def test_host_log_stream_is_its_own():
    """The plan derives the host log's stream from (seed, team, scenario, step) under its own
    purpose: not the packets' stream."""
    st = _step("webshell")
    assert rng("host", 1, "blue", SCN.name, st.id).random() != rng("step", 1, "blue", SCN.name, st.id).random()
    assert TECHNIQUES.get("webshell") is st.technique
