"""The live sensor: capture a team's bridge, keep rotating pcaps, and write events as they happen.

Two processes per team network: ``dumpcap`` writes a ring of pcap files (for download and for the
live ground truth) and ``tshark -l`` dissects the same traffic into field rows, which the
:class:`range.events.assembler.Assembler` turns into records written to the team's event store within a
second or two (connections when they end). Both report what they dropped: ``dumpcap`` and
``tshark`` count kernel drops; nothing is lost silently.

Every record carries ``_seen``, the wall time at which the sensor emitted it (strictly
increasing), and each batch commits, in the same transaction, the sensor's *watermark*
(``meta`` key ``watermark:<interface>``): every record it will ever write from then on is seen
later. Detection reads records up to the lowest watermark of a store's sensors, in ``_seen``
order (:meth:`range.detect.Detector.poll_seen`), so what it raises and when does not depend on
when it polled, nor on an orchestrator restart in between. A sensor that stops writes ``inf``.

``python -m range.events.capture`` runs one sensor as a process of its own (the live range starts it
detached, :mod:`range.runtime.procs`): it outlives the orchestrator, stops on SIGINT or SIGTERM after
writing what it captured, and stops by itself when its bridge disappears (``cyberrange down``).
Its figures go to a JSON status file, rewritten every few seconds and at the end.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from range.core import require_tool
from range.events.assembler import Assembler, quiet_gc
from range.events.batcher import Batcher
from range.events.store import EventStore
from range.events.tshark import command, split_row

FLUSH_EVERY = 0.25
STATUS_EVERY = 5.0
RING_FILES, RING_MB = 50, 20
WATERMARK = "watermark:"


@dataclass
class SensorStats:
    packets: int = 0
    records: int = 0
    dropped: int = 0
    lines_behind: int = 0
    errors: list[str] = field(default_factory=list)


class SeenClock:
    """Wall time that never repeats nor goes back: a record's ``_seen`` and the watermarks."""

    def __init__(self):
        self.last = 0.0

    def __call__(self) -> float:
        t = time.time()
        if t <= self.last:
            t = self.last + 1e-6
        self.last = t
        return t


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the sensor process dies (never orphaned)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class LiveSensor:
    """Capture interface ``iface`` into ``db`` (events) and ``ring_dir`` (pcaps) until stopped."""

    def __init__(self, iface: str, db: Path, ring_dir: Path, bpf: str | None = None):
        self.iface, self.db, self.ring_dir, self.bpf = iface, Path(db), Path(ring_dir), bpf
        self.stats = SensorStats()
        self.clock = SeenClock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._procs: list[subprocess.Popen] = []

    def start(self) -> "LiveSensor":
        dumpcap = require_tool("dumpcap", "tshark")
        self.ring_dir.mkdir(parents=True, exist_ok=True)
        store = EventStore(self.db)  # the first watermark, before any packet: nothing it writes is seen earlier
        store.set_meta(WATERMARK + self.iface, repr(self.clock()))
        store.close()
        ring = [dumpcap, "-q", "-P", "-i", self.iface, "-w", str(self.ring_dir / "ring.pcap"),
                "-b", f"files:{RING_FILES}", "-b", f"filesize:{RING_MB * 1000}"]
        if self.bpf:
            ring += ["-f", self.bpf]
        self._procs.append(subprocess.Popen(ring, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                            preexec_fn=_die_with_parent))
        tshark = subprocess.Popen(command(self.iface, live=True, bpf=self.bpf), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
                                  bufsize=1, preexec_fn=_die_with_parent)
        self._procs.append(tshark)
        self._thread = threading.Thread(target=self._loop, args=(tshark,), name=f"sensor-{self.iface}", daemon=True)
        self._thread.start()
        return self

    def _loop(self, proc: subprocess.Popen) -> None:
        store = EventStore(self.db)
        batch = Batcher(store, clock=self.clock)
        asm = Assembler(batch, live=True)
        last_flush = time.monotonic()
        try:
            with quiet_gc():
                self._read(proc, asm, batch, last_flush)
            asm.close()
            self.stats.records += batch.n
            batch.mark(WATERMARK + self.iface, "inf")  # stopped: it writes nothing more
        except Exception as e:  # noqa: BLE001 - a failed write (disk full): reported, the sensor stops
            self.stats.errors.append(f"event store {self.db}: {type(e).__name__}: {e}")
            self._stop.set()
        finally:
            try:
                batch.close()
            except Exception as e:  # noqa: BLE001 - the last batch could not be written: say so
                self.stats.errors.append(f"event store {self.db}: {type(e).__name__}: {e}")
            try:
                store.db.close()
            except Exception:  # noqa: BLE001 - already reported above
                pass

    def _read(self, proc: subprocess.Popen, asm: Assembler, batch: Batcher, last_flush: float) -> None:
        """Rows as tshark prints them; every FLUSH_EVERY seconds the open connections' lines that
        changed, the records built so far and the watermark go to the store."""
        for line in _lines(proc.stdout, self._stop):
            if line is not None and line:
                asm.feed(split_row(line))
                self.stats.packets += 1
            now = time.monotonic()
            if now - last_flush >= FLUSH_EVERY:
                asm.expire(max(asm.now, time.time() - 0.2))
                n = batch.n
                batch.mark(WATERMARK + self.iface, repr(self.clock()))
                batch.flush()
                self.stats.records += n
                last_flush = now

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> SensorStats:
        """Stop capturing; what was captured is dissected and written first."""
        self._stop.set()
        for p in self._procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        if self._thread:
            self._thread.join(timeout=30)  # reads tshark's output to its end
        for p in self._procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            err = p.stderr.read() if p.stderr else ""
            m = re.search(r"(\d+) packets? dropped", err or "")
            if m:
                self.stats.dropped += int(m.group(1))
            if p.returncode not in (0, -signal.SIGINT, 130) and err.strip():
                self.stats.errors.append(err.strip().splitlines()[-1])
        self._procs.clear()
        return self.stats

    def pcaps(self) -> list[Path]:
        return sorted(self.ring_dir.glob("ring_*.pcap"))


