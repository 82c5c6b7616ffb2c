"""The reference rules in detections/rules: every technique of the attack library is detected
on its own traffic, every step of the shipped scenarios is detected for several teams and seeds,
and the benign traffic kinds raise nothing.

Each check runs the real pipeline: replay (synthesised capture, host records and truth), ingest
with tshark, detection with pySigma through detections/pipeline.yml, and scoring against the truth.
"""
from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
import yaml

from range.core import team_seed
from range.detect import load_rules, run
from range.events import ingest
from range.exercise import TeamSpec, run_offline
from range.scenario import catalog, load_scenario
from range.scoring import score
from range.traffic import TECHNIQUES
from tests.conftest import ROOT
from tests.helpers import one_step

RULES = ROOT / "detections" / "rules"

# a little of every benign kind an environment can carry, so that each technique's rules must
# stand out from ordinary DNS, web browsing, SSH administration, FTP, pings and ARP, and from the
# nodes' own cron jobs, backups, updates, sudo and shells
BENIGN = {"dns": {"rate": 0.5}, "web": {"rate": 0.2}, "ssh": {"rate": 0.02}, "ftp": {"rate": 0.02},
          "icmp": {"rate": 0.3}, "arp": {"rate": 0.3}, "ntp": {"rate": 0.05}, "host": {"rate": 0.1}}

# the rule each technique is meant to be caught by (ids in detections/rules)
PORT_SCAN = "6b1b0f3c-9a7e-4e0b-8d3e-2f6f1e4c9b02"
ARP_SWEEP = "5157135f-94c1-47f4-8a76-d47b0e60f6da"
ARP_CONFLICT = "1c1dbf02-54bf-4f5d-bc1c-e0f80c66281a"
ARP_FORGED = "eb53a80b-022d-4ed2-8f41-836cdcaa436a"
SSH_BRUTE = "5a030092-5b57-4779-bdcd-940eb8c15c9e"
SSH_LIBRARY = "d433cc8e-b78f-4a7f-81d8-4037730e016a"
SSHD_FAILED = "62e437a4-8626-468b-a37c-557ebf9b5bdc"  # host records: sshd's Failed password lines
SQLI_URI = "233a65cd-33de-4a53-a386-188b88674b8e"
SQLMAP_UA = "8d2a4f6e-0b1c-4d3e-a5f6-7a8b9c0d1e04"
SHELL_UPLOAD = "8530a3c3-4697-43fb-a93f-90762a0dadd3"
SHELL_COMMAND = "fc04fa40-e221-4879-ac08-f719c37eb68a"
SHELL_RECON = "d952242d-95f6-4faf-9c7b-4ab434c820fc"  # host records: www-data's discovery commands
SHELL_ACCESS = "b6131859-a301-4e54-8d60-0963d97f6832"  # host records: nginx's access log, a command to an upload
SHELL_PLANTED = "e32678f8-4963-435f-8c0b-f4b0b2621a84"  # host records: an upload, then a script from uploads/
REVERSE_SHELL = "027fed86-c539-4f3f-8b81-34f5f2aacda4"  # host records: the rules of lnx_*.yml
SUDO_ESCAPE = "128dffb4-bd26-46f1-ac2c-15f0bfb869f5"
SUDO_SERVICE = "66b57e10-6e43-4997-9ea8-93a11f7d5e08"
CRED_ACCESS = "73481648-5ad9-4f08-9533-1cfae7e37d64"
PERSISTENCE = "02374d73-6658-45e3-abb6-e4daca4b0415"
LOG_TAMPERING = "9619d0e1-f5a7-4263-88f5-5f874dee01d6"
STAGE_EXFIL = "8bb12944-93c0-4e2f-9f7b-ace79216181e"
DNS_LONG = "1c7e0b6a-3d2f-4b8e-9f1a-5e6d7c8b9a03"
DNS_VOLUME = "110004f4-da4a-4257-bfcb-ec2bfd58de4c"
BEACON = "3001f1ab-96ac-49ca-9989-cf29361ea1a8"
CS_COOKIE = "93889627-7b5d-4d59-b7e3-63900dfe4980"
SYN_FLOOD = "f48059bd-b20c-4ed6-820a-480c337aaa47"
ICMP_TUNNEL = "2e12d58b-8498-4cdd-b7a3-b59b5df9606a"
TELNET_LOGIN = "00e41b6d-e5c5-4ceb-b3ed-ab8d45dad555"
DGA = "df8fe187-8b81-4c57-9158-36364d0276cf"

