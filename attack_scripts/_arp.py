"""ARP frames as finished records (time, frame, flow key) for :class:`range.traffic.RawFrames`.

ARP never leaves its segment, so :class:`range.traffic.Synth`'s routing does not apply: a frame
is visible when its network is one the sensor watches. The flow key of an ARP frame is
``(sender IP, target IP, "arp", None, None, Ethernet source MAC)``, which is what the truth
check reads back from tshark (``arp.src.proto_ipv4``, ``arp.dst.proto_ipv4``, ``eth.src``).
Frames are 42 bytes, unpadded, like every other frame the offline replay writes.
"""
from __future__ import annotations

from range.topology import Host, Layout
from range.traffic import wire

BROADCAST = "ff:ff:ff:ff:ff:ff"
ZERO_MAC = "00:00:00:00:00:00"
REQUEST, REPLY = 1, 2

# Linux neighbour discovery: 3 broadcast solicitations 1 s apart (mcast_solicit, retrans_time)
LINUX_SOLICIT = (0.0, 1.0, 2.0)


def record(t: float, op: int, eth_src: str, eth_dst: str, sha: str, spa: str, tha: str, tpa: str) -> tuple:
    f = wire.ether(eth_src, eth_dst, wire.ETH_ARP, wire.arp(op, sha, spa, tha, tpa))
    return t, f, (spa, tpa, "arp", None, None, eth_src)


def who_has(t: float, mac: str, ip: str, target_ip: str, unicast_to: str | None = None) -> tuple:
    """``Who has target_ip? Tell ip``: broadcast, or unicast to a cached MAC (a Linux refresh)."""
    return record(t, REQUEST, mac, unicast_to or BROADCAST, mac, ip, ZERO_MAC, target_ip)


def is_at(t: float, mac: str, ip: str, to_mac: str, to_ip: str) -> tuple:
    """``ip is at mac``, unicast to the asker."""
    return record(t, REPLY, mac, to_mac, mac, ip, to_mac, to_ip)


def shared_network(layout: Layout, a: Host, b: Host) -> str | None:
    """A network both hosts sit on, preferring one the sensor watches."""
    common = [n for n in a.ips if n in b.ips]
    watched = set(layout.env.spec.sensor.networks)
    return next((n for n in common if n in watched), common[0] if common else None)


def watched(layout: Layout, net: str) -> bool:
    return net in layout.env.spec.sensor.networks


def benign_speaker(host: Host) -> bool:
    """Does ``benign/arp.py`` make ARP for this host? (Not for routers or the attacker's machine,
    so that an attack step's ARP can always be told apart from benign frames.)"""
    return host.role not in ("attacker", "router")
