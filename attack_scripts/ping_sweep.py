"""ICMP echo ping sweep (``fping -a -g TARGET/24``, ``nmap -sn -PE``), MITRE ATT&CK T1018
Remote System Discovery.

Imitates fping walking every address of the block around each target (``prefix``, clipped to
the team's subnet; the subnet's network and broadcast addresses skipped, the scanner's own too) at
``rate`` addresses per second: one ICMP echo request per address, fping's way (one identifier
for the whole run, ``size`` bytes of zeros as data), ``count`` requests 1 s apart per live host.

What the sensor sees is what a kernel does with that: an IP packet cannot be sent before the
next hop's MAC is known, so each address costs first an ARP ``who-has`` broadcast, from the
scanner when it sits on the swept network, or from the network's router when the sweep comes
from elsewhere. Live hosts (the nodes of the environment) answer ``is-at``, then get the echo
request and answer an echo reply. Addresses with nobody behind them are asked three times,
1 s apart (Linux's ``mcast_solicit``), and never see an echo request.

Wireshark shows a burst of ``arp.opcode == 1`` broadcasts for consecutive addresses from one
sender, most unanswered, and ``icmp.type == 8`` requests from the scanner to every live host,
each answered by ``icmp.type == 0``.
"""
from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field

from attack_scripts import _arp
from range.core import Strict
from range.traffic import IcmpEcho, RawFrames, StepContext, Technique, technique

PERIOD = 1.0  # fping -p: 1000 ms between requests to one target


class Params(Strict):
    prefix: int = Field(
        default=24,
        ge=16,
        le=30,
        description="block swept around each target (fping -g TARGET/PREFIX), clipped to the team subnet",
    )
    rate: float = Field(default=100, gt=0, le=10000, description="addresses per second (fping -i 10 ms: 100)")
    count: int = Field(default=1, ge=1, le=10, description="echo requests per live host, 1 s apart (fping -c)")
    size: int = Field(default=56, ge=0, le=1472, description="ICMP data bytes (fping -b); fping sends zeros")
    order: Literal["sequential", "random"] = Field(
        default="sequential", description="fping walks addresses in order; nmap shuffles them"
    )


def sweep_blocks(ctx: StepContext, prefix: int) -> list[tuple[str, ipaddress.IPv4Network]]:
    """(network name, block) for every distinct block holding a target, in target order."""
    out: list[tuple[str, ipaddress.IPv4Network]] = []
    for host in ctx.targets:
        for net, ip in host.ips.items():
            sub = ctx.layout.subnets[net]
            block = ipaddress.IPv4Network(f"{ip}/{prefix}", strict=False)
            if block.prefixlen < sub.prefixlen:
                block = sub
            if (net, block) not in out:
                out.append((net, block))
            break  # a host's first address names it, as for every other technique
    return out


@technique
class PingSweep(Technique):
    name = "ping_sweep"
    attack = "T1018"
    tactic = "discovery"
    summary = "fping / nmap -sn ICMP echo sweep of the targets' subnet"
    Params = Params
    min_targets = 1

    def duration(self, p: Params) -> float:
        addresses = 2 ** (32 - p.prefix)
        return addresses / p.rate + max(_arp.LINUX_SOLICIT[-1], (p.count - 1) * PERIOD) + 0.05

    def generate(self, ctx: StepContext):
        p: Params = ctx.params
        r = ctx.rng
        lay = ctx.layout
        src = ctx.source
        blocks = sweep_blocks(ctx, p.prefix)
        ident = r.randint(1000, 65535)  # fping: one identifier (its pid) for every request
        data = bytes(p.size)
        gap = 1.0 / p.rate / len(blocks)
        arp: list[tuple] = []
        own = set(src.ips.values())
        for b, (net, block) in enumerate(blocks):
            sub = lay.subnets[net]  # no host has the subnet's own network or broadcast address
            addrs = [str(a) for a in block if a not in (sub.network_address, sub.broadcast_address)]
            if p.order == "random":
                r.shuffle(addrs)
            local = net in src.ips
            gw = lay.env.networks[net].gateway
            if local:
                asker_ip, asker_mac = src.ips[net], src.macs[net]
            elif gw and gw in lay.hosts and net in lay.hosts[gw].ips:
                asker_ip, asker_mac = lay.hosts[gw].ips[net], lay.hosts[gw].macs[net]
            else:
                asker_ip = asker_mac = None
            visible = _arp.watched(lay, net)
            client = src.ips.get(net, src.ip)
            for j, addr in enumerate(addrs):
                if addr in own or addr == asker_ip:
                    continue  # its own address never reaches the wire; a router answers for itself
                t = ctx.t0 + (j * len(blocks) + b) * gap
                live = lay.by_ip.get(addr)
                if not local:
                    t += r.uniform(0.0001, 0.0004)  # forwarded by the router
                echo_at = t
                if asker_ip and visible:
                    if live is None:
                        for k in _arp.LINUX_SOLICIT:
                            arp.append(_arp.who_has(t + k, asker_mac, asker_ip, addr))
                        continue
                    arp.append(_arp.who_has(t, asker_mac, asker_ip, addr))
                    answer = t + r.uniform(0.0001, 0.0005)
                    arp.append(_arp.is_at(answer, live.macs[net], addr, asker_mac, asker_ip))
                    echo_at = answer + r.uniform(0.00002, 0.0001)
                elif live is None:
                    continue
                yield IcmpEcho(
                    t=echo_at,
                    client=client,
                    server=addr,
                    ident=ident,
                    payloads=[(0.0 if i == 0 else PERIOD, data) for i in range(p.count)],
                    rtt=r.uniform(0.0002, 0.0008),
                )
        if arp:
            yield RawFrames(arp)
