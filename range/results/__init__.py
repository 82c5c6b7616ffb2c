"""Results: where each team stands (:mod:`.standings`), what each audience may see and when
(:mod:`.disclosure`), the instructor's view (:mod:`.instructor`), the after-action report and the
programme across sessions (:mod:`.report`, :mod:`.aar`)."""
from range.results import aar, disclosure
from range.results.instructor import session_detail
from range.results.report import after_action, results_csv
from range.results.standings import TeamFacts, results, team_facts, team_score

__all__ = ["aar", "disclosure", "session_detail", "after_action", "results_csv", "TeamFacts", "results",
           "team_facts", "team_score"]
