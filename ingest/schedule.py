"""When to poll a feed next: interval with jitter, Retry-After, and backoff after failures (pure)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta


def next_poll(
    now: datetime,
    interval: float,
    *,
    jitter: float = 0.1,
    consecutive_errors: int = 0,
    retry_after: float | None = None,
    max_backoff: float = 6 * 3600.0,
    rng: random.Random | None = None,
) -> datetime:
    """Next poll time: interval ± jitter; after n failures interval × 2^n (capped); never before Retry-After."""
    r = rng or random
    delay = interval
    if consecutive_errors > 0:
        delay = min(interval * (2 ** min(consecutive_errors, 20)), max(max_backoff, interval))
    delay *= 1 + r.uniform(-jitter, jitter)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return now + timedelta(seconds=max(delay, 1.0))


def first_poll(now: datetime, interval: float, rng: random.Random | None = None) -> datetime:
    """Spread the first polls of newly added feeds over a short window instead of all at once."""
    r = rng or random
    return now + timedelta(seconds=r.uniform(0, min(interval, 30.0) * 0.2))
