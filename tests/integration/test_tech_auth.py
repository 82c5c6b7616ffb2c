"""Authentication traffic: SSH brute force, clear-text FTP/Telnet logins, benign SSH and FTP.

Each replays a one-step scenario and reads the capture back with real tshark: Wireshark must
see the protocol the module claims (banners, KEXINIT lists, message codes, FTP commands and
replies, Telnet data), and the truth must name exactly the step's packets.
"""
from __future__ import annotations

from collections import defaultdict

import pytest
import yaml

from attack_scripts import _ssh
from attack_scripts.ssh_bruteforce import connections, pairs
from range.core import RangeError, ValidationErrors
from range.scenario import catalog, load_scenario
from tests.conftest import tshark_fields
from tests.helpers import assert_truth_exact, one_step

SERVER_BANNER = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"


def _streams(pcap, display_filter: str, fields: list[str]) -> dict[str, list[list[str]]]:
    rows = tshark_fields(pcap, ["tcp.stream", *fields], display_filter)
    by = defaultdict(list)
    for row in rows:
        by[row[0]].append(row[1:])
    return by


def _host_ip(out, scn, node: str) -> str:
    from range.topology import layout
    return layout(scn.env, "blue", 1).host(node).ip


# ---- ssh_bruteforce ------------------------------------------------------------------------

def test_ssh_bruteforce_hydra_sessions_as_wireshark_sees_them(tmp_path):
    res, scn, out = one_step(tmp_path, "ssh_bruteforce", "attacker", ["files"],
                             {"attempts": 18, "per_connection": 6, "tasks": 2})
    pcap = out / "capture.pcap"
    attacker, files = _host_ip(out, scn, "attacker"), _host_ip(out, scn, "files")
    n_conn = len(connections(pairs(3, 18, False), 6))
    assert n_conn == 3

    banners = tshark_fields(pcap, ["ip.src", "ssh.protocol"], "ssh.protocol")
    assert sorted(b for b in banners if b[0] == attacker) == [[attacker, "SSH-2.0-libssh_0.10.6"]] * n_conn
    assert sorted(b for b in banners if b[0] == files) == [[files, SERVER_BANNER]] * n_conn

    kex = tshark_fields(pcap, ["ip.src", "ssh.kex_algorithms", "ssh.kex.hassh", "ssh.server_host_key_algorithms"],
                        "ssh.message_code == 20")
    client_kex = [k for k in kex if k[0] == attacker]
    server_kex = [k for k in kex if k[0] == files]
    assert len(client_kex) == len(server_kex) == n_conn
    assert all(k[1].startswith("curve25519-sha256,curve25519-sha256@libssh.org,") and "ext-info-c" in k[1]
               for k in client_kex)
    assert len({k[2] for k in client_kex}) == 1 and client_kex[0][2]  # one tool, one HASSH
    assert all(k[1].startswith("sntrup761x25519-sha512@openssh.com,") and k[1].endswith("kex-strict-s-v00@openssh.com")
               for k in server_kex)
    assert all(k[3] == "rsa-sha2-512,rsa-sha2-256,ecdsa-sha2-nistp256,ssh-ed25519" for k in server_kex)

    codes = tshark_fields(pcap, ["ssh.message_code"], "ssh.message_code")
    flat = [c for row in codes for c in row[0].split(",")]
    for code in ("20", "30", "31", "21"):
        assert code in flat
    host_keys = tshark_fields(pcap, ["ssh.host_key.type", "ssh.host_key.eddsa.key"], "ssh.message_code == 31")
    assert len(host_keys) == n_conn and {h[0] for h in host_keys} == {"ssh-ed25519"}
    assert len({h[1] for h in host_keys}) == 1  # the server's host key is the same on every connection

    # after NEWKEYS the packets are ciphertext: SSH frames without a message code, of the real sizes
    enc = _streams(pcap, f"ssh && !ssh.message_code && !ssh.protocol && ip.src == {files}", ["tcp.len"])
    assert len(enc) == n_conn
    for lens in enc.values():
        sizes = [int(x[0]) for x in lens]
        # SERVICE_ACCEPT, FAILURE to "none", 5 refusals (52 bytes under chacha20-poly1305), the disconnect
        assert sizes.count(_ssh.sealed_len(len(_ssh.auth_failure()), "chacha20-poly1305@openssh.com")) == 6
        assert sizes[-1] == _ssh.sealed_len(len(_ssh.disconnect(2, "Too many authentication failures")),
                                            "chacha20-poly1305@openssh.com")
    # MaxAuthTries: sshd closes each connection after the sixth failure
    fins = tshark_fields(pcap, ["tcp.stream", "tcp.srcport"], "tcp.flags.fin == 1")
    first_fin = {}
    for stream, sport in fins:
        first_fin.setdefault(stream, sport)
    assert set(first_fin.values()) == {"22"}
    assert_truth_exact(out)


