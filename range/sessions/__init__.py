"""Exercise sessions: their state store, what the instructor and the teams do to them, the feeds
that bring each mode's events in, the driver that keeps every running session moving, and the
searches each team saves in its hunting workspace.

A session is one scenario played for several teams, offline (each team's traffic synthesised and
revealed as the session clock passes it) or live (the range on Docker).
"""
from range.sessions import accounts
from range.sessions.commands import (
                                     MAX_TEAMS,
                                     create_session,
                                     delete_session,
                                     move_step,
                                     pause,
                                     release_hint,
                                     reset_team,
                                     start,
                                     stop,
)
from range.sessions.driver import Driver, run_until_done
from range.sessions.feed import Feed
from range.sessions.feeds import FEEDS
from range.sessions.rules import (
                                     MAX_RULE_BYTES,
                                     check_rule,
                                     deploy_rule,
                                     dry_run,
                                     withdraw_rule,
)
from range.sessions.searches import (
                                     MAX_SEARCHES,
                                     NameTaken,
                                     check_search,
                                     delete_search,
                                     save_search,
                                     saved_searches,
)
from range.sessions.state import STATUSES, Clock, StateStore, check_name, session_dir

__all__ = ["accounts", "MAX_TEAMS", "create_session", "delete_session", "move_step", "pause", "release_hint",
           "reset_team", "start", "stop", "Driver", "run_until_done", "Feed", "FEEDS", "MAX_RULE_BYTES", "check_rule",
           "deploy_rule", "dry_run", "withdraw_rule", "MAX_SEARCHES", "NameTaken", "check_search",
           "delete_search", "save_search", "saved_searches", "STATUSES", "Clock", "StateStore", "check_name",
           "session_dir"]
