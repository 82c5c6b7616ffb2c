"""Where the project's data lives: environments, detections, the Sigma corpus."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("CYBERRANGE_HOME", Path(__file__).resolve().parents[2]))
ENVIRONMENTS = ROOT / "environments"
DETECTIONS = ROOT / "detections"
STATE = Path(os.environ.get("CYBERRANGE_STATE", Path.home() / ".local" / "state" / "cyberrange"))
