"""Incident reports and indicator sharing as pure functions: the answer key read from a step's
events, the marks of right, partly right, wrong and late reports, the sharing score, TLP
visibility, strict validation, rules made from indicators, and the STIX / MISP exports read back
by their own libraries."""
from __future__ import annotations

import json
import re
import sqlite3

import pytest
import stix2
from pymisp import MISPEvent

from range.core import InputError
from range.csirt import exports, rsit, sharing
from range.csirt.answerkey import Benign, step_key
from range.csirt.incidents import Filed, mark_all, override_message, summary, validate
from range.detect import run
from range.scoring import StepTruth

T0 = 1_800_000_000.0
ATTACKER, WEB, FILES, WS, DNS = "10.0.0.66", "10.0.0.10", "10.0.0.11", "10.0.0.20", "10.0.0.53"
LIBRARY = ("syn_scan", "ping_sweep", "arp_spoof", "ssh_bruteforce", "http_sqli", "webshell", "dns_tunnel_exfil",
           "http_c2_beacon", "syn_flood", "icmp_tunnel", "cleartext_credentials", "dga_lookups", "reverse_shell",
           "sudo_privesc", "credential_access", "persistence", "log_tampering", "stage_exfil")


def conn(t, src, dst, dport, sport=40000, proto="tcp"):
    return {"_path": "conn", "ts": T0 + t, "id.orig_h": src, "id.orig_p": sport, "id.resp_h": dst,
            "id.resp_p": dport, "proto": proto}


def steps():
    recon = StepTruth("recon", "syn_scan", "T1046", "discovery", 100, T0 + 10, T0 + 20, 40,
                      [{"src": ATTACKER, "dst": WEB, "proto": "tcp"}, {"src": ATTACKER, "dst": FILES, "proto": "tcp"}])
    sqli = StepTruth("sqli", "http_sqli", "T1190", "initial-access", 200, T0 + 100, T0 + 130, 300,
                     [{"src": ATTACKER, "dst": WEB, "proto": "tcp", "dport": 80}])
    exfil = StepTruth("exfil", "dns_tunnel_exfil", "T1048.003", "exfiltration", 250, T0 + 400, T0 + 460, 200,
                      [{"src": WS, "dst": DNS, "proto": "udp", "dport": 53}])
    return recon, sqli, exfil


def keys():
    recon, sqli, exfil = steps()
    benign = Benign(bases={"example.org"}, paths={"/news.php", "/"}, uris={"/news.php?id=3"},
                    user_agents={"Mozilla/5.0 (X11; Linux x86_64)"})
    scan = [conn(11 + i / 10, ATTACKER, dst, port) for i, (dst, port) in
            enumerate((d, p) for d in (WEB, FILES) for p in (22, 80, 443))]
    http = [{"_path": "http", "ts": T0 + 101 + i, "id.orig_h": ATTACKER, "id.orig_p": 41000 + i, "id.resp_h": WEB,
             "id.resp_p": 80, "host": "portal.gov.example", "uri": f"/news.php?id=3%20UNION%20SELECT%20{i}",
             "user_agent": "sqlmap/1.7.2#stable (https://sqlmap.org)"} for i in range(3)]
    dns = [{"_path": "dns", "ts": T0 + 401 + i, "id.orig_h": WS, "id.orig_p": 5353, "id.resp_h": DNS,
            "id.resp_p": 53, "proto": "udp", "query": f"mzxw6ytb{i}.tunnel.evil-cdn.org"} for i in range(3)]
    return {"recon": step_key(recon, scan, benign), "sqli": step_key(sqli, http, benign),
            "exfil": step_key(exfil, dns, benign)}


def report(**kw):
    base = {
        "title": "Port scan of the servers",
        "classification": {"class": "information-gathering", "type": "scanner"},
        "affected": [WEB, FILES],
        "attackers": [ATTACKER],
        "attack": "T1046",
        "severity": "medium",
    }
    base.update(kw)
    return validate(base)


def filed(pk, at, body, evidence=(), override=None):
    return Filed(pk, "blue", T0 + at, body, frozenset(evidence), override)


# ---- the taxonomy and the answer key ------------------------------------------------------------


