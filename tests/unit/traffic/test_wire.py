"""Frames built from templates are what scapy would build: scapy dissects them and agrees."""
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether

from range.traffic import wire


def _checks_out(raw: bytes, layer):
    pkt = Ether(raw)
    ip = pkt[IP]
    want_ip = ip.chksum
    want_l4 = pkt[layer].chksum
    del ip.chksum
    del pkt[layer].chksum
    rebuilt = Ether(bytes(pkt))
    assert rebuilt[IP].chksum == want_ip
    assert rebuilt[layer].chksum == want_l4
    return Ether(raw)


def test_tcp_frame_matches_scapy():
    l4 = wire.tcp("10.0.0.1", "10.0.0.2", 40000, 80, 1000, 2000, wire.PSH | wire.ACK, payload=b"GET / HTTP/1.1\r\n\r\n")
    raw = wire.frame("02:00:00:00:00:01", "02:00:00:00:00:02", "10.0.0.1", "10.0.0.2", wire.PROTO_TCP, l4, ident=7)
    pkt = _checks_out(raw, TCP)
    assert pkt[IP].src == "10.0.0.1" and pkt[IP].id == 7 and pkt[IP].flags == "DF"
    assert pkt[TCP].sport == 40000 and pkt[TCP].dport == 80 and pkt[TCP].flags == "PA"
    assert bytes(pkt[TCP].payload) == b"GET / HTTP/1.1\r\n\r\n"


def test_tcp_options_and_odd_payload():
    l4 = wire.tcp("10.0.0.1", "10.0.0.2", 1, 2, 0, 0, wire.SYN, options=wire.SYN_OPTIONS, payload=b"abc")
    raw = wire.frame("02:00:00:00:00:01", "02:00:00:00:00:02", "10.0.0.1", "10.0.0.2", wire.PROTO_TCP, l4)
    pkt = _checks_out(raw, TCP)
    assert dict((k, v) for k, v in pkt[TCP].options if k in ("MSS", "WScale")) == {"MSS": 1460, "WScale": 8}


def test_udp_and_icmp_match_scapy():
    raw = wire.frame("02:00:00:00:00:01", "02:00:00:00:00:02", "10.0.0.1", "10.0.0.2", wire.PROTO_UDP,
                     wire.udp("10.0.0.1", "10.0.0.2", 5353, 53, b"\x01\x02\x03"))
    assert _checks_out(raw, UDP)[UDP].dport == 53
    raw = wire.frame("02:00:00:00:00:01", "02:00:00:00:00:02", "10.0.0.1", "10.0.0.2", wire.PROTO_ICMP,
                     wire.icmp_echo(8, 0x1234, 3, b"x" * 33))
    pkt = Ether(raw)
    want = pkt[ICMP].chksum
    del pkt[ICMP].chksum
    assert Ether(bytes(pkt))[ICMP].chksum == want and pkt[ICMP].seq == 3


def test_arp_payload():
    raw = wire.ether("02:00:00:00:00:01", "ff:ff:ff:ff:ff:ff", wire.ETH_ARP,
                     wire.arp(2, "02:00:00:00:00:01", "10.0.0.1", "02:00:00:00:00:02", "10.0.0.2"))
    a = Ether(raw)[ARP]
    assert (a.op, a.psrc, a.hwsrc, a.pdst) == (2, "10.0.0.1", "02:00:00:00:00:01", "10.0.0.2")


def test_syn_template_patches_fields_and_checksums():
    tpl = wire.SynTemplate("02:00:00:00:00:01", "02:00:00:00:00:02", "10.0.0.9", 443, options=wire.NMAP_SYN_OPTIONS)
    for src, sport, seq in [("1.2.3.4", 1111, 5), ("203.0.113.77", 65000, 2**32 - 1)]:
        raw = tpl.render(src, sport, seq, ident=99)
        pkt = _checks_out(raw, TCP)
        assert (pkt[IP].src, pkt[TCP].sport, pkt[TCP].seq, pkt[TCP].dport) == (src, sport, seq, 443)
        assert pkt[TCP].flags == "S"
