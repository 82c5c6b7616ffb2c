"""The CSIRT workflow: incident reports classified by RSIT and marked against the ground truth,
the session's TLP-aware indicator hub, the answer key both are marked against, and exports
(STIX 2.1, MISP)."""
from range.csirt import exports, incidents, rsit, sharing
from range.csirt.filing import (
           MAX_COMMENT,
           MAX_REPORTS,
           comment,
           edit_report,
           file_report,
           override,
           report,
           reports,
           withdraw_report,
)
from range.csirt.hub import indicator_rule, indicators, publish, visible_indicators
from range.csirt.marks import adjustments, session_share_marks, team_marks

__all__ = [
    "exports",
    "incidents",
    "rsit",
    "sharing",
    "MAX_COMMENT",
    "MAX_REPORTS",
    "comment",
    "edit_report",
    "file_report",
    "override",
    "report",
    "reports",
    "withdraw_report",
    "indicator_rule",
    "indicators",
    "publish",
    "visible_indicators",
    "adjustments",
    "session_share_marks",
    "team_marks",
]