def test_taxonomy_is_complete_and_every_technique_is_mapped():
    from range.traffic import TECHNIQUES

    assert len(rsit.TAXONOMY) == 11
    assert rsit.label("information-gathering", "scanner") == "Information Gathering / Scanning"
    assert rsit.label("intrusion-attempts", "brute-force") == "Intrusion Attempts / Login attempts"
    assert rsit.label("intrusion-attempts", "ids-alert") == "Intrusion Attempts / Exploitation of known vulnerabilities"
    assert rsit.label("intrusions", "system-compromise") == "Intrusions / System compromise"
    assert rsit.label("availability", "ddos") == "Availability / DDoS"
    assert rsit.label("malicious-code", "c2-server") == "Malicious Code / C2 server"
    assert rsit.tag("fraud", "masquerade") == 'rsit:fraud="masquerade"'
    assert set(TECHNIQUES.all()) == set(LIBRARY) == set(rsit.TECHNIQUES)  # the whole library, mapped
    for name, exp in rsit.TECHNIQUES.items():
        for c, t in exp.rsit:
            rsit.check(c, t)  # every expected pair is a real class and type
    with pytest.raises(InputError, match="'classification.class' must be an RSIT class"):
        rsit.check("hacking", "scanner")
    with pytest.raises(InputError, match="'classification.type' must be a type of RSIT class 'availability'"):
        rsit.check("availability", "scanner")


def test_answer_key_names_attacker_victims_and_indicators():
    k = keys()
    assert k["recon"].attackers == [ATTACKER] and k["recon"].affected == [WEB, FILES]
    assert k["sqli"].user_agents == ["sqlmap/1.7.2#stable (https://sqlmap.org)"]
    assert k["sqli"].paths == [] and len(k["sqli"].uris) == 3  # /news.php itself is the portal's: not an indicator
    assert k["exfil"].attackers == [] and k["exfil"].affected == [WS] and k["exfil"].bases == ["evil-cdn.org"]
    assert k["exfil"].matches("domain", "evil-cdn.org") and k["exfil"].matches("domain", "tunnel.evil-cdn.org")
    assert not k["exfil"].matches("domain", "example.org") and not k["exfil"].matches("domain", "cdn.org")
    assert k["sqli"].matches("url", "http://portal.gov.example/news.php?id=3%20UNION%20SELECT%201")
    assert not k["sqli"].matches("url", "http://portal.gov.example/news.php")
    assert not k["sqli"].matches("url", "http://elsewhere.example/news.php?id=3%20UNION%20SELECT%201")
    assert k["recon"].matches("ipv4", ATTACKER) and not k["recon"].matches("ipv4", WEB)
    assert k["recon"].is_affected("10.0.0.0/24") and not k["recon"].is_affected("10.9.0.0/16")


# ---- marks ------------------------------------------------------------------------------------------


def test_right_report_earns_every_point_within_the_grace():
    [m] = mark_all([filed(1, 60, report())], keys(), {"recon": T0 + 15})
    assert m["step"] == "recon" and m["points"] == 50 and m["counted"] and m["accuracy"] == 1.0
    assert m["parts"] == {"class": 10, "type": 10, "affected": 10, "attacker": 10, "technique": 10}
    assert "classification Information Gathering / Scanning right" in m["reason"] and "x 1.00" in m["reason"]


def test_partly_right_report():
    body = report(
        classification={"class": "information-gathering", "type": "sniffing"},
        affected=[WEB, "10.0.0.99"],
        attack="T1046.001",
    )
    [m] = mark_all([filed(1, 60, body)], keys(), {"recon": T0 + 15})
    assert m["parts"] == {"class": 10, "type": 0, "affected": 5, "attacker": 10, "technique": 5}
    assert m["points"] == 30 and "partly right (expected Information Gathering / Scanning)" in m["reason"]
    assert "affected hosts partly right (1 of 2)" in m["reason"]


def test_wrong_report_and_a_report_that_fits_nothing():
    body = report(
        classification={"class": "availability", "type": "ddos"},
        affected=["10.0.0.99"],
        attackers=["192.0.2.1"],
        attack="T1498",
    )
    [m] = mark_all([filed(1, 60, body, evidence={"recon"})], keys(), {"recon": T0 + 15})
    assert (
        m["step"] == "recon" and m["points"] == 0 and "wrong (expected Information Gathering / Scanning)" in m["reason"]
    )
    [m] = mark_all([filed(2, 60, body)], keys(), {"recon": T0 + 15})
    assert m["step"] is None and m["points"] == 0
    assert "does not match the one attack step that had begun when it was filed" in m["reason"]


