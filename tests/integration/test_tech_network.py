"""Network-layer techniques (ping sweep, ARP spoofing, SYN flood, ICMP tunnel) and the benign
ICMP, ARP and NTP kinds: real tshark must read the traffic as intended, and truth stays exact."""
import ipaddress
import json
import math
from collections import Counter

import pytest
import yaml
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from attack_scripts._flood import TcpTemplate, addr_info
from range.core import RangeError, ValidationErrors
from range.scenario import catalog, load_scenario
from range.topology import layout
from range.traffic import wire
from tests.conftest import tshark_fields
from tests.helpers import assert_truth_exact, one_step

BENIGN = {"dns": {"rate": 0.5}, "icmp": {"rate": 1}, "arp": {"rate": 1}, "ntp": {"rate": 0.5}}


def _lay(scn):
    return layout(scn.env, "blue", 1)


def _step(out):
    return json.loads((out / "truth.json").read_text())["steps"][0]


def _window(out):
    from range.core import parse_iso
    s = _step(out)
    return f"frame.time_epoch >= {parse_iso(s['start']) - 1e-6:.6f} && frame.time_epoch <= {parse_iso(s['end']) + 1e-6:.6f}"  # noqa: E501


# ---- the flood template ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "flags,window,options,df",
    [
        (wire.SYN, 64, b"", False),
        (wire.SYN, 64240, wire.SYN_OPTIONS, False),
        (wire.SYN | wire.ACK, 65160, wire.SYNACK_OPTIONS, True),
        (wire.RST | wire.ACK, 0, b"", True),
    ],
)
def test_tcp_template_checksums_match_scapy(flags, window, options, df):
    tpl = TcpTemplate(flags, window=window, options=options, df=df)
    for src, dst, sport, dport, seq, ack, ttl, ident in [
        ("1.2.3.4", "10.20.1.2", 1024, 80, 0, 0, 64, 0),
        ("203.0.113.77", "10.0.0.1", 65535, 443, 2**32 - 1, 12345, 51, 65535),
        ("255.255.255.254", "0.0.0.1", 33333, 22, 0xFFFF0000, 2**32 - 1, 128, 4242),
    ]:
        raw = tpl.render(
            wire.mac("02:00:00:00:00:01"),
            wire.mac("02:00:00:00:00:02"),
            addr_info(src),
            addr_info(dst),
            ttl,
            ident,
            sport,
            dport,
            seq,
            ack,
        )
        pkt = Ether(raw)
        want_ip, want_tcp = pkt[IP].chksum, pkt[TCP].chksum
        del pkt[IP].chksum
        del pkt[TCP].chksum
        again = Ether(bytes(pkt))
        assert (again[IP].chksum, again[TCP].chksum) == (want_ip, want_tcp)
        assert (
            pkt[IP].src,
            pkt[IP].dst,
            pkt[IP].ttl,
            pkt[IP].id,
            pkt[TCP].sport,
            pkt[TCP].dport,
            pkt[TCP].seq,
            pkt[TCP].ack,
            int(pkt[TCP].flags),
            pkt[TCP].window,
        ) == (src, dst, ttl, ident, sport, dport, seq, ack, flags, window)
        assert bool(pkt[IP].flags.DF) == df and len(raw) == 54 + len(options)


# ---- ping sweep --------------------------------------------------------------------------------


def test_ping_sweep_local(tmp_path):
    res, scn, out = one_step(tmp_path, "ping_sweep", "attacker", ["web"], {"count": 2}, benign=BENIGN)
    lay = _lay(scn)
    me = lay.host("attacker")
    live = {h.ip for h in lay.hosts.values() if h.name != "attacker"}
    win = _window(out)
    arp = tshark_fields(
        out / "capture.pcap",
        ["arp.opcode", "eth.src", "eth.dst", "arp.src.proto_ipv4", "arp.dst.proto_ipv4"],
        f"arp && {win} && (arp.src.proto_ipv4 == {me.ip} || arp.dst.proto_ipv4 == {me.ip})",
    )
    asked = Counter(r[4] for r in arp if r[0] == "1" and r[1] == me.mac and r[2] == "ff:ff:ff:ff:ff:ff")
    subnet = lay.subnets["office"]
    assert set(asked) == {str(a) for a in subnet.hosts()} - {me.ip}  # every address but its own
    assert {a for a, n in asked.items() if n == 1} == live  # answered at once
    assert all(n == 3 for a, n in asked.items() if a not in live)  # Linux gives up after 3 tries
    assert {r[3] for r in arp if r[0] == "2"} == live
    icmp = tshark_fields(
        out / "capture.pcap",
        ["icmp.type", "ip.src", "ip.dst", "icmp.ident", "data.data", "icmp.resp_to"],
        f"icmp && {win} && ip.addr == {me.ip}",
    )
    req = [r for r in icmp if r[0] == "8"]
    assert all(r[1] == me.ip for r in req) and Counter(r[2] for r in req) == {ip: 2 for ip in live}
    assert len({r[3] for r in req}) == 1 and all(r[4] == "00" * 56 for r in req)  # fping: one id, zeros
    assert sum(r[0] == "0" and bool(r[5]) for r in icmp) == len(req)  # each one answered
    assert_truth_exact(out)