def test_ssh_bruteforce_success_then_interactive_login(tmp_path):
    res, scn, out = one_step(tmp_path, "ssh_bruteforce", "attacker", ["web"],
                             {"tool": "medusa", "attempts": 40, "per_connection": 4, "tasks": 1, "success_at": 7,
                              "usernames": ["root", "admin"]})
    pcap = out / "capture.pcap"
    attacker = _host_ip(out, scn, "attacker")
    clients = [b[1] for b in tshark_fields(pcap, ["ip.src", "ssh.protocol"], f"ssh.protocol && ip.src == {attacker}")]
    # medusa stops at the find (the 2nd connection), then the intruder logs in with OpenSSH
    assert clients == ["SSH-2.0-libssh2_1.10.0"] * 2 + [_ssh.OPENSSH_CLIENT_BANNER]
    kex = tshark_fields(pcap, ["ssh.kex_algorithms", "ssh.encryption_algorithms_client_to_server"],
                        f"ssh.message_code == 20 && ip.src == {attacker}")
    assert kex[0][1].startswith("aes128-ctr,") and kex[-1][0].startswith("sntrup761x25519-sha512@openssh.com")
    assert "ecdsa-sha2-nistp256" in {t[0] for t in tshark_fields(pcap, ["ssh.host_key.type"], "ssh.message_code == 31")}
    streams = _streams(pcap, f"tcp.dstport == 22 && ip.src == {attacker} && tcp.len > 0", ["tcp.len"])
    assert len(streams) == 3
    interactive = max(streams.values(), key=len)
    assert len(interactive) > 60  # a keystroke per packet
    assert_truth_exact(out)


def _bad_params(tmp_path, technique: str, targets: list[str], params: dict) -> str:
    env = catalog().path_of("environment", "gov-office")
    data = {"kind": "scenario", "name": "bad", "description": "t", "environment": str(env), "duration": "30m",
            "steps": [{"id": "s1", "technique": technique, "source": "attacker", "targets": targets, "at": 5,
                       "briefing": "b", "params": params}]}
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(data))
    with pytest.raises(ValidationErrors) as e:
        load_scenario(p)
    return str(e.value)


@pytest.mark.parametrize("params,needle", [
    ({"per_connection": 7}, "MaxAuthTries"),
    ({"attempts": 10, "success_at": 11}, "success_at 11 is after the last attempt (10)"),
    ({"usernames": ["Root Admin"]}, "not a Unix login name"),
    ({"tool": "ncrack"}, "hydra"),
    ({"tasks": 0}, "tasks"),
])
def test_ssh_bruteforce_bad_params(tmp_path, params, needle):
    assert needle in _bad_params(tmp_path, "ssh_bruteforce", ["files"], params)


def test_ssh_bruteforce_needs_ssh(tmp_path):
    assert "needs a target running ssh" in _bad_params(tmp_path, "ssh_bruteforce", ["mail"], {})


# ---- cleartext_credentials -----------------------------------------------------------------

