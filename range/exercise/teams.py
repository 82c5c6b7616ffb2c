"""The teams of a one-command exercise, as the command line names them: ``NAME=RULES[,RULES...]``."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from range.core import InputError


@dataclass
class TeamSpec:
    name: str
    rules: list[Path] = field(default_factory=list)


def parse_team(text: str) -> TeamSpec:
    """``NAME=RULES[,RULES...]`` from the command line."""
    name, sep, rules = text.partition("=")
    name = name.strip()
    if not sep or not name or not rules:
        raise InputError(f"--team {text!r}: write NAME=RULES_PATH (a Sigma file or folder), e.g. blue=detections/rules")
    if not name.replace("-", "").replace("_", "").isalnum() or len(name) > 40:
        raise InputError(f"--team {text!r}: a team name is letters, digits, '-' and '_' (at most 40)")
    paths = [Path(p) for p in rules.split(",")]
    for p in paths:
        if not p.exists():
            raise InputError(f"--team {name}: rules path {p} does not exist")
    return TeamSpec(name, paths)
