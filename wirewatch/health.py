"""After each poll: update the feed's health and raise `feed.unhealthy` / `feed.recovered` to the ops channels."""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine
from sqlmodel import Session

from alerts.ops import create_feed_event
from config.models import Config
from ingest.feedhealth import assess, transition
from ingest.store import FeedRow, utcnow

log = logging.getLogger("wirewatch.health")


def check_feed(engine: Engine, name: str, config: Config) -> str | None:
    """Re-assess one feed; on a change of health store it and queue an event; return the event name."""
    now = utcnow()
    cfg = config.feed_health
    with Session(engine) as session:
        row = session.get(FeedRow, name)
        if row is None:
            return None
        state, reason = assess(row, now, cfg.failures, cfg.silence_factor, cfg.min_silence)
        change = transition(row.health, state, reason)
        if change is None:
            return None
        row.health, row.health_since = state, now
        session.add(row)
        create_feed_event(session.connection(), change.event, name, row.url, state, change.reason,
                          config.ops_channels, now)
        session.commit()
    level = logging.WARNING if change.event == "feed.unhealthy" else logging.INFO
    log.log(level, "%s %s: %s", change.event, name, change.reason)
    return change.event
