"""Feed health (pure): is a feed failing, silent far past its usual cadence, or fine?"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from wirewatch.config.clock import as_utc

OK, FAILING, SILENT = "ok", "failing", "silent"


@dataclass(frozen=True, slots=True)
class Transition:
    """A change of a feed's health: `feed.unhealthy` (with why) or `feed.recovered`."""

    event: str
    state: str
    reason: str


class PollFacts(Protocol):
    """What health is judged on: a feed's error run and its new-item cadence (a feed row has these fields)."""

    @property
    def consecutive_errors(self) -> int: ...
    @property
    def last_error(self) -> str | None: ...
    @property
    def last_new_item_at(self) -> datetime | None: ...
    @property
    def new_item_gap(self) -> float | None: ...


def assess(row: PollFacts, now: datetime, failures: int, silence_factor: float, min_silence: float) -> tuple[str, str]:
    """The feed's health and a one-line reason."""
    if row.consecutive_errors >= failures:
        return FAILING, f"{row.consecutive_errors} polls failed in a row; last error: {row.last_error or '-'}"
    last_new = as_utc(row.last_new_item_at)
    if last_new is not None and row.new_item_gap:
        limit = max(row.new_item_gap * silence_factor, min_silence)
        silent_for = (now - last_new).total_seconds()
        if silent_for > limit:
            return SILENT, (f"no new item for {silent_for / 3600:.1f} h; it usually publishes every "
                            f"{row.new_item_gap / 3600:.1f} h")
    return OK, "ok"


def transition(previous: str, state: str, reason: str) -> Transition | None:
    """The event to raise when health changes (None when it did not)."""
    if state == previous:
        return None
    if state == OK:
        return Transition("feed.recovered", state, f"recovered (was {previous})")
    return Transition("feed.unhealthy", state, reason)
