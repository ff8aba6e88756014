"""The outbox's SQL: leases on due deliveries and digests, recorded outcomes, digest windows, attempts, retention.

Every function takes the caller's connection (its transaction) and decides nothing: what a claim's
outcome is, when a digest window ends and what an attempt row says are `outbox`, `digest` and
`attempts`'. `insert_ignoring_conflict` is the one race-safe insert the alert tables share.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from wirewatch.alerts.tables import ALERTS, ATTEMPTS, DELIVERIES, DIGESTS, Claim, DeliveryInfo, DeliveryState

__all__ = ["add_attempts", "attempts_of", "claim_deliveries", "claim_digests", "drop_digest", "give_back",
           "give_back_all", "insert_ignoring_conflict", "instant_alerts_since", "last_window_end",
           "list_deliveries", "move_waiting", "oldest_waiting", "overflowing_channels", "prune_delivered",
           "requeue", "settle_claim"]

_TABLES = {"delivery": DELIVERIES, "digest": DIGESTS}


def insert_ignoring_conflict(conn: Connection, table: sa.Table, values: dict[str, Any] | list[dict[str, Any]],
                             keys: list[str], returning: sa.Column[Any] | None = None) -> list[Any]:
    """INSERT … ON CONFLICT (keys) DO NOTHING; returns the `returning` value of each row inserted.

    The statement is built once per table and the values are passed as parameters (an executemany
    for a list): a statement carrying its values was compiled again on every call, which was most of
    the cost of creating an alert.
    """
    if isinstance(values, list) and not values:
        return []
    if returning is not None and isinstance(values, list):  # RETURNING of several rows: one multi-row VALUES
        stmt: Any = _insert_statement(conn.dialect.name, table, tuple(keys), None)
        return list(conn.execute(stmt.values(values).returning(returning)).scalars())
    stmt = _insert_statement(conn.dialect.name, table, tuple(keys), returning)
    if returning is not None:
        return list(conn.execute(stmt, values).scalars())
    conn.execute(stmt, values)
    return []


@functools.cache
def _insert_statement(dialect: str, table: sa.Table, keys: tuple[str, ...], returning: sa.Column[Any] | None) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert
        stmt: Any = pg_insert(table).on_conflict_do_nothing(index_elements=list(keys))
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert
        stmt = sqlite_insert(table).on_conflict_do_nothing(index_elements=list(keys))
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise NotImplementedError(f"database {dialect!r} is not supported")
    return stmt if returning is None else stmt.returning(returning)


def instant_alerts_since(conn: Connection, watchlist: str, since: datetime) -> int:
    """How many alerts of `watchlist` went out at once (not throttled into a digest) since `since`."""
    a = ALERTS.c
    query = sa.select(sa.func.count()).where(a.watchlist == watchlist, a.created_at > since, a.throttled == sa.false())
    return int(conn.execute(query).scalar_one())


# --- digest windows ---------------------------------------------------------------------------

def _waiting(channel: str, all_rows: bool, now: datetime) -> sa.ColumnElement[bool]:
    d = DELIVERIES.c
    batched = sa.true() if all_rows else d.batched == sa.true()
    return sa.and_(
        d.channel == channel, d.digest_id.is_(None), d.state.in_(DeliveryState.OPEN), batched,
        sa.or_(d.lease_until.is_(None), d.lease_until < now),
    )


def overflowing_channels(conn: Connection) -> set[str]:
    """Channels with deliveries a watchlist's `max_per_hour` held back, not yet in a digest."""
    d = DELIVERIES.c
    return set(conn.execute(sa.select(d.channel).distinct().where(
        d.batched == sa.true(), d.digest_id.is_(None), d.state.in_(DeliveryState.OPEN))).scalars())


def oldest_waiting(conn: Connection, channel: str, all_rows: bool, now: datetime) -> datetime | None:
    """When the oldest delivery waiting for the channel's next digest was created (None: none waits)."""
    found: datetime | None = conn.execute(sa.select(sa.func.min(DELIVERIES.c.created_at))
                                          .where(_waiting(channel, all_rows, now))).scalar()
    return found


def last_window_end(conn: Connection, channel: str) -> datetime | None:
    """The end of the channel's latest digest window (None: it has had no digest)."""
    found: datetime | None = conn.execute(sa.select(sa.func.max(DIGESTS.c.window_end))
                                          .where(DIGESTS.c.channel == channel)).scalar()
    return found


def move_waiting(conn: Connection, channel: str, all_rows: bool, now: datetime, boundary: datetime,
                 digest_id: int) -> int:
    """Put the deliveries waiting since before `boundary` into the digest; returns how many."""
    return int(conn.execute(
        DELIVERIES.update().where(_waiting(channel, all_rows, now), DELIVERIES.c.created_at < boundary)
        .values(digest_id=digest_id, state=DeliveryState.PENDING)
    ).rowcount)


