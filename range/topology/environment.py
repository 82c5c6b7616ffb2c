"""Environments: the target network a team defends, and its per-team layout.

An environment file (``kind: environment``) names networks, nodes, the services each node runs,
the attacker, the networks the sensor watches and the nodes that make benign traffic. A
:class:`Layout` is one team's copy: its own subnets inside each network's pool, its own host
addresses and MAC addresses, derived from (seed, team) so that teams cannot copy answers.

Every name that becomes a container, network, host or image name, a directory under
``environments/images/`` or a line of a generated config file (``domain`` ends up in
``resolv.conf``) is checked against a strict pattern, and every list has a bound: no ``..``,
``/``, spaces or new lines ever reach the runtime.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from range.core.errors import InputError, ValidationErrors
from range.core.schema import Strict, validate
from range.core.seeds import derive, rng
from range.topology.services import SERVICES
from range.core.yamlfile import Lines, load

Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,30}$")]
Role = Literal["attacker", "server", "workstation", "router", "dns"]
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
Domain = Annotated[str, StringConstraints(pattern=rf"^{_LABEL}(?:\.{_LABEL})+$", max_length=253)]
# a registry image reference: [host[:port]/]path[:tag][@sha256:digest], no '..' or empty component
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REGISTRY_REF = (rf"^(?:{_LABEL}(?:\.{_LABEL})*(?::[0-9]{{1,5}})?/)?{_COMPONENT}(?:/{_COMPONENT})*"
                r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$")
RegistryRef = Annotated[str, StringConstraints(pattern=REGISTRY_REF, max_length=255)]


class Attachment(Strict):
    network: Name
    host: int | None = Field(default=None, ge=1, le=65534, description="fixed host number in the team subnet")


class ImageSpec(Strict):
    packages: list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9+.-]{0,99}$")]] = \
        Field(default=[], max_length=200)
    registry: RegistryRef | None = None  # an ordinary registry image, for sites that have a registry
    recipe: Name | None = None  # files under environments/images/<recipe>/ (default: the image's name)

    @model_validator(mode="after")
    def _one_source(self) -> "ImageSpec":
        if self.registry and (self.packages or self.recipe):
            raise ValueError("an image is either built (packages, recipe) or taken from a registry, not both")
        return self


class NodeSpec(Strict):
    name: Name
    role: Role
    image: Annotated[str, StringConstraints(max_length=255)] | None = None
    hostname: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,62}$")] | None = None
    services: list[str] = Field(default=[], max_length=16)
    networks: list[Attachment] = Field(min_length=1, max_length=8)

    @field_validator("image")
    @classmethod
    def _image_name(cls, v: str | None) -> str | None:
        import re
        if v is not None and not re.fullmatch(r"[a-z][a-z0-9-]{0,30}", v) and not re.fullmatch(REGISTRY_REF, v):
            raise ValueError(f"image {v!r} is neither a name under images: (lower-case letters, digits and '-') "
                             f"nor a registry reference such as debian:bookworm or registry.example:5000/web:1.2")
        return v

    @field_validator("services")
    @classmethod
    def _known_services(cls, v: list[str]) -> list[str]:
        for s in v:
            if s not in SERVICES:
                raise ValueError(f"unknown service {s!r}; known: {', '.join(sorted(SERVICES))}")
        return v


class NetworkSpec(Strict):
    name: Name
    subnet: ipaddress.IPv4Network
    team_prefix: int = Field(default=24, ge=16, le=29)
    gateway: Name | None = None  # the router node that routes this network to the others

    @model_validator(mode="after")
    def _prefix(self) -> "NetworkSpec":
        if self.team_prefix < self.subnet.prefixlen:
            raise ValueError(f"team_prefix /{self.team_prefix} is wider than the subnet {self.subnet}")
        return self


class SensorSpec(Strict):
    networks: list[Name] = Field(min_length=1, max_length=16)


class BenignSpec(Strict):
    clients: list[Name] = Field(min_length=1, max_length=64)


MAX_NODES = 64  # per team copy: every node is a container
MAX_NETWORKS = 16


class EnvironmentSpec(Strict):
    kind: Literal["environment"]
    name: Name
    description: Annotated[str, StringConstraints(max_length=4000)]
    domain: Domain = "gov.example"
    networks: list[NetworkSpec] = Field(min_length=1, max_length=MAX_NETWORKS)
    nodes: list[NodeSpec] = Field(min_length=1, max_length=MAX_NODES)
    attacker: Name
    sensor: SensorSpec
    benign: BenignSpec
    images: dict[Name, ImageSpec] = Field(default={}, max_length=MAX_NODES)


@dataclass
class Environment:
    spec: EnvironmentSpec
    path: Path
    lines: Lines

    @property
    def name(self) -> str:
        return self.spec.name

    @cached_property
    def nodes(self) -> dict[str, NodeSpec]:
        return {n.name: n for n in self.spec.nodes}

    @cached_property
    def networks(self) -> dict[str, NetworkSpec]:
        return {n.name: n for n in self.spec.networks}

    def nodes_with(self, service: str) -> list[str]:
        return [n.name for n in self.spec.nodes if service in n.services]


def _check_references(spec: EnvironmentSpec, lines: Lines) -> None:
    errors: list[InputError] = []
    nets = {n.name for n in spec.networks}
    nodes = {n.name for n in spec.nodes}
    seen: set[str] = set()
    for i, n in enumerate(spec.nodes):
        if n.name in seen:
            errors.append(lines.error(("nodes", i, "name"), f"node name {n.name!r} is used twice"))
        seen.add(n.name)
        for j, a in enumerate(n.networks):
            if a.network not in nets:
                errors.append(lines.error(("nodes", i, "networks", j, "network"),
                                          f"node {n.name!r} attaches to unknown network {a.network!r}; "
                                          f"networks: {', '.join(sorted(nets))}"))
        if n.image and n.image not in spec.images and ":" not in n.image:
            errors.append(lines.error(("nodes", i, "image"),
                                      f"image {n.image!r} is neither defined under images: nor a registry reference"))
    seen_nets: set[str] = set()
    for i, net in enumerate(spec.networks):
        if net.name in seen_nets:
            errors.append(lines.error(("networks", i, "name"), f"network name {net.name!r} is used twice"))
        seen_nets.add(net.name)
        if net.gateway and net.gateway not in nodes:
            errors.append(lines.error(("networks", i, "gateway"), f"gateway {net.gateway!r} is not a node"))
        for j, other in enumerate(spec.networks[:i]):
            if net.subnet.overlaps(other.subnet):
                errors.append(lines.error(("networks", i, "subnet"),
                                          f"subnet {net.subnet} overlaps {other.name}'s {other.subnet}"))
    if spec.attacker not in nodes:
        errors.append(lines.error(("attacker",), f"attacker {spec.attacker!r} is not a node"))
    for j, s in enumerate(spec.sensor.networks):
        if s not in nets:
            errors.append(lines.error(("sensor", "networks", j), f"sensor watches unknown network {s!r}"))
    for j, c in enumerate(spec.benign.clients):
        if c not in nodes:
            errors.append(lines.error(("benign", "clients", j), f"benign client {c!r} is not a node"))
    if errors:
        raise ValidationErrors(errors)


def parse_environment(data: object, lines: Lines, path: Path) -> Environment:
    spec = validate(EnvironmentSpec, data, lines)
    _check_references(spec, lines)
    return Environment(spec, path, lines)


def load_environment(path: str | Path) -> Environment:
    data, lines = load(path)
    return parse_environment(data, lines, Path(path))


# ---- a team's copy ------------------------------------------------------------------------

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

