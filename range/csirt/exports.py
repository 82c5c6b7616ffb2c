"""A team's incident reports and published indicators as a STIX 2.1 bundle (the ``stix2`` library)
and as MISP events (PyMISP's data model), for the national CSIRT's own tools.

STIX: the team is an ``identity``; each report becomes a ``report`` (report_types threat-report,
the RSIT class/type and the severity as labels) that refers to an ``incident``, the
``attack-pattern`` it names (with its ATT&CK external reference), ``indicator`` objects for its
indicators (STIX patterns) with a ``sighting`` each by the team, ``observed-data`` of the
attacker and affected addresses, and a ``note`` holding the actions taken. Each published
indicator is an ``indicator`` marked with its TLP 2.0 marking definition (OASIS's well-known ids
and the ``tlp_2_0`` property extension). Reports carry TLP:AMBER (they name the victim's hosts).

MISP: one event per report (tags ``tlp:amber``, the ``rsit:`` machine tag, the ATT&CK
galaxy cluster; attributes for addresses, indicators, the description and the actions) and one
event for the team's shared indicators, each attribute tagged with its own TLP. An address has
one attribute and one role in an event: an attacker's is ``ip-src``, an affected host's
``ip-dst``, and an IPv4 indicator (right only when it is an attacker's address) an ``ip-src``.

Identifiers are UUIDv5 of the session, team and number: exporting twice gives the same objects.
"""
from __future__ import annotations

import datetime as dt
import json
import uuid

from range.core import iso
from range.csirt import rsit

