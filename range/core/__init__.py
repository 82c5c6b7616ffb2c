"""The ground floor: errors, paths, time, seeds, strict YAML, schemas, registries, tools, team folders.

Nothing here knows about networks, packets or sessions; every other package builds on it.
"""
from range.core import paths
from range.core.clock import MAX_WHEN, WHEN_FORMS, iso, parse_iso, parse_when
from range.core.errors import (
                               InputError,
                               NotFound,
                               RangeError,
                               RuntimeFault,
                               StoreError,
                               ToolMissing,
                               ValidationErrors,
)
from range.core.jsonfile import read_json, write_json
from range.core.registry import Registry
from range.core.schema import Seconds, Strict, parse_duration, validate
from range.core.seeds import derive, rng, team_seed
from range.core.teamdir import TeamDir
from range.core.tools import require_tool
from range.core.yamlfile import Lines, load, loads, loads_all, read_text

__all__ = ["paths", "iso", "parse_iso", "parse_when", "WHEN_FORMS", "MAX_WHEN", "InputError", "NotFound",
           "RangeError", "RuntimeFault", "StoreError", "ToolMissing", "ValidationErrors", "read_json", "write_json",
           "Registry",
           "Seconds", "Strict", "parse_duration", "validate", "derive", "rng", "team_seed", "TeamDir",
           "require_tool", "Lines", "load", "loads", "loads_all", "read_text"]
