"""Which IP layers of a packet make connections, read from tshark's ``frame.protocols``.

A packet may carry several IP headers: a VXLAN, Geneve, Teredo, AYIYA or GTP tunnel over UDP, GRE
or IP in IP. Zeek logs a connection for each UDP tunnel's outer flow and one for the inner flow
(whose ``tunnel_parents`` names the outer uid); GRE and IP in IP have no connection of their own.
:func:`plan` turns a protocols string (``eth:ethertype:ip:udp:vxlan:eth:ethertype:ip:tcp:http``)
into the list of :class:`Hop` to process, outermost first; it is computed once per distinct
string. An ICMP message ends the walk: what follows it is the packet it quotes.
"""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from range.events.ports import IP_TUNNELS, TUNNELS

TRANSPORTS = ("tcp", "udp", "icmp", "icmpv6")


class Hop(NamedTuple):
    net: str           # "ip" or "ipv6"
    net_idx: int       # which occurrence of the ip.* (ipv6.*) fields is this header's
    kind: str          # tcp, udp, icmp, icmpv6; "tunnel" (IP in IP, GRE: the next hop is inside); "other"
    tr_idx: int        # which occurrence of the transport's fields
    tunnel: str | None  # the UDP tunnel this hop's payload is (Zeek's service name), if any
    apps: tuple        # the dissectors above the transport (innermost hop only)
    ext: tuple = ()    # IPv6: (field, occurrence) of its extension headers' lengths
    frag: bool = False  # IPv6: a fragment header follows


class Plan(NamedTuple):
    hops: tuple
    arp: bool
    malformed: bool
    multi: bool        # several IP or transport layers: fields hold one value per layer
    undecoded: bool    # tshark read no link layer at all (an unknown link type)


@lru_cache(maxsize=4096)
def plan(protocols: str) -> Plan:
    tokens = protocols.split(":")
    counts: dict[str, int] = {}
    hops = []
    arp = False
    n = len(tokens)
    i = 0
    while i < n:
        tok = tokens[i]
        if tok == "arp" and not hops:
            arp = True
            break
        if tok not in ("ip", "ipv6"):
            if tok in TRANSPORTS:
                counts[tok] = counts.get(tok, 0) + 1
            i += 1
            continue
        idx = counts.get(tok, 0)
        counts[tok] = idx + 1
        j = i + 1
        ext = []
        frag = "ipv6.fraghdr" in tokens[i + 1:i + 4]
        while j < n and tokens[j].startswith("ipv6."):  # extension headers
            if tokens[j] in ("ipv6.hopopts", "ipv6.dstopts"):
                k = counts.get(tokens[j], 0)
                counts[tokens[j]] = k + 1
                ext.append((tokens[j], k))
            j += 1
        nxt = tokens[j] if j < n else None
        ext = tuple(ext)
        if nxt in TRANSPORTS:
            tidx = counts.get(nxt, 0)
            counts[nxt] = tidx + 1
            after = tokens[j + 1] if j + 1 < n else None
            if nxt == "udp" and after in TUNNELS:
                hops.append(Hop(tok, idx, nxt, tidx, TUNNELS[after], (), ext, frag))
                i = j + 2
                continue
            hops.append(Hop(tok, idx, nxt, tidx, None, tuple(tokens[j + 1:]), ext, frag))
            break
        if nxt in ("ip", "ipv6") or nxt in IP_TUNNELS:
            hops.append(Hop(tok, idx, "tunnel", 0, None, (), ext, frag))
            i = j
            continue
        hops.append(Hop(tok, idx, "other", 0, None, (), ext, frag))
        break
    layers = sum(1 for t in tokens if t in ("ip", "ipv6") or t in TRANSPORTS)
    return Plan(tuple(hops), arp, "_ws.malformed" in tokens, layers > 2, tokens[0] in ("data", ""))