def test_cleartext_ftp_dialogue(tmp_path):
    res, scn, out = one_step(tmp_path, "cleartext_credentials", "ws2", ["files"],
                             {"protocol": "ftp", "failed_logins": 1})
    pcap = out / "capture.pcap"
    reqs = tshark_fields(pcap, ["ftp.request.command", "ftp.request.arg"], "ftp.request.command")
    commands = [r[0] for r in reqs]
    assert commands == ["USER", "PASS", "USER", "PASS", "SYST", "PWD", "TYPE", "PASV", "LIST", "PASV", "RETR", "QUIT"]
    user = reqs[0][1]
    passwords = [r[1] for r in reqs if r[0] == "PASS"]
    assert reqs[2][1] == user and passwords[0] != passwords[1]
    codes = [r[0] for r in tshark_fields(pcap, ["ftp.response.code"], "ftp.response.code")]
    assert codes == ["220", "331", "530", "331", "230", "215", "257", "200", "227", "150", "226", "227", "150",
                     "226", "221"]
    banner = tshark_fields(pcap, ["ftp.response.arg"], "ftp.response.code == 220")
    assert banner == [["(vsFTPd 3.0.3)"]]
    # Wireshark follows the PASV replies to the data connections
    data = tshark_fields(pcap, ["ftp-data.command"], "ftp-data")
    cmds = {d[0] for d in data}
    retr = [r[1] for r in reqs if r[0] == "RETR"][0]
    assert cmds == {"LIST", f"RETR {retr}"}
    listing = b"".join(bytes.fromhex(x[0]) for x in tshark_fields(pcap, ["tcp.payload"], 'ftp-data.command == "LIST"'))
    assert retr.encode() in listing and b"drwxr-xr-x" in listing
    creds = _credentials(pcap)
    assert user in creds
    assert_truth_exact(out)
    # another team: another login and password
    res2, _, out2 = one_step(tmp_path, "cleartext_credentials", "ws2", ["files"], {"protocol": "ftp"},
                             team="red", name="other")
    reqs2 = tshark_fields(out2 / "capture.pcap", ["ftp.request.command", "ftp.request.arg"], "ftp.request.command")
    assert [r[1] for r in reqs2 if r[0] == "PASS"] != passwords[1:]


def _credentials(pcap) -> str:
    import subprocess

    from tests.conftest import require
    return subprocess.run([require("tshark"), "-n", "-r", str(pcap), "-q", "-z", "credentials"],
                          capture_output=True, text=True, check=True).stdout


def test_cleartext_telnet_login(tmp_path):
    res, scn, out = one_step(tmp_path, "cleartext_credentials", "attacker", ["files"],
                             {"protocol": "telnet", "failed_logins": 1})
    pcap = out / "capture.pcap"
    rows = tshark_fields(pcap, ["tcp.srcport", "telnet.data"], "telnet.data", extra=["-E", "aggregator=\x01"])
    server = [r[1] for r in rows if r[0] == "23"]
    client = [r[1] for r in rows if r[0] != "23"]
    text = "".join(server).replace("\x01", "")
    assert "Debian GNU/Linux 12" in text and "files login: " in text
    assert text.count("Password: ") == 2 and "Login incorrect" in text
    assert "The programs included with the Debian GNU/Linux system are free software;" in text
    assert "uid=" in text and "root:x:0:0:root:/root:/bin/bash" in text and "logout" in text
    # the client types one character per segment
    assert all(len(c) == 1 or c == "\\r" for c in client)
    typed = "".join(c if c != "\\r" else "\n" for c in client).split("\n")
    user, wrong, _user2, password = typed[0], typed[1], typed[2], typed[3]
    assert typed[2] == user and wrong != password and len(password) >= 6
    assert typed[4:7] == ["id", "cat /etc/passwd", "exit"]
    # the user name is echoed, the password is not
    assert user in "".join(s for s in server if len(s) == 1)
    assert f"{user}@files:~$ " in text and password not in text
    # option negotiation
    cmds = {c for row in tshark_fields(pcap, ["telnet.subcmd"], "telnet.subcmd") for c in row[0].split(",")}
    assert {"24", "31", "1", "3", "32", "39"} <= cmds  # TTYPE, NAWS, ECHO, SGA, TSPEED, NEW-ENVIRON
    naws = tshark_fields(pcap, ["telnet.naws_subopt.width", "telnet.naws_subopt.height"], "telnet.naws_subopt.width")
    assert naws == [["80", "24"]]
    closes = tshark_fields(pcap, ["tcp.srcport"], "tcp.flags.fin == 1")
    assert closes[0] == ["23"]  # the server ends the session after "logout"
    assert_truth_exact(out)


