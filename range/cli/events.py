"""Commands of the event stage: ingest a capture into an event store."""
from __future__ import annotations

import sys
from pathlib import Path

from range.cli.parser import arg, command, progress


@command("ingest", "dissect a capture with tshark into Zeek-shaped events in SQLite")
@arg("pcap", type=Path, help="a pcap or pcapng file")
@arg("--db", required=True, type=Path, help="the event store to write (SQLite)")
@arg("--checksums", choices=["auto", "validate", "ignore"], default="auto",
     help="packets with bad TCP/UDP/ICMP checksums: dropped as Zeek does (validate), counted anyway as with "
          "Zeek's -C (ignore), or auto: ignored when the capture looks checksum-offloaded (default)")
@arg("--host-log", type=Path, default=None,
     help="host records to store beside the packets' events (JSON lines, as 'cyberrange replay' writes them); "
          "default: the host.jsonl beside the capture, if there is one")
def cmd_ingest(a) -> int:
    from range.core import TeamDir
    from range.events import ingest
    host_log = a.host_log
    if host_log is None:
        beside = TeamDir(a.pcap.parent)
        if beside.capture.name == a.pcap.name and beside.host_log.is_file():
            host_log = beside.host_log
    res = ingest(a.pcap, a.db, progress=progress, checksums=a.checksums, host_log=host_log)
    counts = ", ".join(f"{n} {t}" for t, n in res.records.items() if n)
    note = res.skipped_line()
    print(f"{a.db}: {res.packets:,} packets -> {counts or 'no events'} in {res.seconds:.2f}s "
          f"({res.packets / max(res.seconds, 1e-9):,.0f} packets/s)" + (f"; {note}" if note else "")
          + ("; checksums not checked (offloaded capture)" if a.checksums == "auto" and res.checksums == "ignore"
             else ""))
    for p in res.problems:
        print(f"cyberrange: {a.pcap}: {p}", file=sys.stderr)
    if res.warning:
        print(f"cyberrange: {res.warning}", file=sys.stderr)
        return 2 if res.truncated else 0
    return 0
