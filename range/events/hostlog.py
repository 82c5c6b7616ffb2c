"""Host records in a file: JSON lines, one record each, its table under ``_path`` (as in an alert's
evidence) and ``ts`` in epoch seconds. The offline replay writes a team's beside its capture
(:attr:`range.core.TeamDir.host_log`); ingest stores them with the packets' events.

Reading is strict, the file is the range's own: a line that is not a record of a host table
with its ``ts`` and ``host``, or names a field the table lacks, is refused with its line number.
Text is bounded and escaped when it is stored (:func:`range.events.store.bound_text`).
"""
from __future__ import annotations

import gc
import json
import math
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

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


@contextmanager
def no_gc() -> Iterator[None]:
    """No collector passes while records are decoded or turned into rows: JSON makes no reference
    cycles, so each pass over a million dicts would find nothing (a quarter of the reading's time)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _bad(p: Path, n: int, why: str) -> InputError:
    return InputError(f"not a host record: {why}", file=str(p), line=n)


_PLAIN = frozenset({str, int, float, bool, type(None)})   # what JSON gives that a field may hold
_scan = json.JSONDecoder().scan_once   # json.loads without its Python wrapper, for a line that is one object


def _loads(line: str):
    """``json.loads(line)``: its C scanner called directly when the line is one value and JSON's
    whitespace (a quarter less time a line); anything else through json.loads, for its error."""
    try:
        rec, end = _scan(line, 0)
    except (StopIteration, ValueError):
        return json.loads(line)
    if end != len(line) and line[end:].strip(" \t\n\r"):
        return json.loads(line)
    return rec


def read_host_log(path: str | Path) -> list[tuple[str, dict]]:
    """Every ``(table, record)`` of the file, in time order (records of equal time in file order)."""
    p = Path(path)
    allowed = {t: frozenset(columns(t)) - {"_seen"} for t in HOST_TABLES}
    out: list[tuple[str, dict]] = []
    try:
        f = open(p, encoding="utf-8", errors="surrogateescape")
    except OSError as e:
        raise InputError(f"cannot read the host records: {e.strerror}", file=str(p)) from None
    with no_gc():
        _read(p, f, allowed, out)
    out.sort(key=lambda r: r[1]["ts"])
    return out


def _read(p: Path, f, allowed: dict, out: list) -> None:
    loads = _loads
    with f:
        for n, line in enumerate(f, 1):
            if len(line) > MAX_LINE:
                if not line.strip():
                    continue
                raise _bad(p, n, f"a line of more than {MAX_LINE:,} characters")
            try:
                rec = loads(line)
            except ValueError as e:
                if not line.strip():
                    continue
                raise _bad(p, n, f"not JSON ({e})") from None
            if type(rec) is not dict:
                raise _bad(p, n, "not a JSON object")
            table = rec.pop("_path", None)
            fields = allowed.get(table) if type(table) is str else None
            if fields is None:
                raise _bad(p, n, f"_path {table!r} is not a host table ({', '.join(HOST_TABLES)})")
            ts = rec.get("ts")
            if type(ts) not in (int, float) or not math.isfinite(ts):
                raise _bad(p, n, "ts must be epoch seconds")
            host = rec.get("host")
            if type(host) is not str or not host:
                raise _bad(p, n, "host must name the node")
            if not fields.issuperset(rec):
                raise _bad(p, n, f"{table} has no field {', '.join(sorted(set(rec) - fields))}")
            if not _PLAIN.issuperset(map(type, rec.values())):
                k = next(k for k, v in rec.items() if type(v) not in _PLAIN)
                raise _bad(p, n, f"{k} must be text or a number")
            out.append((table, rec))
