"""Packet drill-down (range.events.packets): one frame's dissection as Wireshark shows it, a tree of
fields in Wireshark's order with the bytes each covers, DNS and HTTP whole; a connection's packets and
its TCP stream as tshark's own filter and follow give them; nothing past the clock."""
from __future__ import annotations

import os
import struct
import subprocess
import threading

import pytest

from range.core import InputError, NotFound
from range.events import packets, pcapindex
from tests.conftest import require, tshark_fields
from tests.helpers import one_step


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    res, _scn, _out = one_step(tmp_path_factory.mktemp("pk"), "http_sqli", "attacker", ["web"],
                               benign={"dns": {"rate": 1.0}, "web": {"rate": 0.5}}, duration="3m")
    return res.pcap


def _frame(pcap, flt: str) -> tuple[int, float]:
    n, t = tshark_fields(pcap, ["frame.number", "frame.time_epoch"], flt)[0][:2]
    return int(n), float(t)


def _walk(fields):
    for f in fields:
        yield f
        yield from _walk(f.get("children", []))


def test_dns_query_is_shown_whole(capture):
    n, t = _frame(capture, "dns.flags.response == 0")
    d = packets.dissect(capture, n, until=t)
    assert [x["layer"] for x in d["layers"]] == ["frame", "eth", "ip", "udp", "dns"]
    dns = d["layers"][-1]
    names = [f["name"] for f in _walk(dns["fields"])]
    assert "dns.qry.name" in names and "dns.qry.type" in names
    assert names.index("dns.id") < names.index("dns.flags") < names.index("dns.qry.name")  # Wireshark's order
    qname = next(f for f in _walk(dns["fields"]) if f["name"] == "dns.qry.name")
    raw = bytes.fromhex(d["bytes"])
    assert qname["text"].startswith("Name: ") and qname["size"] > 0 and qname["pos"] + qname["size"] <= len(raw)


def test_http_request_fields_are_named_by_wireshark_not_by_the_uri(capture):
    n, t = _frame(capture, "http.request")
    d = packets.dissect(capture, n, until=t)
    http = next(x for x in d["layers"] if x["layer"] == "http")
    texts = [f["text"] for f in _walk(http["fields"])]
    names = {f["name"] for f in _walk(http["fields"])}
    assert {"http.request.method", "http.request.uri", "http.host", "http.user_agent"} <= names
    assert any(x.startswith("Request URI: ") for x in texts)
    assert not any(x.startswith("Layer ") or x.startswith("[") and x.endswith("]'") for x in texts)


def _lines(layers) -> list[str]:
    out = []
    for layer in layers:
        out.append(layer["title"])
        out += [f["text"] for f in _walk(layer["fields"])]
    return out


@pytest.mark.parametrize("flt", ["http.request", "dns.flags.response == 1", "tcp.len > 0 && !http"])
def test_the_tree_is_what_wireshark_shows_reading_the_whole_capture(capture, flt):
    """Line for line as ``tshark -V`` prints the frame on the whole capture (Wireshark's [brackets] of
    generated fields aside): its window's frame numbers and times are the capture's."""
    n = int(tshark_fields(capture, ["frame.number"], flt)[-1][0])
    assert n > packets.WINDOW or flt == "dns.flags.response == 1"
    d = packets.dissect(capture, n, until=1e10)
    text = subprocess.run([require("tshark"), "-n", "-r", str(capture), "-V", "-Y", f"frame.number == {n}"],
                          capture_output=True, text=True, check=True).stdout
    want = [x.strip()[1:-1] if x.strip().startswith("[") and x.strip().endswith("]") else x.strip()
            for x in text.splitlines() if x.strip()]
    # tshark -V shows the delta to the previous *displayed* frame (none under -Y); a window cannot
    # count the streams before it, so their index is left out
    want = [x for x in want if not x.startswith(("Time delta from previous displayed", "Stream index:"))]
    got = [x for x in _lines(d["layers"]) if not x.startswith("Time delta from previous displayed")]
    assert got == want
    assert got[0].startswith(f"Frame {n}: ")


def test_a_frame_past_the_clock_or_the_capture_is_not_found(capture):
    n, t = _frame(capture, "http.request")
    with pytest.raises(NotFound):
        packets.dissect(capture, n, until=t - 1)
    with pytest.raises(NotFound):
        packets.dissect(capture, 9_999_999, until=t + 1e9)


