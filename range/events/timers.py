"""Connection timers on network time, as Zeek runs them.

A timer is (when, connection, kind). Before a packet is processed, every timer due at the
packet's time fires, oldest first, with the packet's time as "now" (Zeek's ``expire_timers``);
live, the sensor also advances time by the wall clock so that an idle network still ends its
connections. A connection cancels all its timers at once by bumping its generation.
"""
from __future__ import annotations

import heapq
import itertools


class Timers:
    def __init__(self):
        self.heap: list = []
        self._seq = itertools.count()

    def add(self, when: float, conn, kind: str) -> None:
        heapq.heappush(self.heap, (when, next(self._seq), conn, conn.gen, kind))

    def due(self, now: float):
        """The timers due at ``now`` that still stand, removed from the queue."""
        heap = self.heap
        while heap and heap[0][0] <= now:
            _when, _n, conn, gen, kind = heapq.heappop(heap)
            if gen == conn.gen and not conn.removed:
                yield conn, kind

    def __len__(self) -> int:
        return len(self.heap)
