"""The per-URL state of Apprise deliveries: which URLs of a channel accepted one delivery (or digest).

A retry of a delivery sends only to the URLs not recorded here. URLs carry tokens, so only their
SHA-256 is stored. Rows older than a day whose delivery was delivered or no longer exists are pruned
(`prune_url_states`, by the daemon's daily retention job, `wirewatch.upkeep`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Field, SQLModel

from wirewatch.alerts.outboxstore import insert_ignoring_conflict
from wirewatch.alerts.tables import DELIVERIES, DIGESTS, DeliveryState, UTCDateTime
from wirewatch.config.clock import utcnow

__all__ = ["URL_STATES", "AppriseUrlState", "delivered_urls", "prune_url_states", "record_urls", "url_hash"]

PRUNE_AFTER = timedelta(days=1)


class AppriseUrlState(SQLModel, table=True):
    """One URL of an Apprise channel that accepted one delivery (or digest); the URL itself is hashed."""

    __tablename__ = "alert_apprise_urls"

    delivery_id: str = Field(sa_column=sa.Column(sa.String(40), primary_key=True))
    url_hash: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    delivered_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))


URL_STATES: sa.Table = AppriseUrlState.__table__  # type: ignore[attr-defined]


def url_hash(url: str) -> str:
    """The key a URL's outcomes are stored under (SHA-256 hex; the URL carries tokens)."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()

def delivered_urls(engine: Engine, delivery_id: str) -> set[str]:
    """The hashes of the URLs that accepted `delivery_id`."""
    with engine.connect() as conn:
        query = sa.select(URL_STATES.c.url_hash).where(URL_STATES.c.delivery_id == delivery_id)
        return set(conn.execute(query).scalars())


def record_urls(engine: Engine, delivery_id: str, keys: list[str]) -> None:
    """Record that the URLs hashed `keys` accepted `delivery_id` (again is harmless)."""
    now = utcnow()
    rows = [{"delivery_id": delivery_id, "url_hash": key, "delivered_at": now} for key in keys]
    with engine.begin() as conn:
        insert_ignoring_conflict(conn, URL_STATES, rows, ["delivery_id", "url_hash"])


def prune_url_states(engine: Engine, now: datetime | None = None) -> int:
    """Forget per-URL outcomes older than a day whose delivery was delivered or no longer exists."""
    cutoff = (now or utcnow()) - PRUNE_AFTER
    s = URL_STATES.c
    finished = sa.or_(
        s.delivery_id.in_(sa.select(DELIVERIES.c.message_id).where(DELIVERIES.c.state == DeliveryState.DELIVERED)),
        s.delivery_id.in_(sa.select(DIGESTS.c.message_id).where(DIGESTS.c.state == DeliveryState.DELIVERED)),
        sa.and_(s.delivery_id.not_in(sa.select(DELIVERIES.c.message_id)),
                s.delivery_id.not_in(sa.select(DIGESTS.c.message_id))),
    )
    with engine.begin() as conn:
        return int(conn.execute(URL_STATES.delete().where(s.delivered_at < cutoff, finished)).rowcount)
