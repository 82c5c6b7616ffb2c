"""The OpenAPI 3 document of the JSON API, written by hand (tests check it against the routes)."""
from __future__ import annotations

from typing import Any

from range.core import MAX_WHEN
from range.events import HOST_TABLES, SCHEMA
from range.events.query import MAX_QUERY
from range.sessions.searches import MAX_NAME

S = "#/components/schemas/"
TABLES = list(SCHEMA)   # the event store's tables: Zeek's logs, then the host logs
TABLE_NAMES = ", ".join(TABLES[:-1]) + " or " + TABLES[-1]


def ref(name: str) -> dict:
    return {"$ref": S + name}


def obj(props: dict, required: list[str] | None = None, extra: Any = None) -> dict:
    out: dict = {"type": "object", "properties": props}
    if required:
        out["required"] = required
    if extra is not None:
        out["additionalProperties"] = extra
    return out


STR, NUM, INT, BOOL = {"type": "string"}, {"type": "number"}, {"type": "integer"}, {"type": "boolean"}


def nullable(s: dict) -> dict:
    return {"allOf": [s], "nullable": True} if "$ref" in s else {**s, "nullable": True}


def arr(items: dict) -> dict:
    return {"type": "array", "items": items}


CLOCK = {"status": {"type": "string", "enum": ["preparing", "ready", "running", "paused", "finished", "failed"]},
         "elapsed": NUM, "duration": NUM, "speed": NUM, "now": {**NUM, "description": "session clock, epoch s"},
         "now_iso": STR, "scenario_start": NUM, "ended": BOOL}

LEDGER = obj({"points": NUM, "reason": STR, "step": nullable(STR), "rule_id": nullable(STR),
              "alert_id": nullable(STR), "ttd_seconds": NUM, "evidence": {"type": "object"},
              "kind": {"type": "string", "enum": ["report", "sharing"],
                       "description": "set on the lines of incident reports and shared indicators"},
              "ref": {**INT, "description": "the report's or indicator's number"}})
PARTS = ("detection", "false_positives", "hints", "reports", "sharing", "other")  # a score's breakdown
KINDS = {"type": "string", "enum": ["ipv4", "domain", "url", "user_agent", "hash"]}
TLP = {"type": "string", "enum": ["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"]}
ADDRS = {"oneOf": [arr(STR), {**STR, "description": "addresses separated by commas, spaces or new lines"}],
         "description": "IPv4 addresses or networks (CIDR), at most 64"}

