"""DNS techniques (dns_tunnel_exfil, dga_lookups) as real tshark reads them, with benign DNS around."""
import base64
import re
import struct

import pytest

from range.core import ValidationErrors
from range.traffic import TECHNIQUES
from tests.conftest import tshark_fields
from tests.helpers import assert_truth_exact, one_step

BENIGN = {"dns": {"rate": 5}}
QTYPE = {"A": "1", "CNAME": "5", "NULL": "10", "MX": "15", "TXT": "16"}


def _ip(scn, out, node):
    import json

    from range.topology import layout
    truth = json.loads((out / "truth.json").read_text())
    return layout(scn.env, truth["team"], truth["seed"]).host(node).ip


def _decode(encoding, text):
    if encoding == "hex":
        return bytes.fromhex(text)
    if encoding == "base32":
        t = text.upper()
        return base64.b32decode(t + "=" * (-len(t) % 8))
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _strip(name, domain):
    assert name.endswith("." + domain), (name, domain)
    return name[:-len(domain) - 1]


def _client_flow(truth, src):
    flows = [f for f in truth["steps"][0]["flows"] if f["src"] == src and f["proto"] == "udp"]
    # benign DNS from the same workstation overlaps: the truth keeps the tunnel's source port
    assert len(flows) == 1 and "sport" in flows[0] and flows[0]["dport"] == 53, flows
    return flows[0]


TUNNELS = [
    {"encoding": "hex", "record_type": "TXT", "size": 2500},
    {"encoding": "base32", "record_type": "NULL", "size": 1999, "label_length": 50, "labels": 4},
    {"encoding": "base64url", "record_type": "CNAME", "size": 3001, "label_length": 60},
    {"encoding": "hex", "record_type": "MX", "size": 777, "label_length": 40, "labels": 2},
]


