"""Scenarios: the attack story played against an environment, validated strictly.

A scenario file (``kind: scenario``) names its environment, duration, benign traffic profile and
ordered steps. Validation resolves every reference (technique, nodes, services), validates each
step's ``params`` with the technique's own model, and checks times: no negative offsets, no
step running past the end, no step overlapping an earlier one unless it says ``parallel: true``.

Every size has a bound checked here, before anything is generated: a scenario lasts at most
``MAX_DURATION``, holds at most ``MAX_STEPS`` steps, and its benign traffic at most
``MAX_BENIGN_EVENTS`` events (the sum of the rates times the duration); each technique's own
parameter model bounds its packets, bytes, ports and durations.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator

from range.core import InputError, Lines, NotFound, Seconds, Strict, ValidationErrors, validate
from range.topology import Environment
from range.traffic import BENIGN, TECHNIQUES, Technique

StepId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,40}$")]
AttackId = Annotated[str, StringConstraints(pattern=r"^T\d{4}(\.\d{3})?$")]
Ref = Annotated[str, StringConstraints(max_length=64)]  # a technique, node or tactic name
Text = Annotated[str, StringConstraints(max_length=4000)]

MAX_DURATION = 24 * 3600.0  # one exercise day
MAX_STEPS = 100
MAX_POINTS = 10_000.0
MAX_BENIGN_EVENTS = 1_000_000

DEFAULT_START = dt.datetime(2026, 11, 28, 10, 0, 0, tzinfo=dt.timezone.utc)


class HintSpec(Strict):
    text: Annotated[str, StringConstraints(max_length=2000)]
    cost: float = Field(default=20, ge=0, le=MAX_POINTS)


class StepSpec(Strict):
    id: StepId
    technique: Ref
    source: Ref
    targets: list[Ref] = Field(default=[], max_length=64)
    at: Seconds = Field(le=MAX_DURATION)
    points: float = Field(default=100, gt=0, le=MAX_POINTS)
    attack: AttackId | None = None
    tactic: Ref | None = None
    briefing: Text
    params: dict[str, Any] = {}
    parallel: bool = False
    hints: list[HintSpec] = Field(default=[], max_length=10)

    @field_validator("at")
    @classmethod
    def _not_negative(cls, v: float) -> float:
        if v < 0:
            raise ValueError(f"negative time {v:g}s; 'at' is the offset from the scenario start")
        return v


class ScoringSpec(Strict):
    grace: Seconds = Field(default=60, ge=0, le=MAX_DURATION)  # full points when detected within this
    decay: Seconds = Field(default=600, gt=0, le=MAX_DURATION)  # then falling linearly over this long...
    floor: float = Field(default=0.25, ge=0, le=1)  # ...to this share of the points
    fp_penalty: float = Field(default=10, ge=0, le=MAX_POINTS)  # points per false positive
    fp_window: Seconds = Field(default=300, gt=0, le=MAX_DURATION)  # one false positive per rule per window


class ScenarioSpec(Strict):
    kind: Literal["scenario"]
    name: StepId
    description: Text
    environment: Annotated[str, StringConstraints(max_length=255)]
    duration: Seconds = Field(gt=0, le=MAX_DURATION, description="at most 24h")
    start: dt.datetime | None = None
    jitter: Seconds = Field(default=2, ge=0, le=60)
    benign: dict[str, dict[str, Any]] = {}
    steps: list[StepSpec] = Field(min_length=1, max_length=MAX_STEPS)
    scoring: ScoringSpec = ScoringSpec()

    @field_validator("start")
    @classmethod
    def _plausible_start(cls, v: dt.datetime | None) -> dt.datetime | None:
        if v is not None and not 2000 <= v.year <= 2100:
            raise ValueError(f"start {v.isoformat()} is not between the years 2000 and 2100")
        return v


@dataclass
class Step:
    spec: StepSpec
    technique: Technique
    params: Strict
    duration: float
    index: int

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def attack(self) -> str:
        return self.spec.attack or self.technique.attack

    @property
    def tactic(self) -> str:
        return self.spec.tactic or self.technique.tactic


@dataclass
class Scenario:
    spec: ScenarioSpec
    env: Environment
    steps: list[Step]
    benign: dict[str, Strict]
    path: Path

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def start(self) -> dt.datetime:
        s = self.spec.start or DEFAULT_START
        return s if s.tzinfo else s.replace(tzinfo=dt.timezone.utc)

    def step(self, step_id: str) -> Step:
        for st in self.steps:
            if st.id == step_id:
                return st
        raise NotFound(f"scenario {self.name} has no step {step_id!r}; steps: {', '.join(s.id for s in self.steps)}")

    def with_overrides(self, start: float | None = None, schedule: dict[str, float] | None = None) -> "Scenario":
        """The same scenario starting at ``start`` (epoch) with some steps moved (step id -> at)."""
        schedule = schedule or {}
        for sid, at in schedule.items():
            st = self.step(sid)
            if not 0 <= at <= self.spec.duration - st.duration:
                raise InputError(f"step {sid!r} cannot start at {at:g}s: it runs {st.duration:g}s and the "
                                 f"scenario lasts {self.spec.duration:g}s")
        steps = [Step(st.spec.model_copy(update={"at": float(schedule[st.id])}) if st.id in schedule else st.spec,
                      st.technique, st.params, st.duration, st.index) for st in self.steps]
        steps.sort(key=lambda st: (st.spec.at, st.index))
        update = {"steps": [st.spec for st in steps]}
        if start is not None:
            update["start"] = dt.datetime.fromtimestamp(start, tz=dt.timezone.utc)
        return Scenario(self.spec.model_copy(update=update), self.env, steps, self.benign, self.path)


def parse_spec(data: Any, lines: Lines) -> ScenarioSpec:
    """The scenario file's top level, strictly validated (its environment not yet resolved)."""
    return validate(ScenarioSpec, data, lines)