# ---- a connection's packets and its TCP stream ----------------------------------------------

def _http_conn(pcap) -> tuple[packets.Ends, int, float, float]:
    """The first HTTP connection: its ends, tshark's tcp.stream index and its first and last times."""
    stream, src, sp, dst, dp = tshark_fields(pcap, ["tcp.stream", "ip.src", "tcp.srcport", "ip.dst", "tcp.dstport"],
                                             "http.request")[0][:5]
    times = [float(r[0]) for r in tshark_fields(pcap, ["frame.time_epoch"], f"tcp.stream == {stream}")]
    return packets.Ends("tcp", src, dst, int(sp), int(dp)), int(stream), min(times), max(times)


def _tshark_follow(pcap, stream: int) -> list[tuple[int, str, bytes]]:
    """(frame, side, bytes) of every chunk tshark's own Follow TCP Stream shows, on the whole capture."""
    out = subprocess.run([require("tshark"), "-n", "-r", str(pcap), "-q", "-z", f"follow,tcp,yaml,{stream}"],
                         capture_output=True, text=True, check=True).stdout
    items = list(packets._follow_yaml(iter(out.splitlines(True))))
    assert [k for k, _ in items][:2] == ["peer", "peer"]  # the format this module reads
    return [(f, "client" if peer == 0 else "server", data) for k, (f, peer, _t, data) in
            ((k, v) for k, v in items if k == "packet")]


@pytest.fixture(scope="module")
def pcapng(capture, tmp_path_factory):
    """The same capture as pcapng: no index, tshark reads it whole."""
    out = tmp_path_factory.mktemp("ng") / "capture.pcapng"
    subprocess.run([require("editcap"), "-F", "pcapng", str(capture), str(out)], check=True, capture_output=True)
    return out


@pytest.mark.parametrize("form", ["pcap", "pcapng"])
def test_follow_gives_both_sides_in_order_as_tshark_does(capture, pcapng, form):
    pcap = capture if form == "pcap" else pcapng
    conn, stream, first, last = _http_conn(capture)
    got = packets.follow(pcap, conn, first - 1, last + 1)
    want = _tshark_follow(capture, stream)
    assert [(c["frame"], c["from"], bytes.fromhex(c["hex"])) for c in got["chunks"]] == want
    assert got["client"] == f"{conn.orig}:{conn.orig_p}" and got["server"] == f"{conn.resp}:{conn.resp_p}"
    assert got["chunks"][0]["from"] == "client" and bytes.fromhex(got["chunks"][0]["hex"]).startswith(b"GET ")
    server = b"".join(bytes.fromhex(c["hex"]) for c in got["chunks"] if c["from"] == "server")
    assert server.startswith(b"HTTP/1.") and got["bytes"]["server"] == len(server) and not got["truncated"]
    ts = [c["ts"] for c in got["chunks"]]
    assert ts == sorted(ts) and first <= ts[0] and ts[-1] <= last


def test_follow_stops_at_the_clock_and_at_its_size_bound(capture):
    conn, _stream, first, last = _http_conn(capture)
    whole = packets.follow(capture, conn, first - 1, last + 1)["chunks"]
    assert len(whole) >= 2
    clock = whole[1]["ts"] - 1e-6  # the session clock is between the request and the response's first bytes
    cut = packets.follow(capture, conn, first - 1, clock)
    assert cut["chunks"] == whole[:1] and all(c["ts"] <= clock for c in cut["chunks"])
    assert packets.follow(capture, conn, first - 1, first - 0.5)["chunks"] == []
    small = packets.follow(capture, conn, first - 1, last + 1, limit=100)
    sent = b"".join(bytes.fromhex(c["hex"]) for c in small["chunks"])
    assert small["truncated"] and len(sent) == 100 and small["limit"] == 100
    assert sent == b"".join(bytes.fromhex(c["hex"]) for c in whole)[:100]