NS = uuid.UUID("1f4b9a52-5d0e-4c8e-9a43-0b6a3c7e2f18")
TLP_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP_IDS = {  # TLP 2.0 marking definitions as OASIS publishes them
    "CLEAR": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "GREEN": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "AMBER": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "AMBER+STRICT": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "RED": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
REPORT_TLP = "AMBER"
THREAT_LEVEL = {"critical": 1, "high": 1, "medium": 2, "low": 3}
HASH_STIX = {32: "MD5", 40: "SHA-1", 64: "SHA-256"}
HASH_MISP = {32: "md5", 40: "sha1", 64: "sha256"}
MISP_TYPE = {"domain": "domain", "url": "url", "user_agent": "user-agent"}


def _id(kind: str, *parts) -> str:
    return f"{kind}--{uuid.uuid5(NS, '/'.join(map(str, parts)))}"


def _lit(v: str) -> str:
    """A STIX pattern string literal."""
    return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"


def pattern(kind: str, value: str) -> str:
    if kind == "ipv4":
        return f"[ipv4-addr:value = {_lit(value)}]"
    if kind == "domain":
        return f"[domain-name:value = {_lit(value)}]"
    if kind == "url":
        return f"[url:value = {_lit(value)}]"
    if kind == "user_agent":
        return f"[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = {_lit(value)}]"
    return f"[file:hashes.'{HASH_STIX[len(value)]}' = {_lit(value)}]"


def tlp_marking(marking: str):
    import stix2
    return stix2.MarkingDefinition(id=TLP_IDS[marking], created="2022-10-01T00:00:00.000Z",
                                   name=f"TLP:{marking}", extensions={TLP_EXTENSION: {
                                       "extension_type": "property-extension", "tlp_2_0": marking.lower()}})


def stix_bundle(session: str, team: str, reports: list[dict], indicators: list[dict]) -> str:
    """The STIX 2.1 bundle (JSON text) of one team's reports and published indicators."""
    import stix2
    ident = stix2.Identity(id=_id("identity", session, team), name=f"{team} ({session})", identity_class="organization",
                           description=f"CSIRT team {team} in exercise session {session}",
                           created="2020-01-01T00:00:00.000Z", modified="2020-01-01T00:00:00.000Z")
    used = {REPORT_TLP} | {i["tlp"] for i in indicators}
    objects: list = [tlp_marking(m) for m in sorted(used, key=list(TLP_IDS).index)] + [ident]
    for i in indicators:
        when = iso(i["published_wall"])
        objects.append(stix2.Indicator(
            id=_id("indicator", session, team, "ind", i["pk"]), created_by_ref=ident.id, created=when, modified=when,
            name=f"{i['type']} {i['value'][:80]}", description=i["comment"] or f"shared on the regional hub by {team}",
            indicator_types=["malicious-activity"], pattern=pattern(i["type"], i["value"]), pattern_type="stix",
            valid_from=iso(i["published_at"]), object_marking_refs=[TLP_IDS[i["tlp"]]]))
    marks = [TLP_IDS[REPORT_TLP]]
    for r in reports:
        when = iso(r["filed_wall"])
        seen = iso(r["first_seen"] if r.get("first_seen") is not None else r["filed_at"])
        cls, typ = r["classification"]["class"], r["classification"]["type"]
        common = dict(created_by_ref=ident.id, created=when, modified=when, object_marking_refs=marks)
        refs = []
        inc = stix2.Incident(id=_id("incident", session, team, r["pk"]), name=r["title"],
                             description=r["description"] or r["title"],
                             labels=[rsit.tag(cls, typ), f"severity:{r['severity']}"], **common)
        objects.append(inc)
        refs.append(inc.id)
        if r.get("attack"):
            ap = stix2.AttackPattern(
                id=_id("attack-pattern", session, team, r["pk"], r["attack"]),
                name=rsit.attack_name(r["attack"]) or r["attack"], external_references=[{
                    "source_name": "mitre-attack", "external_id": r["attack"],
                    "url": "https://attack.mitre.org/techniques/" + r["attack"].replace(".", "/")}], **common)
            objects.append(ap)
            refs.append(ap.id)
        for n, ind in enumerate(r["indicators"]):
            obj = stix2.Indicator(
                id=_id("indicator", session, team, r["pk"], n),
                name=f"{ind['type']} {ind['value'][:80]}",
                indicator_types=["malicious-activity"],
                pattern=pattern(ind["type"], ind["value"]),
                pattern_type="stix",
                valid_from=seen,
                **common,
            )
            sight = stix2.Sighting(
                id=_id("sighting", session, team, r["pk"], n),
                sighting_of_ref=obj.id,
                where_sighted_refs=[ident.id],
                first_seen=seen,
                **common,
            )
            objects += [obj, sight]
            refs += [obj.id, sight.id]
        addrs = [a for a in r["attackers"] + r["affected"] if "/" not in a]
        if addrs:
            scos = [stix2.IPv4Address(value=a) for a in dict.fromkeys(addrs)]
            od = stix2.ObservedData(
                id=_id("observed-data", session, team, r["pk"]),
                first_observed=seen,
                last_observed=seen,
                number_observed=1,
                object_refs=[s.id for s in scos],
                **common,
            )
            objects += scos + [od]
            refs.append(od.id)
        rep = stix2.Report(
            id=_id("report", session, team, r["pk"]),
            name=r["title"],
            published=when,
            report_types=["threat-report"],
            description=_summary(r),
            labels=[rsit.tag(cls, typ), f"severity:{r['severity']}"],
            object_refs=refs,
            **common,
        )
        objects.append(rep)
        if r.get("actions"):
            objects.append(
                stix2.Note(
                    id=_id("note", session, team, r["pk"]),
                    abstract="Actions taken",
                    content=r["actions"],
                    object_refs=[rep.id, inc.id],
                    **common,
                )
            )
    return stix2.Bundle(objects=objects, id=_id("bundle", session, team, len(reports), len(indicators))).serialize(
        pretty=True
    )


def _summary(r: dict) -> str:
    lines = [
        f"RSIT: {rsit.label(r['classification']['class'], r['classification']['type'])}",
        f"Severity: {r['severity']}",
    ]
    if r["attackers"]:
        lines.append("Attacker: " + ", ".join(r["attackers"]))
    if r["affected"]:
        lines.append("Affected: " + ", ".join(r["affected"]))
    if r["evidence"]:
        lines.append("Evidence: " + ", ".join(r["evidence"]))
    if r["description"]:
        lines.append("")
        lines.append(r["description"])
    return "\n".join(lines)


# ---- MISP ----------------------------------------------------------------------------------------


def _misp_attr(event, kind: str, value: str, comment: str = "", to_ids: bool = True, tags=()):
    mtype = "ip-src" if kind == "ipv4" else HASH_MISP[len(value)] if kind == "hash" else MISP_TYPE[kind]
    a = event.add_attribute(mtype, value, comment=comment, to_ids=to_ids)
    for t in tags:
        a.add_tag(t)
    return a


def _misp_addresses(e, r: dict) -> None:
    """A report's addresses, each once with one role: an attacker's ``ip-src``, an affected host's
    ``ip-dst`` (an address named as both is the attacker's), an IPv4 indicator an attacker's
    ``ip-src`` unless the report already names it (it then only adds to that attribute)."""
    roles: dict[str, list] = {}
    for a in r["attackers"]:  # an address or a CIDR network
        roles.setdefault(a, ["ip-src", "attacker", True])
    for a in r["affected"]:
        roles.setdefault(a, ["ip-dst", "affected host", False])
    for ind in r["indicators"]:
        if ind["type"] == "ipv4":
            role = roles.setdefault(ind["value"], ["ip-src", "", True])
            role[1], role[2] = (role[1] + ", " if role[1] else "") + "indicator from the report", True
    for a, (mtype, note, ids) in roles.items():
        attr = e.add_attribute(mtype, a, comment=note, to_ids=ids)
        if mtype == "ip-src" and r.get("first_seen") is not None:
            attr.first_seen = dt.datetime.fromtimestamp(r["first_seen"], dt.timezone.utc)


def misp_events(session: str, team: str, reports: list[dict], indicators: list[dict]) -> str:
    """MISP events (JSON text: {"response": [{"Event": ...}, ...]}) of one team's reports and indicators."""
    from pymisp import MISPEvent

    events = []
    for r in reports:
        e = MISPEvent()
        e.uuid = str(uuid.uuid5(NS, f"misp/{session}/{team}/{r['pk']}"))
        e.info = f"{r['title']} ({team}, {session})"
        e.date = dt.datetime.fromtimestamp(r["filed_wall"], dt.timezone.utc).date()
        e.threat_level_id = THREAT_LEVEL[r["severity"]]
        e.analysis = 2
        e.distribution = 0
        e.add_tag(f"tlp:{REPORT_TLP.lower()}")
        e.add_tag(rsit.tag(r["classification"]["class"], r["classification"]["type"]))
        if r.get("attack"):
            name = rsit.attack_name(r["attack"])
            e.add_tag(
                f'misp-galaxy:mitre-attack-pattern="{name} - {r["attack"]}"' if name else f"mitre-attack:{r['attack']}"
            )
        _misp_addresses(e, r)
        for ind in r["indicators"]:
            if ind["type"] != "ipv4":
                _misp_attr(e, ind["type"], ind["value"], comment="indicator from the report")
        if r["description"]:
            e.add_attribute("text", r["description"], comment="description", to_ids=False)
        if r["actions"]:
            e.add_attribute("comment", r["actions"], comment="actions taken", to_ids=False)
        if r["evidence"]:
            e.add_attribute(
                "comment", ", ".join(r["evidence"]), comment="evidence (alert ids, event references)", to_ids=False
            )
        events.append(e)
    if indicators:
        e = MISPEvent()
        e.uuid = str(uuid.uuid5(NS, f"misp/{session}/{team}/feed"))
        e.info = f"Indicators shared by {team} on the regional hub ({session})"
        e.date = dt.datetime.fromtimestamp(min(i["published_wall"] for i in indicators), dt.timezone.utc).date()
        e.threat_level_id = 2
        e.analysis = 1
        e.distribution = 0
        worst = max((i["tlp"] for i in indicators), key=list(TLP_IDS).index)
        e.add_tag(f"tlp:{worst.lower()}")
        for i in indicators:
            _misp_attr(e, i["type"], i["value"], comment=i["comment"], tags=[f"tlp:{i['tlp'].lower()}"])
        events.append(e)
    return json.dumps({"response": [{"Event": json.loads(ev.to_json())} for ev in events]}, indent=1)