def test_cleartext_both_among_benign_ftp(tmp_path):
    res, scn, out = one_step(tmp_path, "cleartext_credentials", "ws1", ["files"], {"transfer": "list"},
                             benign={"ftp": {"rate": 0.05}, "ssh": {"rate": 0.02}}, duration="10m", at=60)
    pcap = out / "capture.pcap"
    ws1 = _host_ip(out, scn, "ws1")
    step = assert_truth_exact(out)["steps"][0]
    assert step["packets"] > 100
    from range.core import parse_iso
    start, end = parse_iso(step["start"]), parse_iso(step["end"])
    mine = tshark_fields(pcap, ["frame.time_epoch", "ftp.request.command", "telnet.data"],
                         f"ip.src == {ws1} && (ftp.request.command || telnet.data)")
    inside = [m for m in mine if start <= float(m[0]) <= end]
    assert any(m[1] == "LIST" for m in inside) and any(m[2] for m in inside)


def test_cleartext_bad_params(tmp_path):
    assert "protocol" in _bad_params(tmp_path, "cleartext_credentials", ["files"], {"protocol": "smtp"})
    assert "failed_logins" in _bad_params(tmp_path, "cleartext_credentials", ["files"], {"failed_logins": 9})
    assert "needs a target running ftp or telnet" in _bad_params(tmp_path, "cleartext_credentials", ["web"], {})
    assert "takes 1 target" in _bad_params(tmp_path, "cleartext_credentials", ["files", "files"], {})


def test_cleartext_protocol_the_target_lacks(tmp_path):
    from range.replay import replay
    text = catalog().path_of("environment", "gov-office").read_text()
    assert "services: [ftp, telnet, ssh]" in text
    (tmp_path / "env.yaml").write_text(text.replace("services: [ftp, telnet, ssh]", "services: [ftp, ssh]"))
    data = {"kind": "scenario", "name": "lacks", "description": "t", "environment": str(tmp_path / "env.yaml"),
            "duration": "10m", "steps": [{"id": "s1", "technique": "cleartext_credentials", "source": "attacker",
                                          "targets": ["files"], "at": 5, "briefing": "b",
                                          "params": {"protocol": "telnet"}}]}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data))
    scn = load_scenario(tmp_path / "s.yaml")
    with pytest.raises(RangeError, match="needs telnet on 'files'"):
        replay(scn, tmp_path / "out")


# ---- benign ssh and ftp ----------------------------------------------------------------------

def test_benign_ssh_sessions(tmp_path):
    res, scn, out = one_step(tmp_path, "syn_scan", "attacker", ["mail"], {"ports": "25"},
                             benign={"ssh": {"rate": 0.04, "typo": 1.0, "one_shot": 0.2}}, duration="10m")
    pcap = out / "capture.pcap"
    clients = {_host_ip(out, scn, n) for n in ("ws1", "ws2", "ws3")}
    servers = {_host_ip(out, scn, n) for n in ("web", "files")}
    banners = tshark_fields(pcap, ["tcp.stream", "ip.src", "ssh.protocol"], "ssh.protocol")
    streams = {b[0] for b in banners}
    assert len(streams) >= 5
    assert {b[2] for b in banners} == {_ssh.OPENSSH_CLIENT_BANNER}  # both ends run Debian's OpenSSH 9.2
    assert {b[1] for b in banners} <= clients | servers
    kex = tshark_fields(pcap, ["ip.src", "ssh.kex_algorithms"], "ssh.message_code == 20")
    assert all(k[1].startswith("sntrup761x25519-sha512@openssh.com,") for k in kex)
    assert all(k[1].endswith("ext-info-c,kex-strict-c-v00@openssh.com") for k in kex if k[0] in clients)
    # the client closes every session
    fins = tshark_fields(pcap, ["tcp.stream", "ip.src"], "tcp.port == 22 && tcp.flags.fin == 1")
    first = {}
    for s, src in fins:
        first.setdefault(s, src)
    assert first and set(first.values()) <= clients
    # with typo=1, password logins show two refusals (the "none" probe and the mistyped password)
    fail_len = _ssh.sealed_len(len(_ssh.auth_failure()), "chacha20-poly1305@openssh.com")
    refusals = _streams(pcap, f"tcp.srcport == 22 && tcp.len == {fail_len}", ["tcp.len"])
    assert 2 in {len(v) for v in refusals.values()}
    # interactive sessions: many keystroke-sized packets
    keys = _streams(pcap, "tcp.dstport == 22 && tcp.len == 36", ["tcp.len"])
    assert max(len(v) for v in keys.values()) > 20
    assert_truth_exact(out)


