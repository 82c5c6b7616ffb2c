"""A whole exercise in one command: offline (replay, ingest, detect and score every team's copy,
as fast as the machine goes) or live (a live session driven to its end). Both write the same
files: ``DIR/<team>/`` and ``DIR/results.json``."""
from range.exercise.live import run_live
from range.exercise.offline import run_offline, run_team
from range.exercise.teams import TeamSpec, parse_team

__all__ = ["run_live", "run_offline", "run_team", "TeamSpec", "parse_team"]
