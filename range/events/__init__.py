"""Events: packets turned into Zeek-shaped records in a team's event store (and, beside them,
tables for the nodes' host logs: :data:`HOST_TABLES`, filled offline from the replay's host
records, :mod:`.hostlog`).

tshark dissects (:mod:`.tshark`); the assembler tracks connections (:mod:`.conn`,
:mod:`.assembler`) and hands application data to one analyzer per protocol (:mod:`.apps`:
dns, http, ssh, ftp, telnet); records go to SQLite (:mod:`.store`), from a capture file
(:mod:`.ingest`) or live from a bridge (:mod:`.capture`, a process of its own). The explorer
and the packet drill-down read a team's store and capture for the hunting workspace.
"""
from range.events import explorer, packets
from range.events.assembler import Assembler
from range.events.capture import WATERMARK, LiveSensor, read_status
from range.events.hostlog import read_host_log, write_host_log
from range.events.ingest import IngestResult, ingest
from range.events.store import (
           HOST_TABLES,
           INTERIM,
           NETWORK_TABLES,
           SCHEMA,
           SERVICE_TABLES,
           TEXT_KEEP,
           EventStore,
           bound_text,
           columns,
           open_readonly,
           physical,
           record,
)
from range.events.tshark import FIELDS, tshark

__all__ = ["explorer", "packets", "Assembler", "WATERMARK", "LiveSensor", "read_status", "read_host_log",
           "write_host_log", "IngestResult", "ingest",
           "HOST_TABLES", "INTERIM", "NETWORK_TABLES", "SCHEMA", "SERVICE_TABLES", "TEXT_KEEP", "EventStore",
           "bound_text", "columns", "open_readonly", "physical", "record",
           "FIELDS", "tshark"]