# (case id, technique, source, targets, params, environment, rules that must each detect the step)
CASES = [
    ("syn_scan", "syn_scan", "attacker", ["web", "files"], {}, "gov-office", {PORT_SCAN}),
    ("ping_sweep", "ping_sweep", "attacker", ["web"], {}, "gov-office", {ARP_SWEEP}),
    ("ping_sweep-routed", "ping_sweep", "attacker", ["web"], {}, "dmz-lan", {ARP_SWEEP}),
    ("arp_spoof", "arp_spoof", "attacker", ["ws1"], {"duration": 30}, "gov-office", {ARP_CONFLICT, ARP_FORGED}),
    (
        "arp_spoof-insider",
        "arp_spoof",
        "ws1",
        ["ws2"],
        {"bidirectional": True, "interval": 5, "restore": False},
        "gov-office",
        {ARP_CONFLICT},
    ),
    ("ssh_bruteforce", "ssh_bruteforce", "attacker", ["files"], {}, "gov-office",
     {SSH_BRUTE, SSH_LIBRARY, SSHD_FAILED}),
    (
        "ssh_bruteforce-medusa",
        "ssh_bruteforce",
        "attacker",
        ["web"],
        {"tool": "medusa", "attempts": 30, "success_at": 27},
        "gov-office",
        {SSH_BRUTE, SSHD_FAILED},
    ),
    ("http_sqli", "http_sqli", "attacker", ["web"], {}, "gov-office", {SQLI_URI, SQLMAP_UA}),
    (
        "http_sqli-random-agent",
        "http_sqli",
        "attacker",
        ["web"],
        {"user_agent": "random", "requests": 80},
        "gov-office",
        {SQLI_URI},
    ),
    ("webshell", "webshell", "attacker", ["web"], {}, "gov-office",
     {SHELL_UPLOAD, SHELL_COMMAND, SHELL_RECON, SHELL_ACCESS, SHELL_PLANTED}),
    ("reverse_shell", "reverse_shell", "attacker", ["web"], {}, "gov-office", {REVERSE_SHELL}),
    ("reverse_shell-fifo-routed", "reverse_shell", "attacker", ["web"], {"payload": "nc-mkfifo", "port": 443},
     "dmz-lan", {REVERSE_SHELL}),
    ("sudo_privesc", "sudo_privesc", "attacker", ["web"], {}, "gov-office", {SUDO_ESCAPE, SUDO_SERVICE}),
    ("credential_access", "credential_access", "attacker", ["web"], {}, "gov-office", {CRED_ACCESS}),
    ("persistence", "persistence", "attacker", ["web"], {}, "gov-office", {PERSISTENCE}),
    ("log_tampering", "log_tampering", "attacker", ["web"], {}, "gov-office", {LOG_TAMPERING}),
    ("stage_exfil", "stage_exfil", "attacker", ["web"], {}, "gov-office", {STAGE_EXFIL}),
    ("stage_exfil-curl-routed", "stage_exfil", "attacker", ["web"], {"channel": "curl"}, "dmz-lan", {STAGE_EXFIL}),
    ("dns_tunnel_exfil", "dns_tunnel_exfil", "ws1", ["dns"], {}, "gov-office", {DNS_LONG, DNS_VOLUME}),
    (
        "dns_tunnel_exfil-short-labels",
        "dns_tunnel_exfil",
        "ws1",
        ["dns"],
        {"encoding": "base64url", "record_type": "NULL", "label_length": 24, "labels": 1, "size": 2000},
        "gov-office",
        {DNS_VOLUME},
    ),
    ("http_c2_beacon", "http_c2_beacon", "ws1", ["attacker"], {}, "dmz-lan", {BEACON, CS_COOKIE}),
    ("syn_flood", "syn_flood", "attacker", ["web"], {}, "dmz-lan", {SYN_FLOOD}),
    (
        "syn_flood-random-syncookies",
        "syn_flood",
        "attacker",
        ["web"],
        {"packets": 3000, "spoof": "random", "syncookies": True},
        "dmz-lan",
        {SYN_FLOOD},
    ),
    ("icmp_tunnel", "icmp_tunnel", "ws2", ["attacker"], {}, "dmz-lan", {ICMP_TUNNEL}),
    (
        "icmp_tunnel-ptunnel",
        "icmp_tunnel",
        "attacker",
        ["ws2"],
        {"tool": "ptunnel", "duration": 30},
        "dmz-lan",
        {ICMP_TUNNEL},
    ),
    ("cleartext_credentials", "cleartext_credentials", "ws2", ["files"], {}, "gov-office", {TELNET_LOGIN}),
    ("dga_lookups", "dga_lookups", "ws1", ["dns"], {}, "dmz-lan", {DGA}),
]

