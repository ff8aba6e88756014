"""Digest windows: when a channel's window closes, its waiting deliveries become one digest message.

A channel in `mode: digest` batches every alert; an instant channel batches only the alerts a
watchlist's `max_per_hour` held back (hourly windows). Membership is written to the database
(`Delivery.digest_id`) in the same transaction that creates the `Digest` row, so each alert is
in exactly one digest and nothing is lost across restarts. Several workers may close windows at
once: the (channel, window_end) unique constraint lets only one of them create the digest.
The queries are `outboxstore`'s; this module decides when a window ends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.engine import Connection

from wirewatch.alerts import outboxstore
from wirewatch.alerts.outboxstore import insert_ignoring_conflict
from wirewatch.alerts.tables import DIGESTS, DeliveryState
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


def close_window(conn: Connection, channel: str, schedule: Schedule, now: datetime, *, all_rows: bool,
                 message_id: str) -> int | None:
    """Close the channel's latest ended window, if any has waiting deliveries; returns the digest id.

    `all_rows` is True for a digest-mode channel (every delivery waits) and False for an instant
    channel (only deliveries held back by `max_per_hour` wait).
    """
    oldest = outboxstore.oldest_waiting(conn, channel, all_rows, now)
    if oldest is None:
        return None
    last = outboxstore.last_window_end(conn, channel)
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
    if not outboxstore.move_waiting(conn, channel, all_rows, now, boundary, digest_id):
        outboxstore.drop_digest(conn, digest_id)
        return None
    return digest_id
