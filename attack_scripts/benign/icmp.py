"""Everyday pings: monitoring checks from the servers and a user troubleshooting now and then.

Linux hosts (servers, the resolver) run iputils ``ping -c N``: a random identifier, 56 data
bytes made of a 16-byte ``struct timeval`` (the send time, which Wireshark decodes as
``icmp.data_time``) followed by the bytes 0x10, 0x11 ... 0x37, 1 s apart. Windows workstations
run ``ping.exe``: identifier 1, 32 bytes ``abcdefghijklmnopqrstuvwabcdefghi``, four requests.
Every request is answered with its own data. A rule alerting on "any ICMP echo" fires here.
"""
from __future__ import annotations

import struct

from range.traffic import BenignContext, BenignKind, IcmpEcho, benign

WINDOWS_DATA = b"abcdefghijklmnopqrstuvwabcdefghi"
LINUX_PATTERN = bytes(range(0x10, 0x38))  # iputils fills the data with its offsets after the timeval


def addresses(src, dst) -> tuple[str, str]:
    """The pair of addresses a ping between two hosts uses: on a network they share if any."""
    net = next((n for n in src.ips if n in dst.ips), None)
    return (src.ips[net], dst.ips[net]) if net else (src.ip, dst.ip)


def linux_data(ts: float) -> bytes:
    """iputils ping's 56 data bytes sent at ``ts`` (64-bit little-endian timeval)."""
    sec = int(ts)
    return struct.pack("<qq", sec, int((ts - sec) * 1_000_000)) + LINUX_PATTERN


@benign
class BenignIcmp(BenignKind):
    name = "icmp"
    summary = "monitoring pings from Linux servers, ping.exe from Windows workstations"

    def generate(self, ctx: BenignContext):
        r = ctx.rng
        hosts = [h for h in ctx.layout.hosts.values() if h.role != "attacker"]
        servers = [h for h in hosts if h.role in ("server", "dns", "router")]
        if len(hosts) < 2:
            return
        for t in ctx.times():
            if servers and r.random() < 0.6:  # a monitoring check from a Linux server
                src = r.choice(servers)
                dst = r.choice([h for h in hosts if h is not src])
                n = r.choice([1, 1, 2, 3, 5])
                times = [t + i * r.uniform(0.999, 1.002) for i in range(n)]
                payloads = [(times[i] - (times[i - 1] if i else t), linux_data(times[i])) for i in range(n)]
                a, b = addresses(src, dst)
                yield IcmpEcho(t=t, client=a, server=b, ident=r.getrandbits(16), payloads=payloads,
                               rtt=r.uniform(0.0002, 0.0009))
            else:  # a user checking whether a server is up
                src = r.choice(ctx.clients)
                dst = r.choice([h for h in (servers or hosts) if h is not src])
                a, b = addresses(src, dst)
                yield IcmpEcho(t=t, client=a, server=b, ident=1,
                               payloads=[(0.0 if i == 0 else r.uniform(1.0, 1.02), WINDOWS_DATA) for i in range(4)],
                               rtt=r.uniform(0.0002, 0.0009))
