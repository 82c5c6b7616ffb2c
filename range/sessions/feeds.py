"""The feed of each session mode: ``offline`` (a synthesised capture revealed by the session
clock) and ``live`` (the range on Docker). A new mode is a new :class:`~range.sessions.feed.Feed`
and one line here."""
from __future__ import annotations

from range.sessions.feed import Feed
from range.sessions.feed_live import LiveFeed
from range.sessions.feed_offline import OfflineFeed

FEEDS: dict[str, type[Feed]] = {"offline": OfflineFeed, "live": LiveFeed}