SCHEMAS = {
    "Error": obj({"error": STR}, ["error"]),
    "Login": obj(
        {"role": {"type": "string", "enum": ["instructor", "team"]}, "password": STR, "session": STR, "team": STR},
        ["role", "password"],
    ),
    "Who": obj(
        {
            "role": nullable({"type": "string", "enum": ["instructor", "team"]}),
            "session": nullable(STR),
            "team": nullable(STR),
            "via": nullable({"type": "string", "enum": ["cookie", "bearer", "basic"]}),
        }
    ),
    "Token": {
        "allOf": [
            ref("Who"),
            obj({"token": STR, "token_type": {"type": "string", "enum": ["Bearer"]}, "expires_in": INT}, ["token"]),
        ]
    },
    "Catalog": obj(
        {
            "environments": arr(STR),
            "scenarios": arr(
                obj(
                    {
                        "name": STR,
                        "environment": nullable(STR),
                        "description": STR,
                        "duration": NUM,
                        "steps": INT,
                        "error": STR,
                    }
                )
            ),
            "modes": obj({"offline": BOOL, "live": BOOL}),
            "live_unavailable": nullable(STR),
        }
    ),
    "SessionSummary": obj(
        {
            "name": STR,
            "scenario": STR,
            "environment": STR,
            "mode": {"type": "string", "enum": ["offline", "live"]},
            "created_at": NUM,
            "error": nullable(STR),
            "teams": arr(STR),
            **CLOCK,
        }
    ),
    "CreateSession": obj(
        {
            "name": {**STR, "pattern": "^[a-z0-9][a-z0-9-]{0,30}$"},
            "scenario": {**STR, "description": "a scenario name from GET /api/catalog"},
            "environment": {**STR, "description": "optional: checked against the scenario's"},
            "teams": {"oneOf": [arr(STR), {**STR, "description": "names separated by commas/spaces"}]},
            "mode": {"type": "string", "enum": ["offline", "live"], "default": "offline"},
            "seed": {**INT, "default": 1},
            "speed": {**NUM, "minimum": 0.1, "maximum": 100, "default": 1},
        },
        ["name", "scenario", "teams"],
    ),
    "Created": obj(
        {
            "session": STR,
            "status": STR,
            "teams": obj({}, extra={**STR, "description": "the team's password, shown this once"}),
        }
    ),
    "TeamProgress": obj(
        {
            "team": STR,
            "score": nullable(NUM),
            "steps_detected": INT,
            "steps": nullable(INT),
            "detected": arr(STR),
            "alerts": INT,
            "precision": nullable(NUM),
            "mttd_seconds": nullable(NUM),
            "false_positives": INT,
            "rules_deployed": INT,
            "rules_total": INT,
            "broken_rules": obj({}, extra=STR),
            "hints": INT,
        }
    ),
    "StepInfo": obj(
        {
            "id": STR,
            "technique": STR,
            "attack": STR,
            "tactic": STR,
            "at": NUM,
            "duration": NUM,
            "points": NUM,
            "briefing": STR,
            "moved": BOOL,
            "state": {"type": "string", "enum": ["pending", "running", "done"]},
            "hints": arr(obj({"index": INT, "text": STR, "cost": NUM, "released_to": arr(STR)})),
        }
    ),
    "SessionDetail": {
        "allOf": [
            ref("SessionSummary"),
            obj(
                {
                    "teams_progress": arr(ref("TeamProgress")),
                    "steps": arr(ref("StepInfo")),
                    "description": STR,
                    "preparing": nullable(STR),
                    "scenario_error": STR,
                    "reset": obj({"available": BOOL, "reason": nullable(STR)}),
                }
            ),
        ]
    },
    "Status": obj({"session": STR, "status": STR}),
    "CommentInput": obj({"text": {**STR, "maxLength": 2000}}, ["text"]),
    "RuleRequest": obj({"deploy": {**BOOL, "default": False}}),
    "Move": obj({"at": nullable({**NUM, "description": "seconds after the start; null fires the step now"})}),
    "Moved": obj({"session": STR, "step": STR, "at": NUM, "fired": BOOL}),
    "HintRelease": obj(
        {"step": STR, "index": {**INT, "default": 0}, "teams": {**arr(STR), "description": "default: every team"}},
        ["step"],
    ),
    "HintReleased": obj({"step": STR, "text": STR, "cost": NUM, "teams": arr(STR)}),
    "RankEntry": obj(
        {
            "rank": INT,
            "team": STR,
            "score": NUM,
            "recall": nullable(NUM),
            "precision": nullable(NUM),
            "mttd_seconds": nullable(NUM),
            "false_positives": INT,
            "steps_detected": INT,
            "steps": INT,
            "alerts": INT,
            "tied": {**BOOL, "description": "another team shares this rank (scoreboard only)"},
            "leader": {**BOOL, "description": "the one team ranked first alone; none while the top teams are "
                       "tied (scoreboard only)"},
            "breakdown": {
                **obj({k: NUM for k in PARTS}, list(PARTS)),
                "description": "where the score's points come from, adding up to it (each rounded to 0.01; "
                "scoreboard only): detected attack steps; false positives and hints taken (negative); incident "
                "reports and shared indicators (0 until the session ends: their marks wait for the end); other "
                "adjustments",
            },
        }
    ),
    "FullScore": obj(
        {
            "team": STR,
            "scenario": STR,
            "score": NUM,
            "recall": nullable(NUM),
            "precision": nullable(NUM),
            "mttd_seconds": nullable(NUM),
            "false_positives": INT,
            "alerts": INT,
            "steps": arr(
                obj({"id": STR, "detected": BOOL, "ttd_seconds": nullable(NUM), "points": NUM, "rules": arr(STR)})
            ),
            "ledger": arr(LEDGER),
        }
    ),
    "Results": obj(
        {
            "session": STR,
            "scenario": STR,
            "environment": STR,
            "mode": STR,
            "status": STR,
            "elapsed": NUM,
            "duration": NUM,
            "ranking": arr(ref("RankEntry")),
            "scores": obj({}, extra=ref("FullScore")),
        }
    ),
    "Report": obj(
        {
            "session": ref("SessionSummary"),
            "description": STR,
            "story": arr({"type": "object"}),
            "teams": arr(
                {
                    "type": "object",
                    "description": "ranking figures, steps, misses (with the "
                    "reference rules that catch them), ledger, score breakdown, report marks, "
                    "sharing figures",
                }
            ),
            "attack": ref("Matrix"),
            "generated": STR,
            "indicators": arr({"type": "object", "description": "every published indicator with its mark"}),
            "timeline": obj({"row": {**INT, "description": "px per team on the timeline chart: more when step "
                                     "labels need lanes below the bands (each step detail has its 'lane')"}}),
        }
    ),
    "Taxonomy": obj(
        {
            "classes": arr(
                obj(
                    {
                        "value": STR,
                        "name": STR,
                        "types": arr(
                            obj({"value": STR, "name": STR, "tag": {**STR, "description": "the MISP machine tag"}})
                        ),
                    }
                )
            ),
            "severities": arr(STR),
            "indicator_types": arr(STR),
            "tlp": arr(STR),
        }
    ),
    "IndicatorInput": obj(
        {
            "type": KINDS,
            "value": {
                **STR,
                "description": "ipv4 (15), domain (253), url (2048), "
                "user_agent (512) or hash (MD5/SHA-1/SHA-256 "
                "hex) characters at most",
            },
            "tlp": {**TLP, "default": "GREEN"},
            "comment": {**STR, "maxLength": 500},
            "report": nullable({**INT, "description": "one of the team's reports it comes from"}),
        },
        ["type", "value"],
    ),
    "ReportInput": obj(
        {
            "title": {**STR, "maxLength": 200},
            "classification": obj(
                {
                    "class": {**STR, "description": "an RSIT class (GET /api/rsit)"},
                    "type": {**STR, "description": "a type of that class"},
                },
                ["class", "type"],
            ),
            "affected": ADDRS,
            "attackers": ADDRS,
            "attack": nullable({**STR, "pattern": "^T\\d{4}(\\.\\d{3})?$"}),
            "severity": {"type": "string", "enum": ["low", "medium", "high", "critical"], "default": "medium"},
            "first_seen": nullable({"oneOf": [NUM, STR], "description": "epoch seconds or ISO-8601"}),
            "indicators": arr(obj({"type": KINDS, "value": STR}, ["type", "value"])),
            "actions": {**STR, "maxLength": 4000, "description": "actions taken"},
            "description": {**STR, "maxLength": 8000, "description": "longer text is refused (400), never cut"},
            "evidence": {
                **arr(STR),
                "description": "alert ids or event references table:rowid (the event explorer's 'row' column)",
            },
        },
        ["title", "classification"],
    ),
    "ReportMark": obj(
        {
            "step": nullable(STR),
            "points": NUM,
            "earned": NUM,
            "counted": BOOL,
            "accuracy": NUM,
            "factor": NUM,
            "delay_seconds": nullable(NUM),
            "parts": obj({}, extra=NUM),
            "reason": STR,
            "overridden": BOOL,
            "computed": NUM,
            "beaten_by": nullable(
                {
                    **obj({"report": INT, "points": NUM}),
                    "description": "the report that counts for the same step instead of this one (only the "
                    "best report per step counts)",
                }
            ),
        }
    ),
    "Comment": obj({"pk": INT, "author": STR, "text": STR, "at": NUM}),
    "IncidentReport": obj(
        {
            "pk": INT,
            "session": STR,
            "team": STR,
            "filed_at": {**NUM, "description": "session clock, epoch s"},
            "filed_wall": NUM,
            "edited_at": nullable({**NUM, "description": "session clock of the last edit; it is marked as of then"}),
            "title": STR,
            "classification": obj({"class": STR, "type": STR, "label": STR}),
            "affected": arr(STR),
            "attackers": arr(STR),
            "attack": nullable(STR),
            "severity": STR,
            "first_seen": nullable(NUM),
            "first_seen_iso": nullable(STR),
            "indicators": arr(obj({"type": KINDS, "value": STR})),
            "actions": STR,
            "description": STR,
            "evidence": arr(STR),
            "comments": arr(ref("Comment")),
            "override": nullable(obj({"points": NUM, "reason": STR, "at": NUM})),
            "mark": nullable({"allOf": [ref("ReportMark")], "description": "null for a team until the session ends"}),
        }
    ),
    "Indicator": obj(
        {
            "pk": INT,
            "team": STR,
            "type": KINDS,
            "value": STR,
            "tlp": TLP,
            "published_at": {**NUM, "description": "session clock, epoch s"},
            "published_wall": NUM,
            "comment": STR,
            "report": nullable(INT),
            "mine": BOOL,
            "mark": nullable(
                obj({"points": NUM, "correct": nullable(BOOL), "first": BOOL, "step": nullable(STR), "reason": STR})
            ),
        }
    ),
    "IndicatorRule": obj(
        {
            "indicator": INT,
            "yaml": {**STR, "description": "a Sigma rule for the indicator"},
            "deployed": nullable(ref("Deployed")),
        }
    ),
    "OverrideResult": {
        "allOf": [
            ref("IncidentReport"),
            obj({"message": {**STR, "description": "whether the mark now counts, and which report counts instead"}},
                ["message"]),
        ]
    },
    "Override": obj(
        {
            "points": nullable({**NUM, "description": "the report's mark; null clears the override"}),
            "reason": {**STR, "description": "required; kept and shown"},
        },
        ["reason"],
    ),
    "Programme": obj(
        {
            "sessions": arr(obj({"name": STR, "scenario": STR, "status": STR, "created_at": NUM, "teams": arr(STR)})),
            "teams": obj(
                {},
                extra=arr(
                    obj(
                        {
                            "session": STR,
                            "score": NUM,
                            "recall": nullable(NUM),
                            "precision": nullable(NUM),
                            "mttd_seconds": nullable(NUM),
                            "report_quality": nullable(NUM),
                            "reports": INT,
                            "steps_reported": INT,
                            "sharing": NUM,
                        }
                    )
                ),
            ),
        }
    ),
    "TeamScore": obj(
        {
            "team": STR,
            "score": NUM,
            "precision": nullable(NUM),
            "mttd_seconds": nullable(NUM),
            "false_positives": INT,
            "alerts": INT,
            "steps_detected": INT,
            "ledger": arr(LEDGER),
            "revealed": {
                **BOOL,
                "description": "false: step names, times and misses are held back until the session ends",
            },
            "scenario": STR,
            "recall": nullable(NUM),
            "steps": arr(
                obj({"id": STR, "detected": BOOL, "ttd_seconds": nullable(NUM), "points": NUM, "rules": arr(STR)})
            ),
        },
        ["score", "ledger", "revealed"],
    ),
    "Hint": obj({"text": STR, "cost": NUM, "released_at": NUM, "step": STR, "index": INT}),
    "TeamOverview": obj(
        {
            "session": STR,
            "team": STR,
            "scenario": STR,
            "mode": STR,
            **CLOCK,
            "score": nullable(ref("TeamScore")),
            "alerts": INT,
            "rules_deployed": INT,
            "hints": arr(ref("Hint")),
            "events": obj({}, extra=INT),
        }
    ),
    "Rule": obj(
        {
            "pk": INT,
            "session": STR,
            "team": STR,
            "rule_id": STR,
            "title": STR,
            "yaml": STR,
            "deployed_at": NUM,
            "withdrawn_at": nullable(NUM),
            "deployed_wall": nullable(NUM),
            "active": BOOL,
            "problem": nullable(STR),
        }
    ),
    "SavedSearch": obj(
        {
            "id": INT,
            "name": {**STR, "description": f"1-{MAX_NAME} characters, unique in the team (case-insensitive)"},
            "table": {**STR, "description": TABLE_NAMES},
            "query": {**STR, "description": "in the hunting language; empty: every event"},
            "from": nullable({**STR, "description": "as typed: epoch s, ISO-8601, 14:39 or relative such as -15m"}),
            "to": nullable({**STR, "description": "as typed, like from; null: up to the session clock"}),
            "columns": nullable({**arr(STR), "description": "fields of the table, in order; null: the default"}),
            "created_at": {**NUM, "description": "session clock, epoch s (the last save under this name)"},
            "created_by": {**STR, "description": "the team, or instructor"},
        },
        ["id", "name", "table", "query", "from", "to", "columns", "created_at", "created_by"],
    ),
    "SavedSearchInput": obj(
        {
            "name": {**STR, "minLength": 1, "maxLength": MAX_NAME},
            "table": {"type": "string", "enum": TABLES},
            "query": {**STR, "maxLength": MAX_QUERY, "description": "must compile for the table; a mistake is a 400 "
                      "naming the character"},
            "from": nullable({**STR, "maxLength": MAX_WHEN,
                              "description": "epoch s, ISO-8601, 14:39, -15m, now-2h or now"}),
            "to": nullable({**STR, "maxLength": MAX_WHEN}),
            "columns": nullable({**arr(STR), "description": "fields of the table (GET .../events/tables)"}),
            "replace": {**BOOL, "default": False,
                        "description": "overwrite the team's search of the same name (else 409)"},
        },
        ["name", "table"],
        extra=False,
    ),
    "RuleText": obj({"yaml": {**STR, "description": "one Sigma rule (YAML), at most 64 KiB"}}, ["yaml"]),
    "Deployed": obj({"pk": INT, "rule_id": STR, "title": STR, "deployed_at": NUM, "warnings": arr({"type": "object"})}),
    "Alert": obj(
        {
            "id": STR,
            "rule_id": STR,
            "rule_title": STR,
            "level": nullable(STR),
            "raised_at": STR,
            "first_event_at": STR,
            "last_event_at": STR,
            "group": {"type": "object"},
            "events": arr({"type": "object", "description": "evidence: Zeek-shaped records with _path"}),
        }
    ),
    "DryRun": obj(
        {
            "rule_id": STR,
            "title": STR,
            "matches": INT,
            "alerts": arr(ref("Alert")),
            "errors": arr({"type": "object"}),
            "warnings": arr({"type": "object"}),
        }
    ),
    "EventTables": obj(
        {
            "tables": obj({}, extra=arr(obj({"name": STR, "type": STR}))),
            "counts": obj({}, extra=INT),
            "logsources": {
                **obj({}, extra=arr(obj({}, extra=STR))),
                "description": "per table, the Sigma log sources that select it (detections/pipeline.yml), the usual "
                "one first, e.g. dns: [{category: dns}, {product: zeek, service: dns}]; a log source may match those "
                "of several tables: which one it reads is mapping's to say",
            },
            "mapping": {
                **arr(obj({"table": STR, "logsources": arr(obj({}, extra=STR))}, ["table", "logsources"])),
                "description": "the pipeline's table mapping, in the pipeline's order: a rule whose log source matches "
                "the log sources of several entries reads the table of the last one (pySigma applies them in turn), "
                "e.g. {product: linux, category: process_creation} matches syslog's catch-all {product: linux} "
                "and, after it, process_creation's entry; one that matches none is not mapped",
            },
        }
    ),
    "EventPage": obj(
        {
            "table": STR,
            "total": {**INT, "description": "hits, counted up to 10,000"},
            "total_capped": {**BOOL, "description": "more than 10,000 hits, or counting stopped at its time bound"},
            "total_partial": {**BOOL, "description": "counting stopped at its time bound: at least this many"},
            "offset": INT,
            "limit": INT,
            "latest_rowid": INT,
            "sort": STR,
            "order": STR,
            "sort_window": nullable({**INT, "description": "a sort by a field other than ts orders the newest "
                                     "this many hits"}),
            "columns": arr(STR),
            "events": arr({"type": "object", "description": "Zeek fields, _path, _rowid, _ts (epoch)"}),
        }
    ),
    "EventHistogram": obj(
        {
            "table": STR,
            "total": INT,
            "start": nullable(NUM),
            "end": nullable(NUM),
            "width": nullable({**NUM, "description": "seconds per bucket"}),
            "partial": {**BOOL, "description": "the scan stopped at its time bound: only the newest events counted"},
            "counts": arr(INT),
        }
    ),
    "EventFacets": obj(
        {
            "table": STR,
            "sampled": {**INT, "description": "hits the top values are counted over (the newest, up to sample_limit)"},
            "sample_limit": INT,
            "facets": obj({}, extra=arr(obj({"value": {}, "count": INT}))),
        }
    ),
    "PacketList": obj(
        {
            "table": STR,
            "rowid": INT,
            "filter": STR,
            "from": NUM,
            "to": NUM,
            "proto": {**STR, "description": "tcp (its stream can be followed), udp, icmp, arp..."},
            "event_ts": nullable({**NUM, "description": "the event's own time: its packets start there"}),
            "truncated": BOOL,
            "packets": arr(
                obj({"frame": INT, "ts": NUM, "src": STR, "dst": STR, "protocol": STR, "length": INT, "info": STR})
            ),
        }
    ),
    "TcpStream": obj(
        {
            "table": STR,
            "rowid": INT,
            "from": NUM,
            "to": NUM,
            "client": {**STR, "description": "address:port of the side that opened the connection"},
            "server": STR,
            "chunks": arr(obj({"from": {"type": "string", "enum": ["client", "server"]},
                               "frame": {**INT, "description": "the frame that carried it"}, "ts": NUM,
                               "hex": {**STR, "description": "the bytes sent, hexadecimal"}})),
            "bytes": obj({"client": INT, "server": INT}),
            "truncated": {**BOOL, "description": "the stream holds more than limit bytes: only the first are given"},
            "limit": INT,
        }
    ),
    "DissectionField": obj({"name": STR, "text": {**STR, "description": "as Wireshark shows it"}, "pos": INT,
                            "size": {**INT, "description": "the bytes of the frame it covers: pos, size"},
                            "children": arr(ref("DissectionField"))}, ["name", "text", "pos", "size"]),
    "Dissection": obj({"frame": INT, "ts": NUM,
                       "layers": arr(obj({"layer": STR, "title": STR, "pos": INT, "size": INT,
                                          "fields": arr(ref("DissectionField"))}, ["layer", "title", "fields"])),
                       "bytes": nullable({**STR, "description": "the frame's bytes, hexadecimal"})},
                      ["frame", "layers"]),
    "BoardList": obj(
        {"sessions": arr(obj({"name": STR, "scenario": STR, "mode": STR, "status": STR, "teams": arr(STR)}))}
    ),
    "Mark": obj(
        {
            "t": {**NUM, "description": "seconds since the start"},
            "kind": {"type": "string", "enum": ["detect", "fp"]},
            "step": STR,
            "ttd": NUM,
            "rules": arr(STR),
            "rule": STR,
        }
    ),
    "Matrix": obj(
        {
            "teams": arr(STR),
            "tactics": arr(
                obj(
                    {
                        "tactic": STR,
                        "techniques": arr(
                            obj(
                                {
                                    "attack": STR,
                                    "tactic": STR,
                                    "techniques": arr(STR),
                                    "steps": arr(STR),
                                    "teams": obj({}, extra=BOOL),
                                }
                            )
                        ),
                    }
                )
            ),
        }
    ),
    "Board": obj(
        {
            "session": STR,
            "scenario": STR,
            "mode": STR,
            **CLOCK,
            "revealed": {**BOOL, "description": "false until the end: no step names, times or matrix"},
            "ranking": arr(ref("RankEntry")),
            "teams": obj({}, extra=obj({"marks": arr(ref("Mark")), "coverage": INT, "steps": arr({"type": "object"})})),
            "attack": nullable(ref("Matrix")),
        }
    ),
}

