"""Domain generation algorithm lookups (Necurs, Ramnit, Conficker), MITRE ATT&CK T1568.002
Dynamic Resolution: Domain Generation Algorithms.

Imitates malware on a workstation looking for its command-and-control server: it computes the
day's candidate domains with its DGA and resolves them through the office resolver (a target
running ``dns``) in bursts of ``domains_per_burst`` at ``rate`` lookups per second, one burst
every ``interval`` seconds. The operators registered only one candidate, so the others come back
NXDOMAIN; after ``resolve_after`` NXDOMAIN answers the next candidate resolves to the C2
address, the malware stops generating and (with ``connect``, the default) opens a TCP
connection to that address on ``c2_port`` and exchanges a short binary check-in (Ramnit-like:
``00 ff``, a little-endian length, a command byte, an encrypted body), not TLS. With
``registered: false`` no candidate resolves and the malware only ever sees NXDOMAIN.

``family`` picks the algorithm, all seeded from the step's random stream (a per-botnet seed):

* ``necurs`` (default): Necurs' DGA as published in reimplementations: a 64-bit mixing function
  over the date, a seed and the domain index; 7-21 letters a-y under one of 43 TLDs
  (``.tj``, ``.in``, ``.jp``, ... ``.com``, ``.net``, ``.bit``);
* ``ramnit``: Ramnit's DGA: a Park-Miller generator, 8-19 letters a-y under ``.com``;
* ``conficker``: Conficker.B-like: 8-11 letters under .com/.net/.org/.info/.biz/.ws/.cn/.cc.

Lookups go through the workstation's stub resolver, each from a fresh source port and each for
an A record, like any application's. Wireshark shows bursts of ``dns.qry.type == 1`` queries for
random-looking names (``dns.qry.name.len`` 10-25) from one host, almost all answered
``dns.flags.rcode == 3`` (NXDOMAIN), then one ``dns.a`` answer and a ``tcp.flags.syn`` to that
address.
"""
from __future__ import annotations

import datetime as dt
import struct
from typing import Literal

from pydantic import Field, model_validator

from attack_scripts import _dns
from range.core import Seconds, Strict
from range.traffic import StepContext, TcpSession, Technique, ephemeral_port, technique

NECURS_TLDS = ["tj", "in", "jp", "tw", "ac", "cm", "la", "mn", "so", "sh", "sc", "nu", "nf", "mu", "ms", "mx",
               "ki", "im", "cx", "cc", "tv", "bz", "me", "eu", "de", "ru", "co", "su", "pw", "kz", "sx", "us",
               "ug", "ir", "to", "ga", "com", "net", "org", "biz", "xxx", "pro", "bit"]
CONFICKER_TLDS = ["com", "net", "org", "info", "biz", "ws", "cn", "cc"]
M64 = (1 << 64) - 1
M32 = (1 << 32) - 1
BURST_SPREAD = 1.3  # a lookup follows the previous one after at most 1.3 / rate seconds
START_JITTER = 0.5
CONNECT_BUDGET = 2.0
MAX_LOOKUPS = 5000


def _necurs_mix(v: int) -> int:
    for i in range((v & 0x7F) + 21):
        v = (v + (((v * 7) ^ (v << 15)) + 8 * i - (v >> 5))) & M64
    return v


def necurs(seed: int, day: dt.date, count: int) -> list[str]:
    out = []
    for nr in range(count):
        n = _necurs_mix(day.year)
        n = _necurs_mix(n + day.month + 43690)
        n = _necurs_mix(n + (day.day >> 2))
        n = _necurs_mix(n + nr)
        n = _necurs_mix(n + seed)
        label = ""
        for i in range(n % 15 + 7):
            n = _necurs_mix(n + i)
            label += chr(ord("a") + n % 25)
            n = _necurs_mix(n + 0xABBEDF)
        out.append(f"{label}.{NECURS_TLDS[n % len(NECURS_TLDS)]}")
    return out


