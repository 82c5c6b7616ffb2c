"""The host tables of the event store (process_creation, file_event, network_connection, auditd,
syslog, webserver): Sigma's field names, the store's conventions, records stored and read back, and the
bounds on the text the nodes write (NULs, bytes that are not UTF-8, a megabyte of arguments)."""
from __future__ import annotations

import json
import sqlite3

import pytest

from range.core import InputError, NotFound
from range.events import explorer, read_host_log
from range.events.store import (
    HOST_TABLES,
    NETWORK_TABLES,
    NULL,
    SCHEMA,
    TEXT_KEEP,
    TEXT_TAIL,
    EventStore,
    bound_text,
    open_readonly,
    record,
)

T0 = 1_800_000_000.0

# the fields SigmaHQ's Linux rules name (rules/linux, rules-threat-hunting/linux), as they write them
SIGMA_FIELDS = {
    "process_creation": {"Image", "CommandLine", "ParentImage", "ParentCommandLine", "User", "CurrentDirectory",
                         "ProcessId", "ParentProcessId", "LogonId"},
    "file_event": {"TargetFilename", "Image", "ProcessId", "User"},
    "network_connection": {"Image", "DestinationIp", "DestinationPort", "DestinationHostname", "SourceIp",
                           "SourcePort", "Initiated", "User", "ProcessId"},
    "auditd": {"type", "key", "SYSCALL", "exe", "comm", "name", "nametype", "cwd", "euid", "unit",
               *(f"a{i}" for i in range(8))},
    "syslog": {"program", "pid", "message", "USER"},
    # SigmaHQ's web rules (category webserver: rules/web, rules-emerging-threats)
    "webserver": {"c-ip", "cs-method", "cs-uri-stem", "cs-uri-query", "cs-version", "sc-status", "sc-bytes",
                  "cs-referer", "cs-user-agent", "cs-host", "cs-username"},
}

RECORDS = {
    "process_creation": {"ts": T0, "host": "portal", "ProcessId": 4104, "Image": "/usr/bin/cat",
                         "CommandLine": "cat /etc/shadow", "CurrentDirectory": "/var/www/html", "User": "www-data",
                         "LogonId": 4294967295, "ParentProcessId": 4101, "ParentImage": "/usr/bin/dash",
                         "ParentCommandLine": "sh -c 'cat /etc/shadow'", "ParentUser": "www-data"},
    "file_event": {"ts": T0 + 1, "host": "portal", "ProcessId": 4106, "Image": "/usr/bin/crontab",
                   "TargetFilename": "/var/spool/cron/crontabs/www-data", "User": "www-data"},
    "network_connection": {"ts": T0 + 2, "host": "portal", "ProcessId": 4105, "Image": "/usr/bin/bash",
                           "User": "www-data", "Protocol": "tcp", "Initiated": "true", "SourceIp": "10.1.1.5",
                           "SourcePort": 51234, "DestinationIp": "203.0.113.9", "DestinationPort": 4444},
    "auditd": {"ts": T0 + 3, "host": "portal", "serial": 9001, "type": "EXECVE", "argc": 2, "a0": "uname", "a1": "-a"},
    "syslog": {"ts": T0 + 4, "host": "files", "facility": "auth", "severity": "info", "program": "sshd", "pid": 2211,
               "message": "Failed password for root from 203.0.113.9 port 40022 ssh2"},
    "webserver": {"ts": T0 + 5, "host": "portal", "log": "access", "c-ip": "203.0.113.9", "cs-method": "GET",
                  "cs-uri-stem": "/uploads/x.php", "cs-uri-query": "cmd=id", "cs-uri": "/uploads/x.php?cmd=id",
                  "cs-version": "HTTP/1.1", "sc-status": 200, "sc-bytes": 54, "cs-bytes": 402,
                  "cs-user-agent": "curl/8.5.0", "cs-host": "portal",
                  "message": '203.0.113.9 - - [15/Jan/2027:08:00:05 +0000] "GET /uploads/x.php?cmd=id HTTP/1.1" '
                             '200 54 "-" "curl/8.5.0"'},
}