ERR = {"description": "error", "content": {"application/json": {"schema": ref("Error")}}}
THROTTLED = {
    **ERR,
    "description": "too many failed logins lately as this account from this address (5 within 5 min) or from this "
    "address over any accounts (20): "
    "the error says when to try again, and so does Retry-After; a successful login resets the account's count",
    "headers": {"Retry-After": {"description": "seconds to wait before the next login", "schema": INT}},
}


def ok(schema: dict | str, code: str = "200", desc: str = "ok", media: str = "application/json") -> dict:
    s = ref(schema) if isinstance(schema, str) else schema
    return {code: {"description": desc, "content": {media: {"schema": s}}}}


def op(
    summary: str,
    responses: dict,
    body: str | None = None,
    params: list | None = None,
    security: str = "user",
    tags: list[str] | None = None,
) -> dict:
    out: dict = {
        "summary": summary,
        "responses": {**responses, "400": ERR, "401": ERR, "403": ERR, "404": ERR, "429": THROTTLED},
    }
    if security != "public":  # the session's state does not allow it (409); tshark or Docker missing (503)
        out["responses"].setdefault("409", ERR)
        out["responses"].setdefault("503", ERR)
    if body:
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(body)}}}
        out["responses"]["413"] = {**ERR, "description": "the request body is larger than 256 KiB"}
    if params:
        out["parameters"] = params
    if security == "public":
        out["security"] = []
        if "403" not in responses:  # 401 and 429 stay: an Authorization header is checked everywhere
            out["responses"].pop("403")
    if tags:
        out["tags"] = tags
    return out