def drop_digest(conn: Connection, digest_id: int) -> None:
    """Delete a digest row (one that got no members)."""
    conn.execute(DIGESTS.delete().where(DIGESTS.c.id == digest_id))


# --- leases -----------------------------------------------------------------------------------

def _due(table: sa.Table, now: datetime, channels: Collection[str] | None,
         skip: Collection[str]) -> list[sa.ColumnElement[bool]]:
    c = table.c
    cond = [c.state.in_(DeliveryState.OPEN), c.next_attempt_at <= now,
            sa.or_(c.lease_until.is_(None), c.lease_until < now)]
    if skip:
        cond.append(c.channel.not_in(list(skip)))
    if channels is not None:
        cond.append(c.channel.in_(list(channels)))
    return cond


def _lease(conn: Connection, table: sa.Table, cond: list[sa.ColumnElement[bool]], limit: int, worker: str,
           until: datetime) -> list[sa.Row[Any]]:
    c = table.c
    # A materialised CTE runs the locking select once. As a plain `IN (subquery)` PostgreSQL may plan
    # it as the inner side of a nested loop and rescan it per row, locking rows it never updates,
    # which the other workers then skip (seen: 4 workers × 15 claimed 40 of 42 due rows).
    due = (sa.select(c.id).where(*cond).order_by(c.next_attempt_at, c.id).limit(limit)
           .with_for_update(skip_locked=True).cte("due").prefix_with("MATERIALIZED", dialect="postgresql"))
    stmt = (table.update().where(c.id.in_(sa.select(due.c.id)), *cond)
            .values(claimed_by=worker, lease_until=until)
            .returning(c.id, c.channel, c.message_id, c.attempts, c.step, c.first_attempt_at))
    return list(conn.execute(stmt))


def claim_deliveries(conn: Connection, limit: int, now: datetime, lease: timedelta, worker: str,
                     channels: Collection[str] | None, skip: Collection[str]) -> list[Claim]:
    """Lease up to `limit` due single deliveries (not of `skip`'s channels) to `worker`, with their payloads."""
    cond = _due(DELIVERIES, now, channels, skip) + [DELIVERIES.c.digest_id.is_(None), DELIVERIES.c.batched == sa.false()]
    rows = _lease(conn, DELIVERIES, cond, limit, worker, now + lease)
    if not rows:
        return []
    payloads: dict[int, str] = {row.id: row.payload for row in conn.execute(
        sa.select(DELIVERIES.c.id, ALERTS.c.payload).join(ALERTS, ALERTS.c.id == DELIVERIES.c.alert_id)
        .where(DELIVERIES.c.id.in_([r.id for r in rows])))}
    return [Claim("delivery", r.id, r.channel, r.message_id, r.attempts, r.step, r.first_attempt_at,
                  (json.loads(payloads[r.id]),)) for r in rows]


def claim_digests(conn: Connection, limit: int, now: datetime, lease: timedelta, worker: str,
                  channels: Collection[str] | None, skip: Collection[str]) -> list[Claim]:
    """Lease up to `limit` due digests (not of `skip`'s channels) to `worker`, with their members' payloads."""
    rows = _lease(conn, DIGESTS, _due(DIGESTS, now, channels, skip), limit, worker, now + lease)
    if not rows:
        return []
    members: dict[int, list[Any]] = {r.id: [] for r in rows}
    query = (sa.select(DELIVERIES.c.digest_id, ALERTS.c.payload)
             .join(ALERTS, ALERTS.c.id == DELIVERIES.c.alert_id)
             .where(DELIVERIES.c.digest_id.in_(list(members))).order_by(ALERTS.c.created_at, ALERTS.c.id))
    for digest_id, payload in conn.execute(query):
        members[digest_id].append(json.loads(payload))
    return [Claim("digest", r.id, r.channel, r.message_id, r.attempts, r.step, r.first_attempt_at,
                  tuple(members[r.id])) for r in rows]


def settle_claim(conn: Connection, claim: Claim, worker: str, values: dict[str, Any],
                 member_values: dict[str, Any] | None = None) -> bool:
    """Write a claim's outcome if `worker` still holds its lease (a digest's `member_values` onto its members)."""
    table = _TABLES[claim.kind]
    mine = sa.and_(table.c.id == claim.id, table.c.claimed_by == worker)
    if not conn.execute(table.update().where(mine).values(**values)).rowcount:
        return False
    if claim.kind == "digest" and member_values:
        conn.execute(DELIVERIES.update().where(DELIVERIES.c.digest_id == claim.id).values(**member_values))
    return True