def test_host_tables_use_sigmas_names_and_the_stores_conventions():
    assert set(HOST_TABLES) <= set(SCHEMA) and set(NETWORK_TABLES) == set(SCHEMA) - set(HOST_TABLES)
    assert list(SCHEMA)[:len(NETWORK_TABLES)] == list(NETWORK_TABLES)   # Zeek's logs first, as before
    for t in HOST_TABLES:
        cols = [c for c, _ in SCHEMA[t]]
        assert SCHEMA[t][0] == ("ts", "REAL") and cols[-1] == "_seen", t
        assert "host" in cols and "uid" not in cols, t   # the node that logged it; no Zeek connection
        assert SIGMA_FIELDS[t] <= set(cols), (t, SIGMA_FIELDS[t] - set(cols))
        assert len({c.lower() for c in cols}) == len(cols), t   # SQLite's names ignore case
        assert set(RECORDS[t]) <= set(cols), t


def test_records_round_trip_and_every_table_has_its_time_index(tmp_path):
    for bulk in (False, True):
        path = tmp_path / f"e{bulk}.db"
        s = EventStore(path, bulk=bulk)
        for t, r in RECORDS.items():
            assert s.add(t, [r, {**r, "ts": r["ts"] + 10, "_seen": r["ts"] + 11}]) == 2
        s.close()
        db = open_readonly(path)
        for t, r in RECORDS.items():
            rows = db.execute(f"SELECT rowid, * FROM {t} ORDER BY rowid").fetchall()
            assert len(rows) == 2 and rows[1]["_seen"] == r["ts"] + 11
            got = record(t, rows[0])
            assert got.pop("_path") == t and got.pop("ts").startswith("2027-01-15T08:")
            assert got == {k: v for k, v in r.items() if k != "ts"}, t
        indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {f"{t}_ts" for t in SCHEMA} <= indexes
        assert db.execute("SELECT count(*) FROM meta WHERE key LIKE 'clipped:%'").fetchone()[0] == 0
        db.close()


def test_tuples_in_column_order_are_bounded_too(tmp_path):
    s = EventStore(tmp_path / "e.db")
    cols = [c for c, _ in SCHEMA["syslog"]]
    row = tuple({"ts": T0, "host": "files", "program": "bash", "message": "a\x00b"}.get(c) for c in cols)
    s.add("syslog", [row])
    s.close()
    db = open_readonly(tmp_path / "e.db")
    assert db.execute("SELECT message FROM syslog").fetchone()[0] == "a\\x00b"


def test_text_is_escaped_and_bounded():
    assert bound_text("cat /etc/shadow") == ("cat /etc/shadow", False)
    assert bound_text(None) == (None, False) and bound_text(4444) == (4444, False)
    assert bound_text("a\x00b\x00") == ("a\\x00b\\x00", False)                 # NULs (argv separators)
    assert bound_text(b"ls \xff\xfe caf\xc3\xa9") == ("ls \\xff\\xfe café", False)  # bytes: Zeek's \xNN
    undecodable = b"echo \xff".decode("utf-8", "surrogateescape")
    assert bound_text(undecodable) == ("echo \\xff", False)                   # a reader's surrogateescape
    assert bound_text("x\ud800y") == ("x\\ud800y", False)                     # any other lone surrogate
    assert bound_text("é" * TEXT_KEEP) == ("é" * TEXT_KEEP, False)            # characters, not bytes
    head, tail = "bash -c 'echo ", "' | base64 -d | sh"
    huge = head + "A" * 1_000_000 + tail
    v, cut = bound_text(huge)
    assert cut and v.startswith(head) and v.endswith(tail)   # a rule on how it starts or ends still sees it
    assert f"[...{len(huge) - TEXT_KEEP:,} characters cut...]" in v
    assert len(v) - len(f"[...{len(huge) - TEXT_KEEP:,} characters cut...]") == TEXT_KEEP
    assert v[-TEXT_TAIL:] == huge[-TEXT_TAIL:]