def parse_scenario(data: Any, lines: Lines, path: Path, env: Environment) -> Scenario:
    """A scenario against ``env`` (resolved by the catalog): every step's technique, parameters,
    nodes and times checked, each problem reported at its line."""
    return build_scenario(parse_spec(data, lines), lines, path, env)


def build_scenario(spec: ScenarioSpec, lines: Lines, path: Path, env: Environment) -> Scenario:
    errors: list[InputError] = []
    steps: list[Step] = []
    seen: dict[str, int] = {}
    for i, s in enumerate(spec.steps):
        at = ("steps", i)
        if s.id in seen:
            errors.append(lines.error(at + ("id",), f"step id {s.id!r} is used twice (first by step {seen[s.id] + 1})"))
        seen[s.id] = i
        if s.technique not in TECHNIQUES:
            errors.append(lines.error(at + ("technique",), f"unknown technique {s.technique!r}; known: "
                                      f"{', '.join(TECHNIQUES.all())}"))
            continue
        tech = TECHNIQUES.get(s.technique)
        try:
            params = validate(tech.Params, s.params, lines, at + ("params",))
        except ValidationErrors as e:
            for err in e.errors:
                err.message = f"step {s.id!r} ({s.technique}) params: {err.message}"
            errors.extend(e.errors)
            continue
        errors.extend(_check_nodes(s, tech, env, lines, at))
        steps.append(Step(s, tech, params, float(tech.duration(params)), i))
    benign: dict[str, Strict] = {}
    for kind, raw in spec.benign.items():
        if kind not in BENIGN:
            errors.append(lines.error(("benign", kind), f"unknown benign traffic kind {kind!r}; known: "
                                      f"{', '.join(BENIGN.all())}"))
            continue
        try:
            benign[kind] = validate(BENIGN.get(kind).Params, raw, lines, ("benign", kind))
        except ValidationErrors as e:
            errors.extend(e.errors)
    volume = sum(p.rate for p in benign.values()) * spec.duration
    if volume > MAX_BENIGN_EVENTS:
        errors.append(lines.error(("benign",), f"benign traffic of {sum(p.rate for p in benign.values()):g} events/s "
                                  f"for {spec.duration:g}s makes {volume:,.0f} events; at most "
                                  f"{MAX_BENIGN_EVENTS:,} (lower the rates or the duration)"))
    errors.extend(_check_times(spec, steps, lines))
    if errors:
        errors.sort(key=lambda e: e.line or 0)
        raise ValidationErrors(errors)
    return Scenario(spec, env, steps, benign, path)


def _check_nodes(s: StepSpec, tech: Technique, env: Environment, lines: Lines, at: tuple) -> list[InputError]:
    errors = []
    known = ", ".join(env.nodes)
    if s.source not in env.nodes:
        errors.append(lines.error(at + ("source",), f"step {s.id!r}: source {s.source!r} is not a node of "
                                  f"environment {env.name!r} (nodes: {known})"))
    for j, t in enumerate(s.targets):
        if t not in env.nodes:
            errors.append(lines.error(at + ("targets", j), f"step {s.id!r}: target {t!r} is not a node of "
                                      f"environment {env.name!r} (nodes: {known})"))
        elif tech.target_services and not set(tech.target_services) & set(env.nodes[t].services):
            errors.append(lines.error(at + ("targets", j), f"step {s.id!r}: {s.technique} needs a target running "
                                      f"{' or '.join(tech.target_services)}; {t!r} runs "
                                      f"{', '.join(env.nodes[t].services) or 'no services'}"))
    n = len(s.targets)
    if n < tech.min_targets or (tech.max_targets is not None and n > tech.max_targets):
        want = f"{tech.min_targets}" if tech.max_targets == tech.min_targets else \
            f"{tech.min_targets} to {tech.max_targets}" if tech.max_targets else f"at least {tech.min_targets}"
        errors.append(lines.error(at + ("targets",), f"step {s.id!r}: {s.technique} takes {want} target(s), got {n}"))
    return errors


def _check_times(spec: ScenarioSpec, steps: list[Step], lines: Lines) -> list[InputError]:
    errors = []
    prev: Step | None = None
    ends: list[tuple[float, Step]] = []
    for st in steps:
        s = st.spec
        at = ("steps", st.index, "at")
        end = s.at + st.duration + spec.jitter
        if end > spec.duration:
            errors.append(lines.error(at, f"step {s.id!r} runs until {end:g}s (at {s.at:g}s + {st.duration:g}s"
                                      f" + {spec.jitter:g}s jitter), past the scenario's duration {spec.duration:g}s"))
        if prev is not None and s.at < prev.spec.at:
            errors.append(lines.error(at, f"step {s.id!r} at {s.at:g}s comes before the previous step "
                                      f"{prev.spec.id!r} at {prev.spec.at:g}s; steps are listed in time order"))
        if not s.parallel:
            for other_end, other in ends:
                if s.at < other_end:
                    errors.append(lines.error(at, f"step {s.id!r} at {s.at:g}s overlaps step {other.spec.id!r} "
                                              f"(running until {other_end:g}s with jitter); start it later or "
                                              f"mark it 'parallel: true'"))
                    break
        ends.append((end, st))
        prev = st
    return errors