def test_benign_ftp_habits(tmp_path):
    res, scn, out = one_step(tmp_path, "syn_scan", "attacker", ["mail"], {"ports": "25"},
                             benign={"ftp": {"rate": 0.06}}, duration="10m")
    pcap = out / "capture.pcap"
    reqs = tshark_fields(pcap, ["ftp.request.command", "ftp.request.arg"], "ftp.request.command")
    users = {r[1] for r in reqs if r[0] == "USER"}
    assert {"scanner", "anonymous"} <= users and len(users) >= 3
    stors = [r[1] for r in reqs if r[0] == "STOR"]
    assert any(s.startswith("scan_") and s.endswith(".pdf") for s in stors)
    assert ["PASS", "ftp@example.com"] in reqs
    codes = {r[0] for r in tshark_fields(pcap, ["ftp.response.code"], "ftp.response.code")}
    assert {"220", "230", "229", "227", "150", "226", "211", "250", "221"} <= codes
    data = {(d[0], d[1].split(" ")[0]) for d in tshark_fields(pcap, ["ftp-data.setup-method", "ftp-data.command"],
                                                               "ftp-data")}
    assert ("PASV", "STOR") in data
    # curl opens the EPSV data connection before its "TYPE A" and "LIST"
    assert ("EPASV", "TYPE") in data
    pdf = tshark_fields(pcap, ["tcp.payload"], 'ftp-data.command contains "scan_"')
    assert bytes.fromhex(pdf[0][0]).startswith(b"%PDF-")
    assert_truth_exact(out)


@pytest.mark.parametrize("kind,params,needle", [
    ("ssh", {"rate": 0.1, "typo": 2}, "typo"),
    ("ssh", {"rate": 0.1, "colour": "red"}, "unknown key 'colour'"),
    ("ftp", {"rate": 0}, "rate"),
])
def test_benign_bad_params(tmp_path, kind, params, needle):
    env = catalog().path_of("environment", "gov-office")
    data = {"kind": "scenario", "name": "bad", "description": "t", "environment": str(env), "duration": "5m",
            "benign": {kind: params},
            "steps": [{"id": "s1", "technique": "syn_scan", "source": "attacker", "targets": ["web"], "at": 5,
                       "briefing": "b"}]}
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(data))
    with pytest.raises(ValidationErrors) as e:
        load_scenario(p)
    assert needle in str(e.value)


