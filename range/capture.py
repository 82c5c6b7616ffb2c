"""The live sensor: capture a team's bridge, keep rotating pcaps, and write events as they happen.

Two processes per team network: ``dumpcap`` writes a ring of pcap files (for download and for the
live ground truth) and ``tshark -l`` dissects the same traffic into field rows, which the
:class:`range.events.Assembler` turns into records written to the team's event store within a
second or two (connections when they end). Both report what they dropped: ``dumpcap`` and
``tshark`` count kernel drops; nothing is lost silently.
"""
from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from range.errors import ToolMissing
from range.events import Assembler
from range.ingest import Batcher
from range.sensor import command, split_row
from range.store import Store

FLUSH_EVERY = 0.25
RING_FILES, RING_MB = 50, 20


@dataclass
class SensorStats:
    packets: int = 0
    records: int = 0
    dropped: int = 0
    lines_behind: int = 0
    errors: list[str] = field(default_factory=list)


class LiveSensor:
    """Capture interface ``iface`` into ``db`` (events) and ``ring_dir`` (pcaps) until stopped."""

    def __init__(self, iface: str, db: Path, ring_dir: Path, bpf: str | None = None):
        self.iface, self.db, self.ring_dir, self.bpf = iface, Path(db), Path(ring_dir), bpf
        self.stats = SensorStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._procs: list[subprocess.Popen] = []

    def start(self) -> "LiveSensor":
        dumpcap = shutil.which("dumpcap")
        if not dumpcap:
            raise ToolMissing("dumpcap is missing (it comes with Debian's tshark package)")
        self.ring_dir.mkdir(parents=True, exist_ok=True)
        ring = [dumpcap, "-q", "-P", "-i", self.iface, "-w", str(self.ring_dir / "ring.pcap"),
                "-b", f"files:{RING_FILES}", "-b", f"filesize:{RING_MB * 1000}"]
        if self.bpf:
            ring += ["-f", self.bpf]
        self._procs.append(subprocess.Popen(ring, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                            start_new_session=True))
        tshark = subprocess.Popen(command(self.iface, live=True, bpf=self.bpf), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
                                  bufsize=1, start_new_session=True)
        self._procs.append(tshark)
        self._thread = threading.Thread(target=self._loop, args=(tshark,), name=f"sensor-{self.iface}", daemon=True)
        self._thread.start()
        return self

    def _loop(self, proc: subprocess.Popen) -> None:
        store = Store(self.db)
        batch = Batcher(store, clock=time.time)
        asm = Assembler(batch)
        last_flush = time.monotonic()
        try:
            for line in _lines(proc.stdout, self._stop):
                if line is not None and line:
                    asm.feed(split_row(line))
                    self.stats.packets += 1
                now = time.monotonic()
                if now - last_flush >= FLUSH_EVERY:
                    asm.expire(max(asm.now, time.time() - 0.2))
                    n = batch.n
                    batch.flush()
                    self.stats.records += n
                    last_flush = now
        finally:
            asm.close()
            self.stats.records += batch.n
            batch.close()
            store.close()

    def stop(self) -> SensorStats:
        """Stop capturing; what was captured is dissected and written first."""
        self._stop.set()
        for p in self._procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGINT)
                except ProcessLookupError:
                    pass
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
