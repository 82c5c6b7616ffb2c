"""Command of the detection stage: run Sigma rules over an event store."""
from __future__ import annotations

import sys
from pathlib import Path

from range.cli.parser import arg, command, progress
from range.core import InputError


@command("detect", "run Sigma rules (files or folders) over an event store and write the alerts")
@arg("--rules", action="append", required=True, metavar="PATH", help="a rule file or folder (repeatable)")
@arg("--db", required=True, type=Path, help="the event store (SQLite)")
@arg("--out", required=True, type=Path, help="alerts JSON to write")
@arg("--pipeline", type=Path, default=None, help="processing pipeline (default detections/pipeline.yml)")
@arg("--window", type=float, default=None, help="seconds a simple rule's matches from one source fold into one alert")
@arg("--rule-timeout", type=float, default=None, help="seconds of SQL per rule before it is stopped")
def cmd_detect(a) -> int:
    import time

    from range.core import write_json
    from range.detect import ALERT_WINDOW, PIPELINE, load_rules, run
    from range.events import open_readonly
    open_readonly(a.db).close()   # a bad --db fails before any rule is read
    t0 = time.monotonic()
    rs = load_rules(a.rules, pipeline=a.pipeline or PIPELINE, window=a.window if a.window is not None else ALERT_WINDOW)
    n = len(rs.rules) + len(rs.correlations)
    progress(f"{n} rules loaded ({len(rs.correlations)} correlations), {len(rs.errors)} failed")
    for w in rs.warnings:
        progress(f"warning: {w['file']}: {w['rule_id']}: {w['message']}")
    kw = {"rule_timeout": a.rule_timeout} if a.rule_timeout is not None else {}
    alerts, errors = run(rs, a.db, **kw)
    for e in errors:
        print(f"{e['file']}: {e['rule_id'] or '-'}: {e['message']}", file=sys.stderr)
    try:
        write_json(a.out, {"alerts": alerts, "errors": errors})
    except OSError as e:
        raise InputError(f"cannot write: {e.strerror}", file=str(a.out)) from None
    print(f"{a.out}: {len(alerts)} alerts from {n} rules ({len(errors)} errors) in {time.monotonic() - t0:.2f}s")
    return 0
