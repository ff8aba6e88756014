"""Retention: prune old items and their index rows, stories left without items, old polls, delivered alerts,
Apprise per-URL states of finished deliveries, and vacuum SQLite when worthwhile.

The deletes are `upkeepstore`'s (and `alerts.outboxstore.prune_delivered`, `alerts.apprisestore.prune_url_states`);
this module works out the cutoffs.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from wirewatch import upkeepstore
from wirewatch.alerts.apprisestore import prune_url_states
from wirewatch.alerts.outbox import prune_delivered
from wirewatch.config.clock import utcnow
from wirewatch.config.models import Config

log = logging.getLogger("wirewatch.upkeep")


def prune(engine: Engine, config: Config) -> dict[str, int]:
    """Delete items (with matches, index rows), stories left empty and polls past `retention.items`, delivered
    alerts past theirs, Apprise URL states of finished deliveries older than a day; counts."""
    now = utcnow()
    cutoff = now - timedelta(seconds=config.retention.items)
    window_cutoff = now - timedelta(seconds=config.dedupe.window)
    counts: dict[str, int] = {}
    with Session(engine) as session:
        counts["items"] = upkeepstore.prune_items(session, cutoff)
        counts["stories"] = upkeepstore.prune_empty_stories(session)
        upkeepstore.prune_window(session, window_cutoff, cutoff)
        counts["alerts"] = prune_delivered(session, now - timedelta(seconds=config.retention.delivered_alerts))
        session.commit()
    counts["apprise_urls"] = prune_url_states(engine, now)
    if engine.dialect.name == "sqlite" and counts["items"] > 1000:
        upkeepstore.vacuum(engine)
    log.info("pruned %s", counts)
    return counts
