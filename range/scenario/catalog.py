"""Finding environments and scenarios by name, and validating any file by its ``kind``.

Every file under ``environments/`` declares ``kind: environment`` or ``kind: scenario``; a name
given on the command line is looked up here, anything that looks like a path is read directly.
The catalog also resolves the environment a scenario names (by name, or by a path relative to
the scenario file) before the scenario's parser checks the steps against it.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from range.core import InputError, Lines, NotFound, load, paths
from range.scenario.model import Scenario, build_scenario, parse_spec
from range.topology import Environment, load_environment, parse_environment


@dataclass
class Entry:
    kind: str
    name: str
    path: Path


class Catalog:
    def __init__(self, root: Path):
        self.root = root
        self._entries: list[Entry] | None = None
        self._envs: dict[Path, Environment] = {}
        self.unreadable: list[str] = []  # files skipped by the listing, each as "file:line: problem"

    def entries(self) -> list[Entry]:
        if self._entries is None:
            out, self.unreadable = [], []
            for p in sorted(self.root.rglob("*.yaml")):
                try:
                    data, _ = load(p)
                except InputError as e:  # not listed; named when a lookup fails (it may be the one meant)
                    self.unreadable.append(str(e).splitlines()[0])
                    continue
                if isinstance(data, dict) and data.get("kind") in ("environment", "scenario") and "name" in data:
                    out.append(Entry(data["kind"], str(data["name"]), p))
            self._entries = out
        return self._entries

    def names(self, kind: str) -> list[str]:
        return sorted(e.name for e in self.entries() if e.kind == kind)

    def environments(self) -> list[str]:
        return self.names("environment")

    def scenarios(self) -> list[str]:
        return self.names("scenario")

    def path_of(self, kind: str, name_or_path: str, relative_to: Path | None = None) -> Path:
        looks_like_path = "/" in name_or_path or name_or_path.endswith((".yaml", ".yml"))
        if looks_like_path:
            p = Path(name_or_path)
            if not p.is_absolute() and relative_to is not None and (relative_to / p).exists():
                p = relative_to / p
            if not p.exists():
                raise NotFound(f"{kind} file {name_or_path} does not exist")
            return p
        for e in self.entries():
            if e.kind == kind and e.name == name_or_path:
                return e.path
        known = ", ".join(self.names(kind)) or "none"
        skipped = "".join(f"\n  skipped, not valid YAML: {u}" for u in self.unreadable[:5])
        raise NotFound(f"no {kind} named {name_or_path!r}; known: {known}{skipped}")

    def environment(self, name_or_path: str, relative_to: Path | None = None) -> Environment:
        p = self.path_of("environment", name_or_path, relative_to).resolve()
        if p not in self._envs:
            self._envs[p] = load_environment(p)
        return self._envs[p]

    def scenario(self, name_or_path: str) -> Scenario:
        return load_scenario(self.path_of("scenario", name_or_path), catalog=self)


@lru_cache(maxsize=None)
def catalog(root: Path | None = None) -> Catalog:
    return Catalog(root or paths.ENVIRONMENTS)


def parse_scenario_file(data: Any, lines: Lines, path: Path, env: Environment | None = None,
                        cat: Catalog | None = None) -> Scenario:
    """A scenario whose environment is resolved here (unless given): by name through the catalog,
    or as a path relative to the scenario file. A reference that resolves to nothing, or to a
    file that is not a valid environment, is reported at the scenario's ``environment`` line."""
    spec = parse_spec(data, lines)
    if env is None:
        try:
            env = (cat or catalog()).environment(spec.environment, relative_to=path.parent)
        except NotFound as e:
            raise lines.error(("environment",), str(e)) from None
        except InputError as e:  # a path to something that is not a valid environment file
            raise lines.error(("environment",), f"environment {spec.environment!r} is not a valid environment "
                                                f"file: {str(e).splitlines()[0]}") from None
    return build_scenario(spec, lines, path, env)


def load_scenario(path: str | Path, env: Environment | None = None, catalog: Catalog | None = None) -> Scenario:
    data, lines = load(path)
    return parse_scenario_file(data, lines, Path(path), env, catalog)


PARSERS: dict[str, Callable[[Any, Lines, Path], object]] = {
    "environment": parse_environment,
    "scenario": parse_scenario_file,
}


def validate_file(path: str | Path):
    """Validate any cyberrange YAML file by its ``kind``; returns the parsed object."""
    data, lines = load(path)
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind not in PARSERS:
        raise lines.error(("kind",) if isinstance(data, dict) and "kind" in data else (),
                          "missing or unknown 'kind'; a cyberrange file starts with 'kind: environment' "
                          "or 'kind: scenario' (Sigma rules are checked by 'cyberrange detect')")
    return PARSERS[kind](data, lines, Path(path))