def test_a_megabyte_of_arguments_is_stored_bounded_and_counted(tmp_path):
    s = EventStore(tmp_path / "e.db")
    big = "/usr/bin/python3 -c " + "x" * 1_048_576
    s.add("process_creation", [{"ts": T0, "host": "portal", "Image": "/usr/bin/python3", "CommandLine": big,
                                "ParentCommandLine": big}])
    s.add("process_creation", [{"ts": T0 + 1, "host": "portal", "Image": b"/tmp/\xff\x00x", "CommandLine": "ok"}])
    s.add("auditd", [{"ts": T0, "host": "portal", "type": "EXECVE", "a1": big}])
    s.add("http", [{"ts": T0, "uri": "/" + "u" * (TEXT_KEEP + 10)}])    # Zeek's logs are bounded by their analyzers
    s.close()
    db = open_readonly(tmp_path / "e.db")
    cmd, parent = db.execute("SELECT CommandLine, ParentCommandLine FROM process_creation WHERE rowid = 1").fetchone()
    assert cmd == parent and len(cmd) < TEXT_KEEP + 64 and cmd.startswith("/usr/bin/python3 -c xxx")
    assert db.execute("SELECT Image FROM process_creation WHERE rowid = 2").fetchone()[0] == "/tmp/\\xff\\x00x"
    meta = dict(db.execute("SELECT key, value FROM meta WHERE key LIKE 'clipped:%'").fetchall())
    assert meta == {"clipped:process_creation": "2", "clipped:auditd": "1"}
    assert len(db.execute("SELECT uri FROM http").fetchone()[0]) == TEXT_KEEP + 11


