"""Audit records as the kernel writes them (texts taken from this machine's kernel), parsed and
grouped into events, and turned into host records of the node they came from."""
from range.events import audit
from range.events.auditrows import Proc, Translator
from range.events.hostsensor import Bucket

SYSCALL = ('audit(1796691679.358:812): arch=c000003e syscall=59 success=yes exit=0 a0=55d1 a1=55d2 a2=55d3 a3=8 '
           'items=2 ppid=25802 pid=25803 auid=4294967295 uid=33 gid=33 euid=33 suid=33 fsuid=33 egid=33 sgid=33 '
           'fsgid=33 tty=(none) ses=4294967295 comm="touch" exe="/usr/bin/touch" subj=unconfined key="cyberrange"')
EXECVE = 'audit(1796691679.358:812): argc=3 a0="touch" a1="-d" a2=2F746D702F61206E6577'   # "/tmp/a new"
CWD = 'audit(1796691679.358:812): cwd="/var/www/portal/uploads"'
PATH = 'audit(1796691679.358:812): item=0 name="/usr/bin/touch" inode=1 nametype=NORMAL cap_fp=0'
EOE = "audit(1796691679.358:812): "


def test_fields_decode_quoted_hex_and_split_arguments():
    ts, serial, f = audit.fields(EXECVE)
    assert (ts, serial) == (1796691679.358, 812)
    assert [f["a0"], f["a1"], f["a2"]] == ["touch", "-d", "/tmp/a new"]
    _, _, long = audit.fields('audit(1.5:9): argc=2 a0="sh" a1_len=10 a1[0]=6162636465 a1[1]="fghij"')
    assert long["a1"] == "abcdefghij" and "a1_len" not in long
    _, _, sc = audit.fields(SYSCALL)
    assert sc["exe"] == "/usr/bin/touch" and sc["uid"] == "33" and sc["key"] == "cyberrange"


def test_records_group_into_events_by_serial_until_eoe():
    ev = audit.Events()
    assert ev.feed(1300, SYSCALL) == [] and ev.feed(1309, EXECVE) == [] and ev.feed(1307, CWD) == []
    assert ev.feed(1302, PATH) == []
    assert ev.feed(9999, "audit(1.0:1): unrelated") == []
    (done,) = ev.feed(audit.EOE, EOE)
    ts, serial, recs = done
    assert serial == 812 and [t for t, _ in recs] == ["SYSCALL", "EXECVE", "CWD", "PATH"]
    assert ev.feed(1300, "garbage") == [] and ev.unparsed == 1


def test_sockaddr_ipv4_and_ipv6_and_others():
    assert audit.sockaddr("02001F400A14CB5D0000000000000000") == ("10.20.203.93", 8000)
    assert audit.sockaddr("0A000050" + "00000000" + "20010DB8" + "0" * 23 + "1" + "00000000") == ("2001:db8::1", 80)
    assert audit.sockaddr("01002F72756E") is None and audit.sockaddr("zz") is None


class FakeNodes:
    """The one thing a test cannot make for real: /proc entries of processes of a given container."""

    def __init__(self, where):
        self.where = where   # pid -> container id ("" for the host's)

    def container(self, pid):
        return self.where.get(pid)

    def of(self, cid):
        return {"c1": ("alb", "web", 100)}.get(cid)

    def user(self, init_pid, uid):
        return {0: "root", 33: "www-data"}.get(uid, str(uid))


def _event(pid, ppid, argv, exe):
    sc = dict(audit.fields(SYSCALL)[2], pid=str(pid), ppid=str(ppid), exe=exe)
    ex = {"argc": str(len(argv)), **{f"a{i}": a for i, a in enumerate(argv)}}
    return [("SYSCALL", sc), ("EXECVE", ex), ("CWD", {"cwd": "/srv"}), ("PATH", {"name": exe, "nametype": "NORMAL"})]


def test_a_nodes_process_becomes_process_creation_and_auditd_rows():
    tr = Translator(FakeNodes({200: "c1", 201: "c1"}))
    tr.procs[200] = Proc(("alb", "web", 100), "/usr/sbin/php-fpm8.2", "php-fpm: pool www", "www-data")
    node, rows = tr.event(5.0, 7, _event(201, 200, ["sh", "-c", "id"], "/usr/bin/dash"))
    assert node == ("alb", "web")
    pc = dict(rows)["process_creation"]
    assert pc == {"ts": 5.0, "host": "web", "ProcessId": 201, "Image": "/usr/bin/dash", "CommandLine": "sh -c id",
                  "CurrentDirectory": "/srv", "User": "www-data", "ParentProcessId": 200,
                  "ParentImage": "/usr/sbin/php-fpm8.2", "ParentCommandLine": "php-fpm: pool www",
                  "ParentUser": "www-data"}
    types = [r["type"] for t, r in rows if t == "auditd"]
    assert types == ["SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE"]
    assert all(r["serial"] == 7 for t, r in rows if t == "auditd")


