"""TCP SYN flood (``hping3 -S --flood``, a botnet), MITRE ATT&CK T1498.001
Network Denial of Service: Direct Network Flood.

Imitates a flood of bare SYNs at one open TCP port of the target, at ``rate`` packets per second:

* ``spoof: botnet`` (default): ``sources`` bot addresses drawn from ``prefixes`` random public
  /16 networks, each SYN from a random bot and random source port, with a common client SYN
  fingerprint (window 64240, MSS/WS/SACK options) and, arriving from outside, each bot's own TTL;
* ``spoof: random``: ``hping3 -S -p PORT --flood --rand-source``: a new random public source
  address per packet, source ports counting up from a random base, hping3's fingerprint
  (window 64, no options, random IP id, TTL 64).

The victim's kernel answers SYN/ACK (retransmitted after 1, 3, 7, 15 and 31 s, as Linux does)
while its SYN backlog has room (``backlog`` half-open connections; a slot frees 63 s after its
SYN), then drops SYNs silently; ``syncookies: true`` answers every SYN with a cookie SYN/ACK
instead, and a closed port answers every SYN with RST/ACK. The spoofed sources never answer.
Frames sent from the range's own segment keep the sender's real MAC (a spoofer gives itself away
at layer 2); from outside they arrive through the network's gateway.

Wireshark shows tens of thousands of ``tcp.flags == 0x002`` packets to one port from many
sources within seconds, a few hundred SYN/ACKs and their retransmissions, and no completed
handshake. Frames come from :class:`attack_scripts._flood.TcpTemplate` (one struct call each).
"""
from __future__ import annotations

from collections import deque
from typing import Literal

from pydantic import Field, model_validator

from attack_scripts._flood import (
    _FRAME,
    TcpTemplate,
    addr_info,
    public_addresses,
    public_prefixes,
)
from range.core import RangeError, Strict
from range.topology import SERVICES
from range.traffic import RawFrames, StepContext, Technique, technique, wire

TCP_SERVICES = tuple(sorted(n for n, s in SERVICES.items() if s.proto == "tcp"))
SYNACK_RETRIES = (1.0, 3.0, 7.0, 15.0, 31.0)  # Linux tcp_synack_retries=5, initial RTO 1 s
SYN_RECV_LIFETIME = 63.0  # a half-open connection leaves the queue after its last retry times out


class Params(Strict):
    packets: int = Field(default=20000, ge=1, le=5_000_000, description="SYNs sent")
    rate: float = Field(default=2000, gt=0, le=1_000_000, description="SYNs per second")
    port: int | None = Field(default=None, ge=1, le=65535,
                             description="target port; default: the target's first TCP service")
    spoof: Literal["botnet", "random"] = Field(default="botnet", description="botnet addresses or hping3 --rand-source")
    sources: int = Field(default=500, ge=1, le=100_000, description="bot addresses (spoof: botnet)")
    prefixes: int = Field(default=4, ge=1, le=16, description="public /16 networks the bots are in (spoof: botnet)")
    backlog: int = Field(default=256, ge=0, le=65535, description="half-open connections the victim keeps")
    syncookies: bool = Field(default=False, description="the victim answers every SYN with a cookie")

    @model_validator(mode="after")
    def _consistent(self) -> "Params":
        if self.spoof == "random" and self.model_fields_set & {"sources", "prefixes"}:
            raise ValueError("sources and prefixes choose the bot addresses of spoof: botnet; "
                             "spoof: random draws a new address per packet")
        if self.sources < self.prefixes:
            raise ValueError(f"{self.sources} source(s) cannot fill {self.prefixes} prefixes; "
                             f"give at least one source per prefix")
        if self.sources > self.prefixes * 60000:
            raise ValueError(f"{self.sources} sources do not fit in {self.prefixes} /16 prefixes; "
                             f"raise prefixes")
        return self


def victim_network(ctx: StepContext, victim) -> str:
    watched = set(ctx.layout.env.spec.sensor.networks)
    return next((n for n in victim.ips if n in watched), next(iter(victim.ips)))


