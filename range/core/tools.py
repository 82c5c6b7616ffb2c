"""External programs the range runs (tshark, dumpcap, editcap, nsenter, mmdebstrap...): found on
``PATH`` or reported as :class:`~range.core.errors.ToolMissing` naming the Debian package."""
from __future__ import annotations

import shutil

from range.core.errors import ToolMissing


def require_tool(name: str, package: str | None = None) -> str:
    """The path of ``name``, or ToolMissing saying which Debian package brings it."""
    path = shutil.which(name)
    if not path:
        raise ToolMissing(f"{name} is not installed: apt-get install {package or name} "
                          "(scripts/bootstrap installs it)")
    return path