def test_a_report_that_matches_no_step_says_why_not_that_none_had_begun():
    """Fault 12: a report with only a title (classified Abusive Content / Spam by the form's first
    option) was marked 'fits no attack step that had begun' when every step had begun."""
    body = validate({"title": "only a title", "classification": {"class": "abusive-content", "type": "spam"}})
    [m] = mark_all([filed(1, 1000, body)], keys(), {})  # every step has begun by then
    assert m["step"] is None and m["points"] == 0
    assert "had begun" in m["reason"] and "fits no attack step" not in m["reason"]
    assert m["reason"] == (
        "report #1 'only a title' matches none of the 3 attack steps that had begun when it was filed: its "
        "classification Abusive Content / Spam fits none of them; it names no evidence, ATT&CK technique, attacker "
        "address, affected host, indicator or first-seen time"
    )
    wrong = report(classification={"class": "abusive-content", "type": "spam"}, affected=["10.9.9.9"],
                   attackers=["192.0.2.1"], attack="T1498")
    [m] = mark_all([filed(2, 1000, wrong)], keys(), {})
    assert "its ATT&CK technique, attacker address and affected host point at none of them" in m["reason"]
    assert "it names no evidence, indicator or first-seen time" in m["reason"]
    [m] = mark_all([filed(3, 5, body)], keys(), {})  # before the first step: now that is the reason
    assert m["reason"] == "report #3 'only a title' matches no attack step: none had begun when it was filed"
    edited = Filed(4, "blue", T0 + 5, body, edited=True)
    assert "none had begun when it was last edited" in mark_all([edited], keys(), {})[0]["reason"]


def test_late_reports_lose_points_down_to_the_floor():
    k = keys()
    ontime, late, very = mark_all(
        [filed(1, 15 + 300, report()), filed(2, 15 + 750, report(title="b")), filed(3, 15 + 5000, report(title="c"))],
        k,
        {"recon": T0 + 15},
    )
    assert ontime["points"] == 50 and ontime["factor"] == 1.0
    assert late["factor"] == pytest.approx(0.75) and very["factor"] == 0.5
    assert ontime["counted"] and not late["counted"] and not very["counted"]  # one report per step counts
    assert "report #1 on the same step scores higher" in late["reason"]
    assert summary([ontime, late, very], 3) == {
        "reports": 3,
        "steps_reported": 1,
        "steps": 3,
        "quality": 1.0,
        "coverage": 0.3333,
        "points": 50.0,
    }


def test_undetected_step_is_timed_from_its_start_and_future_steps_cannot_match():
    body = report(
        title="DNS tunnel",
        classification={"class": "information-content-security", "type": "data-leak"},
        affected=[WS],
        attackers=[],
        attack="T1048.003",
        indicators=[{"type": "domain", "value": "evil-cdn.org"}],
    )
    [m] = mark_all([filed(1, 400 + 200, body)], keys(), {"recon": T0 + 15})
    assert m["step"] == "exfil" and m["points"] == 50 and "no alert detected it" in m["reason"]
    assert "attacker's domain named" in m["reason"]
    [m] = mark_all([filed(2, 400 + 900, body)], keys(), {"exfil": None})
    assert m["factor"] == pytest.approx(1 - 0.5 * 600 / 900, abs=1e-3)
    [m] = mark_all([filed(3, 300, body)], keys(), {})  # filed before the tunnel began
    assert m["step"] != "exfil"


def test_instructor_override_replaces_the_mark_and_keeps_the_reason():
    [m] = mark_all(
        [filed(1, 60, report(), override={"points": 12.5, "reason": "hosts copied from another team"})],
        keys(),
        {"recon": T0 + 15},
    )
    assert m["points"] == 12.5 and m["computed"] == 50 and m["overridden"]
    assert "the instructor set the mark to 12.5 (was 50): hosts copied from another team" in m["reason"]


