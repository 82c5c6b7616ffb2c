"""Whether a packet with a bad TCP, UDP or ICMP checksum counts.

Zeek drops such a packet (``C`` in the history) unless told the capture's checksums cannot be
trusted (``-C``): a host that offloads checksumming to its network card hands the capture its
outgoing packets before the card fills the checksum in. Captures from the range's own bridges
are like that (Docker's veth pairs offload), so the live sensor never validates. For a capture
file, :class:`Policy` in ``auto`` mode looks at the first packets. The capture is taken to come
from an offloading host, and no checksum is checked, when some source's packets are mostly bad
while another source's are mostly good (the capturing host's own packets, and the rest), or when
every source's are, over more than a handful of packets (a host offloading for both ends, as
Docker's bridges do); otherwise bad checksums drop packets as in Zeek. Segments larger than an
Ethernet frame (1500 bytes of IP), coalesced by the capturing host (GRO/TSO), never have a
checksum worth checking.
"""
from __future__ import annotations

from collections import defaultdict

LOOKAHEAD = 1000   # rows looked at before deciding
BAD_SHARE = 0.5    # of a source's packets with a checked checksum
ALL_BAD = 5        # checked packets, all from mostly bad sources, that make a capture offloaded
MTU = 1500


class Policy:
    def __init__(self, mode: str = "auto"):
        if mode not in ("auto", "validate", "ignore"):
            raise ValueError(f"checksum mode {mode!r}: auto, validate or ignore")
        self.mode = mode
        self.validate = mode != "ignore"
        self._seen: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # source -> [bad, verified]

    @property
    def deciding(self) -> bool:
        return self.mode == "auto"

    def look(self, source: str, statuses: list[str]) -> None:
        """One packet of the lookahead: its (outer) source and its transport checksum statuses."""
        checked = [s for s in statuses if s in ("0", "1")]
        if checked:
            n = self._seen[source]
            n[1] += 1
            if "0" in checked:
                n[0] += 1

    def decide(self) -> str:
        bad = [v for b, v in self._seen.values() if b / v >= BAD_SHARE]
        good = len(self._seen) - len(bad)
        offload = bool(bad) and (good > 0 or sum(bad) >= ALL_BAD)
        self.mode = "ignore" if offload else "validate"
        self.validate = not offload
        self._seen.clear()
        return self.mode

    def ok(self, status: str, iplen: int) -> bool:
        """Does a packet with this checksum status ('0' bad, '1' good, '' or '2' unchecked) count?"""
        return status != "0" or not self.validate or iplen > MTU
