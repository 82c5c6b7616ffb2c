"""A team's copy of an environment: its own subnets, host addresses and MAC addresses.

A :class:`Layout` is derived from (seed, team) so that teams cannot copy answers; the live range
passes the subnets it allocated per session instead.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from functools import cached_property

from range.core import InputError, derive, rng
from range.topology.environment import Environment


@dataclass
class Host:
    name: str
    role: str
    hostname: str
    services: list[str]
    ips: dict[str, str]  # network -> address
    macs: dict[str, str]  # network -> MAC

    @property
    def ip(self) -> str:
        return next(iter(self.ips.values()))

    @property
    def mac(self) -> str:
        return next(iter(self.macs.values()))


@dataclass
class Layout:
    env: Environment
    team: str
    seed: int
    subnets: dict[str, ipaddress.IPv4Network]
    hosts: dict[str, Host] = field(default_factory=dict)

    def host(self, name: str) -> Host:
        return self.hosts[name]

    def network_of(self, ip: str) -> str | None:
        a = ipaddress.IPv4Address(ip)
        for net, sub in self.subnets.items():
            if a in sub:
                return net
        return None

    def path(self, src: Host, dst_ip: str) -> tuple[str, str, str]:
        """(network, source MAC, next-hop MAC) for a packet from ``src`` to ``dst_ip``.

        On the same network the next hop is the destination; otherwise the sender's gateway.
        Addresses outside every subnet of the range are routed through the gateway too.
        """
        dnet = self.network_of(dst_ip)
        for net, ip in src.ips.items():
            if net == dnet:
                dst = self.by_ip.get(dst_ip)
                return net, src.macs[net], dst.macs[net] if dst else self.mac_for(dst_ip)
        net = next(iter(src.ips))
        gw = self.env.networks[net].gateway
        if gw and gw in self.hosts:
            return net, src.macs[net], self.hosts[gw].macs[net]
        return net, src.macs[net], self.mac_for(dst_ip)

    def mac_for(self, ip: str) -> str:
        return mac_address(self.team, "ip", ip)

    @cached_property
    def by_ip(self) -> dict[str, Host]:
        return {ip: h for h in self.hosts.values() for ip in h.ips.values()}


def mac_address(*parts: object) -> str:
    """A locally administered MAC in Docker's 02:42 space (no vendor name in Wireshark)."""
    d = derive("mac", *parts).to_bytes(8, "big")
    return "02:42:" + ":".join(f"{b:02x}" for b in d[:4])


def layout(env: Environment, team: str, seed: int, subnets: dict[str, ipaddress.IPv4Network] | None = None) -> Layout:
    """One team's addresses. ``subnets`` fixes each network's team subnet (the live range
    allocates distinct ones per session); otherwise each is drawn from (seed, team)."""
    chosen: dict[str, ipaddress.IPv4Network] = {}
    for net in env.spec.networks:
        if subnets and net.name in subnets:
            chosen[net.name] = subnets[net.name]
            continue
        count = 2 ** (net.team_prefix - net.subnet.prefixlen)
        index = derive("subnet", seed, team, net.name) % count
        size = 2 ** (32 - net.team_prefix)
        chosen[net.name] = ipaddress.IPv4Network((int(net.subnet.network_address) + index * size, net.team_prefix))
    out = Layout(env, team, seed, chosen)
    used: dict[str, set[int]] = {n: set() for n in chosen}
    for node in env.spec.nodes:
        for a in node.networks:
            if a.host is not None:
                used[a.network].add(a.host)
    for node in env.spec.nodes:
        ips, macs = {}, {}
        for a in node.networks:
            sub = chosen[a.network]
            last = sub.num_addresses - 2
            if a.host is not None:
                if a.host > last:
                    raise InputError(f"node {node.name}: host {a.host} does not fit in a /{sub.prefixlen}",
                                     file=str(env.path))
                h = a.host
            else:
                r = rng("host", seed, team, node.name, a.network)
                h = r.randint(2, last)
                while h in used[a.network]:
                    h = r.randint(2, last)
            used[a.network].add(h)
            ips[a.network] = str(sub.network_address + h)
            macs[a.network] = mac_address(team, node.name, a.network)
        out.hosts[node.name] = Host(node.name, node.role, node.hostname or node.name, list(node.services), ips, macs)
    return out