def test_an_overridden_mark_that_does_not_count_says_which_report_counts():
    """Fault 10: 'mark set to 15' while the report still counted 0, another one on the step scoring more."""
    k, det = keys(), {"recon": T0 + 15}
    weak = {"points": 15, "reason": "better than computed"}
    best, other = mark_all([filed(1, 60, report()), filed(2, 70, report(title="b"), override=weak)], k, det)
    assert best["counted"] and best["beaten_by"] is None and not other["counted"]
    assert other["points"] == 15 and other["beaten_by"] == {"report": 1, "points": 50}
    said = ("it does not count: report #1 on the same step scores higher (50) and only the best report per step "
            "counts")
    assert said in other["reason"]
    r = {"pk": 2, "override": {"points": 15.0}, "mark": other}
    assert override_message(r) == "report #2: mark set to 15; " + said
    # set above the other: it counts now, and the other report no longer does
    best, other = mark_all([filed(1, 60, report()), filed(2, 70, report(title="b"), override={**weak, "points": 60})],
                           k, det)
    assert other["counted"] and best["beaten_by"] == {"report": 2, "points": 60}
    assert override_message({"pk": 2, "override": {"points": 60}, "mark": other}, [1]) == (
        "report #2: mark set to 60; it counts for step recon; report #1 on the same step does not count now"
    )
    # equal marks: the first filed counts, and says so
    best, other = mark_all([filed(1, 60, report()), filed(2, 70, report(title="b"), override={**weak, "points": 50})],
                           k, det)
    assert "scores as much (50) and came first" in other["reason"]
    cleared = {"pk": 2, "override": None, "mark": dict(other, computed=50)}
    assert override_message(cleared).startswith("report #2: the computed mark (50) applies again; it does not count")
    assert override_message({"pk": 2, "override": None, "mark": None}) == "report #2: the computed mark applies again"


# ---- validation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, message",
    [
        ({"classification": {"class": "hacking", "type": "x"}}, "'classification.class' must be an RSIT class"),
        (
            {"classification": {"class": "fraud", "type": "scanner"}},
            "'classification.type' must be a type of RSIT class",
        ),
        ({"classification": None}, "'classification' is required"),
        ({"classification": {"class": "", "type": ""}}, "'classification.class' is required: choose an RSIT class"),
        ({"classification": {}}, "'classification.class' is required"),
        ({"classification": {"class": "fraud", "type": ""}}, "'classification.type' is required: choose a type"),
        ({"title": ""}, "'title' is required"),
        ({"title": "x" * 201}, "'title' is longer than 200"),
        ({"affected": ["10.0.0.300"]}, "'affected[0]' is not an IPv4 address"),
        ({"attackers": "10.0.0.1, bad"}, "'attackers[1]' is not an IPv4 address"),
        ({"attackers": ["0.0.0.0/0"]}, "'attackers[0]' is too wide"),
        ({"attack": "1046"}, "'attack' must be an ATT&CK technique id"),
        ({"severity": "urgent"}, "'severity' must be one of"),
        ({"first_seen": "yesterday"}, "'first_seen' must be epoch seconds or an ISO-8601 time"),
        ({"indicators": [{"type": "ipv6", "value": "::1"}]}, "'indicators[0].type' must be one of"),
        (
            {"indicators": [{"type": "url", "value": "http://x/" + "a" * 2048}]},
            "'indicators[0].value' is longer than 2048",
        ),
        ({"indicators": [{"type": "domain", "value": "not a domain"}]}, "'indicators[0].value' is not a domain"),
        ({"indicators": [{"type": "ipv4", "value": "1.2.3.4"}] * 51}, "'indicators' holds 51 entries; at most 50"),
        ({"evidence": ["conn:1; DROP TABLE"]}, "'evidence[0]' must be an alert id"),
        ({"description": "x" * 8001}, "'description' is longer than 8000"),
        ({"description": "x" * 24_600}, "'description' is longer than 8000 characters (it has 24600): shorten it"),
        ({"actions": "x" * 4001}, "'actions' is longer than 4000 characters (it has 4001)"),
        ({"owner": "me"}, "unknown field(s) 'owner'"),
    ],
)
def test_bad_reports_are_refused_naming_the_field(change, message):
    body = {"title": "t", "classification": {"class": "information-gathering", "type": "scanner"}, **change}
    with pytest.raises(InputError) as e:
        validate(body)
    assert message in str(e.value)


