"""Host records in a file: JSON lines, one record each, its table under ``_path`` (as in an alert's
evidence) and ``ts`` in epoch seconds. The offline replay writes a team's beside its capture
(:attr:`range.core.TeamDir.host_log`); ingest stores them with the packets' events.

Reading is strict, the file is the range's own: a line that is not a record of a host table
with its ``ts`` and ``host``, or names a field the table lacks, is refused with its line number.
Text is bounded and escaped when it is stored (:func:`range.events.store.bound_text`).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Iterable

from range.core import InputError
from range.events.store import HOST_TABLES, columns

MAX_LINE = 1 << 20  # characters: one record (a bounded command line and its fields)


def write_host_log(path: str | Path, records: Iterable[tuple[str, dict]]) -> int:
    """Write ``(table, record)`` pairs in the order given; returns how many."""
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for table, rec in records:
            f.write(json.dumps({"_path": table, **rec}, ensure_ascii=False, separators=(",", ":")) + "\n")
            n += 1
    return n


def read_host_log(path: str | Path) -> list[tuple[str, dict]]:
    """Every ``(table, record)`` of the file, in time order (records of equal time in file order)."""
    p = Path(path)
    allowed = {t: set(columns(t)) - {"_seen"} for t in HOST_TABLES}
    out: list[tuple[str, dict]] = []
    try:
        f = open(p, encoding="utf-8", errors="surrogateescape")
    except OSError as e:
        raise InputError(f"cannot read the host records: {e.strerror}", file=str(p)) from None
    with f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue

            def bad(why: str) -> InputError:
                return InputError(f"not a host record: {why}", file=str(p), line=n)

            if len(line) > MAX_LINE:
                raise bad(f"a line of more than {MAX_LINE:,} characters")
            try:
                rec = json.loads(line)
            except ValueError as e:
                raise bad(f"not JSON ({e})") from None
            if not isinstance(rec, dict):
                raise bad("not a JSON object")
            table = rec.pop("_path", None)
            if table not in allowed:
                raise bad(f"_path {table!r} is not a host table ({', '.join(HOST_TABLES)})")
            ts = rec.get("ts")
            if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not math.isfinite(ts):
                raise bad("ts must be epoch seconds")
            if not isinstance(rec.get("host"), str) or not rec["host"]:
                raise bad("host must name the node")
            unknown = sorted(set(rec) - allowed[table])
            if unknown:
                raise bad(f"{table} has no field {', '.join(unknown)}")
            for k, v in rec.items():
                if v is not None and not isinstance(v, (str, int, float)):
                    raise bad(f"{k} must be text or a number")
            out.append((table, rec))
    out.sort(key=lambda r: r[1]["ts"])
    return out
