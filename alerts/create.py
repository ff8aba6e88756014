"""Alert creation: an alert row and a pending delivery per channel, written in the caller's transaction.

    insert_alert    the one insert of an alert and its deliveries (matches and feed events alike);
                    INSERT … ON CONFLICT DO NOTHING on (story, watchlist, key) keeps it race-safe
    create_alerts   the alerts one stored item causes: one per (story, watchlist), plus updates
    new_id          the sortable public ids of alerts, deliveries and digests
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from wirewatch.alerts.outboxlog import log, log_fields
from wirewatch.alerts.outboxstore import insert_ignoring_conflict, instant_alerts_since
from wirewatch.alerts.render import build_payload
from wirewatch.alerts.route import Route, route_of
from wirewatch.alerts.tables import ALERTS, DELIVERIES, Alert, DeliveryState
from wirewatch.alerts.types import WatchlistMatch
from wirewatch.config.clock import utcnow
from wirewatch.ingest.item import Item, StoryRef

__all__ = ["create_alerts", "insert_alert", "new_id"]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(prefix: str) -> str:
    """A sortable unique id like `msg_01J…` (48-bit milliseconds + 80 random bits, Crockford base32)."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = [_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5)]
    return f"{prefix}_{''.join(chars)}"


def insert_alert(conn: Connection, *, public_id: str, type_: str, story_id: int, watchlist: str, key: str,
                 item_id: int | None, title: str, payload: Mapping[str, Any], channels: Sequence[str],
                 now: datetime, throttled: bool = False) -> Alert | None:
    """Insert an alert and a pending delivery per channel (batched if throttled); None if it exists already."""
    values: dict[str, Any] = {
        "public_id": public_id, "type": type_, "story_id": story_id, "watchlist": watchlist, "key": key,
        "item_id": item_id, "title": title, "throttled": throttled,
        "payload": json.dumps(payload, ensure_ascii=False), "created_at": now,
    }
    ids = insert_ignoring_conflict(conn, ALERTS, values, ["story_id", "watchlist", "key"], returning=ALERTS.c.id)
    if not ids:
        return None
    alert = Alert(id=int(ids[0]), **values)
    rows = [{"alert_id": alert.id, "channel": channel, "message_id": new_id("msg"), "state": DeliveryState.PENDING,
             "batched": throttled, "attempts": 0, "step": 0, "next_attempt_at": now, "created_at": now}
            for channel in dict.fromkeys(channels)]
    insert_ignoring_conflict(conn, DELIVERIES, rows, ["alert_id", "channel"])
    return alert


def _match_alert(conn: Connection, type_: str, key: str, item: Item, story: StoryRef, match: WatchlistMatch,
                 route: Route, now: datetime) -> Alert | None:
    """One alert of a watchlist match, throttled into the hourly digest past the route's `max_per_hour`."""
    throttled = route.max_per_hour is not None and \
        instant_alerts_since(conn, match.watchlist, now - timedelta(hours=1)) >= route.max_per_hour
    public_id = new_id("alt")
    payload = build_payload(alert_id=public_id, type=type_, created_at=now, item=item, story=story, match=match)
    alert = insert_alert(conn, public_id=public_id, type_=type_, story_id=story.id, watchlist=match.watchlist,
                         key=key, item_id=item.id, title=item.title[:500], payload=payload, channels=route.channels,
                         now=now, throttled=throttled)
    if alert is not None:
        log.info("alert %s created: %s of story %d for watchlist %r%s → %s", public_id, type_, story.id,
                 match.watchlist, " (throttled: into the hourly digest)" if throttled else "",
                 ", ".join(route.channels) or "no channel",
                 extra=log_fields(alert=public_id, story=story.id, item=item.id, watchlist=match.watchlist,
                                  channel=list(dict.fromkeys(route.channels)), type=type_,
                                  throttled=throttled or None))
    return alert


def create_alerts(session: Session, item: Item, story: StoryRef, matches: Sequence[WatchlistMatch],
                  routes: Mapping[str, Route | Sequence[str]], now: datetime | None = None) -> list[Alert]:
    """Create the alerts (and their deliveries) this item causes, in the caller's transaction.

    One `alert.created` per (story, watchlist) ever; a watchlist whose route has `updates` gets an
    `alert.updated` per item that gave its story material new text (`story.updated`).
    Calling twice for the same story and watchlist creates nothing the second time.
    """
    now = now or utcnow()
    conn = session.connection()
    created: list[Alert] = []
    for match in matches:
        route = route_of(routes.get(match.watchlist, ()))
        alert = _match_alert(conn, "alert.created", "created", item, story, match, route, now)
        if alert is None and route.updates and story.updated:
            key = f"updated:{item.id if item.id is not None else item.identity}"[:300]
            alert = _match_alert(conn, "alert.updated", key, item, story, match, route, now)
        if alert is not None:
            created.append(alert)
    return created