def test_indicators_and_tlp_are_normalised_strictly():
    assert sharing.indicator("domain", "C2.Example.ORG.") == ("domain", "c2.example.org")
    assert sharing.indicator("url", "HTTP://Portal.Example/A?b=C") == ("url", "http://portal.example/A?b=C")
    assert sharing.indicator("hash", "D41D8CD98F00B204E9800998ECF8427E")[1] == "d41d8cd98f00b204e9800998ecf8427e"
    assert sharing.tlp("tlp:amber+strict") == "AMBER+STRICT" and sharing.tlp("white") == "CLEAR"
    for kind, value, msg in (
        ("ipv4", "10.0.0.256", "not an IPv4"),
        ("hash", "abc", "not an MD5"),
        ("url", "ftp://x/y", "not an http(s) URL"),
        ("user_agent", "a\x00b", "control"),
        ("user_agent", "x" * 513, "longer than 512"),
        ("domain", "x" * 254, "longer than 253"),
    ):
        with pytest.raises(InputError, match=re.escape(msg)):
            sharing.indicator(kind, value)
    with pytest.raises(InputError, match="'tlp' must be one of: CLEAR, GREEN, AMBER, AMBER\\+STRICT, RED"):
        sharing.tlp("PURPLE")


# ---- sharing -------------------------------------------------------------------------------------------


def test_tlp_visibility():
    for marking in ("CLEAR", "GREEN", "AMBER"):
        assert sharing.visible(marking, "blue", "red", False)
    for marking in ("AMBER+STRICT", "RED"):
        assert not sharing.visible(marking, "blue", "red", False)
        assert sharing.visible(marking, "blue", "blue", False) and sharing.visible(marking, "blue", None, True)
    assert not sharing.visible("CLEAR", "blue", None, False)  # nobody outside the session's teams


def test_sharing_rewards_right_first_and_penalises_wrong():
    k = keys()
    ua = "sqlmap/1.7.2#stable (https://sqlmap.org)"
    inds = [
        {"pk": 1, "team": "red", "kind": "user_agent", "value": ua, "tlp": "GREEN", "published_at": T0 + 150},
        {"pk": 2, "team": "blue", "kind": "user_agent", "value": ua, "tlp": "AMBER", "published_at": T0 + 140},
        {"pk": 3, "team": "blue", "kind": "ipv4", "value": "192.0.2.9", "tlp": "GREEN", "published_at": T0 + 30},
        {"pk": 4, "team": "blue", "kind": "domain", "value": "evil-cdn.org", "tlp": "RED", "published_at": T0 + 420},
        {"pk": 5, "team": "blue", "kind": "domain", "value": "evil-cdn.org", "tlp": "GREEN", "published_at": T0 + 50},
        {"pk": 6, "team": "blue", "kind": "hash", "value": "a" * 64, "tlp": "GREEN", "published_at": T0 + 60},
        {"pk": 7, "team": "blue", "kind": "ipv4", "value": ATTACKER, "tlp": "CLEAR", "published_at": T0 + 12},
    ]
    marks = {m["pk"]: m for m in sharing.share_marks(inds, {"blue": k, "red": k})}
    assert marks[2]["points"] == 20 and marks[2]["first"] and marks[2]["step"] == "sqli"
    assert marks[1]["points"] == 5 and not marks[1]["first"] and "blue shared it first" in marks[1]["reason"]
    assert marks[3]["points"] == -2 and marks[3]["correct"] is False
    assert marks[4]["points"] == 0 and marks[4]["correct"] and "not shared" in marks[4]["reason"]
    assert marks[5]["points"] == -2  # published before the tunnel began: nothing it could be right about yet
    assert marks[6]["points"] == 0 and "cannot be checked" in marks[6]["reason"]
    assert marks[7]["points"] == 20 and marks[7]["step"] == "recon"
    many = [
        {
            "pk": 100 + i,
            "team": "blue",
            "kind": "url",
            "value": f"http://portal.gov.example{u}",
            "tlp": "GREEN",
            "published_at": T0 + 200,
        }
        for i, u in enumerate(k["sqli"].uris + k["sqli"].uris)
    ]
    got = sharing.share_marks(many, {"blue": k}, {"cap": 2})
    assert [m["points"] for m in got[:3]] == [20, 20, 0] and "already earned points" in got[2]["reason"]