def test_follow_refuses_what_is_not_tcp(capture):
    src, sp, dst, dp, t = tshark_fields(capture, ["ip.src", "udp.srcport", "ip.dst", "udp.dstport", "frame.time_epoch"],
                                        "dns.flags.response == 0")[0][:5]
    udp = packets.Ends("udp", src, dst, int(sp), int(dp))
    with pytest.raises(InputError, match="TCP connections"):
        packets.follow(capture, udp, float(t) - 1, float(t) + 1)
    row = {"ts": float(t), "uid": "C1", "id.orig_h": src, "id.orig_p": int(sp), "id.resp_h": dst,
           "id.resp_p": int(dp), "proto": "udp"}
    with pytest.raises(InputError, match="UDP flow"):
        packets.tcp_ends({"table": "dns", "row": row, "conn": None})
    arp = {"ts": float(t), "id.orig_h": src, "id.resp_h": dst}
    with pytest.raises(InputError, match="ARP"):
        packets.tcp_ends({"table": "arp", "row": arp, "conn": None})


@pytest.mark.parametrize("form", ["pcap", "pcapng"])
def test_a_connections_packets_are_what_tshark_filters_from_the_whole_capture(capture, pcapng, form):
    pcap = capture if form == "pcap" else pcapng
    conn, stream, first, last = _http_conn(capture)
    clock = (first + last) / 2
    got = packets.list_packets(pcap, conn.filter(), first - 1, clock, only=conn)
    want = tshark_fields(capture, ["frame.number", "frame.time_epoch"],
                         f"tcp.stream == {stream} && frame.time_epoch <= {clock:.6f}")
    assert [(p["frame"], p["ts"]) for p in got["packets"]] == [(int(n), float(t)) for n, t in want]
    assert {p["src"] for p in got["packets"]} == {conn.orig, conn.resp} and not got["truncated"]
    assert packets.list_packets(pcap, conn.filter(), first - 1, clock, limit=2, only=conn)["truncated"]
    # a frame of the list dissects to the same frame, from the index's window or editcap's
    d = packets.dissect(pcap, got["packets"][-1]["frame"], until=clock)
    assert d["ts"] == got["packets"][-1]["ts"] and d["layers"][0]["layer"] == "frame"


def test_an_events_window_is_its_connections():
    conn = {"ts": 100.0, "uid": "C1", "id.orig_h": "10.0.0.1", "id.orig_p": 4000, "id.resp_h": "10.0.0.2",
            "id.resp_p": 80, "proto": "tcp", "duration": 2.5}
    http = {"ts": 101.0, "uid": "C1", "id.orig_h": "10.0.0.1", "id.orig_p": 4000, "id.resp_h": "10.0.0.2",
            "id.resp_p": 80}
    # a conn event is its own connection record; another event has its conn's (or, before the conn
    # record arrives, 300 s from its own time)
    assert packets.conversation({"table": "conn", "row": conn, "conn": None})[1:] == (99.0, 103.5)
    assert packets.conversation({"table": "http", "row": http, "conn": conn})[1:] == (99.0, 103.5)
    assert packets.conversation({"table": "http", "row": http, "conn": None})[1:] == (100.0, 401.0)
    assert packets.tcp_ends({"table": "http", "row": http, "conn": None}) == packets.Ends(
        "tcp", "10.0.0.1", "10.0.0.2", 4000, 80)


# ---- the index of a classic pcap, shared by the threads of the web app --------------------------

_HEAD = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


def _records(first: int, stop: int) -> bytes:
    """Records ``first`` .. ``stop - 1``, record ``i`` at time 1000 + i s, of 60 + i % 7 bytes."""
    return b"".join(struct.pack("<IIII", 1000 + i, 0, 60 + i % 7, 60 + i % 7) + bytes(60 + i % 7)
                    for i in range(first, stop))


def _times(ix, mm) -> list[float]:
    return [t for _i, _o, t, _n in ix.records(mm, 0, 10**9)]


