"""The queries of the read-only views: `export`, `stories`, `why`, `alerts` filters, backtest, the gauges.

Each takes the caller's session or connection and returns rows; what is printed or measured from
them is `reports`', `why`'s, the `cli_*` modules' and `feedwatch`'s.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, or_, select

from wirewatch.alerts.matchstore import ItemMatch
from wirewatch.alerts.tables import ALERTS, DELIVERIES, Delivery, DeliveryState
from wirewatch.ingest.store import FeedRow, ItemRow, ItemSignature, StoryRow

__all__ = ["alerts_of_story", "deliveries_named", "deliveries_of_alert", "delivered_between", "feed_polls",
           "items_named", "items_page", "items_since", "known_channels", "known_watchlists", "outbox_waiting",
           "signatures_of", "stored_feed_names", "stored_matches", "stories_since", "story_items"]


# --- export, stories, backtest ----------------------------------------------------------------

def items_page(session: Session, feed: str | None, since: datetime | None, after: int, limit: int) -> list[ItemRow]:
    """Up to `limit` items with an id above `after`, by id, of one feed and fetched since `since` if given."""
    query = select(ItemRow).where(col(ItemRow.id) > after).order_by(col(ItemRow.id)).limit(limit)
    if feed:
        query = query.where(ItemRow.feed == feed)
    if since is not None:
        query = query.where(col(ItemRow.fetched_at) >= since)
    return list(session.exec(query).all())


def stories_since(session: Session, since: datetime | None) -> list[StoryRow]:
    """Stories newest first, only those updated since `since` if given."""
    query = select(StoryRow).order_by(col(StoryRow.first_seen).desc())
    if since is not None:
        query = query.where(col(StoryRow.last_updated) >= since)
    return list(session.exec(query).all())


def items_since(session: Session, since: datetime) -> Iterable[ItemRow]:
    """Items fetched since `since`, by id, as the query yields them."""
    return session.exec(select(ItemRow).where(col(ItemRow.fetched_at) >= since).order_by(col(ItemRow.id)))


def story_items(session: Session, story_id: int) -> list[ItemRow]:
    """The items of one story, by id."""
    return list(session.exec(select(ItemRow).where(col(ItemRow.story_id) == story_id).order_by(col(ItemRow.id))).all())


def signatures_of(session: Session, item_ids: Sequence[int]) -> dict[int, ItemSignature]:
    """The stored signatures of these items, by item id."""
    if not item_ids:
        return {}
    rows = session.exec(select(ItemSignature).where(col(ItemSignature.item_id).in_(list(item_ids)))).all()
    return {s.item_id: s for s in rows}


def stored_feed_names(conn: Connection) -> set[str]:
    """The feeds the database knows: feed rows, and the feeds of stored items (a removed feed's remain)."""
    names = set(conn.execute(sa.select(FeedRow.__table__.c.name)).scalars())  # type: ignore[attr-defined]
    return names | set(conn.execute(sa.select(ItemRow.__table__.c.feed).distinct()).scalars())  # type: ignore[attr-defined]


# --- why ------------------------------------------------------------------------------------------

def items_named(session: Session, ref: str, limit: int) -> list[ItemRow]:
    """Up to `limit` items whose guid, URL or identity is `ref`, by id."""
    query = select(ItemRow).where(or_(col(ItemRow.guid) == ref, col(ItemRow.url) == ref,
                                      col(ItemRow.identity) == ref)).order_by(col(ItemRow.id)).limit(limit)
    return list(session.exec(query).all())


def stored_matches(session: Session, item_id: int | None) -> list[ItemMatch]:
    """The watchlist matches stored for one item."""
    return list(session.exec(select(ItemMatch).where(ItemMatch.item_id == item_id)).all())


def alerts_of_story(conn: Connection, story_id: int) -> list[Any]:
    """The alert rows of one story, by id."""
    return list(conn.execute(sa.select(ALERTS).where(ALERTS.c.story_id == story_id).order_by(ALERTS.c.id)))


def deliveries_of_alert(conn: Connection, alert_id: int) -> list[Any]:
    """The delivery rows of one alert, by channel."""
    return list(conn.execute(sa.select(DELIVERIES).where(DELIVERIES.c.alert_id == alert_id)
                             .order_by(DELIVERIES.c.channel)))


# --- alerts filters ---------------------------------------------------------------------------

def known_watchlists(conn: Connection) -> set[str]:
    """The watchlists stored alerts name."""
    return set(conn.execute(sa.select(ALERTS.c.watchlist).distinct()).scalars())


def known_channels(conn: Connection) -> set[str]:
    """The channels stored deliveries name."""
    return set(conn.execute(sa.select(DELIVERIES.c.channel).distinct()).scalars())


def deliveries_named(conn: Connection, *, delivery_id: int | None = None, message_id: str | None = None,
                     alert_id: str | None = None, channel: str | None = None) -> list[tuple[int, str, str]]:
    """(id, channel, state) of the deliveries with this id, `msg_…` id or alert `alt_…` id (and channel), by id."""
    d, a = DELIVERIES.c, ALERTS.c
    query = sa.select(d.id, d.channel, d.state).join(ALERTS, a.id == d.alert_id).order_by(d.id)
    for column, value in ((d.id, delivery_id), (d.message_id, message_id), (a.public_id, alert_id),
                          (d.channel, channel)):
        if value is not None:
            query = query.where(column == value)
    return [(int(r.id), str(r.channel), str(r.state)) for r in conn.execute(query)]


# --- gauges -----------------------------------------------------------------------------------

def outbox_waiting(session: Session) -> tuple[int, datetime | None]:
    """How many deliveries wait (pending or retrying), and when the oldest of them was created."""
    waiting = (DeliveryState.PENDING, DeliveryState.RETRYING)
    depth, oldest = session.execute(
        select(sa.func.count(), sa.func.min(col(Delivery.created_at))).where(col(Delivery.state).in_(waiting))
    ).one()
    return int(depth), oldest


def delivered_between(session: Session, since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
    """(created, delivered) of the deliveries delivered after `since`, up to `until`."""
    rows = session.execute(select(col(Delivery.created_at), col(Delivery.delivered_at))
                           .where(col(Delivery.delivered_at) > since, col(Delivery.delivered_at) <= until)).all()
    return [(created, delivered) for created, delivered in rows]


def feed_polls(session: Session) -> list[tuple[str, datetime | None]]:
    """Each enabled feed with when it was last polled."""
    rows = session.execute(select(col(FeedRow.name), col(FeedRow.last_polled_at)).where(col(FeedRow.enabled))).all()
    return [(name, polled) for name, polled in rows]