def test_ping_sweep_through_a_router(tmp_path):
    res, scn, out = one_step(
        tmp_path,
        "ping_sweep",
        "attacker",
        ["web"],
        {"prefix": 25, "order": "random", "rate": 200},
        env="dmz-lan",
        benign=BENIGN,
    )
    lay = _lay(scn)
    router = lay.host("router")
    gw_ip = router.ips["dmz"]
    rows = tshark_fields(
        out / "capture.pcap",
        ["arp.src.proto_ipv4", "eth.src", "arp.dst.proto_ipv4"],
        f"arp.opcode == 1 && {_window(out)} && arp.src.proto_ipv4 == {gw_ip}",
    )
    block = ipaddress.IPv4Network(f"{lay.host('web').ips['dmz']}/25", strict=False)
    sub = lay.subnets["dmz"]
    want = {str(a) for a in block if a not in (sub.network_address, sub.broadcast_address)} - {gw_ip}
    assert {r[2] for r in rows} == want  # the router resolves each address
    assert {r[1] for r in rows} == {router.macs["dmz"]}
    web = lay.host("web")
    echo = tshark_fields(
        out / "capture.pcap",
        ["ip.ttl", "eth.src"],
        f"icmp.type == 8 && ip.dst == {web.ip} && ip.src == {lay.host('attacker').ip}",
    )
    assert len(echo) == 1 and echo[0][1] == router.macs["dmz"]  # forwarded by the router
    assert_truth_exact(out)


# ---- ARP spoofing ------------------------------------------------------------------------------


def test_arp_spoof_flagged_as_duplicate_address(tmp_path):
    res, scn, out = one_step(tmp_path, "arp_spoof", "attacker", ["ws1"], {"duration": 30}, benign=BENIGN)
    lay = _lay(scn)
    me, ws1, dns = lay.host("attacker"), lay.host("ws1"), lay.host("dns")  # no gateway: the resolver
    rows = tshark_fields(
        out / "capture.pcap",
        [
            "frame.time_epoch",
            "arp.opcode",
            "eth.src",
            "eth.dst",
            "arp.src.hw_mac",
            "arp.src.proto_ipv4",
            "arp.dst.proto_ipv4",
            "arp.duplicate-address-detected",
            "_ws.expert.message",
        ],
        f"arp && eth.src == {me.mac} && arp.opcode == 2",
    )
    poison = [r for r in rows if r[4] == me.mac]
    assert len(poison) >= 12 and all(r[5] == dns.ip and r[6] == ws1.ip and r[3] == ws1.mac for r in poison)
    gaps = [float(b[0]) - float(a[0]) for a, b in zip(poison, poison[1:])]
    assert all(1.9 < g < 2.1 for g in gaps)  # arpspoof: every 2 s
    restore = [r for r in rows if r[4] == dns.mac]
    assert len(restore) == 3
    assert all(r[7] == "1" and f"Duplicate IP address configured ({dns.ip})" in r[8] for r in poison)
    assert not any(r[7] for r in restore)  # the true mapping again: what Wireshark first saw
    assert_truth_exact(out)


def test_arp_spoof_bidirectional_from_a_compromised_host(tmp_path):
    res, scn, out = one_step(
        tmp_path,
        "arp_spoof",
        "ws1",
        ["ws2"],
        {"bidirectional": True, "interval": 5, "restore": False},
        env="dmz-lan",
        benign=BENIGN,
        at=30,
    )
    lay = _lay(scn)
    ws1, ws2, router = lay.host("ws1"), lay.host("ws2"), lay.host("router")
    dup = tshark_fields(
        out / "capture.pcap",
        ["arp.src.proto_ipv4", "arp.dst.proto_ipv4"],
        f"arp.duplicate-address-detected && eth.src == {ws1.macs['lan']}",
    )
    assert {tuple(r) for r in dup} == {(router.ips["lan"], ws2.ips["lan"]), (ws2.ips["lan"], router.ips["lan"])}
    assert_truth_exact(out)


