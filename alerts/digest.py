"""Digest windows: when a channel's window closes, its waiting deliveries become one digest message.

A channel in `mode: digest` batches every alert; an instant channel batches only the alerts a
watchlist's `max_per_hour` held back (hourly windows). Membership is written to the database
(`Delivery.digest_id`) in the same transaction that creates the `Digest` row, so each alert is
in exactly one digest and nothing is lost across restarts. Several workers may close windows at
once: the (channel, window_end) unique constraint lets only one of them create the digest.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.engine import Connection

from wirewatch.alerts.models import DELIVERIES, DIGESTS, DeliveryState
from wirewatch.config.types import parse_duration

__all__ = ["Cron", "Every", "Schedule", "close_window", "insert_ignoring_conflict", "parse_every"]

OVERFLOW_EVERY = "1h"
_MAX_STEPS = 100_000


class Schedule(Protocol):
    """When digest windows end."""

    def next_after(self, moment: datetime) -> datetime:
        """The first window end strictly after `moment`."""

    def last_at_or_before(self, moment: datetime, start: datetime) -> datetime:
        """The latest window end at or before `moment`, given one (`start`) that is."""


@dataclass(frozen=True, slots=True)
class Every:
    """Fixed windows of `seconds`, aligned to the Unix epoch (so every daemon agrees)."""

    seconds: float

    def next_after(self, moment: datetime) -> datetime:
        """The first multiple of `seconds` strictly after `moment`."""
        n = math.floor(moment.timestamp() / self.seconds) + 1
        return datetime.fromtimestamp(n * self.seconds, UTC)

    def last_at_or_before(self, moment: datetime, start: datetime) -> datetime:
        """The latest multiple of `seconds` at or before `moment`."""
        n = math.floor(moment.timestamp() / self.seconds)
        return max(start, datetime.fromtimestamp(n * self.seconds, UTC))


@dataclass(frozen=True, slots=True)
class Cron:
    """Windows ending at the fire times of a 5-field cron expression (the machine's local time zone)."""

    trigger: Any

    def next_after(self, moment: datetime) -> datetime:
        """The first fire time strictly after `moment`."""
        fire = self.trigger.get_next_fire_time(None, moment + timedelta(microseconds=1))
        if fire is None:
            raise ValueError("cron expression never fires again")
        result: datetime = fire.astimezone(UTC)
        return result

    def last_at_or_before(self, moment: datetime, start: datetime) -> datetime:
        """Step fire times forward from `start` up to `moment`."""
        current = start
        for _ in range(_MAX_STEPS):
            following = self.next_after(current)
            if following > moment:
                return current
            current = following
        return current


def parse_every(value: str) -> Schedule:
    """`1h`, `30m`, `1d` (fixed windows) or a 5-field cron expression like `0 8 * * 1-5`."""
    try:
        return Every(parse_duration(value))
    except ValueError:
        pass
    try:
        return Cron(CronTrigger.from_crontab(value))
    except ValueError as exc:
        raise ValueError(f"expected a duration like 1h or a cron expression like '0 8 * * *', got {value!r}") from exc


def insert_ignoring_conflict(conn: Connection, table: sa.Table, values: dict[str, Any] | list[dict[str, Any]],
                             keys: list[str], returning: sa.Column[Any] | None = None) -> list[Any]:
    """INSERT … ON CONFLICT (keys) DO NOTHING; returns the `returning` value of each row inserted.

    The statement is built once per table and the values are passed as parameters (an executemany
    for a list): a statement carrying its values was compiled again on every call, which was most of
    the cost of creating an alert.
    """
    if isinstance(values, list) and not values:
        return []
    if returning is not None and isinstance(values, list):  # RETURNING of several rows: one multi-row VALUES
        stmt: Any = _insert_statement(conn.dialect.name, table, tuple(keys), None)
        return list(conn.execute(stmt.values(values).returning(returning)).scalars())
    stmt = _insert_statement(conn.dialect.name, table, tuple(keys), returning)
    if returning is not None:
        return list(conn.execute(stmt, values).scalars())
    conn.execute(stmt, values)
    return []


@functools.cache
def _insert_statement(dialect: str, table: sa.Table, keys: tuple[str, ...], returning: sa.Column[Any] | None) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert
        stmt: Any = pg_insert(table).on_conflict_do_nothing(index_elements=list(keys))
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert
        stmt = sqlite_insert(table).on_conflict_do_nothing(index_elements=list(keys))
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise NotImplementedError(f"database {dialect!r} is not supported")
    return stmt if returning is None else stmt.returning(returning)


def _waiting(channel: str, all_rows: bool, now: datetime) -> sa.ColumnElement[bool]:
    d = DELIVERIES.c
    batched = sa.true() if all_rows else d.batched == sa.true()
    return sa.and_(
        d.channel == channel, d.digest_id.is_(None), d.state.in_(DeliveryState.OPEN), batched,
        sa.or_(d.lease_until.is_(None), d.lease_until < now),
    )


def close_window(conn: Connection, channel: str, schedule: Schedule, now: datetime, *, all_rows: bool,
                 message_id: str) -> int | None:
    """Close the channel's latest ended window, if any has waiting deliveries; returns the digest id.

    `all_rows` is True for a digest-mode channel (every delivery waits) and False for an instant
    channel (only deliveries held back by `max_per_hour` wait).
    """
    waiting = _waiting(channel, all_rows, now)
    oldest = conn.execute(sa.select(sa.func.min(DELIVERIES.c.created_at)).where(waiting)).scalar()
    if oldest is None:
        return None
    last = conn.execute(sa.select(sa.func.max(DIGESTS.c.window_end)).where(DIGESTS.c.channel == channel)).scalar()
    start = max(oldest, last) if last is not None else oldest
    boundary = schedule.next_after(start)
    if boundary > now:
        return None
    boundary = schedule.last_at_or_before(now, boundary)
    ids = insert_ignoring_conflict(conn, DIGESTS, {
        "channel": channel, "window_end": boundary, "message_id": message_id,
        "state": DeliveryState.PENDING, "attempts": 0, "step": 0, "next_attempt_at": now, "created_at": now,
    }, ["channel", "window_end"], returning=DIGESTS.c.id)
    if not ids:
        return None  # another worker closed this window
    digest_id = int(ids[0])
    moved = conn.execute(
        DELIVERIES.update().where(waiting, DELIVERIES.c.created_at < boundary)
        .values(digest_id=digest_id, state=DeliveryState.PENDING)
    ).rowcount
    if not moved:
        conn.execute(DIGESTS.delete().where(DIGESTS.c.id == digest_id))
        return None
    return digest_id
