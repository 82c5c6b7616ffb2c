"""Bounds on a Sigma rule checked before pySigma sees it, so that no rule can make the loader,
the converter or SQLite work without end.

- A field's value list holds at most ``MAX_LIST`` values and a rule at most ``MAX_VALUES``: the
  SQLite backend chains a list into one ``OR`` expression, and SQLite refuses expressions deeper
  than 1000 ("Expression tree is too large"); pySigma's conversion time grows with the count.
- A regular expression (``|re``) is at most ``MAX_REGEX`` characters, and the repetition counts
  it nests (``((a{100}){100}){100}``) multiply to at most ``MAX_REGEX_WEIGHT``: the ``regex``
  module compiles counted repeats by unrolling them, and a pattern of a few characters could
  otherwise keep it compiling for hours. Matching time is bounded elsewhere (per match and per
  rule, :mod:`range.detect`).
"""
from __future__ import annotations

from typing import Any

from range.core import InputError

MAX_LIST = 500
MAX_VALUES = 2000
MAX_REGEX = 4096
MAX_REGEX_WEIGHT = 100_000
_SKIP = {"condition", "timeframe"}


def check_rule(doc: dict) -> None:
    """Raise :class:`InputError` when a rule document exceeds a bound (other problems are pySigma's)."""
    det = doc.get("detection")
    if not isinstance(det, dict):
        return
    total = 0
    for name, sel in det.items():
        if name in _SKIP:
            continue
        for key, values in _fields(sel):
            if len(values) > MAX_LIST:
                raise InputError(f"detection '{name}': '{key or 'keywords'}' lists {len(values):,} values; at most "
                                 f"{MAX_LIST} in one list (split the rule, or use a regular expression)")
            total += len(values)
            if total > MAX_VALUES:
                raise InputError(f"the rule holds more than {MAX_VALUES:,} values; split it into several rules")
            if "re" in str(key).split("|")[1:]:
                for v in values:
                    if isinstance(v, str):
                        check_regex(v)


def _fields(sel: Any) -> list[tuple[str, list]]:
    """(field with modifiers, its values) of one detection item: a map, a list of maps, or keywords."""
    if isinstance(sel, dict):
        return [(str(k), v if isinstance(v, list) else [v]) for k, v in sel.items()]
    if isinstance(sel, list):
        if all(isinstance(x, dict) for x in sel):
            return [kv for m in sel for kv in _fields(m)]
        return [("", sel)]
    return [("", [sel])]


def check_regex(pattern: str) -> None:
    if len(pattern) > MAX_REGEX:
        raise InputError(f"a regular expression of {len(pattern):,} characters; at most {MAX_REGEX}")
    w = regex_weight(pattern)
    if w > MAX_REGEX_WEIGHT:
        raise InputError(f"regular expression {pattern[:80]!r} repeats its parts {w:,} times in all (counted "
                         f"repetitions like {{100}} multiply when nested); at most {MAX_REGEX_WEIGHT:,}")


def regex_weight(p: str) -> int:
    """The size a pattern unrolls to: each atom weighs 1, a group the sum of its parts, a counted
    repetition ``{m,n}`` multiplies what it repeats by its largest count (``*``, ``+`` and ``?``
    do not unroll). Conservative and syntax-tolerant: it never raises on an invalid pattern."""
    frames = [[0, 0]]  # per open group: [sum of its items' weights, weight of its last item]
    i, n = 0, len(p)
    while i < n:
        c = p[i]
        if c == "\\":
            j = i + 2
            if j < n and p[i + 1] in "pPNxuUgk" and p[j] in "{<":
                close = p.find("}" if p[j] == "{" else ">", j)
                j = n if close < 0 else close + 1
            _item(frames, 1)
            i = j
        elif c == "[":
            i = _class_end(p, i)
            _item(frames, 1)
        elif c == "(":
            frames.append([0, 0])
            i += 1
        elif c == ")":
            if len(frames) > 1:
                w = frames.pop()[0]
                _item(frames, max(w, 1))
            i += 1
        elif c == "{":
            close = p.find("}", i)
            body = p[i + 1:close] if close > 0 else ""
            lo, _, hi = body.partition(",")
            if close > 0 and (lo.strip().isdigit() or hi.strip().isdigit()) and \
                    all(x.strip().isdigit() or not x.strip() for x in (lo, hi)):
                count = max(int(x) for x in (lo, hi) if x.strip().isdigit())
                top = frames[-1]
                grown = top[1] * count
                top[0] += grown - top[1]
                top[1] = grown
                i = close + 1
            else:
                _item(frames, 1)
                i += 1
        elif c == "|":
            frames[-1][1] = 0
            i += 1
        else:
            if c not in "*+?^$":
                _item(frames, 1)
            i += 1
    while len(frames) > 1:  # unclosed groups: the compiler will refuse them, count them anyway
        w = frames.pop()[0]
        _item(frames, max(w, 1))
    return frames[0][0]


def _item(frames: list, w: int) -> None:
    frames[-1][0] += w
    frames[-1][1] = w


def _class_end(p: str, i: int) -> int:
    """The index after the character class opening at ``p[i]`` (nested sets of the regex module included)."""
    depth, j, n = 0, i, len(p)
    while j < n:
        c = p[j]
        if c == "\\":
            j += 2
            continue
        if c == "[":
            depth += 1
            j += 1
            if j < n and p[j] == "^":
                j += 1
            if j < n and p[j] == "]":
                j += 1
            continue
        if c == "]":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    return n
