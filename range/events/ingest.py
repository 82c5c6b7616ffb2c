"""Ingest a capture file into an event store: tshark rows -> Zeek-shaped records -> SQLite.

The store is built under ``DB.part`` and renamed when complete: an interrupted ingest never
leaves a half-filled store under the final name. A truncated capture keeps every complete
packet and says where it was cut. The host records the nodes logged meanwhile (``host_log``,
:mod:`range.events.hostlog`) join the store beside the packets' events, each delivered
(``_seen``) at its own time.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Callable

from range.core import InputError
from range.events.assembler import Assembler, quiet_gc
from range.events.hostlog import no_gc, read_host_log
from range.events.procwriter import ProcessBatcher
from range.events.store import HOST_TABLES, NULL, SCHEMA, EventStore, columns
from range.events.tshark import run_file
from range.traffic import check_pcap


@dataclass
class IngestResult:
    packets: int
    records: dict[str, int]
    seconds: float
    truncated: bool
    warning: str | None = None
    skipped: dict[str, int] = field(default_factory=dict)  # packets read but not made into events, by why
    problems: list[str] = field(default_factory=list)      # the first few of them, with the reason
    checksums: str = "validate"                             # what the checksum policy decided

    def skipped_line(self) -> str | None:
        """The summary line's note on packets that made no events (None when there are none)."""
        parts = [f"{n:,} {k}" for k, n in self.skipped.items() if n]
        return f"skipped: {', '.join(parts)}" if parts else None


def ingest(pcap: str | Path, db: str | Path, progress: Callable[[str], None] | None = None,
           checksums: str = "auto", host_log: str | Path | None = None) -> IngestResult:
    """``checksums``: ``auto`` (Zeek's validation, unless the capture looks checksum-offloaded,
    range.events.checksums), ``validate`` (Zeek's default) or ``ignore`` (Zeek's -C).
    ``host_log``: a file of host records to store too (read, and refused if malformed, first)."""
    check_pcap(pcap)
    host = read_host_log(host_log) if host_log is not None else []
    began = time.perf_counter()
    db = Path(db)
    if db.is_dir() or not db.parent.is_dir():   # refused before tshark starts, not after the work
        raise InputError("cannot write the event store here: " + ("it is a directory" if db.is_dir() else
                         f"the directory {db.parent} does not exist"), file=str(db))
    tmp = db.with_name(db.name + ".part")
    for p in (tmp, Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm")):
        p.unlink(missing_ok=True)
    try:  # its tables, and a clear error before any work; the writer process fills it
        EventStore(tmp, bulk=True).db.close()
    except sqlite3.Error as e:
        raise InputError(f"cannot write the event store: {e}", file=str(db)) from None
    batch = ProcessBatcher(tmp)
    asm = Assembler(batch, checksums=checksums)
    batch.clock = lambda: asm.now
    proc, rows = run_file(pcap)
    next_report = 50_000
    try:
        with quiet_gc():
            for row in rows:
                asm.feed(row)
                if progress and asm.packets >= next_report:
                    progress(f"{asm.packets:,} packets")
                    next_report += 50_000
            asm.close()
            # as tuples in column order (a third of the dicts' cost to send), absent fields as the store's
            # NULL; ``_seen`` is the last column: the batcher appends it
            cols = {t: columns(t)[:-1] for t in HOST_TABLES}
            with no_gc():
                for table, rec in host:
                    batch(table, tuple(map(rec.get, cols[table], repeat(NULL))), seen=rec["ts"])
        err = proc.stderr.read()
        rc = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        batch.kill()
        tmp.unlink(missing_ok=True)
        raise
    said = err.replace(str(pcap), "")   # tshark quotes the file name: a name with 'truncated' in it says nothing
    truncated = "cut short" in said or "truncated" in said.lower()
    if rc != 0 and not truncated:
        batch.kill()
        tmp.unlink(missing_ok=True)
        msg = err.strip().splitlines()[-1] if err.strip() else f"tshark exited with {rc}"
        raise InputError(f"tshark cannot read this capture: {msg}", file=str(pcap))
    batch.mark("capture", str(Path(pcap).resolve()))
    batch.mark("packets", str(asm.packets))
    batch.mark("truncated", "1" if truncated else "0")
    batch.mark("skipped", json.dumps(asm.skipped))
    batch.mark("problems", json.dumps(asm.problems))
    batch.mark("checksums", asm.policy.mode)
    if host_log is not None:
        batch.mark("host_log", str(Path(host_log).resolve()))
        batch.mark("host_records", str(len(host)))
    try:
        counts = batch.close()
    except InputError as e:
        tmp.unlink(missing_ok=True)
        raise InputError(e.message, file=str(db)) from None
    os.replace(tmp, db)
    warning = None
    if truncated:
        warning = (f"{pcap}: truncated capture: the last packet is cut short; the {asm.packets:,} complete "
                   f"packets before it were ingested into {db}")
    elif asm.packets == 0:
        warning = f"{pcap}: the capture holds no packets; {db} is an empty event store"
    records = {t: n for t, n in counts.items() if t in SCHEMA}
    return IngestResult(asm.packets, records, time.perf_counter() - began, truncated, warning, dict(asm.skipped),
                        list(asm.problems), asm.policy.mode)
