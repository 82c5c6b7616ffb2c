"""Records on their way to an event store being built from a capture file, written by a process of
their own.

:class:`~range.events.batcher.Batcher` writes on a thread; binding each record's values for
SQLite holds the interpreter lock, so on a capture where nearly every packet makes a record the
writer takes a fifth of the event builder's time. Ingest (tshark, the builder and the writer on two
cores) runs the writer in a child process instead: batches go over a pipe (pickled in C), the
child binds and inserts them on its own. Same interface as ``Batcher`` (both are a
:class:`~range.events.batcher.Collector`); live stores keep the thread (a sensor's watermark must
be committed with its batch, and its stores are small per batch).
"""
from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

from range.core import InputError
from range.events.batcher import Collector
from range.events.store import EventStore


def _child(path: str, conn) -> None:
    try:
        store = EventStore(path, bulk=True)
    except Exception as e:  # noqa: BLE001 - reported to the parent, which raises it
        conn.send(("error", f"cannot write the event store: {e}"))
        return
    failed = None
    while True:
        msg = conn.recv()
        if msg is None:
            break
        if failed:
            continue
        records, meta = msg
        try:
            for table, recs in records.items():
                store.add(table, recs)
            for key, value in meta.items():
                store.set_meta(key, value)
            store.commit()
        except Exception as e:  # noqa: BLE001 - the parent hears of it at close
            failed = f"{type(e).__name__}: {e}"
    if failed:
        conn.send(("error", failed))
        return
    store.close()
    conn.send(("done", store.counts))


class ProcessBatcher(Collector):
    """Records handed to a writer process."""

    def __init__(self, path: str | Path, clock=lambda: None):
        super().__init__(clock)
        self.counts: dict[str, int] = {}
        ctx = mp.get_context("spawn")  # no fork of a process that may run threads (the web app)
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_child, args=(str(path), child), name="event-writer", daemon=True)
        self._proc.start()
        child.close()

    def flush(self) -> None:
        if self.pending or self.meta:
            try:
                self._conn.send((self.pending, self.meta))
            except (BrokenPipeError, EOFError, OSError):
                self._failed()
            self.pending, self.meta, self.n = {}, {}, 0

    def close(self) -> dict[str, int]:
        """Write what is pending, build the indexes, and return the records written per table."""
        self.flush()
        try:
            self._conn.send(None)
            kind, what = self._conn.recv()
        except (BrokenPipeError, EOFError, OSError):
            self._failed()
        self._proc.join()
        if kind == "error":
            raise InputError(what)
        self.counts = what
        return what

    def kill(self) -> None:
        self._proc.kill()
        self._proc.join()

    def _failed(self):
        self._proc.join(5)
        raise InputError(f"the event writer process stopped (exit code {self._proc.exitcode})")
