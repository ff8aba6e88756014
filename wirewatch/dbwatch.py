"""The database's availability as the daemon's jobs see it (`DatabaseWatch`), and how to tell a database
error from a bug."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import exc as sa_exc

from wirewatch import metrics

log = logging.getLogger("wirewatch.health")  # the logger name is what users filter on; kept from health.py


def is_database_error(exc: BaseException) -> bool:
    """Whether `exc` means the database is unreachable or busy (rather than a bug in our code)."""
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, ConnectionError)


def one_line(exc: BaseException) -> str:
    """The first line of an error, without SQLAlchemy's statement and background-link trailer."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    line = text.splitlines()[0] if text else ""
    return f"{type(getattr(exc, 'orig', None) or exc).__name__}: {line}" if line else type(exc).__name__


class DatabaseWatch:
    """Turns the jobs' database failures into three kinds of log line: down (once), a slow reminder, back up.

    Every job reports each database round trip (`failed` / `succeeded`); during an outage each one fails,
    but only the first failure logs (a warning with the one-line reason), then one reminder every
    `remind_every` seconds, then one line with the outage's duration when a job gets through again.
    """

    def __init__(self, remind_every: float = 60.0, clock: Callable[[], float] = time.time) -> None:
        self.remind_every = remind_every
        self.clock = clock
        self.down_since: float | None = None  # epoch seconds
        self.reason = ""
        self.kind = "unavailable"  # or "busy": SQLite's lock held elsewhere past sqlite_busy_timeout
        self.failures = 0
        self._reminded = 0.0
        self._lock = threading.Lock()
        metrics.DATABASE_UP.set(1)

    def failed(self, exc: BaseException, what: str) -> None:
        """A job's database work failed with `exc` (a database error: see `is_database_error`)."""
        now = self.clock()
        with self._lock:
            self.failures += 1
            self.reason = one_line(exc)
            if self.down_since is None:
                self.down_since, self._reminded = now, now
                self.kind = "busy" if "database is locked" in self.reason else "unavailable"
                metrics.DATABASE_UP.set(0)
                log.warning("database %s (%s): %s; jobs keep retrying, nothing is lost", self.kind, what, self.reason)
            elif now - self._reminded >= self.remind_every:
                self._reminded = now
                log.warning("database still %s after %.0fs (%d failed attempts): %s",
                            self.kind, now - self.down_since, self.failures, self.reason)

    def succeeded(self) -> None:
        """A job's database work went through."""
        with self._lock:
            if self.down_since is None:
                return
            down = self.clock() - self.down_since
            self.down_since, self.failures = None, 0
            metrics.DATABASE_UP.set(1)
        log.info("database available again after %.1fs down", down)

    def readiness(self) -> tuple[bool, str] | None:
        """"not ready" with the outage's start and reason while the database is down; None otherwise."""
        with self._lock:
            if self.down_since is None:
                return None
            since = datetime.fromtimestamp(self.down_since, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            return False, f"not ready: database {self.kind} since {since}: {self.reason}"
