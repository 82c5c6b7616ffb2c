"""Detection: Sigma rules compiled to SQL over the event store (:mod:`.rules`, :mod:`.backend`),
run incrementally by the engine (:mod:`.engine`), correlations evaluated in linear time
(:mod:`.correlate`), and the bounds every rule is checked against first (:mod:`.bounds`)."""
from range.detect.engine import GROUP_FIELD, REGEX_TIMEOUT, RULE_TIMEOUT, Detector, run
from range.detect.legacy import legacy_aggregation
from range.detect.rules import (
           ALERT_WINDOW,
           PIPELINE,
           Correlation,
           Rule,
           RuleSet,
           load_rules,
           pipeline_tables,
           rule_files,
)

__all__ = ["GROUP_FIELD", "REGEX_TIMEOUT", "RULE_TIMEOUT", "Detector", "run", "legacy_aggregation", "ALERT_WINDOW",
           "PIPELINE", "Correlation", "Rule", "RuleSet", "load_rules", "pipeline_tables", "rule_files"]
