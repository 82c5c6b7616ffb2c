"""TCP SYN port scan (``nmap -sS``), MITRE ATT&CK T1046 Network Service Discovery.

Imitates nmap's half-open scan: probes sent from one raw-socket source port with nmap's
fingerprint (window 1024, a single MSS option), ports in random order at a steady rate. Open
ports answer SYN/ACK and the scanner's kernel resets them; closed ports answer RST/ACK.
Wireshark shows hundreds of ``tcp.flags == 0x002`` probes from one source to many ports.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from range.core import Strict
from range.topology import SERVICES
from range.traffic import StepContext, TcpSession, Technique, technique, wire

# nmap's 100 most common TCP ports (nmap-services frequency order)
TOP100 = [7, 9, 13, 21, 22, 23, 25, 26, 37, 53, 79, 80, 81, 88, 106, 110, 111, 113, 119, 135, 139, 143, 144,
          179, 199, 389, 427, 443, 444, 445, 465, 513, 514, 515, 543, 544, 548, 554, 587, 631, 646, 873, 990,
          993, 995, 1025, 1026, 1027, 1028, 1029, 1110, 1433, 1720, 1723, 1755, 1900, 2000, 2001, 2049, 2121,
          2717, 3000, 3128, 3306, 3389, 3986, 4899, 5000, 5009, 5051, 5060, 5101, 5190, 5357, 5432, 5631,
          5666, 5800, 5900, 6000, 6001, 6646, 7070, 8000, 8008, 8009, 8080, 8081, 8443, 8888, 9100, 9999,
          10000, 32768, 49152, 49153, 49154, 49155, 49156, 49157]


MAX_PORTS = 65535  # probes per target: every TCP port once
MAX_SPEC = 1000  # characters of a port specification
MAX_TARGETS = 16  # with MAX_PORTS: at most ~1M probes in one step


def port_count(spec: str | list[int]) -> int:
    """How many probes per target ``spec`` names, counted without building the list."""
    if isinstance(spec, list):
        return len(spec)
    if spec == "top100":
        return len(TOP100)
    n = 0
    for part in spec.split(","):
        lo, _, hi = part.strip().partition("-")
        try:
            a, b = int(lo), int(hi or lo)
        except ValueError:
            raise ValueError(f"bad port range {part.strip()!r}") from None
        if not (1 <= a <= b <= 65535):
            raise ValueError(f"bad port range {part!r}")
        n += b - a + 1
    return n


def parse_ports(spec: str | list[int]) -> list[int]:
    if isinstance(spec, list):
        return spec
    if spec == "top100":
        return list(TOP100)
    if port_count(spec) > MAX_PORTS:
        raise ValueError(f"more than {MAX_PORTS} ports")
    ports: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.strip().partition("-")
        a, b = int(lo), int(hi or lo)
        ports.extend(range(a, b + 1))
    return ports


class Params(Strict):
    ports: str | list[int] = Field(default="top100", description=f"'top100', '1-1024,8080' or a list; at most "
                                                                 f"{MAX_PORTS} ports")
    rate: float = Field(default=300, gt=0, le=20000, description="probes per second to each target")
    timing: Literal["random", "sequential"] = "random"

    @field_validator("ports")
    @classmethod
    def _ports(cls, v):
        if isinstance(v, str) and len(v) > MAX_SPEC:
            raise ValueError(f"the port specification is longer than {MAX_SPEC} characters")
        try:
            n = port_count(v)
        except ValueError as e:
            raise ValueError(f"{e}; write 'top100', '1-1024,8080' or a list of ports") from None
        if n > MAX_PORTS:
            raise ValueError(f"{n} ports per target; at most {MAX_PORTS} (each port once)")
        if not n or (isinstance(v, list) and any(not 1 <= p <= 65535 for p in v)):
            raise ValueError("ports must be between 1 and 65535")
        return v


@technique
class SynScan(Technique):
    name = "syn_scan"
    attack = "T1046"
    tactic = "discovery"
    summary = "nmap -sS half-open TCP port scan"
    Params = Params
    max_targets = MAX_TARGETS

    def duration(self, p: Params) -> float:
        # targets are not known here: the scenario validates with one target's worth per probe set
        return len(parse_ports(p.ports)) / p.rate + 1.0

    def generate(self, ctx: StepContext):
        p: Params = ctx.params
        ports = parse_ports(p.ports)
        r = ctx.rng
        sport = r.randint(40000, 65000)
        probes = [(t, port) for t in ctx.targets for port in ports]
        if p.timing == "random":
            r.shuffle(probes)
        gap = 1.0 / p.rate / max(1, len(ctx.targets))
        t = ctx.t0
        for host, port in probes:
            open_ports = {SERVICES[s].port for s in host.services if SERVICES[s].proto == "tcp"}
            yield TcpSession(t=t, client=ctx.source.ip, server=host.ip, sport=sport, dport=port,
                             handshake="half" if port in open_ports else "refused",
                             syn_options=wire.NMAP_SYN_OPTIONS, window=1024, rtt=r.uniform(0.0003, 0.0009))
            t += gap * r.uniform(0.6, 1.4)