@pytest.mark.parametrize("params", TUNNELS, ids=[f"{p['encoding']}-{p['record_type']}" for p in TUNNELS])
def test_dns_tunnel_decodes_back_to_the_file(tmp_path, params):
    res, scn, out = one_step(tmp_path, "dns_tunnel_exfil", "ws1", ["dns"], params, benign=BENIGN, duration="3m")
    truth = assert_truth_exact(out)
    ws1, dns = _ip(scn, out, "ws1"), _ip(scn, out, "dns")
    flow = _client_flow(truth, ws1)
    assert flow["dst"] == dns
    enc, rtype = params["encoding"], params["record_type"]
    label_len, labels = params.get("label_length", 63), params.get("labels", 3)

    queries = tshark_fields(res.pcap, ["dns.qry.name", "dns.qry.type", "dns.qry.name.len", "dns.flags.recdesired"],
                            f"ip.src == {ws1} && udp.srcport == {flow['sport']} && dns.flags.response == 0")
    answers = tshark_fields(res.pcap, ["dns.qry.name", "dns.flags.rcode", "dns.resp.type", "dns.txt", "dns.cname",
                                       "dns.mx.mail_exchange", "dns.null"],
                            f"ip.dst == {ws1} && udp.dstport == {flow['sport']} && dns.flags.response == 1")
    assert len(queries) == len(answers) > 2
    names = [q[0] for q in queries]
    assert len(set(names)) == len(names), "every query name is unique (the packet id leads)"
    domain = ".".join(names[0].split(".")[-2:])
    assert all(n.endswith("." + domain) for n in names)
    assert {q[1] for q in queries} == {QTYPE[rtype]} and {q[3] for q in queries} == {"1"}
    assert all(int(q[2]) == len(q[0]) for q in queries)
    # full data queries carry `labels` labels of `label_length` characters (the last one shorter)
    full = [n for n in names[1:-2]]
    assert full and all(len(_strip(n, domain).split(".")) == labels for n in full)
    assert all(len(lab) == label_len for n in full for lab in _strip(n, domain).split(".")[:-1])
    assert max(int(q[2]) for q in queries) > labels * label_len

    packets = [_decode(enc, _strip(n, domain).replace(".", "")) for n in names]
    pid, kind, session, isn, opts = struct.unpack("!HBHHH", packets[0][:9])
    assert kind == 0 and opts == 1 and packets[0].endswith(b"\0")
    fname = packets[0][9:-1].decode()
    assert fname.endswith(".csv")
    assert packets[-1][2] == 2 and struct.unpack("!H", packets[-1][3:5])[0] == session
    data, seq = b"", isn
    for p in packets[1:-1]:
        _, kind, sid, s, _ack = struct.unpack("!HBHHH", p[:9])
        assert (kind, sid, s) == (1, session, seq)
        data += p[9:]
        seq = (seq + len(p) - 9) & 0xFFFF
    assert len(data) == params["size"]
    text = data.decode("ascii")
    header = text.split("\n")[0].split(",")
    assert len(header) >= 5 and all(len(line.split(",")) == len(header) for line in text.split("\n")[1:-1])

    # the resolver relays the tunnel server's acknowledgements in the same record type
    assert [a[0] for a in answers] == names and {a[1] for a in answers} == {"0"}
    assert {a[2] for a in answers} == {QTYPE[rtype]}
    seq = isn
    for i, a in enumerate(answers):
        if rtype == "TXT":
            ack = _decode(enc, a[3])
        elif rtype == "CNAME":
            ack = _decode(enc, _strip(a[4], domain).replace(".", ""))
        elif rtype == "MX":
            ack = _decode(enc, _strip(a[5], domain).replace(".", ""))
        else:
            ack = bytes.fromhex(a[6].replace(":", ""))
        assert struct.unpack("!H", ack[3:5])[0] == session
        if 0 < i < len(answers) - 1:
            seq = (seq + len(packets[i]) - 9) & 0xFFFF
            assert ack[2] == 1 and struct.unpack("!H", ack[7:9])[0] == seq

    step = truth["steps"][0]
    tech = TECHNIQUES.get("dns_tunnel_exfil")
    from range.core import parse_iso
    assert parse_iso(step["end"]) - parse_iso(step["start"]) <= tech.duration(tech.Params(**params))


def test_dns_tunnel_forwarded_to_the_attackers_server(tmp_path):
    res, scn, out = one_step(tmp_path, "dns_tunnel_exfil", "ws1", ["dns"], {"size": 1200, "forward": True},
                             benign=BENIGN, duration="3m")
    truth = assert_truth_exact(out)
    ws1, dns, kali = (_ip(scn, out, n) for n in ("ws1", "dns", "attacker"))
    flow = _client_flow(truth, ws1)
    assert {"src": dns, "dst": kali, "proto": "udp"} in truth["steps"][0]["flows"]
    asked = tshark_fields(res.pcap, ["dns.qry.name"], f"ip.src == {ws1} && udp.srcport == {flow['sport']} && "
                                                      f"dns.flags.response == 0")
    up = tshark_fields(res.pcap, ["dns.qry.name", "dns.flags.recdesired", "udp.srcport"],
                       f"ip.src == {dns} && ip.dst == {kali} && dns.flags.response == 0")
    auth = tshark_fields(res.pcap, ["dns.qry.name", "dns.flags.authoritative", "dns.txt"],
                         f"ip.src == {kali} && ip.dst == {dns} && dns.flags.response == 1")
    assert [q[0] for q in up] == [q[0] for q in asked] == [a[0] for a in auth]
    assert {q[1] for q in up} == {"0"} and {a[1] for a in auth} == {"1"} and all(a[2] for a in auth)
    assert len({q[2] for q in up}) == len(up)  # the resolver asks from a fresh port each time