class _ParkMiller:
    def __init__(self, seed: int):
        self.seed = seed & M32 or 1

    def mod(self, m: int) -> int:
        ix = self.seed
        self.seed = (16807 * (ix % 127773) - 2836 * (ix // 127773)) & M32
        return self.seed % m


def ramnit(seed: int, count: int) -> list[str]:
    g = _ParkMiller(seed)
    out = []
    for _ in range(count):
        seed_a = g.seed
        n = g.mod(12) + 8
        seed_b = g.seed
        out.append("".join(chr(ord("a") + g.mod(25)) for _ in range(n)) + ".com")
        m = seed_a * seed_b
        g.seed = (m + (m >> 32)) & M32 or 1
    return out


def conficker(seed: int, count: int) -> list[str]:
    g = _ParkMiller(seed)
    return ["".join(chr(ord("a") + g.mod(26)) for _ in range(8 + g.mod(4))) + "." + CONFICKER_TLDS[g.mod(8)]
            for _ in range(count)]


def candidates(family: str, seed: int, day: dt.date, count: int) -> list[str]:
    """``count`` distinct candidate domains in the family's order."""
    want, n = [], count
    while True:
        if family == "necurs":
            names = necurs(seed, day, n)
        elif family == "ramnit":
            names = ramnit(seed, n)
        else:
            names = conficker(seed, n)
        want = list(dict.fromkeys(names))
        if len(want) >= count:
            return want[:count]
        n += count - len(want)


class Params(Strict):
    family: Literal["necurs", "ramnit", "conficker"] = "necurs"
    domains_per_burst: int = Field(default=30, ge=1, le=MAX_LOOKUPS, description="lookups in one burst")
    bursts: int = Field(default=3, ge=1, le=100)
    interval: Seconds = Field(default=60, gt=0, le=86400, description="seconds from one burst's start to the next")
    rate: float = Field(default=8, gt=0, le=200, description="lookups per second within a burst")
    resolve_after: int | None = Field(
        default=None,
        ge=0,
        le=MAX_LOOKUPS,
        description="NXDOMAIN answers before the registered domain resolves; default: all but the last lookup",
    )
    registered: bool = Field(default=True, description="false: no candidate resolves")
    connect: bool = Field(default=True, description="connect to the C2 address once a domain resolves")
    c2_port: int = Field(default=443, ge=1, le=65535)

    @model_validator(mode="after")
    def _check(self) -> "Params":
        total = self.domains_per_burst * self.bursts
        if total > MAX_LOOKUPS:
            raise ValueError(
                f"{self.bursts} bursts of {self.domains_per_burst} make {total} lookups; "
                f"at most {MAX_LOOKUPS} (a DGA's whole daily list)"
            )
        if self.resolve_after is not None and self.resolve_after >= total:
            raise ValueError(
                f"resolve_after {self.resolve_after} is not below the {total} lookups "
                f"({self.bursts} bursts of {self.domains_per_burst}); the registered domain would "
                f"never be looked up"
            )
        if self.resolve_after is not None and not self.registered:
            raise ValueError("resolve_after needs registered: true")
        burst = self.burst_length
        if self.bursts > 1 and self.interval < burst + START_JITTER:
            raise ValueError(
                f"interval {self.interval:g}s is shorter than one burst ({self.domains_per_burst} "
                f"lookups at {self.rate:g}/s take up to {burst + START_JITTER:.3g}s); "
                f"raise interval or rate"
            )
        return self

    @property
    def burst_length(self) -> float:
        return self.domains_per_burst * BURST_SPREAD / self.rate + 0.2

    @property
    def success_index(self) -> int | None:
        if not self.registered:
            return None
        return self.resolve_after if self.resolve_after is not None else self.domains_per_burst * self.bursts - 1


_C2_FIRST = [
    5,
    31,
    37,
    45,
    46,
    62,
    77,
    79,
    80,
    89,
    91,
    94,
    109,
    141,
    146,
    176,
    178,
    185,
    188,
    193,
    194,
    195,
    212,
    213,
    217,
]


def c2_address(rng, layout) -> str:
    while True:
        ip = f"{rng.choice(_C2_FIRST)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        if layout.network_of(ip) is None and ip not in layout.by_ip:
            return ip


def frame(cmd: int, body: bytes) -> bytes:
    return b"\x00\xff" + struct.pack("<I", len(body) + 1) + bytes([cmd]) + body


@technique
class DgaLookups(Technique):
    name = "dga_lookups"
    attack = "T1568.002"
    tactic = "command-and-control"
    summary = "malware resolving DGA domains in bursts: NXDOMAIN after NXDOMAIN, then its C2"
    Params = Params
    min_targets = 1
    max_targets = 1
    target_services = ("dns",)

    def duration(self, p: Params) -> float:
        return (p.bursts - 1) * p.interval + START_JITTER + p.burst_length + (CONNECT_BUDGET if p.connect else 0) + 1.0

    def generate(self, ctx: StepContext):
        p: Params = ctx.params
        r = ctx.rng
        src, resolver = ctx.source.ip, ctx.targets[0].ip
        day = dt.datetime.fromtimestamp(ctx.t0, tz=dt.timezone.utc).date()
        seed = r.getrandbits(32)
        win = p.success_index
        names = candidates(p.family, seed, day, p.domains_per_burst * p.bursts if win is None else win + 1)
        c2 = c2_address(r, ctx.layout)
        i = 0
        for b in range(p.bursts):
            t = ctx.t0 + b * p.interval + (r.uniform(0, START_JITTER) if b else 0.0)
            for _ in range(p.domains_per_burst):
                name = names[i]
                if i == win:
                    lat = r.uniform(0.02, 0.15)
                    yield _dns.lookup(
                        r, t, src, resolver, name, "A", [(name, "A", c2, r.choice([60, 300, 600]))], latency=lat
                    )
                    if p.connect:
                        body = r.randbytes(r.randint(24, 120))
                        reply = r.randbytes(r.randint(8, 64))
                        rtt = r.uniform(0.03, 0.15)
                        yield TcpSession(
                            t=t + lat + r.uniform(0.005, 0.3),
                            client=src,
                            server=c2,
                            sport=ephemeral_port(r),
                            dport=p.c2_port,
                            rtt=rtt,
                            messages=[
                                (r.uniform(0.0005, 0.005), "c", frame(0x13, body)),
                                (rtt, "s", frame(0x01, reply)),
                            ],
                            close="client_fin",
                        )
                    return
                yield _dns.lookup(r, t, src, resolver, name, "A", [], rcode="NXDOMAIN", latency=r.uniform(0.015, 0.12))
                i += 1
                t += r.uniform(0.7, BURST_SPREAD) / p.rate