@technique
class SynFlood(Technique):
    name = "syn_flood"
    attack = "T1498.001"
    tactic = "impact"
    summary = "hping3/botnet TCP SYN flood against one open port"
    Params = Params
    min_targets = 1
    max_targets = 1
    target_services = TCP_SERVICES

    def duration(self, p: Params) -> float:
        return p.packets / p.rate + 1.0

    def generate(self, ctx: StepContext):
        p: Params = ctx.params
        r = ctx.rng
        lay = ctx.layout
        victim = ctx.targets[0]
        net = victim_network(ctx, victim)
        open_ports = [SERVICES[s].port for s in victim.services if SERVICES[s].proto == "tcp"]
        if p.port is None and not open_ports:
            raise RangeError(
                f"step {ctx.step_id!r}: syn_flood target {victim.name!r} runs no TCP service; give params.port"
            )
        dport = p.port or open_ports[0]
        listening = dport in open_ports
        gw = lay.env.networks[net].gateway
        gw_mac = wire.mac(lay.hosts[gw].macs[net]) if gw and gw in lay.hosts else None
        local = net in ctx.source.macs  # the flooder sits on the victim's own segment
        src_mac = wire.mac(ctx.source.macs[net]) if local else gw_mac
        avoid = list(lay.subnets.values()) + [n.subnet for n in lay.env.spec.networks]
        vmac = wire.mac(victim.macs[net])
        vip = victim.ips[net]
        vaddr = addr_info(vip)
        n = p.packets

        # pool entries: (address, addr_info, ttl, MAC the frame arrives from)
        pool: list[tuple[str, tuple[bytes, int], int, bytes]] = []
        if p.spoof == "botnet":
            prefixes = public_prefixes(r, p.prefixes, avoid)
            seen: set[str] = set()
            while len(pool) < p.sources:
                a, b = prefixes[len(pool) % len(prefixes)]
                ip = f"{a}.{b}.{r.randint(0, 255)}.{r.randint(1, 254)}"
                if ip in seen:
                    continue
                seen.add(ip)
                ttl = 64 if local else r.choice((64, 128)) - r.randint(8, 22)
                pool.append((ip, addr_info(ip), ttl, src_mac or wire.mac(lay.mac_for(ip))))
            picks = r.choices(range(len(pool)), k=n)
            tpl = TcpTemplate(wire.SYN, window=64240, options=wire.SYN_OPTIONS)
            sport_base = None
        else:
            ttl = 64 if local else 64 - r.randint(8, 22)
            for ip in public_addresses(r, n, avoid):
                pool.append((ip, addr_info(ip), ttl, src_mac or wire.mac(lay.mac_for(ip))))
            picks = range(n)
            tpl = TcpTemplate(wire.SYN, window=64)
            sport_base = r.randint(1024, 65535)

        offered = bool(tpl.options)
        synack = TcpTemplate(
            wire.SYN | wire.ACK,
            window=65160 if offered else 64240,
            df=True,
            options=wire.SYNACK_OPTIONS if offered else wire.tcp_options(("mss", 1460)),
        )
        rstack = TcpTemplate(wire.RST | wire.ACK, window=0, df=True)
        reply_mac: dict[str, bytes] = {}

        def out_mac(ip: str) -> bytes:  # the victim answers through its default route
            m = reply_mac.get(ip)
            if m is None:
                m = reply_mac[ip] = gw_mac or wire.mac(lay.mac_for(ip))
            return m

        gap = 1.0 / p.rate
        t0 = ctx.t0
        end = t0 + self.duration(p)
        bits = r.getrandbits
        rand = r.random
        syns: list = []
        replies: list = []
        add, add_reply = syns.append, replies.append
        queue: deque[float] = deque()
        # TcpTemplate.render inlined: per packet only these sums and one pack
        pack, opts, ethtype = _FRAME.pack, tpl.options, wire.ETH_IPV4
        tos, total, frag, off, flags, window = tpl.tos, tpl.total, tpl.frag, tpl.off, tpl.flags, tpl.window
        ip_base = tpl.ip_base + vaddr[1]
        tcp_base = tpl.tcp_base + vaddr[1] + dport
        vbytes = vaddr[0]
        for i, k in enumerate(picks):
            ip, info, ttl, smac = pool[k]
            t = t0 + (i + 0.9 * rand()) * gap
            sport = (1024 + bits(16) % 64512) if sport_base is None else 1024 + (sport_base - 1024 + i) % 64512
            seq = bits(32)
            ident = bits(16)
            c = ip_base + (ttl << 8) + ident + info[1]
            c = (c & 0xFFFF) + (c >> 16)
            c = (c & 0xFFFF) + (c >> 16)
            d = tcp_base + info[1] + sport + (seq >> 16) + (seq & 0xFFFF)
            d = (d & 0xFFFF) + (d >> 16)
            d = (d & 0xFFFF) + (d >> 16)
            f = pack(
                vmac,
                smac,
                ethtype,
                0x45,
                tos,
                total,
                ident,
                frag,
                ttl,
                wire.PROTO_TCP,
                c ^ 0xFFFF,
                info[0],
                vbytes,
                sport,
                dport,
                seq,
                0,
                off,
                flags,
                window,
                d ^ 0xFFFF,
                0,
            )
            key = (ip, vip, "tcp", sport, dport, None)
            add((t, f + opts if opts else f, key))
            rt = t + 0.00005 + 0.0002 * rand()
            if not listening:
                add_reply(
                    (
                        rt,
                        rstack.render(vmac, out_mac(ip), vaddr, info, 64, 0, dport, sport, 0, (seq + 1) & 0xFFFFFFFF),
                        key,
                    )
                )
                continue
            if not p.syncookies:
                while queue and queue[0] <= t:
                    queue.popleft()
                if len(queue) >= p.backlog:
                    continue  # SYN queue full: dropped without an answer
                queue.append(t + SYN_RECV_LIFETIME)
            f = synack.render(vmac, out_mac(ip), vaddr, info, 64, 0, dport, sport, bits(32), (seq + 1) & 0xFFFFFFFF)
            add_reply((rt, f, key))
            if not p.syncookies:
                for back in SYNACK_RETRIES:
                    if rt + back > end:
                        break
                    add_reply((rt + back, f, key))
        yield RawFrames(syns)
        if replies:
            yield RawFrames(replies)
