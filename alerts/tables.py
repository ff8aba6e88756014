"""Tables of the alert outbox: alerts, their deliveries per channel, digests and channel state.

    Alert         one per (story, watchlist, key); `key` is "created", or "updated:<item>" for updates
    Delivery      one per (alert, channel); the unit the outbox claims, sends and records
    Digest        one per (channel, window_end); groups deliveries of digest-mode or throttled alerts
    ChannelState  one per channel that has been disabled (410 Gone) or has recorded a result
    DeliveryAttempt  one per try of a delivery or digest: when, the HTTP status, the error, what came of it

`Delivery` and `Digest` are both sent, retried and leased: `SendState` holds the columns they share.

Timestamps are stored as UTC; `UTCDateTime` gives them back timezone-aware on every backend
(SQLite returns naive values).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

from wirewatch.config.clock import as_utc

__all__ = [
    "ALERTS", "ATTEMPTS", "CHANNEL_STATES", "DELIVERIES", "DIGESTS",
    "Alert", "AttemptOutcome", "ChannelState", "Claim", "Delivery", "DeliveryAttempt", "DeliveryInfo",
    "DeliveryState", "Digest", "Outcome", "SendState", "UTCDateTime",
]


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A DateTime column that stores UTC and always reads back an aware UTC datetime."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC before storing (naive values are taken as UTC already)."""
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Normalise what the driver returns to aware UTC."""
        return None if value is None else as_utc(value)


def _ts(nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=sa.Column(UTCDateTime(), nullable=nullable, index=index))


def _shared(sa_type: Any, default: Any = None, *, nullable: bool = False, unique: bool = False) -> Any:
    """A column of `SendState`: built again for each table (an `sa_column` is one object, owned by one table);
    no Python-side default, as with the columns written out in full."""
    return Field(default=default, sa_type=sa_type, nullable=nullable, unique=unique,
                 sa_column_kwargs={"default": None})


class DeliveryState:
    """The states of a delivery (and of a digest)."""

    PENDING = "pending"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    DEAD = "dead"
    ALL = (PENDING, RETRYING, DELIVERED, DEAD)
    OPEN = (PENDING, RETRYING)


class Alert(SQLModel, table=True):
    """One alert: a story matched a watchlist. The payload is built once, at creation."""

    __tablename__ = "alerts"
    __table_args__ = (sa.UniqueConstraint("story_id", "watchlist", "key", name="uq_alerts_story_watchlist_key"),)

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=sa.Column(sa.String(40), nullable=False, unique=True))
    type: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    story_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    watchlist: str = Field(sa_column=sa.Column(sa.String(200), nullable=False, index=True))
    key: str = Field(sa_column=sa.Column(sa.String(300), nullable=False))
    item_id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    title: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    throttled: bool = Field(default=False, sa_column=sa.Column(sa.Boolean, nullable=False))
    payload: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    created_at: datetime = _ts(index=True)


class SendState(SQLModel):
    """The columns a delivery and a digest share: id, message id, state, tries and their schedule, the lease."""

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = _shared(sa.String(40), unique=True)
    state: str = _shared(sa.String(16), DeliveryState.PENDING)
    attempts: int = _shared(sa.Integer, 0)
    step: int = _shared(sa.Integer, 0)
    next_attempt_at: datetime = _shared(UTCDateTime())
    first_attempt_at: datetime | None = _shared(UTCDateTime(), nullable=True)
    last_attempt_at: datetime | None = _shared(UTCDateTime(), nullable=True)
    delivered_at: datetime | None = _shared(UTCDateTime(), nullable=True)
    last_error: str | None = _shared(sa.Text, nullable=True)
    claimed_by: str | None = _shared(sa.String(200), nullable=True)
    lease_until: datetime | None = _shared(UTCDateTime(), nullable=True)
    created_at: datetime = _shared(UTCDateTime())


class Digest(SendState, table=True):
    """One digest message of a channel: the deliveries created before `window_end`."""

    __tablename__ = "alert_digests"
    __table_args__ = (sa.UniqueConstraint("channel", "window_end", name="uq_alert_digests_channel_window"),
                      sa.Index("ix_alert_digests_next_attempt_at", "next_attempt_at"))

    channel: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    window_end: datetime = _ts()


class Delivery(SendState, table=True):
    """One alert to one channel: sent on its own (instant) or as a member of a digest."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("alert_id", "channel", name="uq_alert_deliveries_alert_channel"),
        sa.Index("ix_alert_deliveries_due", "state", "next_attempt_at"),
    )

    alert_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False))
    channel: str = Field(sa_column=sa.Column(sa.String(200), nullable=False, index=True))
    batched: bool = Field(default=False, sa_column=sa.Column(sa.Boolean, nullable=False))
    digest_id: int | None = Field(default=None, sa_column=sa.Column(
        sa.Integer, sa.ForeignKey("alert_digests.id", ondelete="SET NULL"), nullable=True, index=True))


