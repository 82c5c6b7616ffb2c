"""The live host sensor: what the nodes do and log, into each team's event store beside the
network sensors' events.

One process per live session (``python -m range.events.hostsensor``) reads two sources:

* the kernel's audit records (:mod:`range.events.audit`) of the session's nodes' processes,
  turned into process_creation, auditd, network_connection and file_event rows
  (:mod:`range.events.auditrows`);
* the nodes' own service logs, which each node's rsyslog forwards to a socket the sensor binds
  in that node (:mod:`range.events.nodelogs`), into syslog rows.

Each node is held to :data:`NODE_RATE` records a second (a token bucket): a node that forks
thousands of processes a second is sampled, the records left out counted per node in the status
file, and no other node or team waits. Like the network sensors it commits a watermark
(``watermark:host``) with every batch, every quarter second, so detection reads its records in
order; it writes ``inf`` when it stops.
"""
from __future__ import annotations

import argparse
import json
import os
import select
import signal
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

from range.events import audit, nodelogs
from range.events.auditrows import Nodes, Translator
from range.events.batcher import Batcher
from range.events.capture import SeenClock
from range.events.store import EventStore

WATERMARK = "watermark:host"
FLUSH_EVERY = 0.25
STATUS_EVERY = 2.0
BIND_EVERY = 2.0   # seconds between looks for nodes (re)started, whose log socket is to be bound
NODE_RATE, NODE_BURST = 500.0, 2000.0   # records a second a node may write, and its burst


class Bucket:
    """A node's allowance of records: NODE_RATE a second, up to NODE_BURST at once."""

    def __init__(self, rate: float = NODE_RATE, burst: float = NODE_BURST):
        self.rate, self.burst, self.tokens, self.t = rate, burst, burst, time.monotonic()

    def take(self, n: int) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.t) * self.rate)
        self.t = now
        if self.tokens < n:
            return False
        self.tokens -= n
        return True


