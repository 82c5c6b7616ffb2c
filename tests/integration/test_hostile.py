"""Hostile inputs (the corpus in tests/hostile/, and a few made here because they are large)
through the real entry points: the CLI as a subprocess, the web API through Flask's test client
over a real state store. Each case gets its clear error (``file:line: message`` and exit code 2, or
a 4xx JSON error; never a traceback or a 500), and each test proves that nothing else stopped or
changed: the good files in the same run still validate, the good rules still fire, the event
store's and the state store's contents are unchanged, the session still runs, the server still
answers. Bounds are enforced before work starts, so a case finishes; a subprocess that hangs
fails on its time limit, which is a guard against a hang, not a speed measurement."""
from __future__ import annotations

import hashlib
import json
import sqlite3
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from range import sessions
from range.scenario import catalog
from tests.conftest import app_over_fresh_state
from tests.web.common import SCAN_RULE, basic

HOSTILE = Path(__file__).resolve().parents[1] / "hostile"
RULES = Path(__file__).resolve().parents[2] / "detections" / "rules"
SMOKE = catalog().path_of("scenario", "smoke")


def cli(*args, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "range.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, errors="replace")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def expect(r: subprocess.CompletedProcess, cases: dict[str, tuple], where: Path) -> None:
    """Exit code 2, no traceback, and for each file ``file:line: needle`` (line None: no line)."""
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    for name, (line, needle) in cases.items():
        prefix = f"{where / name}:{line}:" if line else f"{where / name}:"
        hits = [ln for ln in r.stderr.splitlines() if ln.startswith(prefix)]
        assert any(needle in ln for ln in hits), f"{name}: want {prefix} ...{needle}... in\n{r.stderr}"


# ---- YAML, scenarios, environments: `cyberrange validate` -------------------------------------

YAML = {
    "billion_laughs.yaml": (3, "anchors (&a) are not allowed"),
    "alias_only.yaml": (3, "aliases (*name) are not allowed"),
    "merge_key.yaml": (4, "merge keys (<<) are not allowed"),
    "python_tag.yaml": (2, "tag tag:yaml.org,2002:python/object/apply:os.system is not allowed"),
    "binary_tag.yaml": (3, "tag tag:yaml.org,2002:binary is not allowed"),
    "set_tag.yaml": (3, "tag tag:yaml.org,2002:set is not allowed"),
    "deep_flow.yaml": (3, "nesting deeper than 40 levels"),
    "deep_block.yaml": (43, "nesting deeper than 40 levels"),
    "duplicate_key.yaml": (4, "duplicate key 'duration'"),
    "nul_escape.yaml": (3, "a NUL character"),
    "lone_surrogate.yaml": (3, "a lone surrogate"),
    "latin1.yaml": (3, "not UTF-8 text"),
    "control_char.yaml": (3, "the character #x0007 is not allowed"),
    "huge_integer.yaml": (3, "cannot read the value"),
    "bad_timestamp.yaml": (3, "month must be in 1..12"),
    "unclosed.yaml": (4, "malformed YAML"),
}


def test_malformed_and_oversized_yaml(tmp_path):
    big = tmp_path / "huge_flow_sequence.yaml"   # 100,000 values in one flow sequence, 300 KB
    big.write_text("kind: scenario\nname: x\nsteps: [" + ", ".join(["1"] * 100_000) + "]\n")
    many = tmp_path / "many_keys.yaml"
    many.write_text("kind: scenario\n" + "".join(f"k{i}: {i}\n" for i in range(30_000)))
    large = tmp_path / "large.yaml"              # past the 2 MiB limit: refused before it is parsed
    large.write_text("kind: scenario\ndescription: " + "x" * (2 * 1024 * 1024 + 10) + "\n")
    files = [HOSTILE / "yaml" / n for n in YAML] + [big, many, large, "/dev/zero", SMOKE]
    r = cli("validate", *files, timeout=120)
    expect(r, YAML, HOSTILE / "yaml")
    expect(r, {"huge_flow_sequence.yaml": (3, "more than 20,000 values in one file"),
               "many_keys.yaml": (10000, "more than 20,000 values"),   # a key and its value are two
               "large.yaml": (None, "larger than the 2048 KiB limit")}, tmp_path)
    assert "/dev/zero: not a regular file" in r.stderr
    assert f"{SMOKE}: ok (scenario smoke)" in r.stdout   # the good file in the same run still validates
    assert not Path("/tmp/cyberrange-pwned").exists()


SCENARIOS = {   # absurd sizes: each refused by a bound, with the line of the value
    "duration_huge.yaml": (5, "duration: Input should be less than or equal to 86400"),
    "duration_infinite.yaml": (5, "duration: Input should be less than or equal to 86400"),
    "flood_packets.yaml": (13, "packets: Input should be less than or equal to 5000000"),
    "exfil_size.yaml": (13, "size: Input should be less than or equal to 2000000"),
    "exfil_size_float.yaml": (13, "size: Input should be a valid integer"),
    "ports_spec_huge.yaml": (13, "the port specification is longer than 1000 characters"),
    "ports_twice.yaml": (13, "131070 ports per target; at most 65535"),
    "beacon_duration.yaml": (13, "duration: Input should be less than or equal to 86400"),
    "dga_interval.yaml": (13, "interval: Input should be less than or equal to 86400"),
    "benign_volume.yaml": (6, "makes 86,400,000 events; at most 1,000,000"),
    "start_far.yaml": (6, "is not between the years 2000 and 2100"),
    "scoring_absurd.yaml": (6, "scoring.fp_penalty: Input should be less than or equal to 10000"),
    "points_infinite.yaml": (14, "points: Input should be less than or equal to 10000"),
    "bruteforce_attempts.yaml": (13, "attempts: Input should be less than or equal to 5000"),
    "icmp_tunnel.yaml": (13, "duration: Input should be less than or equal to 7200"),
    "webshell_command.yaml": (13, "at most 500 characters"),
    "environment_traversal.yaml": (4, "is not a valid environment file"),
    "node_traversal.yaml": (9, "source '../attacker' is not a node"),
}
ENVIRONMENTS = {   # every name that becomes a container, network, image, directory or config line
    "node_traversal.yaml": (8, "nodes[0].name: String should match pattern"),
    "network_traversal.yaml": (6, "networks[0].name: String should match pattern"),
    "image_traversal.yaml": (8, "image '../../../etc:passwd' is neither a name under images"),
    "image_key_traversal.yaml": (14, "images.../evil: String should match pattern"),
    "registry_traversal.yaml": (14, "images.web.registry: String should match pattern"),
    "image_spaces.yaml": (8, "image 'web --privileged' is neither"),
    "package_injection.yaml": (14, "images.web.packages[0]: String should match pattern"),
    "domain_newline.yaml": (4, "domain: String should match pattern"),
    "hostname_dots.yaml": (8, "nodes[0].hostname: String should match pattern"),
    "too_many_nodes.yaml": (7, "nodes: List should have at most 64 items"),
}


def test_absurd_scenarios_and_hostile_environments_are_refused_by_bounds(tmp_path):
    steps = tmp_path / "too_many_steps.yaml"
    steps.write_text((HOSTILE / "scenarios" / "ports_twice.yaml").read_text().split("steps:")[0] + "steps:\n" + "".join(
        f"  - {{id: s{i}, technique: syn_scan, source: attacker, targets: [web], at: {i}, parallel: true, "
        f"briefing: x}}\n" for i in range(101)))
    r = cli("validate", *[HOSTILE / "scenarios" / n for n in SCENARIOS], steps, SMOKE, timeout=120)
    expect(r, SCENARIOS, HOSTILE / "scenarios")
    expect(r, {"too_many_steps.yaml": (6, "steps: List should have at most 100 items")}, tmp_path)
    assert f"{SMOKE}: ok (scenario smoke)" in r.stdout
    good = HOSTILE / "environments" / "valid.yaml"
    r = cli("validate", *[HOSTILE / "environments" / n for n in ENVIRONMENTS], good)
    expect(r, ENVIRONMENTS, HOSTILE / "environments")
    assert f"{good}: ok (environment hostile)" in r.stdout
    # the scenario bounds hold for the API too: a session is made only from a catalog name
    assert not list(tmp_path.glob("**/capture.pcap"))


# ---- Sigma rules: `cyberrange detect` -----------------------------------------------------------

RULE_ERRORS = {
    "re_counted_nested.yml": "'((((a{100}){100}){100}){100})' repeats its parts 100,000,000 times",
    "re_counted_huge.yml": "repeats its parts 4,294,967,295 times",
    "re_invalid.yml": "Regular expression '((' is invalid",
    "nul_value.yml": "line 8: a NUL character",
    "not_utf8.yml": "line 1: not UTF-8 text",
    "alias_bomb.yml": "line 5: YAML anchors (&a) are not allowed",
    "deep_nesting.yml": "nesting deeper than 40 levels",
    "logsource_traversal.yml": "log source (category=../../red/events, product=None, service=None) is not mapped",
}
CATASTROPHIC = ["re_nested_quantifier.yml", "re_overlapping_alternation.yml", "re_alternation_prefix.yml",
                "re_polynomial.yml", "re_words.yml"]
QUIET = ["sql_quote.yml", "sql_attach.yml", "sql_backslash.yml", "sql_field.yml", "sql_table_field.yml",
         "keyword_injection.yml"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A real event store: the smoke scenario's capture through replay and ingest, plus DNS records
    with 5,000-character names (the shape that makes a backtracking regex explode)."""
    from range.events import EventStore
    out = tmp_path_factory.mktemp("events")
    assert cli("replay", "smoke", "--out", out, "--seed", 3).returncode == 0
    assert cli("ingest", out / "capture.pcap", "--db", out / "events.db").returncode == 0
    es = EventStore(out / "events.db")
    t = 1.8e9
    es.add("dns", [{"ts": t + i, "uid": f"Chostile{i}", "id.orig_h": "10.0.0.5", "id.orig_p": 5000 + i,
                    "id.resp_h": "10.0.0.53", "id.resp_p": 53, "proto": "udp", "query": q, "qtype_name": "A",
                    "rcode_name": "NOERROR", "_seen": t + i}
                   for i, q in enumerate(["a" * 5000 + "!", "ab" * 2500 + "c", "x' OR '1'='1"])])
    es.close()
    return out


def _values_rule(path: Path, n: int) -> Path:
    vals = "".join(f"      - v{i}.example\n" for i in range(n))
    path.write_text(f"title: {n} values\nlogsource:\n  category: dns\ndetection:\n  selection:\n    query|contains:\n"
                    f"{vals}  condition: selection\n")
    return path


def test_hostile_rules_are_refused_or_bounded_and_the_good_ones_still_fire(store, tmp_path):
    db = store / "events.db"
    before = sha(db)
    huge = _values_rule(tmp_path / "values_100k.yml", 100_000)   # 2.2 MB: refused before it is read
    half = _values_rule(tmp_path / "values_50k.yml", 50_000)     # 1.1 MB: refused while parsed
    many = _values_rule(tmp_path / "values_600.yml", 600)        # one list past the SQL expression limit
    fine = _values_rule(tmp_path / "values_400.yml", 400)        # converts and runs
    good = tmp_path / "good.yml"
    good.write_text("title: very long name\nlogsource:\n  category: dns\ndetection:\n  selection:\n"
                    "    query|endswith: 'aaaa!'\n  condition: selection\nlevel: high\n")
    rules = [HOSTILE / "rules" / n for n in [*RULE_ERRORS, *CATASTROPHIC, *QUIET]]
    r = cli("detect", *[x for p in [*rules, huge, half, many, fine, good, RULES / "net_conn_port_scan.yml"]
                        for x in ("--rules", p)], "--db", db, "--out", tmp_path / "alerts.json")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    for name, needle in RULE_ERRORS.items():
        assert any(ln.startswith(str(HOSTILE / "rules" / name)) and needle in ln for ln in r.stderr.splitlines()), \
            f"{name}: {needle!r} not in\n{r.stderr}"
    assert f"{huge}: -: file is larger than 2048 KiB" in r.stderr
    assert f"{half}: -: line 19994: more than 20,000 values in one file" in r.stderr
    assert "'query|contains' lists 600 values; at most 500 in one list" in r.stderr
    out = json.loads((tmp_path / "alerts.json").read_text())
    by_rule = {a["rule_title"] for a in out["alerts"]}
    # the good rules fired: the long-name rule on the crafted record, the port scan on smoke's scan
    assert "very long name" in by_rule and any(t.startswith("Port scan") for t in by_rule), by_rule
    # a catastrophic pattern is either fast in the regex engine or stopped by the per-match limit
    stopped = [e for e in out["errors"] if "catastrophic backtracking" in e["message"]]
    assert stopped and all("rule stopped" in e["message"] for e in stopped)
    # quoted SQL stays a value: the rule with the literal quote matches that one record, no other
    assert not any("ATTACH" in a["rule_title"] for a in out["alerts"])
    quote_hits = [a for a in out["alerts"] if a["rule_title"] == "quote in a value"]
    assert [e["query"] for a in quote_hits for e in a["events"]] == ["x' OR '1'='1"]
    assert sha(db) == before   # detection never writes the store


# ---- captures: `cyberrange ingest` -----------------------------------------------------------------

def test_truncated_and_corrupt_captures(store, tmp_path):
    good = (store / "capture.pcap").read_bytes()
    end = 24
    for _ in range(5):   # five complete records, then one that claims 2 GB
        end += 16 + struct.unpack("<I", good[end + 8:end + 12])[0]
    made = {"truncated_record.pcap": good[:24] + good[24:40] + b"\x00" * 5,
            "corrupt_middle.pcap": good[:end] + struct.pack("<IIII", 1, 0, 0x7FFFFF00, 0x7FFFFF00) + good[end:],
            "cut_half.pcap": good[: len(good) // 2 + 7]}
    for name, data in made.items():
        (tmp_path / name).write_bytes(data)
    cases = {HOSTILE / "pcaps" / "text.pcap": "not a pcap or pcapng file",
             HOSTILE / "pcaps" / "empty.pcap": "it is empty or shorter than a pcap header",
             HOSTILE / "pcaps" / "header_only_short.pcap": "the pcap header is incomplete",
             HOSTILE / "pcaps" / "huge_record.pcap": "bigger than maximum",
             HOSTILE / "pcaps" / "pcapng_garbage.pcapng": "tshark cannot read this capture",
             HOSTILE / "pcaps" / "bad_linktype.pcap": "unknown or unsupported",
             tmp_path / "corrupt_middle.pcap": "bigger than maximum",
             HOSTILE / "pcaps": "cannot read capture"}
    existing = tmp_path / "existing.db"
    existing.write_bytes((store / "events.db").read_bytes())
    before = sha(existing)
    for pcap, needle in cases.items():
        r = cli("ingest", pcap, "--db", existing)
        assert r.returncode == 2 and "Traceback" not in r.stderr and needle in r.stderr, (pcap, r.stderr)
        assert sha(existing) == before and not Path(str(existing) + ".part").exists(), pcap
    for pcap in (tmp_path / "truncated_record.pcap", tmp_path / "cut_half.pcap"):   # complete packets kept
        r = cli("ingest", pcap, "--db", tmp_path / f"{pcap.stem}.db")
        assert r.returncode == 2 and "truncated capture" in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert (tmp_path / f"{pcap.stem}.db").exists()
    for db, needle in ((tmp_path / "no" / "such" / "dir.db", "does not exist"), (tmp_path, "it is a directory")):
        r = cli("ingest", store / "capture.pcap", "--db", db)
        assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_cli_names_that_would_become_paths_or_labels(tmp_path):
    for args, needle in ((("replay", "smoke", "--out", tmp_path / "o", "--team", "../../x"), "team name '../../x'"),
                         (("replay", "smoke", "--out", "/proc/cyberrange/x"), "cannot create the output directory"),
                         (("down", "../../x"), "session name '../../x'"), (("status", "a b"), "session name 'a b'"),
                         (("detect", "--rules", RULES, "--db", tmp_path, "--out", tmp_path / "a.json"),
                          "not an event store"),
                         (("exercise", "run", "smoke", "--offline", "--team", "../x=" + str(RULES), "--out",
                           tmp_path / "e"), "a team name is")):
        r = cli(*args)
        assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
    assert not (tmp_path / "o").exists() and not (tmp_path.parent.parent / "x").exists()


# ---- the web API: a real state store, real offline sessions, the driver ticked by hand ------------

@pytest.fixture(scope="module")
def web(tmp_path_factory):
    app, store, password, mp = app_over_fresh_state(tmp_path_factory)
    pw = {("main", t): p for t, p in sessions.create_session(store, "main", "smoke", ["blue", "red"], speed=20)["teams"].items()}  # noqa: E501
    pw[("broken", "blue")] = sessions.create_session(store, "broken", "smoke", ["blue"], speed=20)["teams"]["blue"]
    sessions.deploy_rule(store, "main", "blue", SCAN_RULE)
    env = {
        "app": app,
        "store": store,
        "state": store.path.parent,
        "driver": app.extensions["cyberrange"].driver,
        "inst": basic("instructor", password),
        "blue": basic("main/blue", pw[("main", "blue")]),
        "broken": basic("broken/blue", pw[("broken", "blue")]),
    }
    for name in ("main", "broken"):
        run(env, name, 60)
    yield env
    mp.undo()


def run(env, name: str, elapsed: float) -> None:
    """Session ``name`` running, its clock at ``elapsed`` scenario seconds, detection done up to there."""
    store, now = env["store"], time.time()
    with store.tx() as db:
        db.execute(
            "UPDATE sessions SET status = 'running', started_wall = ?, paused_wall = NULL, paused_total = 0 "
            "WHERE name = ?",
            (now - elapsed / store.session(name)["speed"], name),
        )
    env["driver"].tick(wall=now)


def digest(store) -> str:
    """Everything the state store holds (a refused request must change none of it, audit included)."""
    con = sqlite3.connect(store.path)
    try:
        return hashlib.sha256("\n".join(con.iterdump()).encode()).hexdigest()
    finally:
        con.close()


def refused(env, method: str, url: str, code: int, needle: str, headers: dict | None = None, **kw) -> dict:
    """The request gets ``code`` with a JSON error holding ``needle``, and the state store is unchanged."""
    before = digest(env["store"])
    r = getattr(env["app"].test_client(), method)(url, headers=headers or env["blue"], **kw)
    assert r.status_code == code and r.is_json, (url, r.status_code, r.get_data()[:300])
    assert needle in r.json["error"], (url, r.json)
    assert digest(env["store"]) == before, f"{url} changed the state store"
    return r.json


def alive(env) -> None:
    """The session still runs, detection still raises the good rule's alerts, the server answers."""
    c = env["app"].test_client()
    assert env["store"].session("main")["status"] == "running"
    alerts = c.get("/api/sessions/main/teams/blue/alerts", headers=env["blue"]).json["alerts"]
    assert any(a["rule_title"].startswith("Port scan") for a in alerts)
    assert c.get("/api/board/main").status_code == 200
    assert c.get("/api/sessions/main", headers=env["inst"]).status_code == 200


T = "/api/sessions/main/teams/blue"


def test_hostile_rules_through_the_api(web):
    for name, needle in RULE_ERRORS.items():
        text = (HOSTILE / "rules" / name).read_bytes()
        if name == "not_utf8.yml":  # JSON cannot carry it: the raw bytes are the hostile body
            refused(
                web,
                "post",
                T + "/rules",
                400,
                "the body must be a JSON object",
                data=b'{"yaml": "' + text.replace(b"\n", b"\\n") + b'"}',
                content_type="application/json",
            )
            continue
        for route in ("/rules", "/dry-run"):
            refused(web, "post", T + route, 400, needle.split(": ", 1)[-1][:40], json={"yaml": text.decode()})
    def values(n):
        return (
            "title: many\nlogsource: {category: dns}\ndetection:\n  s:\n    query|contains:\n"
            + "".join(f"      - v{i}.example\n" for i in range(n))
            + "  condition: s\n"
        )
    refused(web, "post", T + "/rules", 413, "larger than 256 KiB", json={"yaml": values(100_000)})
    refused(web, "post", T + "/rules", 400, "lists 3,000 values; at most 500", json={"yaml": values(3000)})
    refused(web, "post", T + "/rules", 400, "lists 600 values; at most 500", json={"yaml": values(600)})
    refused(
        web,
        "post",
        T + "/rules",
        400,
        "lone surrogate",
        data='{"yaml": "title: \\ud800"}',
        content_type="application/json",
    )
    refused(
        web, "post", T + "/rules", 400, "nested deeper", data="[" * 5000 + "]" * 5000, content_type="application/json"
    )
    # rules that are valid Sigma but hostile at run time are taken, and bounded when they run
    c = web["app"].test_client()
    for name in CATASTROPHIC + QUIET:
        r = c.post(T + "/rules", headers=web["blue"], json={"yaml": (HOSTILE / "rules" / name).read_text()})
        assert r.status_code == 201, (name, r.json)
        d = c.post(T + "/dry-run", headers=web["blue"], json={"yaml": (HOSTILE / "rules" / name).read_text()})
        assert d.status_code == 200 and d.json["matches"] == 0, (name, d.json)
    run(web, "main", 90)
    alive(web)


def test_report_indicator_and_comment_fields(web):
    report = {"title": "scan", "classification": {"class": "information-gathering", "type": "scanner"}}
    url = T + "/reports"
    for field, value, needle in (
        ("title", "a\x00b", "'title' holds a NUL character"),
        ("title", "two\nlines", "'title' holds the control character U+000A"),
        ("description", "bell\x07", "'description' holds the control character U+0007"),
        ("actions", "esc\x1b[2J", "'actions' holds the control character U+001B"),
        ("title", "x" * 201, "'title' is longer than 200"),
        ("description", "x" * 8001, "'description' is longer than 8000"),
        ("affected", ["10.0.0.1"] * 65, "'affected' holds 65 entries; at most 64"),
        ("evidence", ["conn:99999999999999999999999"], "'evidence[0]'"),
        ("evidence", ["conn:1 OR 1=1"], "'evidence[0]' must be"),
        ("first_seen", 1e308, "'first_seen' is not a plausible time"),
        ("indicators", [{"type": "domain", "value": "a\x00.example"}], "control characters"),
    ):
        refused(web, "post", url, 400, needle, json={**report, field: value})
    refused(
        web,
        "post",
        url,
        400,
        "'title' holds a lone surrogate",
        data='{"title": "x\\udc80", "classification": {"class": "information-gathering", "type": "scanner"}}',
        content_type="application/json",
    )
    refused(
        web,
        "post",
        url,
        400,
        "the body must be a JSON object",
        data=b'{"title": "caf\xe9"}',
        content_type="application/json",
    )
    refused(web, "post", url, 413, "larger than 256 KiB", json={**report, "description": "x" * 300_000})
    # SQL metacharacters are text: stored and shown as written, the tables intact
    c = web["app"].test_client()
    sql = "x'); DROP TABLE reports; --"
    r = c.post(url, headers=web["blue"], json={**report, "title": sql})
    assert r.status_code == 201 and r.json["title"] == sql
    assert sql in [x["title"] for x in c.get(url, headers=web["blue"]).json["reports"]]
    pk = r.json["pk"]
    ind = T + "/indicators"
    for body, needle in (
        ({"type": "user_agent", "value": "a\x00b"}, "control characters"),
        ({"type": "url", "value": "http://x.example/" + "a" * 3000}, "longer than 2048"),
        ({"type": "ipv4", "value": "10.0.0.1", "report": "²"}, "'report' must be the number"),
        ({"type": "ipv4", "value": "10.0.0.1", "report": 2**70}, "'report' must be the number"),
        ({"type": "ipv4", "value": "10.0.0.1", "comment": "a\x00"}, "'comment' holds a NUL"),
        ({"type": "ipv4", "value": "10.0.0.1; DROP TABLE indicators"}, "not an IPv4 address"),
    ):
        refused(web, "post", ind, 400, needle, json=body)
    ua = "sqlmap' OR '1'='1\" --; ATTACH DATABASE 'x' AS y"
    r = c.post(ind, headers=web["blue"], json={"type": "user_agent", "value": ua, "tlp": "RED"})
    assert r.status_code == 201 and r.json["value"] == ua
    rule = c.post(f"{ind}/{r.json['pk']}/rule", headers=web["blue"], json={})
    assert rule.status_code == 200
    d = c.post(T + "/dry-run", headers=web["blue"], json={"yaml": rule.json["yaml"]})
    assert d.status_code == 200 and d.json["matches"] == 0 and not d.json["errors"]
    refused(
        web,
        "post",
        f"/api/sessions/main/reports/{pk}/comments",
        400,
        "'text' holds a NUL",
        headers=web["inst"],
        json={"text": "a\x00b"},
    )
    refused(
        web,
        "post",
        f"/api/sessions/main/reports/{pk}/mark",
        400,
        "'reason' holds the control character",
        headers=web["inst"],
        json={"points": 5, "reason": "ok\x1b"},
    )
    alive(web)


def test_event_explorer_filters_are_values_never_sql(web):
    c = web["app"].test_client()
    base = T + "/events?table=conn&limit=5"
    total = c.get(base, headers=web["blue"]).json["total"]
    assert total > 0
    for q in (
        "filter=id.orig_h=x' OR '1'='1",
        "filter=proto=tcp%00' --",
        "filter=proto!=x' OR 1=1 --",
        "q=%' OR 1=1 --",
        "q=%00",
        "q=_",
        "filter=history=*' UNION SELECT * FROM dns --*",
    ):
        r = c.get(f"{base}&{q}", headers=web["blue"])
        assert r.status_code == 200 and r.json["total"] in (0, total), (q, r.json)
        assert r.json["total"] == 0 or q.startswith("filter=proto!="), q
    for q, needle in (
        ("table=sqlite_master", "no table 'sqlite_master'"),
        ("table=../red/conn", "no table"),
        ("filter=`proto` OR 1=1 --=x", "has no field"),
        ("filter=_seen=1", "has no field '_seen'"),
        ("filter=id.orig_p=99999999999999999999999", "no number that large"),
        ("after=99999999999999999999999", "'after' must be between"),
        ("limit=1e400", "finite"),
        ("q=" + "a" * 201, "longer than 200"),
    ):
        refused(web, "get", f"{T}/events?{q}", 400, needle)
    refused(web, "get", T + "/events/conn/99999999999999999999/packets", 404, "not found")
    refused(web, "get", T + "/rules/99999999999999999999", 405, "not allowed")


def test_names_that_would_become_paths(web):
    inst = web["inst"]
    for body, code, needle in (
        ({"name": "../../x", "scenario": "smoke", "teams": ["a"]}, 400, "session name"),
        ({"name": "x", "scenario": "smoke", "teams": ["../../etc"]}, 400, "team name"),
        ({"name": "x", "scenario": "smoke", "teams": ["a/b"]}, 400, "team name"),
        ({"name": "x\n", "scenario": "smoke", "teams": ["a"]}, 400, "session name"),
        ({"name": "x", "scenario": "../../../etc/passwd", "teams": ["a"]}, 400, "catalog"),
        ({"name": "x", "scenario": "smoke.yaml", "teams": ["a"]}, 400, "catalog"),
        ({"name": "x", "scenario": "..", "teams": ["a"]}, 404, "no scenario named '..'"),
    ):
        refused(web, "post", "/api/sessions", code, needle, headers=inst, json=body)
    assert sorted(p.name for p in (web["state"] / "sessions").iterdir()) == ["broken", "main"]
    for url in (
        "/api/sessions/..%2f..%2fetc",
        "/api/sessions/main/teams/..%2fred/alerts",
        "/api/board/..%2f..",
        "/api/sessions/main/teams/blue%2f..%2fred/events",
    ):
        r = web["app"].test_client().get(url, headers=inst)
        assert r.status_code == 404 and r.is_json, url
    refused(web, "post", "/api/sessions/main/hints", 404, "no step '../recon'", headers=inst, json={"step": "../recon"})
    refused(
        web,
        "post",
        "/api/sessions/main/hints",
        404,
        "has no team '../red'",
        headers=inst,
        json={"step": "recon", "teams": ["../red"]},
    )
    out = web["state"] / "pwned.pcap"
    refused(web, "get", f"{T}/pcap?bpf=-w {out}", 400, "BPF filter")
    refused(web, "get", f"{T}/pcap?bpf=tcp%00", 400, "control characters")
    assert not out.exists()
    r = web["app"].test_client().get(f"{T}/export/stix", headers=web["blue"])
    assert r.headers["Content-Disposition"] == 'attachment; filename="main-blue-stix.json"'
    alive(web)


def test_damaged_captures_behind_the_packet_endpoints(web):
    c = web["app"].test_client()
    cap = web["store"].team_dir("broken", "blue").capture
    good = cap.read_bytes()
    base = "/api/sessions/broken/teams/blue"
    rowid = c.get(base + "/events?table=conn&limit=1", headers=web["broken"]).json["events"][0]["_rowid"]
    try:
        for data in (good[: len(good) // 2 + 7], good[:24] + b"\xff" * 4000, b"not a capture at all", b""):
            cap.write_bytes(data)
            for u in ("/pcap", "/pcap?bpf=tcp", f"/events/conn/{rowid}/packets", "/packets/1", "/packets/3"):
                r = c.get(base + u, headers=web["broken"])
                assert r.status_code in (200, 404, 409), (u, r.status_code, r.get_data()[:200])
                assert r.status_code == 200 or (r.is_json and r.json["error"]), u
    finally:
        cap.write_bytes(good)
    assert c.get(T + "/packets/1", headers=web["blue"]).status_code == 200
    alive(web)


def test_oversized_bodies_everywhere(web):
    big = {"x": "y" * 300_000}
    for url, h in (
        (T + "/rules", web["blue"]),
        (T + "/dry-run", web["blue"]),
        (T + "/reports", web["blue"]),
        (T + "/indicators", web["blue"]),
        ("/api/sessions", web["inst"]),
        ("/api/login", {}),
        ("/api/sessions/main/hints", web["inst"]),
    ):
        refused(web, "post", url, 413, "larger than 256 KiB", headers=h, json=big)
    alive(web)
