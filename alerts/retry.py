"""The retry policy: after a failed try, when the next one is due, or that there is none (dead).

`retry.schedule` lists when each try is due, in seconds after the first; a delay gets ± jitter, and a
receiver's Retry-After is a floor. Pure: the outbox passes the step, the error and `now`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from wirewatch.alerts.errors import DeliveryError
from wirewatch.alerts.tables import DeliveryState

__all__ = ["RetryPlan", "plan_failure"]


@dataclass(frozen=True, slots=True)
class RetryPlan:
    """What a failed try leads to: another try at `next_attempt_at`, or dead."""

    state: str
    next_attempt_at: datetime | None


def plan_failure(schedule: Sequence[float], step: int, error: DeliveryError, now: datetime,
                 jitter: float = 0.1) -> RetryPlan:
    """Next try after a failure at schedule position `step`, keeping the schedule's gap (± jitter).

    `schedule[i]` is when try i+1 is due, in seconds after the first try (a schedule that does not
    start with 0 lists the retries only: the first try is always immediate). A try that ran late
    (a paused daemon, a Retry-After) shifts the rest rather than bunching them. Retry-After is a floor.
    """
    offsets = list(schedule) if schedule and schedule[0] == 0 else [0.0, *schedule]
    following = step + 1
    if error.permanent or following >= len(offsets):
        return RetryPlan(DeliveryState.DEAD, None)
    gap = max(0.0, offsets[following] - offsets[step])
    gap *= random.uniform(1 - jitter, 1 + jitter)
    if error.retry_after is not None:
        gap = max(gap, error.retry_after)
    return RetryPlan(DeliveryState.RETRYING, now + timedelta(seconds=gap))
