"""Records on their way to an event store: collected per table, stamped with when they were
emitted (``_seen``) and written in batches by a writer thread of their own."""
from __future__ import annotations

import queue
import threading

from range.events.store import EventStore

BATCH = 5000


class Collector:
    """Records collected per table, stamped with the capture time at which they were emitted
    (``_seen``), handed on every BATCH records by :meth:`flush` (a writer thread or process)."""

    def __init__(self, clock=lambda: None):
        self.clock = clock
        self.pending: dict[str, list] = {}
        self.meta: dict[str, str] = {}  # meta rows written in the same transaction as the next batch
        self.n = 0

    def __call__(self, table: str, rec: dict | tuple, seen: float | None = None) -> None:
        """One record; ``seen``: when it was emitted, if not now (the clock)."""
        if seen is None:
            seen = self.clock()
        if type(rec) is tuple:  # already in column order (conn records)
            rec = rec + (seen,)
        else:
            rec["_seen"] = seen
        self.pending.setdefault(table, []).append(rec)
        self.n += 1
        if self.n >= BATCH:
            self.flush()

    def mark(self, key: str, value: str) -> None:
        """A meta row to commit together with the records pending now (the live sensor's watermark)."""
        self.meta[key] = value

    def flush(self) -> None:
        raise NotImplementedError


class Batcher(Collector):
    """A writer thread does the SQLite work (the sqlite3 module releases the GIL while SQLite
    runs), so building events and writing them overlap."""

    def __init__(self, store: EventStore, clock=lambda: None):
        super().__init__(clock)
        self.store = store
        self._queue: queue.Queue = queue.Queue(maxsize=4)
        self._error: BaseException | None = None
        self._writer = threading.Thread(target=self._write, name="event-writer", daemon=True)
        self._writer.start()

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