def test_a_store_written_before_the_host_tables_gains_them(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    for t in NETWORK_TABLES:
        db.execute(f"CREATE TABLE {t} ({', '.join(f'`{c}` {ty}' for c, ty in SCHEMA[t])})")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    db.commit()
    db.close()
    # the explorer answers over it as over an empty table
    assert explorer.counts(path) == {t: 0 for t in SCHEMA}
    page = explorer.query(path, "syslog", kql="program:sshd")
    assert page["total"] == 0 and page["events"] == [] and "message" in page["columns"]
    assert explorer.histogram(path, "auditd")["total"] == 0
    assert explorer.facets(path, "process_creation", ["Image"])["facets"] == {"Image": []}
    with pytest.raises(NotFound):
        explorer.event(path, "file_event", 1)
    # the next writer adds them
    EventStore(path).close()
    tables = {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert set(HOST_TABLES) <= tables


def test_the_explorer_reads_host_tables(tmp_path):
    path = tmp_path / "e.db"
    s = EventStore(path)
    for t, r in RECORDS.items():
        s.add(t, [r])
    s.close()
    tables = explorer.tables()
    assert set(HOST_TABLES) <= set(tables) and "CommandLine" in [c["name"] for c in tables["process_creation"]]
    assert all(c["name"] != "_seen" for cols in tables.values() for c in cols)
    assert {t: n for t, n in explorer.counts(path).items() if n} == {t: 1 for t in HOST_TABLES}
    page = explorer.query(path, "process_creation", kql="CommandLine:*shadow* AND User:www-data")
    assert page["total"] == 1 and page["events"][0]["Image"] == "/usr/bin/cat"
    assert explorer.query(path, "syslog", text="Failed password")["total"] == 1
    assert explorer.query(path, "network_connection", filters=["DestinationPort=4444"])["total"] == 1
    fac = explorer.facets(path, "auditd", ["type", "a0"])
    assert fac["facets"]["a0"] == [{"value": "uname", "count": 1}]
    ev = explorer.event(path, "process_creation", 1)
    assert ev["conn"] is None and ev["row"]["CommandLine"] == "cat /etc/shadow"


def test_an_absent_field_is_stored_as_null_and_a_batch_is_bounded_row_by_row(tmp_path):
    """Absent fields are bound as the store's NULL (a NaN, which SQLite stores as NULL: the sqlite3
    module's None is slow), from dicts and from ingest's tuples; a batch whose text is all short ASCII
    is left as it is, one odd row in a batch is bounded alone."""
    s = EventStore(tmp_path / "e.db")
    cols = [c for c, _ in SCHEMA["auditd"]]
    row = tuple({"ts": T0, "host": "web", "type": "PATH", "name": "/etc/passwd", "_seen": T0}.get(c, NULL)
                for c in cols)
    s.add("auditd", [row, {"ts": T0 + 1, "host": "web", "type": "CWD", "cwd": "/root", "exit": None,
                           "proctitle": "caf\xe9 a\x00b"}, {"ts": T0 + 2, "host": "web", "type": "EOE"}])
    s.close()
    db = open_readonly(tmp_path / "e.db")
    got = [dict(r) for r in db.execute("SELECT * FROM auditd ORDER BY rowid")]
    types = db.execute("SELECT typeof(a0), typeof(serial), typeof(ts), typeof(exit) FROM auditd").fetchall()
    assert [tuple(t) for t in types] == [("null", "null", "real", "null")] * 3
    assert got[0]["name"] == "/etc/passwd" and got[0]["a0"] is None and got[0]["serial"] is None
    assert got[1]["proctitle"] == "caf\xe9 a\\x00b" and got[1]["exit"] is None and got[1]["_seen"] is None
    assert got[2]["type"] == "EOE" and got[2]["cwd"] is None
    assert db.execute("SELECT count(*) FROM auditd WHERE a0 IS NULL AND cwd IS NULL AND name IS NULL"
                      ).fetchone()[0] == 1


def test_the_host_log_is_read_as_json_loads_reads_it_and_refused_line_by_line(tmp_path):
    p = tmp_path / "host.jsonl"
    good = [{"_path": "syslog", "ts": T0 + 1, "host": "files", "program": "sshd", "pid": 812, "message": "x"},
            {"_path": "auditd", "ts": T0, "host": "web", "type": "EXECVE", "argc": 2, "a0": "id", "a1": None}]
    p.write_text("\n".join(json.dumps(r) for r in good) + "\n\n   \r\n" + json.dumps(good[0]) + " \t\r\n")
    got = read_host_log(p)
    assert [t for t, _ in got] == ["auditd", "syslog", "syslog"]   # in time order
    assert got[0][1] == {k: v for k, v in good[1].items() if k != "_path"} and got[1][1] == got[2][1]
    bad = {
        '{"_path": "syslog", "ts": 1, "host": "h"} x': "not JSON (Extra data",
        '\ufeff{"_path": "syslog", "ts": 1, "host": "h"}': "not JSON (Unexpected UTF-8 BOM",
        '{"_path": "syslog", "ts": 1': "not JSON (Expecting",
        '[1, 2]': "not a JSON object",
        '{"_path": "conn", "ts": 1, "host": "h"}': "_path 'conn' is not a host table",
        '{"_path": ["syslog"], "ts": 1, "host": "h"}': "_path ['syslog'] is not a host table",
        '{"_path": "syslog", "ts": true, "host": "h"}': "ts must be epoch seconds",
        '{"_path": "syslog", "ts": 1e999, "host": "h"}': "ts must be epoch seconds",
        '{"_path": "syslog", "ts": 1, "host": ""}': "host must name the node",
        '{"_path": "syslog", "ts": 1, "host": "h", "Image": "x", "zz": 1}': "syslog has no field Image, zz",
        '{"_path": "syslog", "ts": 1, "host": "h", "pid": 1, "message": ["a"]}': "message must be text or a number",
    }
    for line, why in bad.items():
        p.write_text(json.dumps(good[0]) + "\n" + line + "\n")
        with pytest.raises(InputError) as e:
            read_host_log(p)
        assert e.value.line == 2 and e.value.message.startswith(f"not a host record: {why}"), (line, e.value.message)
