"""Classic libpcap files: writing frames as bytes, and a cheap header check for reading.

Files are written to ``NAME.part`` and renamed when complete, so a crash never leaves a
truncated capture under the final name.
"""
from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Iterable

from range.core import InputError

MAGIC_US = 0xA1B2C3D4
MAGIC_NS = 0xA1B23C4D
LINKTYPE_ETHERNET = 1
SNAPLEN = 262144

_global = struct.Struct("<IHHiIII")
_record = struct.Struct("<IIII")


class PcapWriter:
    """Write (timestamp, frame) records with microsecond resolution."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.tmp = self.path.with_name(self.path.name + ".part")
        self._f = open(self.tmp, "wb", buffering=1 << 20)
        self._f.write(_global.pack(MAGIC_US, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET))
        self.count = 0

    def write(self, ts: float, data: bytes) -> None:
        us_total = round(ts * 1_000_000)
        sec, usec = divmod(us_total, 1_000_000)
        n = len(data)
        self._f.write(_record.pack(sec, usec, n, n))
        self._f.write(data)
        self.count += 1

    def write_all(self, records: Iterable[tuple[float, bytes]]) -> None:
        w = self._f.write
        pack = _record.pack
        n_written = 0
        for ts, data in records:
            sec, usec = divmod(round(ts * 1_000_000), 1_000_000)
            n = len(data)
            w(pack(sec, usec, n, n))
            w(data)
            n_written += 1
        self.count += n_written

    def close(self) -> None:
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self._f.close()
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> "PcapWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def check_pcap(path: str | Path) -> None:
    """Raise :class:`InputError` unless ``path`` starts like a pcap or pcapng file."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            head = f.read(24)
    except OSError as e:
        raise InputError(f"cannot read capture: {e.strerror}", file=str(path)) from None
    if len(head) < 4:
        raise InputError("not a capture file: it is empty or shorter than a pcap header", file=str(path))
    magic_le = struct.unpack("<I", head[:4])[0]
    magic_be = struct.unpack(">I", head[:4])[0]
    if head[:4] == b"\x0a\x0d\x0d\x0a":
        return  # pcapng
    if MAGIC_US in (magic_le, magic_be) or MAGIC_NS in (magic_le, magic_be):
        if len(head) < 24:
            raise InputError("truncated capture: the pcap header is incomplete", file=str(path))
        return
    raise InputError("not a pcap or pcapng file (unknown magic number); give a capture written by "
                     "tcpdump, Wireshark or cyberrange replay", file=str(path))
