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
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from range.core import InputError, Lines, Strict, ValidationErrors, load, validate
from range.topology.services import SERVICES

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