LONG = {"http_c2_beacon": "12m"}  # ten check-ins a minute apart (the technique's defaults)

SCENARIOS = {name: catalog().path_of("scenario", name)
             for name in ("ministry-breach", "ddos-c2-campaign", "smoke", "portal-takeover", "dmz-foothold")}


@pytest.fixture(scope="module")
def rules():
    rs = load_rules([RULES])
    assert rs.errors == [] and rs.warnings == []
    return rs


def detect(rules, res, out: Path) -> tuple[list[dict], dict]:
    ingest(res.pcap, out / "events.db", host_log=res.host_log)
    alerts, errors = run(rules, out / "events.db")
    assert errors == []
    return alerts, score(res.truth, alerts)


# ---- the rule files ------------------------------------------------------------------------


def _documents() -> list[tuple[Path, dict]]:
    docs = []
    for f in sorted(RULES.glob("*.yml")):
        docs += [(f, d) for d in yaml.safe_load_all(f.read_text()) if d]
    return docs


def test_every_rule_is_complete_sigma():
    docs = _documents()
    referenced = {r for _, d in docs if "correlation" in d for r in d["correlation"]["rules"]}
    ids = [d["id"] for _, d in docs]
    assert len(ids) == len(set(ids))
    for f, d in docs:
        where = f"{f.name}: {d.get('title')}"
        assert str(uuid.UUID(d["id"])) == d["id"], where
        for key in ("title", "description", "level", "falsepositives", "status", "author"):
            assert d.get(key), f"{where} has no {key}"
        assert d["level"] in ("informational", "low", "medium", "high", "critical"), where
        assert ("correlation" in d) != ("detection" in d), where
        if "detection" in d:
            assert d["logsource"].get("category") or d["logsource"].get("product"), where
        if "correlation" in d or d.get("name") not in referenced:  # the rules that raise alerts
            tags = d.get("tags") or []
            assert any(re.fullmatch(r"attack\.t\d{4}(\.\d{3})?", t) for t in tags), f"{where}: no technique tag"
            assert any(re.fullmatch(r"attack\.[a-z-]+", t) for t in tags), f"{where}: no tactic tag"
            assert d.get("references"), f"{where} has no references"


def test_every_technique_of_the_library_has_a_rule():
    tagged = {t for _, d in _documents() for t in d.get("tags") or []}
    missing = [
        f"{name} ({t.attack})" for name, t in TECHNIQUES.all().items() if f"attack.{t.attack.lower()}" not in tagged
    ]
    assert missing == []
    assert {c[1] for c in CASES} == set(TECHNIQUES.all())


# ---- one technique at a time ---------------------------------------------------------------


@pytest.mark.parametrize("case,technique,source,targets,params,env,expected", CASES, ids=[c[0] for c in CASES])
def test_reference_rules_detect_each_technique(
    tmp_path, rules, case, technique, source, targets, params, env, expected
):
    res, _, out = one_step(
        tmp_path,
        technique,
        source,
        targets,
        params,
        env=env,
        benign=BENIGN,
        duration=LONG.get(case, "6m"),
        at=20,
        name=case.replace("_", "-"),
    )
    alerts, s = detect(rules, res, out)
    (step,) = s["steps"]
    assert step["detected"], f"{case}: no alert's evidence holds the step's traffic ({len(alerts)} alerts)"
    assert expected <= set(step["rules"]), f"{case}: detected by {step['rules']}, expected {sorted(expected)}"
    assert s["recall"] == 1.0 and s["false_positives"] == 0 and s["precision"] == 1.0, [a["rule_title"] for a in alerts]


