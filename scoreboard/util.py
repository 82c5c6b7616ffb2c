"""Reading request input strictly: every problem is an InputError (400) naming the field."""
from __future__ import annotations

import math
from typing import Any, Callable

from flask import request

from range.core import InputError, parse_when

MAX_DEPTH = 16  # nesting of a JSON body: a report is 3 deep
BIGGEST = 2**63 - 1  # SQLite's integers


def body() -> dict:
    """The request's JSON object, or its form fields; anything else is a 400. A body nested
    deeper than ``MAX_DEPTH`` or holding text that is not valid Unicode (a lone surrogate such
    as ``"\\ud800"``, which JSON can escape but nothing can store) is refused whole."""
    if request.is_json:
        try:
            data = request.get_json(silent=True)
        except RecursionError:
            raise InputError(f"the JSON body is nested deeper than {MAX_DEPTH} levels") from None
        if not isinstance(data, dict):
            raise InputError("the body must be a JSON object, e.g. {\"name\": \"...\"}")
        _check_json(data, "", 0)
        return data
    if request.form:
        return request.form.to_dict()
    if request.data:
        raise InputError("send a JSON object with Content-Type: application/json")
    return {}


def _check_json(v: Any, where: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise InputError(f"the JSON body is nested deeper than {MAX_DEPTH} levels")
    if isinstance(v, str):
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(f"'{where or 'body'}' holds a lone surrogate (\\ud800-\\udfff): not valid "
                             f"Unicode") from None
    elif isinstance(v, dict):
        for k, x in v.items():
            _check_json(k, where or "body", depth + 1)
            _check_json(x, f"{where}.{k}" if where else str(k), depth + 1)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            _check_json(x, f"{where}[{i}]", depth + 1)


def text(data: dict, key: str, default: Any = ..., max_len: int = 100, choices: tuple | None = None) -> str:
    v = data.get(key, default)
    if v is ...:
        raise InputError(f"'{key}' is required")
    if v is None and default is None:
        return None
    if not isinstance(v, str):
        raise InputError(f"'{key}' must be a string")
    if len(v) > max_len:
        raise InputError(f"'{key}' is longer than {max_len} characters")
    if choices and v not in choices:
        raise InputError(f"'{key}' must be one of: {', '.join(choices)} (got {v!r})")
    return v


def number(data: dict, key: str, default: Any = ..., lo: float | None = None, hi: float | None = None):
    v = data.get(key, default)
    if v is ...:
        raise InputError(f"'{key}' is required")
    if v is None or (v == "" and default is None):
        return None if default is None else default
    if isinstance(v, bool):
        raise InputError(f"'{key}' must be a number")
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise InputError(f"'{key}' must be a number (got {v!r})") from None
    if not math.isfinite(f):
        raise InputError(f"'{key}' must be a finite number")
    if (lo is not None and f < lo) or (hi is not None and f > hi):
        span = f"at least {lo:g}" if hi is None else f"at most {hi:g}" if lo is None else f"between {lo:g} and {hi:g}"
        raise InputError(f"'{key}' must be {span} (got {f:g})")
    return f


def integer(data: dict, key: str, default: Any = ..., lo: int | None = None, hi: int | None = None):
    f = number(data, key, default, -BIGGEST if lo is None else lo, BIGGEST if hi is None else hi)
    if f is None:
        return None
    if f != int(f):
        raise InputError(f"'{key}' must be a whole number (got {f:g})")
    return int(f)


def names(data: dict, key: str, required: bool = True) -> list[str] | None:
    """A list of names: a JSON list, or text separated by commas, spaces or new lines."""
    v = data.get(key)
    if v is None or v == "" or v == []:
        if required:
            raise InputError(f"'{key}' is required")
        return None
    if isinstance(v, str):
        v = [p for p in v.replace(",", " ").split() if p]
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise InputError(f"'{key}' must be a list of names")
    return v


def when(value: str | None, what: str, now: float | Callable[[], float] | None = None) -> float | None:
    """A time as :func:`range.core.parse_when` reads it (None when empty); ``now`` (the session clock,
    or a function reading it only when needed) anchors ``-5m`` and ``14:39``."""
    if value is None or value.strip() == "":
        return None
    try:
        return parse_when(value, now)
    except ValueError as e:
        raise InputError(f"'{what}': {e}") from None
