"""Ordinary ARP on the watched segments: address resolution, cache refreshes, announcements.

Most events are a host's broadcast ``who-has`` for a neighbour and the unicast ``is-at``
answer; hosts also refresh stale entries with a unicast request to the cached MAC; now
and then a host (re)joins the network and runs RFC 5227: three ARP probes from 0.0.0.0, then two
gratuitous announcements, and Windows hosts send a gratuitous ARP reply when an interface comes
up. A rule alerting on "any ARP reply" or "gratuitous ARP" fires here.

Routers and the attacker's machine stay out of it, so that an attack step's ARP (a sweep's
router resolving addresses, a spoofer's replies) never shares a flow with benign frames.
"""
from __future__ import annotations

from attack_scripts import _arp
from range.traffic import BenignContext, BenignKind, RawFrames, benign


@benign
class BenignArp(BenignKind):
    name = "arp"
    summary = "who-has/is-at resolution, unicast refreshes, RFC 5227 probes and gratuitous ARP"

    def generate(self, ctx: BenignContext):
        r = ctx.rng
        lay = ctx.layout
        nets: dict[str, list] = {}
        for net in lay.env.spec.sensor.networks:
            members = [h for h in lay.hosts.values() if net in h.ips and _arp.benign_speaker(h)]
            if len(members) >= 2:
                nets[net] = members
        if not nets:
            return
        names = sorted(nets)
        frames: list[tuple] = []
        for t in ctx.times():
            net = r.choice(names)
            a, b = r.sample(nets[net], 2)
            a_ip, a_mac, b_ip, b_mac = a.ips[net], a.macs[net], b.ips[net], b.macs[net]
            roll = r.random()
            if roll < 0.6:
                frames.append(_arp.who_has(t, a_mac, a_ip, b_ip))
                frames.append(_arp.is_at(t + r.uniform(0.00005, 0.0006), b_mac, b_ip, a_mac, a_ip))
            elif roll < 0.85:  # refresh of a stale cache entry: unicast to the cached MAC
                frames.append(_arp.who_has(t, a_mac, a_ip, b_ip, unicast_to=b_mac))
                frames.append(_arp.is_at(t + r.uniform(0.00005, 0.0006), b_mac, b_ip, a_mac, a_ip))
            elif roll < 0.95 or a.role != "workstation":  # RFC 5227 on (re)connect: probes, announcements
                u = t
                for _ in range(3):
                    frames.append(
                        _arp.record(u, _arp.REQUEST, a_mac, _arp.BROADCAST, a_mac, "0.0.0.0", _arp.ZERO_MAC, a_ip)
                    )
                    u += r.uniform(1.0, 2.0)
                u += 2.0
                for _ in range(2):
                    frames.append(_arp.record(u, _arp.REQUEST, a_mac, _arp.BROADCAST, a_mac, a_ip, _arp.ZERO_MAC, a_ip))
                    u += 2.0
            else:  # Windows: gratuitous ARP reply when the link comes up
                frames.append(_arp.record(t, _arp.REPLY, a_mac, _arp.BROADCAST, a_mac, a_ip, _arp.BROADCAST, a_ip))
        yield RawFrames(frames)