# ---- benign traffic alone --------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["ministry-breach", "ddos-c2-campaign"])
def test_benign_traffic_raises_nothing(tmp_path, rules, scenario):
    """Every benign kind of the scenario at its own rates for its whole length, around one quiet
    step (a single connection to the portal's web port, which no rule should call a scan)."""
    scn = load_scenario(SCENARIOS[scenario])
    env = scn.env.name
    benign = {k: dict(v) for k, v in yaml.safe_load(SCENARIOS[scenario].read_text())["benign"].items()}
    res, _, out = one_step(
        tmp_path,
        "syn_scan",
        "attacker",
        ["web"],
        {"ports": "80"},
        env=env,
        benign=benign,
        duration="20m",
        at=30,
        seed=5,
        team="quiet",
    )
    alerts, s = detect(rules, res, out)
    assert alerts == [], sorted({a["rule_title"] for a in alerts})


# ---- the shipped scenarios, as exercises -------------------------------------------------------

EXERCISES = [
    ("ministry-breach", 1, ["albania", "serbia"]),
    ("ministry-breach", 3, ["kosovo"]),
    ("ddos-c2-campaign", 1, ["albania", "serbia"]),
    ("ddos-c2-campaign", 2, ["kosovo"]),
    ("portal-takeover", 5, ["montenegro"]),
    ("dmz-foothold", 6, ["macedonia"]),
    ("smoke", 2, ["albania"]),
]


@pytest.mark.parametrize("scenario,seed,teams", EXERCISES, ids=[f"{s}-seed{n}" for s, n, _ in EXERCISES])
def test_shipped_scenarios_every_step_detected_without_false_positives(tmp_path, scenario, seed, teams):
    scn = load_scenario(SCENARIOS[scenario])
    results = run_offline(scn, [TeamSpec(t, [RULES]) for t in teams], tmp_path, seed=seed)
    assert len(results["ranking"]) == len(teams)
    for team in teams:
        d = tmp_path / team
        errors = json.loads((d / "alerts.json").read_text())["errors"]
        assert errors == []
        s = json.loads((d / "score.json").read_text())
        where = f"{scenario} seed {seed} ({team_seed(seed, team)}) team {team}"
        missed = [st["id"] for st in s["steps"] if not st["detected"]]
        assert missed == [], f"{where}: missed {missed}"
        fps = [e["reason"] for e in s["ledger"] if e["step"] is None and e["points"] < 0]
        assert s["false_positives"] == 0 and fps == [], f"{where}: {fps}"
        assert s["recall"] == 1.0 and s["precision"] == 1.0, where


# ---- what the SSH rule stands on ---------------------------------------------------------------


def test_ssh_sessions_say_whether_the_login_worked(tmp_path):
    """ingest infers each session's outcome from the server's encrypted packet sizes, as Zeek does:
    hydra's sessions are refused (up to 5 failures counted: the 6th is sshd's disconnect) except
    the one that found the password; every administrator's session, one-shot command, key login
    or mistyped password included, ends logged in."""
    import sqlite3

    res, _, out = one_step(
        tmp_path,
        "ssh_bruteforce",
        "attacker",
        ["files"],
        {"attempts": 20, "success_at": 17},
        benign={"ssh": {"rate": 0.06, "typo": 0.5}},
        duration="6m",
        at=20,
    )
    ingest(res.pcap, out / "events.db")
    db = sqlite3.connect(out / "events.db")
    rows = db.execute("SELECT `id.orig_h`, client, auth_success, auth_attempts FROM ssh").fetchall()
    attacker = res.truth.steps[0].flows[0]["src"]
    hydra = [r for r in rows if r[1].startswith("SSH-2.0-libssh")]
    assert [r[2] for r in hydra].count(1) == 1 and len(hydra) >= 4
    assert all(r[2] == 0 and 1 <= r[3] <= 5 for r in hydra if r[2] != 1)
    assert all(r[0] == attacker for r in hydra)
    benign = [r for r in rows if r[0] != attacker]
    assert len(benign) >= 8
    assert all(r[2] == 1 and r[3] in (1, 2) for r in benign), benign
    assert any(r[3] == 2 for r in benign)  # a mistyped password, then the right one
