"""Each bench owns one section of BENCHMARKS.md, between its own markers; rewriting it keeps the rest."""
from __future__ import annotations

from pathlib import Path


def write_section(path: Path, key: str, title: str, body: str) -> None:
    """Replace the section ``key`` (``<!-- key:begin -->`` ... ``<!-- key:end -->``) or append it."""
    begin, end = f"<!-- {key}:begin -->", f"<!-- {key}:end -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{begin}\n## {title}\n\n{body}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)