class ChannelState(SQLModel, table=True):
    """What the outbox knows about a channel: disabled after 410 Gone, last success and error."""

    __tablename__ = "alert_channel_states"

    name: str = Field(sa_column=sa.Column(sa.String(200), primary_key=True))
    disabled: bool = Field(default=False, sa_column=sa.Column(sa.Boolean, nullable=False))
    disabled_at: datetime | None = _ts(nullable=True)
    reason: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    config_hash: str | None = Field(default=None, sa_column=sa.Column(sa.String(64), nullable=True))
    last_success_at: datetime | None = _ts(nullable=True)
    last_error_at: datetime | None = _ts(nullable=True)
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))


class AttemptOutcome:
    """What one try of a delivery led to (the `outcome` of a `delivery_attempt` row)."""

    SENT = "sent"
    RETRY = "retry"
    DEAD = "dead"
    GIVEN_BACK = "given-back"  # never sent: the daemon was stopping; due again at once


class DeliveryAttempt(SQLModel, table=True):
    """One try of a delivery (or of a digest): its number, timing, HTTP status, error and outcome."""

    __tablename__ = "delivery_attempt"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int | None = Field(default=None, sa_column=sa.Column(
        sa.Integer, sa.ForeignKey("alert_deliveries.id", ondelete="CASCADE"), nullable=True, index=True))
    digest_id: int | None = Field(default=None, sa_column=sa.Column(
        sa.Integer, sa.ForeignKey("alert_digests.id", ondelete="CASCADE"), nullable=True, index=True))
    channel: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    attempt: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    started_at: datetime = _ts()
    finished_at: datetime = _ts()
    http_status: int | None = Field(default=None, sa_column=sa.Column(sa.Integer, nullable=True))
    error: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    outcome: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))


def _table(model: type[SQLModel]) -> sa.Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, sa.Table)
    return table


ALERTS = _table(Alert)
DELIVERIES = _table(Delivery)
DIGESTS = _table(Digest)
CHANNEL_STATES = _table(ChannelState)
ATTEMPTS = _table(DeliveryAttempt)


class Outcome(StrEnum):
    """What became of one claimed delivery or digest after a send."""

    DELIVERED = "delivered"
    RETRYING = "retrying"
    DEAD = "dead"
    GONE = "gone"  # 410: dead, and the channel is disabled
    LOST = "lost"  # the lease ran out before the result was recorded


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery (one payload) or digest (many) leased to this worker for one send."""

    kind: Literal["delivery", "digest"]
    id: int
    channel: str
    message_id: str
    attempts: int
    step: int
    first_attempt_at: datetime | None
    payloads: tuple[dict[str, Any], ...]

    @property
    def payload(self) -> dict[str, Any]:
        """The alert payload of a single delivery (the first member of a digest)."""
        return self.payloads[0]


@dataclass(frozen=True, slots=True)
class DeliveryInfo:
    """One delivery as `wirewatch alerts` lists it."""

    id: int
    message_id: str
    channel: str
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime | None
    delivered_at: datetime | None
    digest_id: int | None
    public_id: str
    watchlist: str
    title: str
    type: str

    def model_dump(self) -> dict[str, Any]:
        """A plain dict (timestamps as ISO strings) for JSON output."""
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items()}