def test_docker_exec_and_its_children_and_the_hosts_processes_are_left_out():
    # 300: started by the container runtime (its parent 50 is the host's), 301 its child; 400 the host's own
    tr = Translator(FakeNodes({50: "", 300: "c1", 301: "c1", 400: "", 401: ""}))
    tr.procs[50] = Proc(None, "/usr/bin/containerd-shim-runc-v2", "shim", "root")
    assert tr.event(1.0, 1, _event(300, 50, ["sh", "-c", "useradd x"], "/usr/bin/dash")) == (None, [])
    assert tr.event(1.1, 2, _event(301, 300, ["useradd", "x"], "/usr/sbin/useradd")) == (None, [])
    assert tr.counts["ignored"] == 2
    tr.procs[400] = Proc(None, "/usr/bin/python3", "python3 -m range.live.actuator", "root")
    assert tr.event(1.2, 3, _event(401, 400, ["tshark"], "/usr/bin/tshark")) == (None, [])


def test_a_forking_node_is_sampled_not_stalled():
    b = Bucket(rate=10, burst=20)
    taken = sum(b.take(1) for _ in range(1000))
    assert 20 <= taken < 40


def test_a_forwarded_syslog_line_becomes_a_syslog_row_with_sudos_fields():
    from range.events import nodelogs
    line = (b"2026-12-08T01:04:56.123456+00:00\tauthpriv\tnotice\tsudo\t-\t   alice : TTY=pts/0 ; PWD=/home/alice ; "
            b"USER=root ; COMMAND=/usr/bin/apt update\n")
    (table, row), = nodelogs.parse(line, "ws1")[0]
    assert table == "syslog" and row["host"] == "ws1" and row["ts"] == 1796691896.123456
    assert (row["facility"], row["severity"], row["program"], row["pid"]) == ("authpriv", "notice", "sudo", None)
    assert (row["USER"], row["TTY"], row["PWD"], row["COMMAND"]) == ("root", "pts/0", "/home/alice",
                                                                      "/usr/bin/apt update")
    rows, ok = nodelogs.parse(b"2026-12-08T01:04:57+00:00\tauth\tinfo\tsshd\t812\t Failed password for root from "
                              b"10.0.0.9 port 4242 ssh2", "files")
    assert ok and rows[0][1]["pid"] == 812 and rows[0][1]["message"].startswith("Failed password")


def test_a_line_that_does_not_parse_is_kept_raw_and_said_so():
    from range.events import nodelogs
    rows, ok = nodelogs.parse(b"\xffnot the template", "web")
    assert not ok and rows[0][0] == "syslog" and rows[0][1]["message"] == "\udcffnot the template"


def test_nginx_lines_become_webserver_rows_with_sigmas_names():
    from range.events import nodelogs
    head = b"2026-12-08T01:04:56.5+00:00\tlocal7\tinfo\tnginx\t-\t"
    (table, row), = nodelogs.parse(head + b'10.1.2.3 - - [08/Dec/2026:01:04:56 +0000] "GET /uploads/s.php?cmd=id '
                                   b'HTTP/1.1" 200 54 "-" "curl/7.88.1" "portal.gov.example" 97', "web")[0]
    assert row["message"].endswith('"curl/7.88.1"') and (row["cs-host"], row["cs-bytes"]) == ("portal.gov.example", 97)
    assert table == "webserver" and row["log"] == "access" and row["c-ip"] == "10.1.2.3"
    assert (row["cs-method"], row["cs-uri-stem"], row["cs-uri-query"], row["sc-status"], row["sc-bytes"],
            row["cs-user-agent"], row["cs-referer"]) == ("GET", "/uploads/s.php", "cmd=id", 200, 54, "curl/7.88.1",
                                                         None)
    (table, row), = nodelogs.parse(head + b'2026/12/08 01:04:56 [error] 21#21: *5 open() "/var/www/x" failed, '
                                   b'client: 10.1.2.3, server: _, request: "GET /x HTTP/1.1", host: "portal"', "web")[0]
    assert table == "webserver" and (row["log"], row["level"], row["pid"], row["cs-uri-stem"]) == ("error", "error",
                                                                                                   21, "/x")
    (table, row), = nodelogs.parse(head + b"something else entirely", "web")[0]
    assert table == "syslog" and row["program"] == "nginx"


def test_the_ranges_health_probe_of_the_portal_is_left_out():
    from range.events import nodelogs
    line = (b'2026-12-08T01:04:56.5+00:00\tlocal7\tinfo\tnginx\t-\t10.1.2.3 - - [08/Dec/2026:01:04:56 +0000] '
            b'"GET / HTTP/1.0" 200 1892 "-" "cyberrange-health" "portal" 84')
    assert nodelogs.parse(line, "web") == ([], True)