NECURS = r"^[a-y]{7,21}\.(tj|in|jp|tw|ac|cm|la|mn|so|sh|sc|nu|nf|mu|ms|mx|ki|im|cx|cc|tv|bz|me|eu|de|ru|co|su|pw|" \
         r"kz|sx|us|ug|ir|to|ga|com|net|org|biz|xxx|pro|bit)$"
FAMILIES = {"necurs": NECURS, "ramnit": r"^[a-y]{8,19}\.com$", "conficker": r"^[a-z]{8,11}\.(com|net|org|info|biz|ws|cn|cc)$"}  # noqa: E501


def _lookups(res, ws1, flows):
    """(time, name, qtype) of the step's queries and (name, rcode, address) of their answers."""
    ports = {f["sport"] for f in flows if f["proto"] == "udp"}
    qs = tshark_fields(
        res.pcap,
        ["frame.time_epoch", "udp.srcport", "dns.qry.name", "dns.qry.type", "dns.qry.name.len"],
        f"ip.src == {ws1} && dns.flags.response == 0",
    )
    rs = tshark_fields(
        res.pcap,
        ["udp.dstport", "dns.qry.name", "dns.flags.rcode", "dns.a"],
        f"ip.dst == {ws1} && dns.flags.response == 1",
    )
    return [q for q in qs if int(q[1]) in ports], [r for r in rs if int(r[0]) in ports]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_dga_bursts_of_nxdomain_then_c2(tmp_path, family):
    params = {"family": family, "domains_per_burst": 15, "bursts": 3, "interval": 15, "rate": 5, "resolve_after": 35}
    res, scn, out = one_step(tmp_path, "dga_lookups", "ws1", ["dns"], params, benign=BENIGN, duration="3m")
    truth = assert_truth_exact(out)
    ws1 = _ip(scn, out, "ws1")
    flows = truth["steps"][0]["flows"]
    qs, rs = _lookups(res, ws1, flows)
    assert len(qs) == len(rs) == 36
    names = [q[2] for q in qs]
    assert len(set(names)) == 36 and all(re.match(FAMILIES[family], n) for n in names), names
    assert {q[3] for q in qs} == {"1"} and all(int(q[4]) == len(q[2]) for q in qs)
    assert len({q[1] for q in qs}) == 36  # the stub resolver: a fresh source port per lookup
    nx = [r for r in rs if r[2] == "3"]
    ok = [r for r in rs if r[2] == "0"]
    assert len(nx) == 35 and len(ok) == 1 and ok[0][1] == names[-1] and ok[0][3]
    c2 = ok[0][3]
    # three bursts: gaps between lookups are short inside a burst, long between bursts
    times = [float(q[0]) for q in qs]
    assert sum(1 for a, b in zip(times, times[1:]) if b - a > 5) == 2
    # then the malware connects to the address it got
    syns = tshark_fields(
        res.pcap,
        ["frame.time_epoch", "tcp.dstport"],
        f"ip.src == {ws1} && ip.dst == {c2} && tcp.flags.syn == 1 && tcp.flags.ack == 0",
    )
    assert len(syns) == 1 and syns[0][1] == "443" and float(syns[0][0]) > times[-1]
    data = tshark_fields(res.pcap, ["tcp.payload"], f"ip.src == {ws1} && ip.dst == {c2} && tcp.len > 0")
    assert len(data) == 1 and data[0][0].replace(":", "").startswith("00ff")
    assert {"src": ws1, "dst": c2, "proto": "tcp"} in flows
    step = truth["steps"][0]
    tech = TECHNIQUES.get("dga_lookups")
    from range.core import parse_iso

    assert parse_iso(step["end"]) - parse_iso(step["start"]) <= tech.duration(tech.Params(**params))


