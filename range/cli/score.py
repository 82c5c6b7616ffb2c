"""Commands of the scoring stage."""
from __future__ import annotations

import json
from pathlib import Path

from range.cli.parser import arg, command
from range.core import InputError


def read_alerts(path: Path) -> list[dict]:
    from range.core import read_json
    data = read_json(path)
    alerts = data.get("alerts") if isinstance(data, dict) else None
    if not isinstance(alerts, list) or not all(isinstance(a, dict) and {"id", "rule_id", "raised_at"} <= set(a)
                                                 for a in alerts):
        raise InputError("not an alerts file: expected {\"alerts\": [{\"id\", \"rule_id\", \"raised_at\", "
                         "\"events\": [...]}, ...]} as 'cyberrange detect' writes it", file=str(path))
    return alerts


@command("score", "score a team's alerts against the ground truth")
@arg("--truth", required=True, type=Path, help="truth.json from replay or a live run")
@arg("--alerts", required=True, type=Path, help="alerts.json from detect")
@arg("--out", type=Path, help="write the score here (JSON); printed otherwise")
def cmd_score(a) -> int:
    from range.core import write_json
    from range.scoring import Truth, score
    result = score(Truth.read(a.truth), read_alerts(a.alerts))
    if a.out:
        write_json(a.out, result)
        print(f"{result['team']}: score {result['score']}, recall {result['recall']}, precision "
              f"{result['precision']}, MTTD {result['mttd_seconds']} s, {result['false_positives']} false positives "
              f"-> {a.out}")
    else:
        print(json.dumps(result, indent=1))
    return 0