@pytest.mark.parametrize(
    "kind, value",
    [
        ("ipv4", ATTACKER),
        ("domain", "evil-cdn.org"),
        ("url", "http://portal.gov.example/uploads/x.php?cmd=id"),
        ("user_agent", "sqlmap/1.7.2#stable (https://sqlmap.org)"),
        ("user_agent", "weird * ? \\ agent"),
    ],
)
def test_rules_made_from_indicators_load_in_pysigma(kind, value):
    from range.sessions import check_rule

    text = sharing.sigma_rule(kind, value, 7, "blue", "GREEN")
    rs, rule_id, title, warnings = check_rule(text)
    assert title == f"Shared indicator #7 ({kind}) from blue"
    with pytest.raises(InputError, match="a file hash cannot become a rule"):
        sharing.sigma_rule("hash", "a" * 64, 7, "blue", "GREEN")


def test_rule_from_an_indicator_matches_its_events(tmp_path):
    from range.detect import load_rules
    from range.events import EventStore

    db = tmp_path / "events.db"
    ev = EventStore(db)
    ev.close()
    con = sqlite3.connect(db)
    con.execute(
        "INSERT INTO dns (ts, `id.orig_h`, `id.resp_h`, `id.resp_p`, query, _seen) VALUES (?, ?, ?, ?, ?, ?)",
        (T0, WS, DNS, 53, "abc.tunnel.evil-cdn.org", T0),
    )
    con.execute(
        "INSERT INTO dns (ts, `id.orig_h`, `id.resp_h`, `id.resp_p`, query, _seen) VALUES (?, ?, ?, ?, ?, ?)",
        (T0, WS, DNS, 53, "www.example.org", T0),
    )
    con.execute(
        "INSERT INTO conn (ts, `id.orig_h`, `id.resp_h`, `id.resp_p`, proto, _seen) VALUES (?, ?, ?, ?, ?, ?)",
        (T0, WS, DNS, 53, "udp", T0),
    )
    con.execute(
        "INSERT INTO http (ts, `id.orig_h`, `id.resp_h`, `id.resp_p`, uri, user_agent, _seen) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (T0, ATTACKER, WEB, 80, "/x", "a*b", T0),
    )
    con.commit()
    con.close()
    for kind, value, want in (
        ("domain", "evil-cdn.org", 1),
        ("user_agent", "a*b", 1),
        ("user_agent", "a", 0),
        ("ipv4", DNS, 1),
        ("ipv4", WS, 1),
        ("ipv4", ATTACKER, 0),
    ):
        p = tmp_path / f"{kind}-{want}.yml"
        p.write_text(sharing.sigma_rule(kind, value, 1, "blue", "GREEN"))
        alerts, errors = run(load_rules([p]), db)
        assert not errors and sum(len(a["events"]) for a in alerts) == want, (kind, value, alerts)


# ---- exports -----------------------------------------------------------------------------------------


def export_data():
    body = report(
        indicators=[
            {"type": "ipv4", "value": ATTACKER},
            {"type": "user_agent", "value": "it's a \\ test"},
            {"type": "hash", "value": "d41d8cd98f00b204e9800998ecf8427e"},
        ],
        actions="Blocked 10.0.0.66 at the firewall",
        description="Nmap SYN scan",
        evidence=["a1", "conn:4"],
        first_seen=T0 + 11,
        affected=[WEB, "10.0.0.0/24"],
    )
    rep = {"pk": 3, "filed_at": T0 + 60, "filed_wall": T0 + 5, **body, "classification": dict(body["classification"])}
    inds = [
        {
            "pk": i + 1,
            "type": t,
            "value": v,
            "tlp": m,
            "published_at": T0 + 30,
            "published_wall": T0 + 1,
            "comment": "",
            "team": "blue",
        }
        for i, (t, v, m) in enumerate(
            [
                ("ipv4", ATTACKER, "CLEAR"),
                ("domain", "evil-cdn.org", "GREEN"),
                ("url", "http://x.example/a'b", "AMBER"),
                ("user_agent", "sqlmap/1.7.2#stable (https://sqlmap.org)", "AMBER+STRICT"),
                ("hash", "a" * 40, "RED"),
            ]
        )
    ]
    return [rep], inds