def q(name: str, desc: str, schema: dict | None = None, many: bool = False) -> dict:
    p = {"name": name, "in": "query", "required": False, "description": desc, "schema": schema or STR}
    if many:
        p.update(schema=arr(schema or STR), explode=True)
    return p


def hunt() -> list[dict]:
    """The parameters a search of a team's events shares with its histogram and facets."""
    return [q("table", f"{TABLE_NAMES} (default conn)"),
            q("query", "a hunting query as in Kibana's KQL: field:value, wildcards, AND/OR/NOT, parentheses, "
              "ranges field:[a TO b], comparisons such as status_code>=400, len(field)>n; a mistake is a 400 "
              "naming the character"),
            q("from", "ts at or after: epoch seconds, ISO-8601, a UTC time of day (14:39, 14:39:05) or relative "
              "to the session clock (-5m, -90s, now-2h, now)"),
            q("to", "ts at or before, in the same forms as 'from'")]


def path_params(*names: str) -> list[dict]:
    return [
        {"name": n, "in": "path", "required": True, "schema": INT if n in ("pk", "rowid", "frame", "id") else STR}
        for n in names
    ]


def sse(snapshot: str) -> dict:
    """A stream of server-sent events: each one (as OpenAPI 3.0 reads an event stream's schema) is
    'update' with a JSON snapshot as its data, or 'gone' with an Error; 'retry' and comments too."""
    event = obj(
        {
            "event": {"type": "string", "enum": ["update", "gone"]},
            "data": {
                **STR,
                "contentMediaType": "application/json",
                "contentSchema": {"anyOf": [ref(snapshot), ref("Error")]},
            },
            "id": STR,
            "retry": INT,
        }
    )
    return {
        "200": {
            "description": "server-sent events: 'update' (data: the JSON snapshot), 'gone' (data: "
            "{error}); comments keep the connection alive",
            "content": {"text/event-stream": {"schema": event}},
        },
        "503": {
            **ERR,
            "description": "the server follows as many streams as it can already (Retry-After says "
            "when to try again): poll the JSON twin meanwhile",
        },
    }


