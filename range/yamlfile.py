"""Strict YAML loading that remembers where every value came from.

Scenarios, environments and detections are data written by people; when one is wrong the
message must name the file and the line. :func:`load` returns plain Python data plus a
:class:`Lines` map from a key path (``("steps", 2, "params", "rate")``) to its line.

Refused outright, with a clear message: anchors and aliases (alias bombs), duplicate keys,
nesting deeper than ``MAX_DEPTH``, files larger than ``MAX_BYTES``, non-UTF-8 text.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from range.errors import InputError

MAX_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 40

Key = tuple[Any, ...]


class Lines:
    """Line numbers (1-based) of every mapping key and sequence item in a document."""

    def __init__(self, file: str):
        self.file = file
        self._lines: dict[Key, int] = {}

    def set(self, path: Key, line: int) -> None:
        self._lines[path] = line

    def line(self, path: Key) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self._lines:
                return self._lines[path]
            path = path[:-1]
        return self._lines.get((), None)

    def error(self, path: Key, message: str) -> InputError:
        return InputError(message, file=self.file, line=self.line(path))

    def sub(self, prefix: Key) -> "Lines":
        """A view of the lines below ``prefix`` (for a document nested in another)."""
        view = Lines(self.file)
        n = len(prefix)
        for k, v in self._lines.items():
            if k[:n] == tuple(prefix):
                view._lines[k[n:]] = v
        return view


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses anchors and aliases."""

    def compose_node(self, parent, index):  # noqa: D401 - PyYAML hook
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise InputError(
                "YAML aliases (*name) are not allowed in cyberrange files; write the value out",
                line=event.start_mark.line + 1,
            )
        event = self.peek_event()
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise InputError(
                f"YAML anchors (&{anchor}) are not allowed in cyberrange files; write the value out",
                line=event.start_mark.line + 1,
            )
        return super().compose_node(parent, index)


_scalar = SafeConstructor()


def _convert(node, path: Key, lines: Lines, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise InputError(f"nesting deeper than {MAX_DEPTH} levels", line=node.start_mark.line + 1)
    lines.set(path, node.start_mark.line + 1)
    if isinstance(node, ScalarNode):
        return _scalar.construct_object(node, deep=True)
    if isinstance(node, SequenceNode):
        return [_convert(item, path + (i,), lines, depth + 1) for i, item in enumerate(node.value)]
    if isinstance(node, MappingNode):
        out: dict[Any, Any] = {}
        for knode, vnode in node.value:
            if not isinstance(knode, ScalarNode):
                raise InputError("mapping keys must be plain values", line=knode.start_mark.line + 1)
            if knode.tag == "tag:yaml.org,2002:merge":
                raise InputError("YAML merge keys (<<) are not allowed", line=knode.start_mark.line + 1)
            key = _scalar.construct_object(knode)
            if key in out:
                raise InputError(f"duplicate key {key!r}", line=knode.start_mark.line + 1)
            lines.set(path + (key,), knode.start_mark.line + 1)
            out[key] = _convert(vnode, path + (key,), lines, depth + 1)
            lines.set(path + (key,), knode.start_mark.line + 1)
        return out
    raise InputError(f"unsupported YAML node {node.tag}", line=node.start_mark.line + 1)


def loads(text: str, file: str = "<string>") -> tuple[Any, Lines]:
    """Parse one YAML document from ``text``."""
    if len(text) > MAX_BYTES:
        raise InputError(f"file is larger than {MAX_BYTES // 1024} KiB", file=file)
    lines = Lines(file)
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
        if node is None:
            raise InputError("the file is empty", file=file, line=1)
        data = _convert(node, (), lines, 0)
    except InputError as e:
        e.file = file
        raise
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        what = e.problem or e.context or "malformed YAML"
        raise InputError(f"malformed YAML: {what}", file=file, line=line) from None
    except yaml.YAMLError as e:
        raise InputError(f"malformed YAML: {e}", file=file) from None
    except RecursionError:
        raise InputError(f"nesting deeper than {MAX_DEPTH} levels", file=file) from None
    return data, lines


def load(path: str | Path) -> tuple[Any, Lines]:
    """Read and parse a YAML file; every problem is an :class:`InputError` naming the file."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", file=str(path)) from None
    if size > MAX_BYTES:
        raise InputError(f"file is {size} bytes, larger than the {MAX_BYTES // 1024} KiB limit", file=str(path))
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text (byte {e.start})", file=str(path)) from None
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", file=str(path)) from None
    return loads(text, str(path))