class HostSensor:
    """One session's nodes' audit records and service logs into their teams' event stores until
    stopped. ``skip``: nodes whose activity is not a team's to see (the intruder's machine)."""

    def __init__(self, session: str, stores: dict[str, Path], status: Path, nodes: Nodes | None = None,
                 skip: frozenset[str] = frozenset()):
        self.stores, self.status, self.skip = stores, status, skip
        self.nodes = nodes or Nodes(session)
        self.translator = Translator(self.nodes)
        self.clock = SeenClock()
        self.buckets: dict[tuple[str, str], Bucket] = defaultdict(Bucket)
        self.logs: dict[tuple[str, str], tuple[int, object]] = {}   # (team, node) -> (init pid, its listener)
        self.conns: dict[object, tuple[tuple[str, str], nodelogs.Lines]] = {}   # a node's rsyslog connection
        self.stats = {"events": 0, "records": 0, "log_lines": 0, "sampled": {}, "lost": 0, "unparsed": 0,
                      "unparsed_lines": 0, "errors": []}
        self.stop = threading.Event()
        self.batches: dict[str, Batcher] = {}

    def run(self) -> None:
        token = audit.acquire()
        try:
            self._run()
        finally:
            audit.release(token)

    def _run(self) -> None:
        sock = audit.open_reader()
        sock.setblocking(False)
        events = audit.Events()
        self.batches = {t: Batcher(EventStore(p), clock=self.clock) for t, p in self.stores.items()}
        for b in self.batches.values():   # nothing written from now on is seen earlier
            b.mark(WATERMARK, repr(self.clock()))
            b.flush(wait=True)
        last_flush = last_status = last_bind = 0.0
        try:
            while not self.stop.is_set():
                if time.monotonic() - last_bind >= BIND_EVERY:
                    self._bind_logs()
                    last_bind = time.monotonic()
                listeners = {s: key for key, (_pid, s) in self.logs.items()}
                ready, _, _ = select.select([sock, *listeners, *self.conns], [], [], FLUSH_EVERY)
                for r in ready:
                    if r is sock:
                        self._audit(sock, events)
                    elif r in listeners:
                        self._accept(listeners[r], r)
                    else:
                        self._lines(r)
                if time.monotonic() - last_flush >= FLUSH_EVERY:
                    last_flush = self._flush()
                if last_flush - last_status >= STATUS_EVERY:
                    self.stats["unparsed"] = events.unparsed
                    self.write_status(True)
                    last_status = last_flush
        finally:
            sock.close()
            for s in [*(s for _p, s in self.logs.values()), *self.conns]:
                s.close()
            for b in self.batches.values():
                b.mark(WATERMARK, "inf")   # stopped: it writes nothing more
                b.close()
                b.store.close()
            self.write_status(False)

    def _audit(self, sock, events: audit.Events) -> None:
        for typ, text in audit.messages(sock, 0):
            if typ == -1:
                self.stats["lost"] += 1   # the socket's buffer overflowed: records the kernel dropped
                continue
            for ts, serial, recs in events.feed(typ, text):
                self._event(ts, serial, recs)

    def _bind_logs(self) -> None:
        """A listener on every node of the session's teams (again in a node restarted since)."""
        try:
            found = self.nodes.lookup()
        except Exception:  # noqa: BLE001 - the engine is busy: the next look makes them
            return
        for team, node, init in found.values():
            key = (team, node)
            if not init or team not in self.batches or node in self.skip or self.logs.get(key, (None,))[0] == init:
                continue   # (a container still starting has no process yet: the next look)
            if key in self.logs:
                self.logs.pop(key)[1].close()
            try:
                self.logs[key] = (init, nodelogs.listen(init))
            except Exception as e:  # noqa: BLE001 - the node stopped meanwhile: tried again at the next look
                self._error(f"log listener of {team}/{node}: {e}")

    def _accept(self, key: tuple[str, str], listener) -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        conn.setblocking(False)
        self.conns[conn] = (key, nodelogs.Lines(conn))

    def _lines(self, conn) -> None:
        key, reader = self.conns[conn]
        lines, closed = reader.read()
        for data in lines:
            rows, parsed = nodelogs.parse(data, key[1])
            self.stats["log_lines"] += 1
            self.stats["unparsed_lines"] += not parsed
            self._write(key, rows)
        if closed:
            del self.conns[conn]
            conn.close()

    def _event(self, ts: float, serial: int, recs) -> None:
        self.stats["events"] += 1
        try:
            node, rows = self.translator.event(ts, serial, recs)
        except (ValueError, KeyError, OSError) as e:   # a record unlike the others: counted, the sensor goes on
            self.stats["unparsed"] += 1
            self._error(f"audit event {serial}: {type(e).__name__}: {e}")
            return
        if rows and node[1] not in self.skip:
            self._write(node, rows)

    def _write(self, node: tuple[str, str], rows: list) -> None:
        batch = self.batches.get(node[0])
        if batch is None:
            return
        if not self.buckets[node].take(len(rows)):
            key = "/".join(node)
            self.stats["sampled"][key] = self.stats["sampled"].get(key, 0) + len(rows)
            return
        for table, rec in rows:
            batch(table, {k: v for k, v in rec.items() if v is not None}, seen=self.clock())
        self.stats["records"] += len(rows)

    def _error(self, text: str) -> None:
        if len(self.stats["errors"]) < 20:
            self.stats["errors"].append(text)

    def _flush(self) -> float:
        mark = repr(self.clock())
        for b in self.batches.values():
            b.mark(WATERMARK, mark)
            b.flush()
        return time.monotonic()

    def write_status(self, running: bool) -> None:
        tmp = self.status.with_name(f".{self.status.name}.tmp")
        tmp.write_text(json.dumps({**self.stats, "ignored": self.translator.counts.get("ignored", 0),
                                   "gone": self.translator.counts.get("gone", 0), "log_listeners": len(self.logs),
                                   "log_connections": len(self.conns),
                                   "running": running, "pid": os.getpid(), "updated": time.time()}))
        os.replace(tmp, self.status)


def main(argv: list[str]) -> int:
    """"``python -m range.events.hostsensor --session S --status FILE --store TEAM=EVENTS.DB ... [--skip NODE]``"""
    ap = argparse.ArgumentParser(prog="python -m range.events.hostsensor")
    ap.add_argument("--session", required=True)
    ap.add_argument("--status", required=True, type=Path)
    ap.add_argument("--store", action="append", default=[], help="TEAM=path of the team's event store")
    ap.add_argument("--skip", action="append", default=[], help="a node whose activity no team sees")
    a = ap.parse_args(argv)
    stores = {t: Path(p) for t, _, p in (s.partition("=") for s in a.store)}
    sensor = HostSensor(a.session, stores, a.status, skip=frozenset(a.skip))
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: sensor.stop.set())
    try:
        sensor.run()
    except Exception as e:  # noqa: BLE001 - reported in the status file and on stderr
        sensor.stats["errors"].append(f"{type(e).__name__}: {e}")
        sensor.write_status(False)
        print(f"host sensor of {a.session}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
