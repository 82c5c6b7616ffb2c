"""What teams do with rules: deploy a Sigma rule for detection, withdraw it, dry-run one over the
events delivered so far. Each change is one transaction and a line in the audit table."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from range.core import InputError, NotFound
from range.detect import load_rules, run
from range.sessions.state import StateStore

MAX_RULE_BYTES = 64 * 1024


def check_rule(text: str):
    """Load one team's rule text with pySigma; every problem becomes an InputError with its line."""
    if len(text.encode()) > MAX_RULE_BYTES:
        raise InputError(f"a rule may be at most {MAX_RULE_BYTES // 1024} KiB")
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "rule.yml"
        p.write_text(text)
        rs = load_rules([p])
        if rs.errors:
            raise InputError("; ".join(e["message"] for e in rs.errors), file="rule")
        ids = [r.id for r in rs.rules.values() if r.output] + [c.id for c in rs.correlations]
        titles = [r.title for r in rs.rules.values() if r.output] + [c.title for c in rs.correlations]
        if not ids:
            raise InputError("the text holds no rule that raises alerts", file="rule")
        return rs, ids[0], titles[0], rs.warnings


def deploy_rule(store: StateStore, session: str, team: str, text: str, actor: str | None = None) -> dict:
    row = store.session(session)
    if team not in store.teams(session):
        raise NotFound(f"session {session} has no team {team!r}")
    if row["status"] in ("finished", "failed"):
        raise InputError(f"session {session} is {row['status']}: rules can no longer be deployed")
    _rs, rule_id, title, warnings = check_rule(text)
    at = store.clock(row).now()
    with store.tx() as db:
        cur = db.execute("INSERT INTO rules (session, team, rule_id, title, yaml, deployed_at, deployed_wall) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)", (session, team, rule_id, title, text, at, time.time()))
        pk = cur.lastrowid
        store.audit(db, session, actor or team, "deploy", {"team": team, "rule": pk, "rule_id": rule_id})
    store.team_dir(session, team).make().rule(pk).write_text(text)
    return {"pk": pk, "rule_id": rule_id, "title": title, "deployed_at": at, "warnings": warnings}


def withdraw_rule(store: StateStore, session: str, team: str, pk: int, actor: str | None = None) -> None:
    row = store.one("SELECT * FROM rules WHERE pk = ? AND session = ? AND team = ?", (pk, session, team))
    if row is None:
        raise NotFound(f"team {team} has no rule {pk}")
    if row["withdrawn_at"] is not None:
        return
    at = store.clock(store.session(session)).now()
    with store.tx() as db:
        db.execute("UPDATE rules SET withdrawn_at = ? WHERE pk = ?", (at, pk))
        store.audit(db, session, actor or team, "withdraw", {"team": team, "rule": pk})


def dry_run(store: StateStore, session: str, team: str, text: str) -> dict:
    """What a rule would match in the team's events so far; no alert is kept, no score changes."""
    rs, rule_id, title, warnings = check_rule(text)
    alerts, errors = run(rs, store.team_dir(session, team).events)
    return {"rule_id": rule_id, "title": title, "alerts": alerts, "errors": errors, "warnings": warnings}
