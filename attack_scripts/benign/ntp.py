"""Clock synchronisation: NTP client queries and server answers.

Windows workstations run w32time (NTP version 3, client mode, source port 123, their own
stratum, poll exponent, precision and reference in the request); Linux servers run
systemd-timesyncd (version 4, client mode, everything zero but the transmit timestamp, an
ephemeral source port). Each query is answered in server mode 4 at stratum 2 with the client's
transmit time as origin and the server's receive and transmit times, as ``ntpd``/``chronyd``
answer. Queries go to the environment's NTP servers if it has any, else to a few public pool
addresses through the gateway. Headers are built once with scapy's NTP layer; the timestamps of
each message are then written into a copy.
"""
from __future__ import annotations

import struct

from scapy.layers.ntp import NTPHeader

from attack_scripts._flood import public_addresses
from range.traffic import BenignContext, BenignKind, UdpExchange, benign, ephemeral_port

NTP_EPOCH = 2208988800  # 1900-01-01 to 1970-01-01
_TS = struct.Struct("!II")


def ntp_ts(t: float) -> bytes:
    sec = int(t)
    return _TS.pack((sec + NTP_EPOCH) & 0xFFFFFFFF, int((t - sec) * 2 ** 32) & 0xFFFFFFFF)


def with_times(template: bytes, ref: float | None = None, orig: bytes | None = None, recv: float | None = None,
               sent: float | None = None) -> bytes:
    b = bytearray(template)
    if ref is not None:
        b[16:24] = ntp_ts(ref)
    if orig is not None:
        b[24:32] = orig
    if recv is not None:
        b[32:40] = ntp_ts(recv)
    if sent is not None:
        b[40:48] = ntp_ts(sent)
    return bytes(b)


def templates(server_ref: str) -> dict[str, bytes]:
    """NTP headers without timestamps, built once with scapy."""
    z = dict(ref=0, orig=0, recv=0, sent=0)
    return {
        "timesyncd": bytes(NTPHeader(leap=0, version=4, mode=3, stratum=0, poll=0, precision=0, **z)),
        "w32time": bytes(NTPHeader(leap=0, version=3, mode=3, stratum=3, poll=10, precision=-23, delay=0.0312,
                                   dispersion=7.7816, id=server_ref, **z)),
        "server4": bytes(NTPHeader(leap=0, version=4, mode=4, stratum=2, poll=0, precision=-24, delay=0.0123,
                                   dispersion=0.0217, id="192.36.143.130", **z)),
        "server3": bytes(NTPHeader(leap=0, version=3, mode=4, stratum=2, poll=10, precision=-24, delay=0.0123,
                                   dispersion=0.0217, id="192.36.143.130", **z)),
    }


@benign
class BenignNtp(BenignKind):
    name = "ntp"
    summary = "NTP client queries (w32time, systemd-timesyncd) and server answers"

    def generate(self, ctx: BenignContext):
        r = ctx.rng
        lay = ctx.layout
        servers = [h.ip for h in ctx.servers("ntp")]
        if not servers:
            avoid = list(lay.subnets.values()) + [n.subnet for n in lay.env.spec.networks]
            servers = public_addresses(r, 3, avoid)
        clients = [h for h in lay.hosts.values() if h.role not in ("attacker", "router")]
        tpl = {s: templates(s) for s in servers}
        last_sync: dict[str, float] = {}
        for t in ctx.times():
            host = r.choice(clients)
            server = r.choice(servers)
            t_ = tpl[server]
            windows = host.role == "workstation"
            if windows:
                ref = last_sync.get(host.ip, t - r.uniform(600, 3600))
                query = with_times(t_["w32time"], ref=ref, sent=t)
                sport = 123
            else:
                query = with_times(t_["timesyncd"], sent=t)
                sport = ephemeral_port(r)
            latency = r.uniform(0.0003, 0.002) if server in lay.by_ip else r.uniform(0.008, 0.04)
            recv = t + latency / 2 + r.uniform(-0.003, 0.003)  # the server's clock is not ours
            answer = with_times(t_["server3" if windows else "server4"], ref=t - r.uniform(16, 1024),
                                orig=query[40:48], recv=recv, sent=recv + r.uniform(0.000015, 0.00006))
            last_sync[host.ip] = t + latency
            yield UdpExchange(t=t, client=host.ip, server=server, sport=sport, dport=123,
                              messages=[(0.0, "c", query), (latency, "s", answer)])
