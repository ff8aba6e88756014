"""Operational events (`feed.unhealthy`, `feed.recovered`) as alerts, through the same outbox and channels."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from wirewatch.alerts.create import insert_alert, new_id
from wirewatch.config.clock import iso

OPS_WATCHLIST = "ops"


def feed_event_payload(alert_id: str, event: str, feed: str, url: str, state: str, reason: str,
                       now: datetime) -> dict[str, Any]:
    """The payload of a feed event: the generic alert shape, so every channel can render it."""
    title = f"Feed {feed} is {state}" if event == "feed.unhealthy" else f"Feed {feed} recovered"
    return {
        "type": event,
        "id": alert_id,
        "created_at": iso(now),
        "watchlist": OPS_WATCHLIST,
        "feed": {"name": feed, "url": url, "state": state, "reason": reason},
        "story": {"id": 0, "first_seen": iso(now), "sources": [feed], "items": 0},
        "entities": [],
        "item": {"feed": feed, "guid": None, "url": url, "title": title, "text": reason, "source": None,
                 "published": iso(now)},
    }


def create_feed_event(conn: Connection, event: str, feed: str, url: str, state: str, reason: str,
                      channels: Sequence[str], now: datetime) -> bool:
    """Record one feed event and a delivery per ops channel; idempotent per (event, feed, time)."""
    if not channels:
        return False
    public_id = new_id("evt")
    payload = feed_event_payload(public_id, event, feed, url, state, reason, now)
    return insert_alert(conn, public_id=public_id, type_=event, story_id=0, watchlist=OPS_WATCHLIST,
                        key=f"{event}:{feed}:{now.isoformat()}"[:300], item_id=None, title=payload["item"]["title"],
                        payload=payload, channels=channels, now=now) is not None
