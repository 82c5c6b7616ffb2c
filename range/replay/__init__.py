"""Replay: one plan of a team's traffic (:mod:`.plan`), shared by the offline replay and the live
range, and the offline replay itself (:mod:`.offline`: a capture and its ground truth)."""
from range.replay.offline import ReplayResult, generate, replay
from range.replay.plan import (
           StepPlan,
           benign_actions,
           step_context,
           step_plan,
           step_start,
)

__all__ = ["ReplayResult", "generate", "replay", "StepPlan", "benign_actions", "step_context", "step_plan",
           "step_start"]
