"""Ingest a capture file into an event store: tshark rows -> Zeek-shaped records -> SQLite.

The store is built under ``DB.part`` and renamed when complete: an interrupted ingest never
leaves a half-filled store under the final name. A truncated capture keeps every complete
packet and says where it was cut.
"""
from __future__ import annotations

import os
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from range.core.errors import InputError
from range.events.assembler import Assembler
from range.traffic.pcapfile import check_pcap
from range.events.tshark import run_file
from range.events.store import Store

BATCH = 5000


@dataclass
class IngestResult:
    packets: int
    records: dict[str, int]
    seconds: float
    truncated: bool
    warning: str | None = None


class Batcher:
    """Collect records per table and write them in batches, stamped with the capture time at
    which they were emitted (``_seen``). A writer thread does the SQLite work (the sqlite3
    module releases the GIL while SQLite runs), so building events and writing them overlap."""

    def __init__(self, store: Store, clock=lambda: None):
        self.store = store
        self.clock = clock
        self.pending: dict[str, list] = {}
        self.meta: dict[str, str] = {}  # meta rows written in the same transaction as the next batch
        self.n = 0
        self._queue: queue.Queue = queue.Queue(maxsize=4)
        self._error: BaseException | None = None
        self._writer = threading.Thread(target=self._write, name="event-writer", daemon=True)
        self._writer.start()

    def __call__(self, table: str, rec: dict | tuple) -> None:
        if type(rec) is tuple:  # already in column order (conn records)
            rec = rec + (self.clock(),)
        else:
            rec["_seen"] = self.clock()
        self.pending.setdefault(table, []).append(rec)
        self.n += 1
        if self.n >= BATCH:
            self.flush()

    def mark(self, key: str, value: str) -> None:
        """A meta row to commit together with the records pending now (the live sensor's watermark)."""
        self.meta[key] = value

    def flush(self, wait: bool = False) -> None:
        """Hand the pending records to the writer; with ``wait``, return once they are committed."""
        if self._error:
            raise self._error
        if self.pending or self.meta:
            self._queue.put((self.pending, self.meta))
            self.pending, self.meta = {}, {}
            self.n = 0
        if wait:
            self._queue.join()
            if self._error:
                raise self._error

    def _write(self) -> None:
        while True:
            batch = self._queue.get()
            try:
                if batch is None:
                    return
                if self._error:  # after a failed batch nothing more is written: the store holds a prefix
                    continue
                records, meta = batch
                for table, recs in records.items():
                    self.store.add(table, recs)
                for key, value in meta.items():
                    self.store.set_meta(key, value)
                self.store.commit()
            except BaseException as e:  # reported to the producer at its next flush: never dropped
                self._error = e
            finally:
                self._queue.task_done()

    def close(self) -> None:
        self.flush(wait=True)
        self._queue.put(None)
        self._writer.join()


def ingest(pcap: str | Path, db: str | Path, progress: Callable[[str], None] | None = None) -> IngestResult:
    check_pcap(pcap)
    began = time.perf_counter()
    db = Path(db)
    if db.is_dir() or not db.parent.is_dir():   # refused before tshark starts, not after the work
        raise InputError("cannot write the event store here: " + ("it is a directory" if db.is_dir() else
                         f"the directory {db.parent} does not exist"), file=str(db))
    tmp = db.with_name(db.name + ".part")
    for p in (tmp, Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm")):
        p.unlink(missing_ok=True)
    try:
        store = Store(tmp, bulk=True)
    except sqlite3.Error as e:
        raise InputError(f"cannot write the event store: {e}", file=str(db)) from None
    batch = Batcher(store)
    asm = Assembler(batch)
    batch.clock = lambda: asm.now
    proc, rows = run_file(pcap)
    next_report = 50_000
    try:
        for row in rows:
            asm.feed(row)
            if progress and asm.packets >= next_report:
                progress(f"{asm.packets:,} packets")
                next_report += 50_000
        asm.close()
        batch.close()
        err = proc.stderr.read()
        rc = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        batch.close()
        store.close()
        tmp.unlink(missing_ok=True)
        raise
    said = err.replace(str(pcap), "")   # tshark quotes the file name: a name with 'truncated' in it says nothing
    truncated = "cut short" in said or "truncated" in said.lower()
    if rc != 0 and not truncated:
        store.close()
        tmp.unlink(missing_ok=True)
        msg = err.strip().splitlines()[-1] if err.strip() else f"tshark exited with {rc}"
        raise InputError(f"tshark cannot read this capture: {msg}", file=str(pcap))
    store.set_meta("capture", str(Path(pcap).resolve()))
    store.set_meta("packets", str(asm.packets))
    store.set_meta("truncated", "1" if truncated else "0")
    store.close()
    os.replace(tmp, db)
    warning = None
    if truncated:
        warning = (f"{pcap}: truncated capture: the last packet is cut short; the {asm.packets:,} complete "
                   f"packets before it were ingested into {db}")
    elif asm.packets == 0:
        warning = f"{pcap}: the capture holds no packets; {db} is an empty event store"
    return IngestResult(asm.packets, dict(store.counts), time.perf_counter() - began, truncated, warning)
