"""Retention's SQL: deleting old items with their matches and index rows, empty stories, old polls; VACUUM.

The cutoffs are `upkeep`'s to work out; these delete what is older, in the caller's session.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select

from wirewatch.alerts.matchstore import ItemMatch
from wirewatch.ingest.store import (
    FeedHistory,
    ItemRow,
    ItemSignature,
    PollLogRow,
    StoryBand,
    StoryFeature,
    StoryRow,
)

__all__ = ["prune_empty_stories", "prune_items", "prune_window", "vacuum"]

CHUNK = 500
"""Ids per `DELETE … IN (…)` statement."""


def prune_items(session: Session, cutoff: datetime) -> int:
    """Delete items fetched before `cutoff`, with their matches, signatures and bands; returns how many."""
    old_ids = list(session.exec(select(ItemRow.id).where(col(ItemRow.fetched_at) < cutoff)).all())
    for start in range(0, len(old_ids), CHUNK):
        chunk = old_ids[start : start + CHUNK]
        session.exec(delete(ItemMatch).where(col(ItemMatch.item_id).in_(chunk)))
        session.exec(delete(ItemSignature).where(col(ItemSignature.item_id).in_(chunk)))
        session.exec(delete(StoryBand).where(col(StoryBand.item_id).in_(chunk)))
        session.exec(delete(ItemRow).where(col(ItemRow.id).in_(chunk)))
    return len(old_ids)


def prune_empty_stories(session: Session) -> int:
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
    for start in range(0, len(ids), CHUNK):
        session.exec(delete(StoryRow).where(col(StoryRow.id).in_(ids[start : start + CHUNK])))
    return len(ids)


def prune_window(session: Session, window_cutoff: datetime, cutoff: datetime) -> None:
    """Delete index rows older than the story window's cutoff, and feed history and polls older than `cutoff`."""
    session.exec(delete(StoryBand).where(col(StoryBand.created_at) < window_cutoff))
    session.exec(delete(StoryFeature).where(col(StoryFeature.created_at) < window_cutoff))
    session.exec(delete(ItemSignature).where(col(ItemSignature.created_at) < window_cutoff))
    session.exec(delete(FeedHistory).where(col(FeedHistory.created_at) < cutoff))
    # recording keeps the newest 50 per feed; this drops what a feed removed from the config left behind
    session.exec(delete(PollLogRow).where(col(PollLogRow.at) < cutoff))


def vacuum(engine: Engine) -> None:
    """VACUUM a SQLite database (outside any transaction)."""
    raw = engine.raw_connection()
    try:
        raw.driver_connection.execute("VACUUM")  # type: ignore[union-attr]
    finally:
        raw.close()