def test_stix_bundle_parses_strictly():
    reports, inds = export_data()
    text = exports.stix_bundle("day1", "blue", reports, inds)
    bundle = stix2.parse(text, allow_custom=False)
    assert exports.stix_bundle("day1", "blue", reports, inds) == text  # the same objects every time
    by_type = {}
    for o in bundle.objects:
        by_type.setdefault(o.type, []).append(o)
    assert {m.name for m in by_type["marking-definition"]} == {
        "TLP:CLEAR",
        "TLP:GREEN",
        "TLP:AMBER",
        "TLP:AMBER+STRICT",
        "TLP:RED",
    }
    assert by_type["identity"][0].name == "blue (day1)"
    [rep] = by_type["report"]
    assert rep.name == "Port scan of the servers" and 'rsit:information-gathering="scanner"' in rep.labels
    refs = set(rep.object_refs)
    assert {o.id for o in by_type["incident"] + by_type["attack-pattern"] + by_type["observed-data"]} <= refs
    assert by_type["attack-pattern"][0].external_references[0].external_id == "T1046"
    assert by_type["note"][0].content == "Blocked 10.0.0.66 at the firewall"
    patterns = {o.pattern for o in by_type["indicator"]}
    assert "[ipv4-addr:value = '10.0.0.66']" in patterns and "[url:value = 'http://x.example/a\\'b']" in patterns
    assert "[file:hashes.'SHA-1' = '" + "a" * 40 + "']" in patterns
    feed = [
        o
        for o in by_type["indicator"]
        if o.id in {exports._id("indicator", "day1", "blue", "ind", i["pk"]) for i in inds}
    ]
    assert {o.object_marking_refs[0] for o in feed} == set(exports.TLP_IDS.values())
    assert len(by_type["sighting"]) == 3


def test_misp_events_load_back_in_pymisp():
    reports, inds = export_data()
    doc = json.loads(exports.misp_events("day1", "blue", reports, inds))
    assert len(doc["response"]) == 2
    rep, feed = MISPEvent(), MISPEvent()
    rep.load(json.dumps(doc["response"][0]))
    feed.load(json.dumps(doc["response"][1]))
    tags = {t.name for t in rep.tags}
    assert {
        "tlp:amber",
        'rsit:information-gathering="scanner"',
        'misp-galaxy:mitre-attack-pattern="Network Service Discovery - T1046"',
    } <= tags
    types = [(a.type, a.value) for a in rep.attributes]
    assert (
        ("ip-src", ATTACKER) in types
        and ("ip-dst", WEB) in types
        and ("md5", "d41d8cd98f00b204e9800998ecf8427e") in types
    )
    # one attribute and one role per address: the attacker (also an indicator) is never an ip-dst
    addrs = [(t, v) for t, v in types if t in ("ip-src", "ip-dst")]
    assert sorted(addrs) == [("ip-dst", "10.0.0.0/24"), ("ip-dst", WEB), ("ip-src", ATTACKER)]
    [attacker] = [a for a in rep.attributes if a.value == ATTACKER]
    assert attacker.to_ids and attacker.comment == "attacker, indicator from the report"
    assert {a.type for a in feed.attributes if a.value == ATTACKER} == {"ip-src"}
    assert ("user-agent", "it's a \\ test") in types and rep.threat_level_id == 2
    tlps = {a.value: [t.name for t in a.tags] for a in feed.attributes}
    assert tlps[ATTACKER] == ["tlp:clear"] and tlps["a" * 40] == ["tlp:red"]
    assert tlps["sqlmap/1.7.2#stable (https://sqlmap.org)"] == ["tlp:amber+strict"]
    assert "tlp:red" in {t.name for t in feed.tags}


def test_no_reports_no_indicators_exports_are_still_valid():
    stix2.parse(exports.stix_bundle("day1", "blue", [], []), allow_custom=False)
    assert json.loads(exports.misp_events("day1", "blue", [], [])) == {"response": []}
