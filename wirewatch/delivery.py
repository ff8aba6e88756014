"""Wiring between the daemon and the alerts outbox: build channels once per config, deliver what is due."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from alerts.outbox import Outbox, deliver_due
from wirewatch import metrics

if TYPE_CHECKING:
    from wirewatch.app import App

log = logging.getLogger("wirewatch.delivery")


async def deliver_once(app: App, limit: int = 200) -> dict[str, int]:
    """One pass of the outbox: claim due deliveries, send them, record results."""
    cfg = app.wiring.loaded.config
    if not cfg.channels:
        return {}
    channels = await app.channels()
    outbox = Outbox(app.engine, app.worker, cfg.retry, lease_seconds=cfg.lease, channels=cfg.channels)
    counts = await deliver_due(outbox, channels, limit=limit)
    for outcome, n in counts.items():
        if outcome != "claimed" and n:
            metrics.DELIVERIES.labels(outcome).inc(n)
    return counts
