"""Strict validation of YAML data against pydantic models, reported as ``file:line: problem``.

Models derive from :class:`Strict` (unknown keys are errors). :func:`validate` maps each
pydantic error location back to the line it came from through :class:`range.core.yamlfile.Lines`.
"""
from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from range.core.errors import InputError, ValidationErrors
from range.core.yamlfile import Lines

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*$")


def parse_duration(v: Any) -> Any:
    """``90``, ``90s``, ``1.5m``, ``1h30m`` -> seconds as float. Other types pass through to pydantic."""
    if isinstance(v, bool):
        raise ValueError("a duration must be a number of seconds or a text like '90s', '2m', '1h30m'")
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        m = _DURATION.match(v)
        if not m or not any(m.groups()):
            raise ValueError(f"{v!r} is not a duration; write seconds (90) or '90s', '2m', '1h30m'")
        h, mi, s = (float(x) if x else 0.0 for x in m.groups())
        return h * 3600 + mi * 60 + s
    return v


Seconds = Annotated[float, BeforeValidator(parse_duration)]


def _path_text(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _message(err: dict[str, Any]) -> str:
    kind = err["type"]
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))
    where = _path_text(loc)
    if kind == "extra_forbidden":
        return f"unknown key '{loc[-1]}'" + (f" in {_path_text(loc[:-1])}" if len(loc) > 1 else "")
    if kind == "missing":
        return f"missing required key '{where}'"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return f"{where}: {msg}" if where else msg


def validate(model: type[M], data: Any, lines: Lines, prefix: tuple[Any, ...] = ()) -> M:
    """Validate ``data`` into ``model`` or raise :class:`ValidationErrors` with every problem."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        errors = []
        for err in e.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))
            line = lines.line(prefix + loc)
            errors.append(InputError(_message(err), file=lines.file, line=line))
        errors.sort(key=lambda x: x.line or 0)
        raise ValidationErrors(errors) from None
