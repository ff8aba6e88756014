"""Feed health after each poll (`feed.unhealthy` / `feed.recovered` to the ops channels) and the gauges
refreshed from the outbox and feed tables."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from wirewatch import metrics, viewstore
from wirewatch.alerts.ops import create_feed_event
from wirewatch.config.clock import as_utc, utcnow
from wirewatch.config.models import Config
from wirewatch.ingest.feedhealth import assess, transition
from wirewatch.ingest.store import FeedRow
from wirewatch.logs import fields

log = logging.getLogger("wirewatch.health")  # the logger name is what users filter on; kept from health.py


def health_check(config: Config) -> Callable[[Session, FeedRow], None]:
    """A `record_polls` hook (`per_feed`): re-assess the feed and, on a change of health, store it and queue an event."""

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
        depth, oldest = viewstore.outbox_waiting(session)
        metrics.OUTBOX_DEPTH.set(depth)
        oldest_at = as_utc(oldest)
        metrics.OUTBOX_OLDEST.set((now - oldest_at).total_seconds() if oldest_at else 0)
        for created, delivered in viewstore.delivered_between(session, since, now):
            done, made = as_utc(delivered), as_utc(created)
            if done and made:
                metrics.DELIVERY_LATENCY.observe(max((done - made).total_seconds(), 0.0))
        for name, polled in viewstore.feed_polls(session):
            polled_at = as_utc(polled)
            if polled_at is not None:
                metrics.FEED_STALENESS.labels(name).set((now - polled_at).total_seconds())
    return now