def test_same_seed_same_bytes(tmp_path):
    import hashlib
    digests = []
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        _, _, out = one_step(tmp_path / run, "ssh_bruteforce", "ws3", ["web"], {"attempts": 8, "success_at": 8},
                             benign={"ssh": {"rate": 0.02}, "ftp": {"rate": 0.02}}, duration="6m")
        digests.append(hashlib.sha256((out / "capture.pcap").read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def test_ssh_record_leaves_when_both_sides_have_closed(tmp_path):
    """An SSH connection's line does not wait for Zeek's 5 s close delay: once both directions
    ended, nothing can change it, so the live sensor writes it then (the rule on it fires sooner)."""
    from range.events.assembler import Assembler
    from range.events.tshark import run_file

    _res, _scn, out = one_step(tmp_path, "ssh_bruteforce", "attacker", ["files"],
                               {"attempts": 18, "per_connection": 6, "tasks": 1, "delay": 8})
    written: list[tuple[str, dict, float]] = []
    asm = Assembler(lambda table, rec, seen=None: written.append((table, rec, asm.now)), checksums="ignore")
    proc, rows = run_file(out / "capture.pcap")
    for row in rows:
        asm.feed(row)
    proc.wait()
    ssh = [(r["ts"], now) for t, r, now in written if t == "ssh"]  # (connection start, written at)
    assert len(ssh) == 3, "every line written before the end of the input"
    # each written before the next connection began (8 s later), not when its first packet
    # showed the old connection's 5 s were over
    assert all(now < nxt for (_, now), (nxt, _) in zip(ssh, ssh[1:])), ssh
    asm.close()


def test_ssh_record_leaves_at_a_reset(tmp_path):
    """sshd often ends a refused session with FIN then RST; the line leaves at the reset."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    from range.events.assembler import Assembler
    from range.events.tshark import run_file

    c, s = ("10.1.0.2", 40000), ("10.1.0.3", 22)

    def seg(t, src, dst, flags, seq, ack, data=b""):
        p = Ether() / IP(src=src[0], dst=dst[0]) / TCP(sport=src[1], dport=dst[1], flags=flags, seq=seq, ack=ack)
        p = p / data if data else p
        p.time = t
        return p

    cb, sb = b"SSH-2.0-libssh_0.10.6\r\n", b"SSH-2.0-OpenSSH_9.2p1\r\n"
    pkts = [seg(0.0, c, s, "S", 100, 0), seg(0.01, s, c, "SA", 500, 101), seg(0.02, c, s, "A", 101, 501),
            seg(0.03, s, c, "PA", 501, 101, sb), seg(0.04, c, s, "PA", 101, 501 + len(sb), cb),
            seg(0.05, s, c, "FA", 501 + len(sb), 101 + len(cb)), seg(0.06, s, c, "R", 502 + len(sb), 0),
            seg(20.0, ("10.1.0.9", 5000), ("10.1.0.3", 80), "S", 1, 0)]
    wrpcap(str(tmp_path / "reset.pcap"), pkts)
    written: list[tuple[str, float]] = []
    asm = Assembler(lambda table, rec, seen=None: written.append((table, asm.now)), checksums="ignore")
    proc, rows = run_file(tmp_path / "reset.pcap")
    for row in rows:
        asm.feed(row)
    proc.wait()
    assert ("ssh", 0.06) in [(t, round(now, 2)) for t, now in written], written


def test_telnet_line_is_timed_when_it_is_entered(tmp_path):
    """A line typed key by key is a record at the key that ends it (when the sensor can write it)."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    from range.events.assembler import Assembler
    from range.events.tshark import run_file

    c, s = ("10.1.0.2", 40001), ("10.1.0.3", 23)
    pkts, cseq, sseq = [], 101, 501

    def seg(t, src, dst, flags, seq, ack, data=b""):
        p = Ether() / IP(src=src[0], dst=dst[0]) / TCP(sport=src[1], dport=dst[1], flags=flags, seq=seq, ack=ack)
        p = p / data if data else p
        p.time = t
        pkts.append(p)

    seg(0.0, c, s, "S", 100, 0)
    seg(0.01, s, c, "SA", 500, 101)
    seg(0.02, c, s, "A", 101, 501)
    seg(0.1, s, c, "PA", sseq, cseq, b"login: ")
    sseq += 7
    for i, ch in enumerate(b"root\r\n"):
        seg(1.0 + i * 0.5, c, s, "PA", cseq, sseq, bytes([ch]))
        cseq += 1
    wrpcap(str(tmp_path / "telnet.pcap"), pkts)
    got = []
    asm = Assembler(lambda table, rec, seen=None: got.append((table, rec)), checksums="ignore")
    proc, rows = run_file(tmp_path / "telnet.pcap")
    for row in rows:
        asm.feed(row)
    proc.wait()
    asm.close()
    (line,) = [r for t, r in got if t == "telnet" and r["direction"] == "orig"]
    assert line["line"] == "root" and line["user"] == "root" and line["ts"] == pytest.approx(1.0 + 4 * 0.5)
