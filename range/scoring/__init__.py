"""Ground truth and scoring: what each attack step was (``truth.json``), whether and how fast a
team's alerts detected it, the ledger that explains every point, and the ranking of teams.

Pure functions over data: no database, no network, no clock.
"""
from range.scoring.ranking import rank, ranking_table
from range.scoring.score import (
                                 SLACK,
                                 Adjustment,
                                 adjustment_line,
                                 decay,
                                 event_in_step,
                                 event_key,
                                 extend,
                                 score,
)
from range.scoring.truth import (
                                 HOST_ID,
                                 FlowKey,
                                 HostKey,
                                 StepTruth,
                                 Truth,
                                 compact_flows,
                                 compact_host,
                                 flow_matches,
                                 host_key,
                                 host_matches,
)

__all__ = ["rank", "ranking_table", "SLACK", "Adjustment", "adjustment_line", "decay", "event_in_step", "event_key",
           "extend", "score", "HOST_ID", "FlowKey", "HostKey", "StepTruth", "Truth", "compact_flows", "compact_host",
           "flow_matches", "host_key", "host_matches"]
