"""Wiring between the daemon and the alerts outbox: an outbox of the app's config, one delivery pass with metrics.

The pass itself, building the channels and its summary line are `wirewatch.alerts.deliver`'s.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from wirewatch import metrics
from wirewatch.alerts.deliver import deliver_due
from wirewatch.alerts.outbox import Outbox

if TYPE_CHECKING:
    from wirewatch.app import App


def outbox_of(app: App) -> Outbox:
    """An outbox over the app's database with the current config's retry schedule, lease and channels."""
    cfg = app.wiring.loaded.config
    return Outbox(app.engine, app.worker, cfg.retry, lease_seconds=cfg.lease, channels=cfg.channels)


async def deliver_once(app: App, limit: int = 200, stop: asyncio.Event | None = None) -> dict[str, int]:
    """One pass of the outbox: claim due deliveries, send them, record results (see `deliver_due` for `stop`)."""
    cfg = app.wiring.loaded.config
    if not cfg.channels:
        return {}
    channels = await app.channels()
    counts = await deliver_due(outbox_of(app), channels, limit=limit, stop=stop, db=app.db)
    for outcome, n in counts.items():
        if outcome not in ("claimed", "unsent") and n:
            metrics.DELIVERIES.labels(outcome).inc(n)
    return counts
