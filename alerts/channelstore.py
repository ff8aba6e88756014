"""Channel state rows (`alert_channel_states`): one per channel, its last success and error, disabled or not.

The SQL only; when a channel is disabled or enabled again is `channelstate`'s to decide.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from wirewatch.alerts.outboxstore import insert_ignoring_conflict
from wirewatch.alerts.tables import CHANNEL_STATES

__all__ = ["all_states", "clear_disabled", "disabled_hashes", "disabled_names", "disabled_reasons", "note"]

_STATE = CHANNEL_STATES.c


def note(conn: Connection, channel: str, values: dict[str, Any]) -> None:
    """Write these columns of the channel's row, creating the row (enabled) first if it has none."""
    insert_ignoring_conflict(conn, CHANNEL_STATES, {"name": channel, "disabled": False}, ["name"])
    conn.execute(CHANNEL_STATES.update().where(_STATE.name == channel).values(**values))


def disabled_names(conn: Connection) -> set[str]:
    """The names of the disabled channels."""
    return set(conn.execute(sa.select(_STATE.name).where(_STATE.disabled == sa.true())).scalars())


def clear_disabled(conn: Connection, name: str) -> int:
    """Clear a channel's disabled flag, reason and config hash; 1 if it had a row, else 0."""
    return int(conn.execute(CHANNEL_STATES.update().where(_STATE.name == name)
                            .values(disabled=False, disabled_at=None, reason=None, config_hash=None)).rowcount)


def disabled_hashes(conn: Connection) -> list[tuple[str, str | None]]:
    """Each disabled channel with the hash of the config it was disabled under."""
    rows = conn.execute(sa.select(_STATE.name, _STATE.config_hash).where(_STATE.disabled == sa.true()))
    return [(name, digest) for name, digest in rows]


def all_states(conn: Connection) -> list[dict[str, Any]]:
    """Every recorded channel state, by name, as plain dicts."""
    return [dict(r._mapping) for r in conn.execute(sa.select(CHANNEL_STATES).order_by(_STATE.name))]


def disabled_reasons(conn: Connection) -> dict[str, str]:
    """Disabled channels and why, by name."""
    rows = conn.execute(sa.select(_STATE.name, _STATE.reason).where(_STATE.disabled == sa.true()).order_by(_STATE.name))
    return {name: reason or "disabled" for name, reason in rows}