def _lines(fd, stop: threading.Event):
    """tshark's lines as they come; ``None`` every quarter second of silence (so timeouts run)."""
    buf = ""
    while True:
        r, _, _ = select.select([fd], [], [], FLUSH_EVERY)
        if not r:
            if stop.is_set():
                return
            yield None
            continue
        chunk = os.read(fd.fileno(), 1 << 16).decode("utf-8", "replace")
        if not chunk:
            if buf:
                yield buf
            return
        buf += chunk
        *lines, buf = buf.split("\n")
        for line in lines:
            yield line


def write_status(path: Path, stats: SensorStats, running: bool) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({**asdict(stats), "running": running, "pid": os.getpid(), "updated": time.time()}))
    os.replace(tmp, path)


def read_status(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {"packets": 0, "records": 0, "dropped": 0, "errors": [], "running": False}


def main(argv: list[str]) -> int:
    """``python -m range.events.capture --iface BRIDGE --db EVENTS --ring DIR --status FILE [--bpf FILTER]``"""
    ap = argparse.ArgumentParser(prog="python -m range.events.capture")
    ap.add_argument("--iface", required=True)
    ap.add_argument("--db", required=True, type=Path)
    ap.add_argument("--ring", required=True, type=Path)
    ap.add_argument("--status", required=True, type=Path)
    ap.add_argument("--bpf")
    a = ap.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    sensor = LiveSensor(a.iface, a.db, a.ring, a.bpf)
    try:
        sensor.start()
    except Exception as e:  # noqa: BLE001 - reported in the status file and on stderr
        sensor.stats.errors.append(f"{type(e).__name__}: {e}")
        write_status(a.status, sensor.stats, False)
        print(f"sensor on {a.iface}: {e}", file=sys.stderr)
        return 1
    write_status(a.status, sensor.stats, True)
    bridge, last = Path("/sys/class/net", a.iface), time.monotonic()
    while not stop.wait(1.0) and bridge.exists() and sensor.running():  # the bridge goes with the range
        if time.monotonic() - last >= STATUS_EVERY:
            write_status(a.status, sensor.stats, True)
            last = time.monotonic()
    stats = sensor.stop()
    write_status(a.status, stats, False)
    for e in stats.errors:
        print(f"sensor on {a.iface}: {e}", file=sys.stderr)
    return 0 if not stats.errors else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