def test_arp_spoof_errors(tmp_path):
    with pytest.raises(RangeError, match="ARP does not cross routers"):
        one_step(tmp_path, "arp_spoof", "attacker", ["ws1"], env="dmz-lan", name="a")
    with pytest.raises(RangeError, match="'printer' is not a node"):
        one_step(tmp_path, "arp_spoof", "attacker", ["ws1"], {"impersonate": "printer"}, name="b")
    with pytest.raises(RangeError, match="to itself"):
        one_step(tmp_path, "arp_spoof", "attacker", ["dns"], {"impersonate": "dns"}, name="c")


# ---- SYN flood ---------------------------------------------------------------------------------


def test_syn_flood_botnet(tmp_path):
    res, scn, out = one_step(
        tmp_path,
        "syn_flood",
        "attacker",
        ["web"],
        {"packets": 6000, "rate": 3000, "backlog": 100, "sources": 300, "prefixes": 3},
        benign=BENIGN,
        at=60,
    )
    lay = _lay(scn)
    web, me = lay.host("web"), lay.host("attacker")
    rows = tshark_fields(
        out / "capture.pcap",
        [
            "tcp.flags",
            "ip.src",
            "eth.src",
            "tcp.dstport",
            "tcp.checksum.status",
            "ip.checksum.status",
            "tcp.analysis.retransmission",
        ],
        f"tcp && ip.addr == {web.ip}",
        extra=["-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"],
    )
    syn = [r for r in rows if r[0] == "0x0002"]
    synack = [r for r in rows if r[0] == "0x0012"]
    assert len(syn) == 6000 and all(r[3] == "80" for r in syn)
    assert all(r[2] == me.mac for r in syn)  # a spoofer on the LAN keeps its own MAC
    assert len({r[1] for r in syn}) <= 300 and len({tuple(r[1].split(".")[:2]) for r in syn}) == 3
    originals = [r for r in synack if not r[6]]
    assert len(originals) == 100 and len(synack) > 100  # the backlog fills, then Linux retransmits
    assert all(r[4] == "2" or r[4] == "1" for r in rows) and all(r[5] == "1" for r in rows)
    assert not [r for r in rows if r[0] == "0x0010"]  # no handshake completes
    step = _step(out)
    assert step["packets"] == len(syn) + len(synack) and len(step["flows"]) == 3
    assert all(f["src"].endswith(".0.0/16") and f["dst"] == web.ip for f in step["flows"])
    assert_truth_exact(out)


def test_syn_flood_random_spoof_closed_port_and_cookies(tmp_path):
    res, scn, out = one_step(
        tmp_path,
        "syn_flood",
        "attacker",
        ["mail"],
        {"packets": 3000, "spoof": "random", "port": 8080},
        benign=BENIGN,
        name="closed",
    )
    mail = _lay(scn).host("mail")
    rows = tshark_fields(
        out / "capture.pcap", ["tcp.flags", "ip.src", "tcp.window_size_value"], f"tcp && ip.addr == {mail.ip}"
    )
    syn = [r for r in rows if r[0] == "0x0002"]
    assert len(syn) == 3000 and len({r[1] for r in syn}) == 3000 and {r[2] for r in syn} == {"64"}  # hping3
    assert sum(r[0] == "0x0014" for r in rows) == 3000  # a closed port resets every one
    assert_truth_exact(out)
    res, scn, out = one_step(
        tmp_path,
        "syn_flood",
        "attacker",
        ["web"],
        {"packets": 2000, "syncookies": True},
        env="dmz-lan",
        benign=BENIGN,
        name="cookies",
    )
    lay = _lay(scn)
    rows = tshark_fields(out / "capture.pcap", ["tcp.flags", "eth.src"], f"tcp && ip.addr == {lay.host('web').ip}")
    assert sum(r[0] == "0x0012" for r in rows) == 2000 == sum(r[0] == "0x0002" for r in rows)
    assert {r[1] for r in rows if r[0] == "0x0002"} == {lay.host("router").macs["dmz"]}  # from outside
    assert_truth_exact(out)


# ---- ICMP tunnel -------------------------------------------------------------------------------