def test_dga_unregistered_only_nxdomain(tmp_path):
    params = {"domains_per_burst": 20, "bursts": 2, "interval": 20, "rate": 4, "registered": False}
    res, scn, out = one_step(tmp_path, "dga_lookups", "ws1", ["dns"], params, benign=BENIGN, duration="3m")
    truth = assert_truth_exact(out)
    ws1 = _ip(scn, out, "ws1")
    flows = truth["steps"][0]["flows"]
    qs, rs = _lookups(res, ws1, flows)
    assert len(qs) == 40 and [r[2] for r in rs] == ["3"] * 40
    assert all(f["proto"] == "udp" for f in flows)


def test_dga_same_seed_same_domains_other_team_other_domains(tmp_path):
    params = {"domains_per_burst": 5, "bursts": 1, "family": "ramnit"}
    got = {}
    for run, team in (("a", "blue"), ("b", "blue"), ("c", "red")):
        d = tmp_path / run
        d.mkdir()
        res, scn, out = one_step(d, "dga_lookups", "ws1", ["dns"], params, duration="1m", team=team)
        got[run] = [r[0] for r in tshark_fields(res.pcap, ["dns.qry.name"], "dns.flags.response == 0")]
    assert len(got["a"]) == 5 and got["a"] == got["b"] and got["a"] != got["c"]


def test_benign_dns_alone_has_txt_queries_and_nxdomains(tmp_path):
    """Why "any TXT query" or "any NXDOMAIN" rules fire without an attack."""
    res, scn, out = one_step(tmp_path, "syn_scan", "attacker", ["web"], {"ports": "1-20"}, benign=BENIGN, duration="2m")
    txt = tshark_fields(
        res.pcap, ["ip.src", "dns.qry.name", "dns.qry.name.len"], "dns.flags.response == 0 && dns.qry.type == 16"
    )
    nx = tshark_fields(res.pcap, ["dns.qry.name"], "dns.flags.rcode == 3")
    clients = {_ip(scn, out, n) for n in ("ws1", "ws2", "ws3")}
    assert len(txt) >= 5 and len(nx) >= 3
    assert {t[0] for t in txt} <= clients
    assert max(int(t[2]) for t in txt) < 60  # short, readable names, unlike a tunnel's


BAD = [
    ("dns_tunnel_exfil", {"labels": 4, "label_length": 63}, "longer than DNS allows"),
    ("dns_tunnel_exfil", {"labels": 1, "label_length": 16}, "bytes of data per query"),
    ("dns_tunnel_exfil", {"encoding": "base85"}, "encoding: Input should be 'hex', 'base32' or 'base64url'"),
    ("dns_tunnel_exfil", {"record_type": "AAAA"}, "record_type: Input should be 'TXT', 'CNAME', 'NULL' or 'MX'"),
    ("dns_tunnel_exfil", {"size": 0}, "size: Input should be greater than or equal to 1"),
    ("dns_tunnel_exfil", {"rate": 0}, "rate: Input should be greater than 0"),
    ("dga_lookups", {"resolve_after": 90}, "never be looked up"),
    ("dga_lookups", {"interval": 3}, "shorter than one burst"),
    ("dga_lookups", {"registered": False, "resolve_after": 3}, "resolve_after needs registered"),
    ("dga_lookups", {"family": "zeus"}, "family: Input should be 'necurs', 'ramnit' or 'conficker'"),
    ("dga_lookups", {"domains_per_burst": 1000, "bursts": 6, "interval": 600}, "at most 5000"),
]


@pytest.mark.parametrize("tech,params,needle", BAD, ids=[f"{b[0]}-{b[2]}" for b in BAD])
def test_params_validation(tmp_path, tech, params, needle):
    with pytest.raises(ValidationErrors) as e:
        one_step(tmp_path, tech, "ws1", ["dns"], params)
    assert needle in str(e.value) and tech in str(e.value)


@pytest.mark.parametrize("tech", ["dns_tunnel_exfil", "dga_lookups"])
def test_needs_the_resolver(tmp_path, tech):
    with pytest.raises(ValidationErrors) as e:
        one_step(tmp_path, tech, "ws1", ["web"])
    assert "needs a target running dns" in str(e.value)
