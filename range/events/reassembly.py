"""One direction of a TCP byte stream, put back in order (Zeek's ``TCP_Reassembler``).

Segments arrive in any order; the bytes from the next expected sequence number on go to the
connection's stream sink (the application analyzers) as soon as they are contiguous. An
acknowledgement past bytes never seen is a *content gap*: the sink hears of the hole, and when
both sides are established it counts in ``missed_bytes`` and adds ``G`` to the history. Bytes of
connections nobody reads are tracked as ranges only (their content is not kept).
"""
from __future__ import annotations

from bisect import insort

ESTABLISHED, CLOSED = 4, 5
MAX_BUFFERED = 1 << 20  # bytes held above a hole; beyond that the hole is given up as a gap


def _established(e) -> bool:
    return e.state == ESTABLISHED or (e.state == CLOSED and e.prev_state == ESTABLISHED)


class Reassembler:
    __slots__ = ("endpoint", "seq", "blocks", "buffered", "eof")

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.seq = 1            # relative sequence number of the next byte to deliver (0 is the SYN)
        self.blocks: list = []  # [seq, end, data or None] above self.seq, sorted
        self.buffered = 0
        self.eof = False

    def data_sent(self, t: float, seq: int, n: int, data: bytes | None) -> None:
        end = seq + n
        if end <= self.seq:
            return  # old data
        if seq < self.seq:
            if data is not None:
                data = data[self.seq - seq:]
            seq = self.seq
        if seq == self.seq and not self.blocks:  # the common case: in order
            self.seq = end
            self._deliver(t, data, n)
            return
        insort(self.blocks, [seq, end, data])
        self.buffered += end - seq
        self._drain(t)
        if self.buffered > MAX_BUFFERED:
            self._skip_to(t, self.blocks[0][0])

    def _drain(self, t: float) -> None:
        blocks = self.blocks
        while blocks and blocks[0][0] <= self.seq:
            seq, end, data = blocks.pop(0)
            self.buffered -= end - seq
            if end <= self.seq:
                continue
            if seq < self.seq and data is not None:
                data = data[self.seq - seq:]
            n = end - self.seq
            self.seq = end
            self._deliver(t, data, n)

    def _deliver(self, t: float, data: bytes | None, n: int) -> None:
        sink = self.endpoint.conn.stream
        if sink is not None:
            sink.deliver(self.endpoint.is_orig, t, data, n)

    def ack_received(self, ack: int) -> None:
        """The peer acknowledged up to ``ack``: whatever below it never arrived is a gap."""
        e = self.endpoint
        if e.fin_cnt and ack >= e.fin_seq:
            ack = e.fin_seq - 1
        if ack <= self.seq:
            return
        if ack <= 2 and e.conn.is_partial:
            return
        self._skip_to(e.last_time, ack)

    def _skip_to(self, t: float, upto: int) -> None:
        e = self.endpoint
        while self.seq < upto:
            nxt = self.blocks[0][0] if self.blocks else upto
            if nxt > self.seq:
                hole = min(nxt, upto) - self.seq
                self._gap(e, self.seq, hole)
                self.seq += hole
            self._drain(t)

    def _gap(self, e, seq: int, n: int) -> None:
        conn = e.conn
        if _established(e) and _established(e.peer):
            conn.missed += n
            e.scaled_entry("G")
        if conn.stream is not None:
            conn.stream.undelivered(e.is_orig, seq, n)

    def check_eof(self) -> None:
        e = self.endpoint
        if self.eof or not e.fin_cnt or e.pending():
            return
        self.eof = True
        conn = e.conn
        if conn.stream is not None:
            conn.stream.eof(e.is_orig)
        conn.endpoint_eof(e)
