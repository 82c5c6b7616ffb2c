"""JSON files the range writes (truth, alerts, scores, results) and reads back."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from range.core.errors import InputError


def write_json(path: str | Path, data: Any) -> None:
    """Write JSON atomically: a crash leaves the old file or the new one, never half of one."""
    p = Path(path)
    tmp = p.with_name(p.name + ".part")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, p)


def read_json(path: str | Path) -> Any:
    """A JSON file's data; unreadable or malformed files are an InputError naming the file (and line)."""
    try:
        with open(path) as f:
            return json.load(f)
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", file=str(path)) from None
    except json.JSONDecodeError as e:
        raise InputError(f"malformed JSON: {e.msg}", file=str(path), line=e.lineno) from None