def give_back(conn: Connection, kind: str, ids: Sequence[int], worker: str) -> set[int]:
    """Clear `worker`'s leases on these deliveries (or digests); returns the ids it held."""
    table = _TABLES[kind]
    return set(conn.execute(table.update().where(table.c.id.in_(list(ids)), table.c.claimed_by == worker)
                            .values(claimed_by=None, lease_until=None).returning(table.c.id)).scalars())


def give_back_all(conn: Connection, worker: str) -> int:
    """Clear every delivery and digest lease `worker` holds; returns how many."""
    return sum(int(conn.execute(table.update().where(table.c.claimed_by == worker)
                                .values(claimed_by=None, lease_until=None)).rowcount)
               for table in (DELIVERIES, DIGESTS))


# --- attempts, listing, requeueing, retention -------------------------------------------------

def add_attempts(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `delivery_attempt` rows (see `attempts.attempt_row`)."""
    if rows:
        conn.execute(ATTEMPTS.insert(), list(rows))


def attempts_of(conn: Connection, delivery_id: int, digest_id: int | None = None) -> list[dict[str, Any]]:
    """The tries of one delivery (and of the digest it went out in, if any), oldest first, as plain dicts."""
    t = ATTEMPTS.c
    which = t.delivery_id == delivery_id if digest_id is None else sa.or_(t.delivery_id == delivery_id,
                                                                          t.digest_id == digest_id)
    query = sa.select(t.id, t.delivery_id, t.digest_id, t.channel, t.attempt, t.started_at, t.finished_at,
                      t.http_status, t.error, t.outcome).where(which).order_by(t.id)
    return [dict(r._mapping) for r in conn.execute(query)]


def list_deliveries(conn: Connection, state: str | None, limit: int, *, watchlist: str | None = None,
                    channel: str | None = None) -> list[DeliveryInfo]:
    """Deliveries, newest first, optionally only those in `state`, of `watchlist` and to `channel`."""
    d, a = DELIVERIES.c, ALERTS.c
    query = (sa.select(d.id, d.message_id, d.channel, d.state, d.attempts, d.next_attempt_at, d.last_error,
                       d.created_at, d.delivered_at, d.digest_id, a.public_id, a.watchlist, a.title, a.type)
             .join(ALERTS, a.id == d.alert_id).order_by(d.id.desc()).limit(limit))
    for column, value in ((d.state, state), (a.watchlist, watchlist), (d.channel, channel)):
        if value is not None:
            query = query.where(column == value)
    return [DeliveryInfo(**r._mapping) for r in conn.execute(query)]


def requeue(conn: Connection, delivery_id: int | None, all_dead: bool, now: datetime) -> int:
    """Make one delivery (dead or retrying), or every dead one, pending and due at `now`; returns how many."""
    d = DELIVERIES.c
    where = d.state == DeliveryState.DEAD if all_dead else sa.and_(
        d.id == delivery_id, d.state.in_((DeliveryState.DEAD, DeliveryState.RETRYING)))
    return int(conn.execute(DELIVERIES.update().where(where).values(
        state=DeliveryState.PENDING, step=0, first_attempt_at=None, next_attempt_at=now, batched=False,
        digest_id=None, claimed_by=None, lease_until=None)).rowcount)


def prune_delivered(session: Session, cutoff: datetime) -> int:
    """Delete alerts created before `cutoff` whose deliveries are all finished; returns how many.

    The cutoff (retention, 90 days by default) must stay far beyond the story window, or an old
    story that gains a copy could alert again.
    """
    conn = session.connection()
    d, a = DELIVERIES.c, ALERTS.c
    still_open = sa.select(d.alert_id).where(d.state.in_(DeliveryState.OPEN))
    old = sa.select(a.id).where(a.created_at < cutoff, a.id.not_in(still_open))
    conn.execute(ATTEMPTS.delete().where(ATTEMPTS.c.delivery_id.in_(sa.select(d.id).where(d.alert_id.in_(old)))))
    conn.execute(DELIVERIES.delete().where(d.alert_id.in_(old)))
    removed = int(conn.execute(ALERTS.delete().where(a.created_at < cutoff, a.id.not_in(still_open))).rowcount)
    used = sa.select(d.digest_id).where(d.digest_id.is_not(None))
    gone = sa.and_(DIGESTS.c.created_at < cutoff, DIGESTS.c.id.not_in(used), DIGESTS.c.state.not_in(DeliveryState.OPEN))
    conn.execute(ATTEMPTS.delete().where(ATTEMPTS.c.digest_id.in_(sa.select(DIGESTS.c.id).where(gone))))
    conn.execute(DIGESTS.delete().where(gone))
    return removed
