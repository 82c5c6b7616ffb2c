"""Strict YAML loading that remembers where every value came from.

Scenarios, environments and detections are data written by people; when one is wrong the
message must name the file and the line. :func:`load` returns plain Python data plus a
:class:`Lines` map from a key path (``("steps", 2, "params", "rate")``) to its line.

Refused outright, with a clear message and before the work grows: anchors and aliases (alias
bombs), merge keys, duplicate keys, explicit tags other than YAML's core ones (``!!python/...``,
``!!binary``, ``!!set``), nesting deeper than ``MAX_DEPTH``, more than ``MAX_NODES`` values in one
file (huge flow sequences), files larger than ``MAX_BYTES`` (and anything that is not a regular
file, such as ``/dev/zero``), non-UTF-8 text, and NUL characters or lone surrogates in values
(``"\\0"``, ``"\\ud800"``), which no consumer of these files could store or print.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from range.core.errors import InputError

MAX_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 40
MAX_NODES = 20_000  # values (scalars, lists, mappings) in one file: ~1 s of parsing at most
CORE_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "seq", "map", "timestamp")}

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
    """SafeLoader that refuses anchors, aliases and exotic tags, and stops composing as soon as a
    document nests deeper than ``MAX_DEPTH`` or holds more than ``MAX_NODES`` values."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent, index):  # noqa: D401 - PyYAML hook
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise InputError(
                "YAML aliases (*name) are not allowed in cyberrange files; write the value out",
                line=event.start_mark.line + 1,
            )
        event = self.peek_event()
        line = event.start_mark.line + 1
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise InputError(
                f"YAML anchors (&{anchor}) are not allowed in cyberrange files; write the value out",
                line=line,
            )
        tag = getattr(event, "tag", None)
        if tag not in (None, "!") and tag not in CORE_TAGS:
            raise InputError(f"YAML tag {tag} is not allowed in cyberrange files; write a plain value", line=line)
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise InputError(f"more than {MAX_NODES:,} values in one file; split it or shorten its lists", line=line)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH + 1:
                raise InputError(f"nesting deeper than {MAX_DEPTH} levels", line=line)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _scalar(node) -> Any:
    """A scalar's value by YAML's core schema; a value Python cannot hold is an InputError."""
    try:
        v = SafeConstructor().construct_object(node, deep=True)  # a fresh one: it caches every node
    except (ValueError, OverflowError, TypeError) as e:
        shown = node.value if len(node.value) <= 40 else node.value[:40] + "..."
        raise InputError(
            f"cannot read the value {shown!r}: {str(e).split(';')[0]}", line=node.start_mark.line + 1
        ) from None
    if isinstance(v, str):
        if "\x00" in v:
            raise InputError("a NUL character (\\0) in a value", line=node.start_mark.line + 1)
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(
                "a lone surrogate (\\ud800-\\udfff) in a value: not valid Unicode", line=node.start_mark.line + 1
            ) from None
    return v


def _convert(node, path: Key, lines: Lines, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise InputError(f"nesting deeper than {MAX_DEPTH} levels", line=node.start_mark.line + 1)
    lines.set(path, node.start_mark.line + 1)
    if isinstance(node, ScalarNode):
        return _scalar(node)
    if isinstance(node, SequenceNode):
        return [_convert(item, path + (i,), lines, depth + 1) for i, item in enumerate(node.value)]
    if isinstance(node, MappingNode):
        out: dict[Any, Any] = {}
        for knode, vnode in node.value:
            if not isinstance(knode, ScalarNode):
                raise InputError("mapping keys must be plain values", line=knode.start_mark.line + 1)
            if knode.tag == "tag:yaml.org,2002:merge":
                raise InputError("YAML merge keys (<<) are not allowed", line=knode.start_mark.line + 1)
            key = _scalar(knode)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise InputError(f"mapping key {knode.value!r} must be a plain value", line=knode.start_mark.line + 1)
            if key in out:
                raise InputError(f"duplicate key {key!r}", line=knode.start_mark.line + 1)
            lines.set(path + (key,), knode.start_mark.line + 1)
            out[key] = _convert(vnode, path + (key,), lines, depth + 1)
            lines.set(path + (key,), knode.start_mark.line + 1)
        return out
    raise InputError(f"unsupported YAML node {node.tag}", line=node.start_mark.line + 1)


def _parse(text: str, file: str, many: bool) -> tuple[list[Any], Lines]:
    if len(text) > MAX_BYTES:
        raise InputError(f"file is larger than {MAX_BYTES // 1024} KiB", file=file)
    lines = Lines(file)
    try:
        loader = _Loader(text)
        try:
            if many:
                docs = []
                while loader.check_node():
                    docs.append(_convert(loader.get_node(), (), lines, 0))
            else:
                node = loader.get_single_node()
                if node is None:
                    raise InputError("the file is empty", file=file, line=1)
                docs = [_convert(node, (), lines, 0)]
        finally:
            loader.dispose()
    except InputError as e:
        e.file = file
        raise
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        what = e.problem or e.context or "malformed YAML"
        raise InputError(f"malformed YAML: {what}", file=file, line=line) from None
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, e.position) + 1
        raise InputError(
            f"malformed YAML: the character #x{e.character if isinstance(e.character, int) else 0:04x} "
            "is not allowed in YAML text",
            file=file,
            line=line,
        ) from None
    except yaml.YAMLError as e:
        raise InputError(f"malformed YAML: {e}", file=file) from None
    except RecursionError:
        raise InputError(f"nesting deeper than {MAX_DEPTH} levels", file=file) from None
    return docs, lines


def loads(text: str, file: str = "<string>") -> tuple[Any, Lines]:
    """Parse one YAML document from ``text``."""
    docs, lines = _parse(text, file, many=False)
    return docs[0], lines


def loads_all(data: str | bytes, file: str = "<string>") -> list[Any]:
    """Every document of a multi-document text (a Sigma rule file), with the same refusals."""
    if isinstance(data, bytes):
        if len(data) > MAX_BYTES:
            raise InputError(f"file is larger than {MAX_BYTES // 1024} KiB", file=file)
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError(
                f"not UTF-8 text (byte {e.start})", file=file, line=data.count(b"\n", 0, e.start) + 1
            ) from None
    return _parse(data, file, many=True)[0]


def read_text(path: str | Path, what: str = "file") -> str:
    """A regular file's UTF-8 text, refused when larger than ``MAX_BYTES`` (read no further)."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise InputError(f"not a regular {what}", file=str(path))
            if st.st_size > MAX_BYTES:
                raise InputError(
                    f"{what} is {st.st_size} bytes, larger than the {MAX_BYTES // 1024} KiB limit", file=str(path)
                )
            raw = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", file=str(path)) from None
    if len(raw) > MAX_BYTES:
        raise InputError(f"{what} is larger than the {MAX_BYTES // 1024} KiB limit", file=str(path))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(
            f"not UTF-8 text (byte {e.start})", file=str(path), line=raw.count(b"\n", 0, e.start) + 1
        ) from None


def load(path: str | Path) -> tuple[Any, Lines]:
    """Read and parse a YAML file; every problem is an :class:`InputError` naming the file."""
    return loads(read_text(path), str(path))
