"""Retention: prune old items and their index rows, stories left without items, old polls, delivered alerts, and vacuum SQLite when worthwhile."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import exists, func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select

from wirewatch.alerts.matchstore import ItemMatch
from wirewatch.alerts.outbox import prune_delivered
from wirewatch.config.models import Config
from wirewatch.ingest.store import (
    FeedHistory,
    ItemRow,
    ItemSignature,
    PollLogRow,
    StoryBand,
    StoryFeature,
    StoryRow,
    utcnow,
)

log = logging.getLogger("wirewatch.upkeep")


def _prune_empty_stories(session: Session) -> int:
    """Delete stories no item points to any more, keeping the newest story row whatever it holds.

    The newest row stays because SQLite hands out max(id) + 1 to the next story: were it deleted, a new
    story could take the id of a pruned one, and an alert kept for the old story (same id, watchlist and
    key) would stop the new story's alert.
    """
    newest = session.exec(select(func.max(StoryRow.id))).one()
    if newest is None:
        return 0
    empty = select(StoryRow.id).where(col(StoryRow.id) < newest,
                                      ~exists().where(col(ItemRow.story_id) == col(StoryRow.id)))
    ids = list(session.exec(empty).all())
    for start in range(0, len(ids), 500):
        session.exec(delete(StoryRow).where(col(StoryRow.id).in_(ids[start : start + 500])))
    return len(ids)


def prune(engine: Engine, config: Config) -> dict[str, int]:
    """Delete items (with matches, index rows), stories left empty and polls past `retention.items`, delivered
    alerts past theirs; counts."""
    now = utcnow()
    cutoff = now - timedelta(seconds=config.retention.items)
    window_cutoff = now - timedelta(seconds=config.dedupe.window)
    counts: dict[str, int] = {}
    with Session(engine) as session:
        old_ids = list(session.exec(select(ItemRow.id).where(col(ItemRow.fetched_at) < cutoff)).all())
        for start in range(0, len(old_ids), 500):
            chunk = old_ids[start : start + 500]
            session.exec(delete(ItemMatch).where(col(ItemMatch.item_id).in_(chunk)))
            session.exec(delete(ItemSignature).where(col(ItemSignature.item_id).in_(chunk)))
            session.exec(delete(StoryBand).where(col(StoryBand.item_id).in_(chunk)))
            session.exec(delete(ItemRow).where(col(ItemRow.id).in_(chunk)))
        counts["items"] = len(old_ids)
        counts["stories"] = _prune_empty_stories(session)
        session.exec(delete(StoryBand).where(col(StoryBand.created_at) < window_cutoff))
        session.exec(delete(StoryFeature).where(col(StoryFeature.created_at) < window_cutoff))
        session.exec(delete(ItemSignature).where(col(ItemSignature.created_at) < window_cutoff))
        session.exec(delete(FeedHistory).where(col(FeedHistory.created_at) < cutoff))
        # recording keeps the newest 50 per feed; this drops what a feed removed from the config left behind
        session.exec(delete(PollLogRow).where(col(PollLogRow.at) < cutoff))
        counts["alerts"] = prune_delivered(session, now - timedelta(seconds=config.retention.delivered_alerts))
        session.commit()
    if engine.dialect.name == "sqlite" and counts["items"] > 1000:
        raw = engine.raw_connection()
        try:
            raw.driver_connection.execute("VACUUM")  # type: ignore[union-attr]
        finally:
            raw.close()
    log.info("pruned %s", counts)
    return counts
