"""Ingest: tshark's dissection into Zeek-shaped records, and bad captures."""
import json
import sqlite3

import pytest

from range.core import parse_iso
from range.scoring import flow_matches
from tests.helpers import run_cli


def _cli(*args):
    return run_cli(*map(str, args))


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke")
    assert _cli("replay", "smoke", "--out", out, "--seed", 3).returncode == 0
    r = _cli("ingest", out / "capture.pcap", "--db", out / "events.db")
    assert r.returncode == 0, r.stderr
    return out


def _rows(db, sql):
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    return [dict(r) for r in con.execute(sql)]


def test_scan_becomes_conn_records_with_zeek_states(smoke):
    truth = json.loads((smoke / "truth.json").read_text())
    step = truth["steps"][0]
    conns = _rows(smoke / "events.db", "SELECT * FROM conn WHERE proto = 'tcp'")
    mine = [
        c
        for c in conns
        if any(
            flow_matches(f, c["id.orig_h"], c["id.resp_h"], "tcp", c["id.orig_p"], c["id.resp_p"])
            for f in step["flows"]
        )
    ]
    assert len(mine) == len(conns) > 100
    states = {(c["conn_state"], c["history"]) for c in mine}
    assert ("REJ", "Sr") in states and ("RSTO", "ShR") in states  # closed ports and open ports
    for c in mine:
        assert parse_iso(step["start"]) <= c["ts"] <= parse_iso(step["end"])
        assert c["uid"].startswith("C") and len(c["uid"]) == 18


def test_dns_query_and_answer_joined(smoke):
    dns = _rows(smoke / "events.db", "SELECT * FROM dns")
    assert dns and all(d["query"] for d in dns)
    answered = [d for d in dns if d["rcode_name"] == "NOERROR" and d["qtype_name"] == "A"]
    assert answered and all(d["answers"] and d["rtt"] >= 0 for d in answered)
    assert {"NXDOMAIN", "NOERROR"} <= {d["rcode_name"] for d in dns}
    assert "TXT" in {d["qtype_name"] for d in dns}
    txt = next(d for d in dns if d["qtype_name"] == "TXT" and d["answers"])
    assert txt["answers"].startswith("TXT ")
    conn = _rows(smoke / "events.db", "SELECT * FROM conn WHERE service = 'dns'")
    assert {c["uid"] for c in conn} >= {d["uid"] for d in dns}
    assert all(c["conn_state"] == "SF" and c["history"] == "Dd" for c in conn)


def test_not_a_pcap(tmp_path):
    bad = tmp_path / "notes.pcap"
    bad.write_text("this is not a capture\n")
    r = _cli("ingest", bad, "--db", tmp_path / "e.db")
    assert r.returncode == 2 and "not a pcap or pcapng file" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "e.db").exists()


def test_truncated_capture_keeps_complete_packets(smoke, tmp_path):
    data = (smoke / "capture.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) // 2 + 7])
    r = _cli("ingest", cut, "--db", tmp_path / "e.db")
    assert r.returncode == 2 and "truncated capture" in r.stderr and "Traceback" not in r.stderr
    n = _rows(tmp_path / "e.db", "SELECT count(*) AS n FROM dns")[0]["n"]
    assert n > 0


def test_empty_capture(smoke, tmp_path):
    empty = tmp_path / "empty.pcap"
    empty.write_bytes((smoke / "capture.pcap").read_bytes()[:24])
    r = _cli("ingest", empty, "--db", tmp_path / "e.db")
    assert r.returncode == 0 and "holds no packets" in r.stderr
    assert _rows(tmp_path / "e.db", "SELECT count(*) AS n FROM conn")[0]["n"] == 0
    hdr = tmp_path / "short.pcap"
    hdr.write_bytes(b"\xd4\xc3\xb2\xa1\x02\x00")
    r = _cli("ingest", hdr, "--db", tmp_path / "f.db")
    assert r.returncode == 2 and "pcap header is incomplete" in r.stderr
