"""Recent polls per feed, kept in memory by the daemon for the console's feed page (no SQL, no web imports)."""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime

from ingest.store import utcnow


@dataclass(frozen=True, slots=True)
class Poll:
    """One finished poll of a feed."""

    at: datetime
    status: str
    http_status: int | None
    new: int
    updated: int
    duplicate: int
    duration: float
    error: str | None


class PollLog:
    """The last `keep` polls of each feed, newest first; fed by the daemon after each poll."""

    def __init__(self, keep: int = 50) -> None:
        self.keep = keep
        self._polls: dict[str, deque[Poll]] = defaultdict(lambda: deque(maxlen=self.keep))

    def add(self, feed: str, status: str, http_status: int | None, new: int = 0, updated: int = 0,
            duplicate: int = 0, duration: float = 0.0, error: str | None = None) -> None:
        """Remember one poll."""
        self._polls[feed].appendleft(Poll(utcnow(), status, http_status, new, updated, duplicate, duration, error))

    def recent(self, feed: str) -> list[Poll]:
        """The feed's remembered polls, newest first."""
        return list(self._polls.get(feed, ()))


POLLS = PollLog()
"""The daemon's poll log (one per process; `wirewatch web` alone has none and shows the last poll only)."""
