"""Channel state: a channel disabled by 410 Gone (until its config changes or it is enabled), and its last
success and error, one `alert_channel_states` row per channel.

A disabled channel is remembered with a hash of its config (secrets left out): when the config differs
at the next start or reload, the channel is enabled again, since its endpoint may have been fixed.
The rows are read and written by `channelstore`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection, Engine

from wirewatch.alerts import channelstore
from wirewatch.alerts.errors import ChannelGoneError, DeliveryError
from wirewatch.alerts.outboxlog import log
from wirewatch.alerts.route import ChannelConfig

__all__ = ["all_states", "channel_states", "config_hash", "disabled", "enable", "enable_changed", "note_result"]

def config_hash(config: ChannelConfig) -> str:
    """A digest of a channel's config without its secrets: what a change of config is."""
    data = config.model_dump_json(exclude={"secret", "password"}, by_alias=True)
    return hashlib.sha256(data.encode()).hexdigest()


def note_result(conn: Connection, channel: str, error: DeliveryError | None, now: datetime,
                config: ChannelConfig | None) -> None:
    """Record a send's result on its channel; 410 Gone disables the channel (with its config's hash)."""
    if error is None:
        channelstore.note(conn, channel, {"last_success_at": now})
        return
    values: dict[str, Any] = {"last_error_at": now, "last_error": str(error)[:2000]}
    if isinstance(error, ChannelGoneError):
        values.update(disabled=True, disabled_at=now, reason=str(error)[:2000],
                      config_hash=config_hash(config) if config is not None else None)
        log.error("channel %r disabled: %s (change its config, or `wirewatch alerts enable`)", channel, error)
    channelstore.note(conn, channel, values)


def disabled(conn: Connection) -> set[str]:
    """The names of the disabled channels."""
    return channelstore.disabled_names(conn)


def enable(conn: Connection, name: str) -> int:
    """Clear a channel's disabled flag, reason and config hash; 1 if it had a row, else 0."""
    return channelstore.clear_disabled(conn, name)


def enable_changed(engine: Engine, configs: Mapping[str, ChannelConfig]) -> list[str]:
    """Enable the disabled channels whose config changed since they were disabled; returns their names."""
    enabled: list[str] = []
    with engine.begin() as conn:
        for name, digest in channelstore.disabled_hashes(conn):
            config = configs.get(name)
            if config is not None and digest is not None and config_hash(config) != digest:
                enable(conn, name)
                enabled.append(name)
                log.info("channel %r re-enabled: its config changed since it was disabled", name)
    return enabled


def all_states(engine: Engine) -> list[dict[str, Any]]:
    """Every recorded channel state, by name, as plain dicts."""
    with engine.connect() as conn:
        return channelstore.all_states(conn)


def channel_states(engine: Engine) -> dict[str, str]:
    """Disabled channels and why (for `wirewatch status`)."""
    with engine.connect() as conn:
        return channelstore.disabled_reasons(conn)