def document() -> dict:
    T = "/api/sessions/{name}/teams/{team}"
    sn, st = path_params("name"), path_params("name", "team")
    paths = {
        "/api/login": {
            "post": op(
                "Log in; returns a bearer token (sets no cookie). Session and team names are case-insensitive, "
                "spaces around the password are ignored; 429 (with Retry-After) after 5 failed logins as one "
                "account, or 20 from one address, within 5 min",
                {**ok("Token"), "429": THROTTLED},
                "Login",
                security="public",
                tags=["auth"],
            )
        },
        "/api/logout": {
            "post": op("Forget the browser's login cookie", ok(obj({"ok": BOOL})), security="public", tags=["auth"])
        },
        "/api/whoami": {"get": op("Who the request is authenticated as", ok("Who"), security="public", tags=["auth"])},
        "/api/catalog": {
            "get": op(
                "Environments and scenarios to create sessions from (instructor)", ok("Catalog"), tags=["sessions"]
            )
        },
        "/api/sessions": {
            "get": op(
                "Every session (instructor)", ok(obj({"sessions": arr(ref("SessionSummary"))})), tags=["sessions"]
            ),
            "post": op(
                "Create a session; the team passwords are in this answer only (instructor)",
                {**ok("Created", "201", "created"), "501": ERR},
                "CreateSession",
                tags=["sessions"],
            ),
        },
        "/api/sessions/{name}": {
            "parameters": sn,
            "get": op(
                "A session with every team's progress and the steps (instructor)",
                ok("SessionDetail"),
                tags=["sessions"],
            ),
            "delete": op(
                "Delete a session that is not running (instructor)",
                ok(obj({"session": STR, "deleted": BOOL})),
                tags=["sessions"],
            ),
        },
        "/api/sessions/{name}/steps/{step}/move": {
            "parameters": path_params("name", "step"),
            "post": op(
                "Reschedule a step that has not begun, or fire it now (at: null) (instructor)",
                ok("Moved"),
                "Move",
                tags=["sessions"],
            ),
        },
        "/api/sessions/{name}/hints": {
            "parameters": sn,
            "post": op(
                "Release a step's hint to teams; it costs them points (instructor)",
                ok("HintReleased"),
                "HintRelease",
                tags=["sessions"],
            ),
        },
        "/api/sessions/{name}/teams/{team}/reset": {
            "parameters": st,
            "post": op(
                "Reset a team's live network (instructor; 501 where the runtime cannot)",
                {**ok(obj({"session": STR, "team": STR, "reset": BOOL})), "501": ERR},
                tags=["sessions"],
            ),
        },
        "/api/sessions/{name}/results": {
            "parameters": sn,
            "get": op("Results with ranking and every ledger, as JSON (instructor)", ok("Results"), tags=["sessions"]),
        },
        "/api/sessions/{name}/results.csv": {
            "parameters": sn,
            "get": op(
                "The ranking with per-step TTD as CSV (instructor)", ok(STR, media="text/csv"), tags=["sessions"]
            ),
        },
        "/api/sessions/{name}/report": {
            "parameters": sn,
            "get": op("The after-action report's data (instructor)", ok("Report"), tags=["sessions"]),
        },
        "/api/sessions/{name}/stream": {
            "parameters": sn,
            "get": op(
                "Live session detail (SessionDetail snapshots) (instructor)", sse("SessionDetail"), tags=["sessions"]
            ),
        },
        T: {
            "parameters": st,
            "get": op("A team's clock, score, hints and event counts", ok("TeamOverview"), tags=["team"]),
        },
        T + "/stream": {"parameters": st, "get": op("Live TeamOverview snapshots", sse("TeamOverview"), tags=["team"])},
        T + "/rules": {
            "parameters": st,
            "get": op("The team's rules (deployed and withdrawn)", ok(obj({"rules": arr(ref("Rule"))})), tags=["team"]),
            "post": op(
                "Deploy a Sigma rule (400 with pySigma's message when it is invalid)",
                ok("Deployed", "201", "deployed"),
                "RuleText",
                tags=["team"],
            ),
        },
        T + "/rules/{pk}": {
            "parameters": path_params("name", "team", "pk"),
            "delete": op("Withdraw a rule", ok(obj({"pk": INT, "withdrawn": BOOL})), tags=["team"]),
        },
        T + "/dry-run": {
            "parameters": st,
            "post": op(
                "What a rule would match in the team's events now (no alert kept, no score change)",
                ok("DryRun"),
                "RuleText",
                tags=["team"],
            ),
        },
        T + "/searches": {
            "parameters": st,
            "get": op("The team's saved searches, by name", ok(obj({"searches": arr(ref("SavedSearch"))})),
                      tags=["team"]),
            "post": op(
                "Save a search (also after the session ended: it changes no score); 409 when the name is taken "
                "and replace is not true; at most 50 per team",
                ok("SavedSearch", "201", "saved"),
                "SavedSearchInput",
                tags=["team"],
            ),
        },
        T + "/searches/{id}": {
            "parameters": path_params("name", "team", "id"),
            "delete": op("Delete one of the team's saved searches", ok(obj({"id": INT, "deleted": BOOL})),
                         tags=["team"]),
        },
        T + "/alerts": {
            "parameters": st,
            "get": op(
                "The team's alerts with their evidence events", ok(obj({"alerts": arr(ref("Alert"))})), tags=["team"]
            ),
        },
        T + "/score": {
            "parameters": st,
            "get": op(
                "The team's score and ledger (ground truth held back until the end)", ok("TeamScore"), tags=["team"]
            ),
        },
        T + "/hints": {
            "parameters": st,
            "get": op("Hints released to the team", ok(obj({"hints": arr(ref("Hint"))})), tags=["team"]),
        },
        T + "/events/tables": {
            "parameters": st,
            "get": op("Event tables, their fields, row counts and Sigma log sources", ok("EventTables"), tags=["team"]),
        },
        T + "/events": {
            "parameters": st,
            "get": op(
                "A page of the team's events, newest first",
                ok("EventPage"),
                params=[
                    *hunt(),
                    q("filter", "field=value or field!=value ('*' is a wildcard); repeatable", many=True),
                    q("q", "free text searched in every text field"),
                    q("limit", "rows per page (1-500, default 50)", INT),
                    q("offset", "rows to skip", INT),
                    q("after", "only rows stored after this _rowid (live tail)", INT),
                    q("sort", "a field to sort by (default ts): ts sorts every hit, another field the newest 10,000"),
                    q("order", "asc or desc (default desc)"),
                ],
                tags=["team"],
            ),
        },
        T + "/events/histogram": {
            "parameters": st,
            "get": op(
                "Hits of a query per time bucket",
                ok("EventHistogram"),
                params=[
                    *hunt(),
                    q("buckets", "number of buckets (1-200, default 60)", INT),
                ],
                tags=["team"],
            ),
        },
        T + "/events/facets": {
            "parameters": st,
            "get": op(
                "The most frequent values of some fields among a query's hits",
                ok("EventFacets"),
                params=[
                    *hunt(),
                    q("field", "a field of the table; repeatable, at most 8", many=True),
                ],
                tags=["team"],
            ),
        },
        T + "/events/{table}/{rowid}/packets": {
            "parameters": path_params("name", "team", "table", "rowid"),
            "get": op("The packets of an event's connection, up to the session clock (400 for a host record: "
                      f"{', '.join(HOST_TABLES)} events have none)", ok("PacketList"), tags=["team"]),
        },
        T + "/events/{table}/{rowid}/stream": {
            "parameters": path_params("name", "team", "table", "rowid"),
            "get": op(
                "Follow TCP stream: what each side of the event's TCP connection sent, in order, up to the session "
                "clock (400 for an event that is not TCP, or a host record)",
                ok("TcpStream"),
                tags=["team"],
            ),
        },
        T + "/packets/{frame}": {
            "parameters": path_params("name", "team", "frame"),
            "get": op(
                "The full dissection of one packet (404 past the session clock)", ok("Dissection"), tags=["team"]
            ),
        },
        T + "/pcap": {
            "parameters": st,
            "get": op(
                "A pcap of a time range and a BPF filter, never past the clock",
                ok(STR, media="application/vnd.tcpdump.pcap"),
                params=[
                    q("from", "epoch seconds or ISO-8601 (default: the session start)"),
                    q("to", "epoch seconds or ISO-8601 (default and maximum: the session clock)"),
                    q("bpf", "a tcpdump filter, e.g. 'tcp port 22'"),
                ],
                tags=["team"],
            ),
        },
        "/api/rsit": {
            "get": op(
                "The RSIT taxonomy (classes, types, MISP tags), severities, indicator types and TLP markings",
                ok("Taxonomy"),
                security="public",
                tags=["reports"],
            )
        },
        T + "/reports": {
            "parameters": st,
            "get": op(
                "The team's incident reports (marks only once the session has ended)",
                ok(
                    obj(
                        {
                            "reports": arr(ref("IncidentReport")),
                            "revealed": BOOL,
                            "open": {**BOOL, "description": "reports can still be filed, edited and withdrawn"},
                        }
                    )
                ),
                tags=["reports"],
            ),
            "post": op(
                "File an incident report (400 naming the field for any bad value)",
                ok("IncidentReport", "201", "filed"),
                "ReportInput",
                tags=["reports"],
            ),
        },
        T + "/reports/{pk}": {
            "parameters": path_params("name", "team", "pk"),
            "get": op("One of the team's reports", ok("IncidentReport"), tags=["reports"]),
            "put": op(
                "Edit one of the team's reports while the session is open: the whole report, checked as when "
                "it is filed; it is then marked as of this edit (audited)",
                ok("IncidentReport"),
                "ReportInput",
                tags=["reports"],
            ),
            "delete": op(
                "Withdraw one of the team's reports while the session is open: it no longer shows, counts or "
                "exports (audited)",
                ok(obj({"pk": INT, "withdrawn": BOOL})),
                tags=["reports"],
            ),
        },
        T + "/indicators": {
            "parameters": st,
            "get": op(
                "The session's shared feed as TLP lets this team see it: its own indicators, other teams' "
                "CLEAR, GREEN and AMBER ones",
                ok(obj({"indicators": arr(ref("Indicator")), "revealed": BOOL})),
                tags=["sharing"],
            ),
            "post": op(
                "Publish an indicator to the session's hub",
                ok("Indicator", "201", "published"),
                "IndicatorInput",
                tags=["sharing"],
            ),
        },
        T + "/indicators/{pk}/rule": {
            "parameters": path_params("name", "team", "pk"),
            "post": op(
                "A Sigma rule for a visible indicator; deploy: true also deploys it for the team (201)",
                {**ok("IndicatorRule"), **ok("IndicatorRule", "201", "deployed")},
                "RuleRequest",
                tags=["sharing"],
            ),
        },
        T + "/export/stix": {
            "parameters": st,
            "get": op(
                "The team's reports and indicators as a STIX 2.1 bundle",
                ok({"type": "object"}, media="application/stix+json"),
                tags=["sharing"],
            ),
        },
        T + "/export/misp": {
            "parameters": st,
            "get": op(
                "The team's reports and indicators as MISP events ({response: [{Event}]})",
                ok({"type": "object"}),
                tags=["sharing"],
            ),
        },
        "/api/sessions/{name}/reports": {
            "parameters": sn,
            "get": op(
                "Every team's reports with their marks (instructor)",
                ok(obj({"reports": arr(ref("IncidentReport"))})),
                tags=["reports"],
            ),
        },
        "/api/sessions/{name}/reports/{pk}/comments": {
            "parameters": path_params("name", "pk"),
            "post": op(
                "Comment on a report (instructor); the team sees it",
                ok("IncidentReport", "201", "commented"),
                "CommentInput",
                tags=["reports"],
            ),
        },
        "/api/sessions/{name}/reports/{pk}/mark": {
            "parameters": path_params("name", "pk"),
            "post": op(
                "Override a report's mark with a reason, or clear the override (instructor; audited); the "
                "message says whether the mark counts (only the best report per step does)",
                ok("OverrideResult"),
                "Override",
                tags=["reports"],
            ),
        },
        "/api/sessions/{name}/indicators": {
            "parameters": sn,
            "get": op(
                "Every indicator of the session with its mark (instructor)",
                ok(obj({"indicators": arr(ref("Indicator"))})),
                tags=["sharing"],
            ),
        },
        "/api/sessions/{name}/report.pdf": {
            "parameters": sn,
            "get": op(
                "The after-action report as PDF (instructor)", ok(STR, media="application/pdf"), tags=["sessions"]
            ),
        },
        "/api/programme": {
            "get": op(
                "Each team's figures across sessions, teams matched by name (instructor)",
                ok("Programme"),
                tags=["sessions"],
            )
        },
        "/api/board": {
            "get": op("Sessions on the public scoreboard", ok("BoardList"), security="public", tags=["board"])
        },
        "/api/board/{name}": {
            "parameters": sn,
            "get": op(
                "A session's scoreboard (ground truth only after the end)",
                ok("Board"),
                security="public",
                tags=["board"],
            ),
        },
        "/api/board/{name}/stream": {
            "parameters": sn,
            "get": op("Live Board snapshots", sse("Board"), security="public", tags=["board"]),
        },
        "/api/openapi.json": {"get": op("This document", ok({"type": "object"}), security="public", tags=["meta"])},
    }
    for verb in ("start", "pause", "resume", "stop"):
        paths[f"/api/sessions/{{name}}/{verb}"] = {
            "parameters": sn,
            "post": op(
                f"{verb.capitalize()} the session (instructor); 400 when its state does not allow it",
                ok("Status"),
                tags=["sessions"],
            ),
        }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "cyberrange exercise API",
            "version": "1",
            "description": (
                "Authenticate with the browser's session cookie (login page), a bearer token from "
                "POST /api/login, or HTTP Basic: 'instructor:<password>' or '<session>/<team>:<password>'. "
                "A state-changing request authenticated by the cookie must send the CSRF token in the "
                "X-CSRFToken header (pages carry it in <meta name=csrf-token>); requests authenticated "
                'by an Authorization header need none. Errors are {"error": message} with a 4xx status. '
                "Teams reach only their own /teams/{team} routes; before a session ends no answer to a "
                "team or the public holds ground truth (step names, times, misses), nor the marks of "
                "incident reports and shared indicators. The shared indicator feed shows each team what "
                "TLP 2.0 allows: CLEAR, GREEN and AMBER to every team of the session, AMBER+STRICT and RED "
                "to the publisher and the instructor only."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"cookieAuth": []}, {"bearerAuth": []}, {"basicAuth": []}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "cyberrange_session"},
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "basicAuth": {"type": "http", "scheme": "basic"},
            },
        },
    }
