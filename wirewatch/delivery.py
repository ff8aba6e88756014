"""Wiring between the daemon and the alerts outbox: build channels once per config, deliver what is due."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from wirewatch import metrics
from wirewatch.alerts.outbox import Outbox, deliver_due
from wirewatch.alerts.route import Channel, ChannelConfig, build_channels

if TYPE_CHECKING:
    from wirewatch.app import App

log = logging.getLogger("wirewatch.delivery")


def build_each(configs: Mapping[str, ChannelConfig], engine: Engine | None = None) -> dict[str, Channel]:
    """Build the channels; one that cannot be built is logged and left out, so the others still deliver.

    The left-out channel's deliveries stay pending (nothing claims them) until a reload fixes it.
    """
    try:
        return build_channels(configs, engine=engine)
    except Exception:  # find the broken one(s); the rest are built one by one below
        pass
    built: dict[str, Channel] = {}
    for name, config in configs.items():
        try:
            built.update(build_channels({name: config}, engine=engine))
        except Exception as exc:  # one broken channel never blocks another
            log.error("channel %r cannot be built, its deliveries wait until the config is fixed: %s: %s",
                      name, type(exc).__name__, exc)
    return built


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
    counts = await deliver_due(outbox_of(app), channels, limit=limit, stop=stop)
    for outcome, n in counts.items():
        if outcome not in ("claimed", "unsent") and n:
            metrics.DELIVERIES.labels(outcome).inc(n)
    return counts


def summary(counts: Mapping[str, int]) -> str:
    """`deliveries: 3 sent, 1 retrying, 0 dead` for the end of `wirewatch poll`."""
    dead = counts.get("dead", 0) + counts.get("gone", 0)
    line = f"deliveries: {counts.get('delivered', 0)} sent, {counts.get('retrying', 0)} retrying, {dead} dead"
    if counts.get("lost"):
        line += f", {counts['lost']} lost their lease"
    return line
