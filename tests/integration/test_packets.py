"""Packet drill-down (range.events.packets): one frame's dissection as Wireshark shows it, a tree of
fields in Wireshark's order with the bytes each covers, DNS and HTTP whole; nothing past the clock."""
from __future__ import annotations

import pytest

from range.core import NotFound
from range.events import packets
from tests.conftest import tshark_fields
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


def test_a_frame_past_the_clock_or_the_capture_is_not_found(capture):
    n, t = _frame(capture, "http.request")
    with pytest.raises(NotFound):
        packets.dissect(capture, n, until=t - 1)
    with pytest.raises(NotFound):
        packets.dissect(capture, 9_999_999, until=t + 1e9)
