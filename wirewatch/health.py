"""Feed health after each poll (`feed.unhealthy` / `feed.recovered` to the ops channels), the gauges, and
the database's availability as the daemon's jobs see it (`DatabaseWatch`)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import exc as sa_exc
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from wirewatch import metrics
from wirewatch.alerts.models import Delivery, DeliveryState
from wirewatch.alerts.ops import create_feed_event
from wirewatch.config.clock import as_utc, utcnow
from wirewatch.config.models import Config
from wirewatch.ingest.feedhealth import assess, transition
from wirewatch.ingest.store import FeedRow
from wirewatch.logs import fields

log = logging.getLogger("wirewatch.health")


def health_check(config: Config) -> Callable[[Session, FeedRow], None]:
    """A `record_poll` hook: re-assess the feed and, on a change of health, store it and queue an event."""

    def check(session: Session, row: FeedRow) -> None:
        now = utcnow()
        cfg = config.feed_health
        state, reason = assess(row, now, cfg.failures, cfg.silence_factor, cfg.min_silence)
        change = transition(row.health, state, reason)
        if change is None:
            return
        row.health, row.health_since = state, now
        session.add(row)
        create_feed_event(session.connection(), change.event, row.name, row.url, state, change.reason,
                          config.ops_channels, now)
        level = logging.WARNING if change.event == "feed.unhealthy" else logging.INFO
        log.log(level, "%s %s: %s", change.event, row.name, change.reason,
                extra=fields(event=change.event, feed=row.name, reason=change.reason))

    return check


def refresh_gauges(engine: Engine, since: datetime) -> datetime:
    """Set outbox depth, oldest pending age, feed staleness, and observe latencies delivered after `since`."""
    now = utcnow()
    with Session(engine) as session:
        waiting = (DeliveryState.PENDING, DeliveryState.RETRYING)
        depth, oldest = session.execute(
            select(func.count(), func.min(col(Delivery.created_at))).where(col(Delivery.state).in_(waiting))
        ).one()
        metrics.OUTBOX_DEPTH.set(depth)
        oldest_at = as_utc(oldest)
        metrics.OUTBOX_OLDEST.set((now - oldest_at).total_seconds() if oldest_at else 0)
        for created, delivered in session.execute(
            select(col(Delivery.created_at), col(Delivery.delivered_at))
            .where(col(Delivery.delivered_at) > since, col(Delivery.delivered_at) <= now)
        ).all():
            done, made = as_utc(delivered), as_utc(created)
            if done and made:
                metrics.DELIVERY_LATENCY.observe(max((done - made).total_seconds(), 0.0))
        for name, polled in session.execute(select(col(FeedRow.name), col(FeedRow.last_polled_at))
                                            .where(col(FeedRow.enabled))).all():
            polled_at = as_utc(polled)
            if polled_at is not None:
                metrics.FEED_STALENESS.labels(name).set((now - polled_at).total_seconds())
    return now


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