def _run(*targets) -> list[BaseException]:
    """Run each target in a thread of its own; the exceptions they raised. A thread left waiting
    fails the test (after a minute) rather than hanging it."""
    errors: list[BaseException] = []

    def run(target):
        try:
            target()
        except BaseException as e:
            errors.append(e)
    threads = [threading.Thread(target=run, args=(t,), daemon=True) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a thread is stuck"
    return errors


def test_a_readers_index_describes_its_own_mapping_while_another_thread_grows_the_file(tmp_path):
    """One thread reads the capture while another appends to it and reads it again: the second gets
    an extended copy of the index, shared from then on; the first keeps the index of what it mapped
    and walks it to the end (an index extended in place would walk past its mapping: struct.error)."""
    pcap = tmp_path / "live.pcap"
    n1, n2 = pcapindex.BLOCK + 10, 3 * pcapindex.BLOCK
    pcap.write_bytes(_HEAD + _records(0, n1))
    was_mapped, has_grown = threading.Event(), threading.Event()
    got = {}

    def reader():
        with pcapindex.mapped(pcap) as (ix, mm):
            got["first"], size = ix, len(mm)
            was_mapped.set()
            assert has_grown.wait(60)
            assert ix.count == n1 and ix.end == size == len(mm)
            got["walked"] = _times(ix, mm)

    def grower():
        assert was_mapped.wait(60)
        with open(pcap, "ab") as f:  # and a record half written
            f.write(_records(n1, n2) + _records(n2, n2 + 1)[:30])
        try:
            with pcapindex.mapped(pcap) as (ix, mm):
                got["grown"] = ix
                assert ix.count == n2 and ix.end == len(mm) - 30
                assert _times(ix, mm) == [1000.0 + i for i in range(n2)]
        finally:
            has_grown.set()

    assert _run(reader, grower) == []
    assert got["walked"] == [1000.0 + i for i in range(n1)]
    first, grown = got["first"], got["grown"]
    assert grown is not first and first.count == n1 and len(first.starts) == 2  # the first never changed
    with pcapindex.mapped(pcap) as (ix, mm):
        assert ix is grown  # up to date: shared as it is (the half record is not indexed)
    with open(pcap, "r+b") as f:  # rewritten in place, shorter: indexed anew
        f.truncate(0)
        f.write(_HEAD + _records(5, 25))
    with pcapindex.mapped(pcap) as (ix, mm):
        assert ix is not grown and _times(ix, mm) == [1000.0 + i for i in range(5, 25)]


def test_a_reader_that_mapped_the_file_before_the_shared_index_grew_maps_it_again(tmp_path, monkeypatch):
    """The shared index was extended (by another reader) between this reader's mapping of the file
    and its look at the index: it maps the file again rather than take an index longer than its
    mapping, or index the whole capture anew."""
    pcap = tmp_path / "live.pcap"
    pcap.write_bytes(_HEAD + _records(0, 100))
    with pcapindex.mapped(pcap) as (ix, mm):
        assert ix.count == 100
    shared, grown = pcapindex._shared, {}

    def meanwhile(key):
        if not grown:  # once: the file grows and another reader indexes it
            grown["now"] = True
            with open(pcap, "ab") as f:
                f.write(_records(100, 700))
            with pcapindex.mapped(pcap) as (ix2, _mm):
                grown["ix"] = ix2
        return shared(key)
    monkeypatch.setattr(pcapindex, "_shared", meanwhile)
    with pcapindex.mapped(pcap) as (ix, mm):
        assert ix is grown["ix"] and ix.count == 700 and len(mm) == ix.end
        assert _times(ix, mm) == [1000.0 + i for i in range(700)]


def test_indexing_one_capture_holds_up_the_readers_of_no_other(tmp_path, monkeypatch):
    """While one capture is indexed (held here until another capture has been read), another
    capture's reader neither waits for it nor blocks it."""
    a, b = tmp_path / "a.pcap", tmp_path / "b.pcap"
    a.write_bytes(_HEAD + _records(0, 50))
    b.write_bytes(_HEAD + _records(0, 30))
    walk, slow = pcapindex._Index._walk, os.stat(a).st_ino
    indexing, b_read = threading.Event(), threading.Event()

    def held_walk(self, mm, size):
        if self.ident[1] == slow:
            indexing.set()
            assert b_read.wait(60), "the other capture's reader waited for this indexing"
        walk(self, mm, size)
    monkeypatch.setattr(pcapindex._Index, "_walk", held_walk)
    got = {}

    def read_a():
        with pcapindex.mapped(a) as (ix, mm):
            got["a"] = _times(ix, mm)

    def read_b():
        assert indexing.wait(60)
        try:
            with pcapindex.mapped(b) as (ix, mm):
                got["b"] = _times(ix, mm)
        finally:
            b_read.set()

    assert _run(read_a, read_b) == []
    assert got == {"a": [1000.0 + i for i in range(50)], "b": [1000.0 + i for i in range(30)]}
