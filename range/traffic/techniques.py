"""The contract between the replay and the traffic scripts in ``attack_scripts/``.

An attack technique is a class registered with :func:`technique`; it declares its ATT&CK id,
its parameters (a strict pydantic model), what it needs of its targets, how long it runs for
given parameters, and generates :mod:`range.traffic` actions for one step. Benign traffic
kinds (``attack_scripts/benign/``) follow the same pattern with :func:`benign`. Either may also
write what the nodes log meanwhile into its context's ``host`` (:class:`range.traffic.hostlog.HostLog`).
"""
from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from typing import ClassVar, Iterable

from pydantic import Field

from range.core import Registry, Strict
from range.topology import Host, Layout
from range.traffic.actions import Action
from range.traffic.hostlog import HostLog

TECHNIQUES: Registry["Technique"] = Registry("technique", "attack_scripts")
BENIGN: Registry["BenignKind"] = Registry("benign traffic kind", "attack_scripts.benign")


class NoParams(Strict):
    pass


class Technique:
    name: ClassVar[str]
    attack: ClassVar[str]
    tactic: ClassVar[str]
    summary: ClassVar[str]
    Params: ClassVar[type[Strict]] = NoParams
    min_targets: ClassVar[int] = 1
    max_targets: ClassVar[int | None] = None
    target_services: ClassVar[tuple[str, ...]] = ()  # every target must run one of these

    def duration(self, p) -> float:
        raise NotImplementedError

    def generate(self, ctx: "StepContext") -> Iterable[Action]:
        raise NotImplementedError

    def describe(self) -> dict:
        return {"name": self.name, "attack": self.attack, "tactic": self.tactic, "summary": self.summary,
                "params": self.Params.model_json_schema().get("properties", {}),
                "targets": {"min": self.min_targets, "max": self.max_targets,
                            "services": list(self.target_services)}}


class BenignParams(Strict):
    rate: float = Field(gt=0, le=500, description="events per second across all clients")


class BenignKind:
    name: ClassVar[str]
    summary: ClassVar[str]
    Params: ClassVar[type[BenignParams]] = BenignParams

    def generate(self, ctx: "BenignContext") -> Iterable[Action]:
        raise NotImplementedError

    def describe(self) -> dict:
        return {"name": self.name, "summary": self.summary,
                "params": self.Params.model_json_schema().get("properties", {})}


def technique(cls: type) -> type:
    return TECHNIQUES.register(cls)


def benign(cls: type) -> type:
    return BENIGN.register(cls)


_SYLLABLES = ["ka", "lo", "mi", "ra", "to", "ve", "zu", "ne", "sa", "di", "po", "ri", "an", "el", "or",
              "us", "et", "in", "bo", "cu", "fa", "ge", "hi", "ju", "ma", "no", "pe", "qu", "si", "te"]
_WORDS = ["cloud", "update", "cdn", "sync", "secure", "portal", "static", "metrics", "telemetry", "service",
          "api", "login", "mail", "files", "backup", "edge", "data", "stats", "app", "news", "docs", "media"]
_TLDS = ["com", "net", "org", "info", "xyz", "top", "online", "site", "io", "biz"]
_FIRST = ["arben", "elira", "dren", "jelena", "marko", "ana", "besnik", "milica", "nikola", "sara", "luka",
          "teuta", "stefan", "ivana", "dino", "amra", "petar", "vesna", "ardit", "maja"]
_LAST = ["hoxha", "petrovic", "krasniqi", "jovanovic", "berisha", "nikolic", "gashi", "markovic",
         "dervishi", "popovic", "kovac", "shala", "ilic", "basha", "todorov"]


@dataclass
class Names:
    """Per-team names: domains, user names, file names, so answers cannot be copied between teams."""
    rng: random.Random

    def label(self, syllables: int = 3) -> str:
        return "".join(self.rng.choice(_SYLLABLES) for _ in range(syllables))

    def domain(self) -> str:
        return f"{self.rng.choice(_WORDS)}-{self.label(2)}.{self.rng.choice(_TLDS)}"

    def username(self) -> str:
        return f"{self.rng.choice(_FIRST)}.{self.rng.choice(_LAST)}"

    def token(self, n: int = 8) -> str:
        return "".join(self.rng.choice(string.ascii_lowercase + string.digits) for _ in range(n))


@dataclass
class StepContext:
    """Everything a technique needs to generate one step's traffic for one team."""
    layout: Layout
    step_id: str
    t0: float  # absolute start time (epoch seconds) of the step
    source: Host
    targets: list[Host]
    params: Strict
    rng: random.Random
    names: Names
    domain: str = "gov.example"
    dns_server: Host | None = None  # the environment's resolver, if it has one
    # what a technique tells the live range it needs; "accounts": [(node, login, password)]
    # that must exist on a target for a login the script makes to succeed
    extra: dict = field(default_factory=dict)
    # what the nodes log while the step runs (range.traffic.hostlog); its own random stream
    host: HostLog = field(default_factory=lambda: HostLog(random.Random(0)))


@dataclass
class BenignContext:
    layout: Layout
    t0: float
    duration: float
    clients: list[Host]
    params: BenignParams
    rng: random.Random
    names: Names
    domain: str = "gov.example"
    host: HostLog = field(default_factory=lambda: HostLog(random.Random(0)))

    def servers(self, service: str) -> list[Host]:
        return [h for h in self.layout.hosts.values() if service in h.services]

    def times(self) -> Iterable[float]:
        """Poisson arrivals at ``params.rate`` per second over the scenario."""
        t = self.t0 + self.rng.expovariate(self.params.rate)
        end = self.t0 + self.duration
        while t < end:
            yield t
            t += self.rng.expovariate(self.params.rate)
