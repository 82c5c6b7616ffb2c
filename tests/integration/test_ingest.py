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


# ---- packets that make no events: counted and reported, never fatal --------------------------------

def _fragments_capture(path):
    from scapy.all import IP, TCP, UDP, Ether, IPv6, IPv6ExtHdrFragment, Raw, fragment, fragment6, wrpcap

    t = 1_700_000_000.0
    pkts = []
    whole = Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1234, dport=53) / Raw(b"x" * 3000)
    pkts += fragment(whole, fragsize=1000)  # a datagram in four fragments
    pkts.append(fragment(Ether() / IP(src="10.0.0.3", dst="10.0.0.2", id=77) / UDP(sport=1, dport=2)
                         / Raw(b"y" * 2000), fragsize=1000)[1])  # the middle of a datagram never completed
    v6 = (Ether() / IPv6(src="fd00::1", dst="fd00::2") / IPv6ExtHdrFragment() / UDP(sport=5000, dport=53)
          / Raw(b"z" * 3000))
    pkts += fragment6(v6, 1280)
    pkts.append(Ether() / IP(src="10.0.0.5", dst="10.0.0.6", proto=6) / Raw(b"\x00\x50\x00"))  # a TCP header of 3 bytes
    pkts.append(Ether() / IP(src="10.0.0.7", dst="10.0.0.8") / TCP(sport=1111, dport=80, flags="S"))
    for i, p in enumerate(pkts):
        p.time = t + i * 0.01
    wrpcap(str(path), pkts)


def test_fragments_are_reassembled_and_broken_packets_counted(tmp_path):
    pcap, db = tmp_path / "frags.pcap", tmp_path / "frags.db"
    _fragments_capture(pcap)
    r = run_cli("ingest", str(pcap), "--db", str(db))
    assert r.returncode == 0, r.stderr
    assert "skipped: 1 malformed, 1 incomplete fragments" in r.stdout
    assert "malformed: packet 9: eth:ethertype:ip:tcp" in r.stderr  # 4 + 1 + 3 fragments before it
    assert "from 10.0.0.3 to 10.0.0.2" in r.stderr
    con = sqlite3.connect(db)
    got = {row[0]: row[1:] for row in con.execute('SELECT "id.orig_h", orig_pkts, orig_ip_bytes FROM conn')}
    # each datagram is one packet of its whole length, as Zeek counts a reassembled datagram
    assert got == {"10.0.0.1": (1, 3028), "fd00::1": (1, 3056), "10.0.0.7": (1, 40)}
    meta = dict(con.execute("SELECT key, value FROM meta"))
    assert json.loads(meta["skipped"]) == {"malformed": 1, "incomplete fragments": 1, "unknown link type": 0}


def test_a_pcapng_section_of_unknown_link_type_is_counted_and_the_rest_ingested(tmp_path):
    import struct

    from scapy.all import IP, TCP, Ether, raw

    def block(kind, body):
        body += b"\0" * (-len(body) % 4)
        return struct.pack("<II", kind, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))

    def section(link, frame, ts):
        return (block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
                + block(1, struct.pack("<HHI", link, 0, 65535))
                + block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame)) + frame))

    syn = lambda src: raw(Ether() / IP(src=src, dst="10.0.0.9") / TCP(sport=1, dport=80, flags="S"))  # noqa: E731
    ts = 1_700_000_000 * 10**6
    pcap, db = tmp_path / "sections.pcapng", tmp_path / "sections.db"
    pcap.write_bytes(section(1, syn("10.0.0.1"), ts) + section(65000, b"\x01\x02garbage", ts + 10)
                     + section(1, syn("10.0.0.3"), ts + 20))
    r = run_cli("ingest", str(pcap), "--db", str(db))
    assert r.returncode == 0, r.stderr
    assert "skipped: 1 unknown link type" in r.stdout and "packet 2: tshark cannot read its link layer" in r.stderr
    hosts = {h for (h,) in sqlite3.connect(db).execute('SELECT "id.orig_h" FROM conn')}
    assert hosts == {"10.0.0.1", "10.0.0.3"}


def test_the_writer_process_reports_what_went_wrong(tmp_path):
    """Ingest's records are written by a process of their own: a failure there reaches the caller
    as a clear error at the end (the half-written store is never renamed into place)."""
    from range.core import InputError
    from range.events.procwriter import ProcessBatcher

    good = ProcessBatcher(tmp_path / "good.db")
    good("dns", {"ts": 1.0, "uid": "C1", "query": "example.org"}, seen=1.0)
    good.mark("packets", "1")
    assert good.close()["dns"] == 1
    assert _rows(tmp_path / "good.db", "SELECT query, _seen FROM dns") == [{"query": "example.org", "_seen": 1.0}]
    bad = ProcessBatcher(tmp_path / "bad.db")
    bad("conn", ("not", "enough", "columns"), seen=1.0)
    with pytest.raises(InputError, match="ProgrammingError|supplied"):
        bad.close()