def _entropy(b: bytes) -> float:
    c = Counter(b)
    return -sum(n / len(b) * math.log2(n / len(b)) for n in c.values())


def test_icmp_tunnel_icmpsh(tmp_path):
    res, scn, out = one_step(tmp_path, "icmp_tunnel", "ws1", ["attacker"], {"duration": 60}, benign=BENIGN)
    lay = _lay(scn)
    ws1, me = lay.host("ws1"), lay.host("attacker")
    rows = tshark_fields(
        out / "capture.pcap",
        ["icmp.type", "ip.src", "icmp.ident", "icmp.seq", "data.data"],
        f"icmp && ip.addr == {me.ip}",
    )
    req = [r for r in rows if r[0] == "8"]
    rep = {r[3]: r[4] for r in rows if r[0] == "0"}
    assert len(req) > 100 and all(r[1] == ws1.ip and r[2] == "1" for r in req) and len(rep) == len(req)
    texts = b"".join(bytes.fromhex(r[4]) for r in req)
    commands = b"".join(bytes.fromhex(v) for v in rep.values())
    assert b"Microsoft Windows [Version" in texts and b"Windows IP Configuration" in texts
    assert b"whoami\n" in commands and b"ipconfig\n" in commands
    assert sum(rep[r[3]] != r[4] for r in req) > 10  # replies that do not echo the request
    assert max(len(r[4]) // 2 for r in req) == 64  # icmpsh -b 64
    assert_truth_exact(out)


def test_icmp_tunnel_ptunnel(tmp_path):
    res, scn, out = one_step(
        tmp_path, "icmp_tunnel", "attacker", ["ws2"], {"tool": "ptunnel", "duration": 30}, benign=BENIGN
    )
    ws2 = _lay(scn).host("ws2")
    rows = tshark_fields(
        out / "capture.pcap",
        ["icmp.type", "ip.src", "data.data"],
        f"icmp && {_window(out)} && ip.addr == {ws2.ip} && ip.addr == {_lay(scn).host('attacker').ip}",
    )
    assert rows and all(r[2].startswith("d5200880") for r in rows)  # ptunnel's magic
    assert {r[1] for r in rows if r[0] == "8"} == {ws2.ip}  # the implant on ws2 polls out
    data = [bytes.fromhex(r[2])[28:] for r in rows]
    assert any(d.startswith(b"SSH-2.0-") for d in data)
    assert _entropy(b"".join(d for d in data if len(d) == 1024)) > 7.9
    assert_truth_exact(out)


# ---- benign kinds ------------------------------------------------------------------------------


def test_benign_icmp_arp_ntp(tmp_path):
    res, scn, out = one_step(
        tmp_path,
        "ping_sweep",
        "attacker",
        ["web"],
        {"prefix": 28},
        benign={"icmp": {"rate": 2}, "arp": {"rate": 2}, "ntp": {"rate": 2}},
        duration="3m",
    )
    pcap = out / "capture.pcap"
    me = _lay(scn).host("attacker").ip
    icmp = tshark_fields(pcap, ["data.data", "icmp.data_time", "ip.ttl"], f"icmp.type == 8 && ip.src != {me}")
    assert any(bytes.fromhex(r[0]) == b"abcdefghijklmnopqrstuvwabcdefghi" and r[2] == "128" for r in icmp)  # ping.exe
    linux = [r for r in icmp if r[1]]
    assert linux and all(bytes.fromhex(r[0]).endswith(bytes(range(0x10, 0x38))) for r in linux)  # iputils
    arp = tshark_fields(
        pcap,
        ["arp.opcode", "arp.isprobe", "arp.isannouncement", "arp.isgratuitous"],
        f"arp && !(arp.src.proto_ipv4 == {me} || arp.dst.proto_ipv4 == {me})",
    )
    assert sum(r[0] == "2" for r in arp) > 50 and any(r[1] == "1" for r in arp) and any(r[2] == "1" for r in arp)
    ntp = tshark_fields(
        pcap, ["ntp.flags.mode", "ntp.flags.vn", "ntp.xmt", "ntp.org", "udp.srcport", "udp.dstport"], "ntp"
    )
    modes = Counter(r[0] for r in ntp)
    assert modes["3"] == modes["4"] > 100 and {r[1] for r in ntp} == {"3", "4"}
    queries = {(r[4], r[2]) for r in ntp if r[0] == "3"}
    assert all((r[5], r[3]) in queries for r in ntp if r[0] == "4")  # origin = the query's transmit time
    assert_truth_exact(out)


# ---- parameter validation ----------------------------------------------------------------------


def _scenario(tmp_path, technique, params, targets=("web",), source="attacker"):
    data = {
        "kind": "scenario",
        "name": "v",
        "description": "t",
        "duration": "10m",
        "environment": str(catalog().path_of("environment", "gov-office")),
        "steps": [
            {
                "id": "s",
                "technique": technique,
                "source": source,
                "targets": list(targets),
                "at": 5,
                "briefing": "b",
                "params": params,
            }
        ],
    }
    p = tmp_path / "v.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


@pytest.mark.parametrize(
    "technique,params,targets,needle",
    [
        ("syn_flood", {"sources": 2, "prefixes": 3}, ["web"], "2 source(s) cannot fill 3 prefixes"),
        ("syn_flood", {"sources": 200000}, ["web"], "sources: Input should be less than or equal to 100000"),
        ("syn_flood", {"sources": 70000, "prefixes": 1}, ["web"], "do not fit in 1 /16 prefixes"),
        ("syn_flood", {"spoof": "random", "sources": 50}, ["web"], "spoof: random draws a new address per packet"),
        ("syn_flood", {"packets": 0}, ["web"], "packets: Input should be greater than or equal to 1"),
        ("syn_flood", {"port": 70000}, ["web"], "port: Input should be less than or equal to 65535"),
        ("syn_flood", {}, ["ws1"], "needs a target running"),
        ("syn_flood", {}, ["web", "mail"], "takes 1 target(s), got 2"),
        ("ping_sweep", {"prefix": 8}, ["web"], "prefix: Input should be greater than or equal to 16"),
        ("ping_sweep", {"count": 0}, ["web"], "count: Input should be greater than or equal to 1"),
        ("ping_sweep", {"order": "backwards"}, ["web"], "order: Input should be 'sequential' or 'random'"),
        ("arp_spoof", {"interval": 0}, ["ws1"], "interval: Input should be greater than or equal to 0.1"),
        ("arp_spoof", {"impersonate": "Bad Name"}, ["ws1"], "impersonate: String should match pattern"),
        ("arp_spoof", {"duration": "2s"}, ["ws1"], "duration: Input should be greater than or equal to 5"),
        ("icmp_tunnel", {"tool": "iodine"}, ["attacker"], "tool: Input should be 'icmpsh' or 'ptunnel'"),
        ("icmp_tunnel", {"rtt": 0.6}, ["attacker"], "rtt 0.6s must be shorter than interval 0.5s"),
    ],
)
def test_param_errors(tmp_path, technique, params, targets, needle):
    with pytest.raises(ValidationErrors) as e:
        load_scenario(_scenario(tmp_path, technique, params, targets))
    assert needle in str(e.value), str(e.value)


def test_benign_param_errors(tmp_path):
    p = _scenario(tmp_path, "ping_sweep", {})
    data = yaml.safe_load(p.read_text())
    for kind, params, needle in [
        ("ntp", {"rate": 0}, "rate: Input should be greater than 0"),
        ("arp", {"rate": 1, "burst": 2}, "unknown key 'burst'"),
        ("icmp", {}, "missing required key"),
    ]:
        data["benign"] = {kind: params}
        p.write_text(yaml.safe_dump(data))
        with pytest.raises(ValidationErrors) as e:
            load_scenario(p)
        assert needle in str(e.value), str(e.value)


# ---- truth for many sources ------------------------------------------------------------------


def test_compact_flows_random_sources_beside_benign_traffic():
    import random

    from attack_scripts._flood import public_addresses
    from range.scoring import compact_flows, flow_matches

    r = random.Random(5)
    srcs = public_addresses(r, 5000, [ipaddress.IPv4Network("10.0.0.0/8")])
    keys = {(s, "10.1.2.3", "tcp", 1024 + i, 80, None) for i, s in enumerate(srcs)}
    benign = [("10.1.2.9", "10.1.2.3", "tcp", 50000, 80, None)]
    flows = compact_flows(keys, benign)  # 0.0.0.0/0 would name the benign connection: /8s instead
    assert 16 < len(flows) <= 256 and all(f["src"].endswith("/8") and "dport" not in f for f in flows)
    assert all(any(flow_matches(f, *k) for f in flows) for k in keys)
    assert not any(flow_matches(f, *benign[0]) for f in flows)
    assert compact_flows(keys, []) == [{"src": "0.0.0.0/0", "dst": "10.1.2.3", "proto": "tcp"}]
