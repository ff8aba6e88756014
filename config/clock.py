"""UTC clock helpers, pure: the one place the program reads the time of day as a value or parses one.

Here in `config`, the leaf package every other may import, so `ingest`, `alerts` and `wirewatch` share
one definition. Code that decides takes `now` as a value; these give it one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import overload

__all__ = ["as_utc", "iso", "parse_retry_after", "utcnow"]


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
@overload
def as_utc(value: datetime | None) -> datetime | None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """Attach UTC to a naive datetime (SQLite drops the zone), convert an aware one to UTC; None stays None."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(value: datetime | None) -> str | None:
    """An ISO-8601 UTC timestamp ending in Z (None stays None)."""
    if value is None:
        return None
    return as_utc(value).isoformat().replace("+00:00", "Z")


def parse_retry_after(value: str | None, now: datetime | None = None, cap: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP-date), at most `cap` when given;
    None when absent or invalid. A date in the past is 0."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(int(value))
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = max(0.0, (as_utc(when) - (now or utcnow())).total_seconds())
    return seconds if cap is None else min(seconds, cap)
