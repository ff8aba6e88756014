"""The durable outbox: alerts are written with the item that caused them (`create`), then delivered at least once.

    Outbox            the claim/record state machine: closes ended digest windows, leases due deliveries
                      and digests, records each outcome (pending → retrying → delivered or dead, the next
                      try planned by `retry`, each try in `attempts`, the channel's state in `channelstate`),
                      gives back unsent claims, lists and requeues
    prune_delivered   retention: finished alerts, their deliveries, digests and attempts older than a cutoff

The pass that sends what is claimed is `deliver.deliver_due`.

A crash between a send and its record repeats the send with the same `message_id`
(the `webhook-id`), so receivers can drop the repeat.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from wirewatch.alerts import channelstate
from wirewatch.alerts.attempts import ATTEMPT_OUTCOMES, Sent, attempt_row, log_attempt
from wirewatch.alerts.create import new_id
from wirewatch.alerts.digest import (
    OVERFLOW_EVERY,
    Schedule,
    close_window,
    parse_every,
)
from wirewatch.alerts.errors import ChannelGoneError, DeliveryError
from wirewatch.alerts.models import (
    ALERTS,
    ATTEMPTS,
    DELIVERIES,
    DIGESTS,
    AttemptOutcome,
    Claim,
    DeliveryInfo,
    DeliveryState,
    Outcome,
)
from wirewatch.alerts.outboxlog import log
from wirewatch.alerts.retry import plan_failure
from wirewatch.alerts.route import ChannelConfig
from wirewatch.config.clock import utcnow
from wirewatch.config.models import RetryConfig

__all__ = ["Outbox", "prune_delivered"]


class Outbox:
    """Claims due deliveries under a lease, records outcomes, lists and requeues them."""

    def __init__(self, engine: Engine, worker_id: str, retry: RetryConfig, lease_seconds: float = 120,
                 channels: Mapping[str, ChannelConfig] | None = None) -> None:
        self.engine = engine
        self.worker_id = worker_id
        self.retry_config = retry
        self.lease = timedelta(seconds=lease_seconds)
        self.configs: dict[str, ChannelConfig] = {}
        self.digest_schedules: dict[str, Schedule] = {}
        self._overflow = parse_every(OVERFLOW_EVERY)
        self._synced = False
        self.use_configs(channels or {})

    def use_configs(self, channels: Mapping[str, ChannelConfig]) -> None:
        """Know the channels' configs: which are digests (and their windows), what a config change is."""
        self.configs = dict(channels)
        self.digest_schedules = {name: parse_every(c.every) for name, c in self.configs.items() if c.mode == "digest"}
        self._synced = False

    # --- claiming -------------------------------------------------------------------------

    def claim_due(self, limit: int, now: datetime | None = None,
                  channels: Collection[str] | None = None) -> list[Claim]:
        """Close ended digest windows, then lease up to `limit` due deliveries and digests."""
        now = now or utcnow()
        if not self._synced:
            self.sync_channels()
        with self.engine.begin() as conn:
            self._close_windows(conn, now, channels)
        with self.engine.begin() as conn:
            disabled = channelstate.disabled(conn)
            claims = self._claim_deliveries(conn, limit, now, channels, disabled)
            if len(claims) < limit:
                claims += self._claim_digests(conn, limit - len(claims), now, channels, disabled)
        return claims

    def _close_windows(self, conn: Connection, now: datetime, channels: Collection[str] | None) -> None:
        d = DELIVERIES.c
        overflowing = set(conn.execute(sa.select(d.channel).distinct().where(
            d.batched == sa.true(), d.digest_id.is_(None), d.state.in_(DeliveryState.OPEN))).scalars())
        for name in sorted(overflowing | set(self.digest_schedules)):
            if channels is not None and name not in channels:
                continue
            schedule = self.digest_schedules.get(name, self._overflow)
            digest_id = close_window(conn, name, schedule, now, all_rows=name in self.digest_schedules,
                                     message_id=new_id("msg"))
            if digest_id is not None:
                log.info("digest %d of channel %r closed", digest_id, name)

    def _due(self, table: sa.Table, now: datetime, channels: Collection[str] | None,
             skip: Collection[str]) -> list[sa.ColumnElement[bool]]:
        c = table.c
        cond = [c.state.in_(DeliveryState.OPEN), c.next_attempt_at <= now,
                sa.or_(c.lease_until.is_(None), c.lease_until < now)]
        if skip:
            cond.append(c.channel.not_in(list(skip)))
        if channels is not None:
            cond.append(c.channel.in_(list(channels)))
        return cond

    def _lease(self, conn: Connection, table: sa.Table, cond: list[sa.ColumnElement[bool]], limit: int,
               now: datetime) -> list[sa.Row[Any]]:
        c = table.c
        # A materialised CTE runs the locking select once. As a plain `IN (subquery)` PostgreSQL may plan
        # it as the inner side of a nested loop and rescan it per row, locking rows it never updates,
        # which the other workers then skip (seen: 4 workers × 15 claimed 40 of 42 due rows).
        due = (sa.select(c.id).where(*cond).order_by(c.next_attempt_at, c.id).limit(limit)
               .with_for_update(skip_locked=True).cte("due").prefix_with("MATERIALIZED", dialect="postgresql"))
        stmt = (table.update().where(c.id.in_(sa.select(due.c.id)), *cond)
                .values(claimed_by=self.worker_id, lease_until=now + self.lease)
                .returning(c.id, c.channel, c.message_id, c.attempts, c.step, c.first_attempt_at))
        return list(conn.execute(stmt))

    def _claim_deliveries(self, conn: Connection, limit: int, now: datetime, channels: Collection[str] | None,
                          disabled: set[str]) -> list[Claim]:
        cond = self._due(DELIVERIES, now, channels, disabled | set(self.digest_schedules))
        cond += [DELIVERIES.c.digest_id.is_(None), DELIVERIES.c.batched == sa.false()]
        rows = self._lease(conn, DELIVERIES, cond, limit, now)
        if not rows:
            return []
        payloads: dict[int, str] = {row.id: row.payload for row in conn.execute(
            sa.select(DELIVERIES.c.id, ALERTS.c.payload).join(ALERTS, ALERTS.c.id == DELIVERIES.c.alert_id)
            .where(DELIVERIES.c.id.in_([r.id for r in rows])))}
        return [Claim("delivery", r.id, r.channel, r.message_id, r.attempts, r.step, r.first_attempt_at,
                      (json.loads(payloads[r.id]),)) for r in rows]

    def _claim_digests(self, conn: Connection, limit: int, now: datetime, channels: Collection[str] | None,
                       disabled: set[str]) -> list[Claim]:
        rows = self._lease(conn, DIGESTS, self._due(DIGESTS, now, channels, disabled), limit, now)
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

    # --- recording ------------------------------------------------------------------------

    def record_success(self, claim: Claim, now: datetime | None = None) -> Outcome:
        """Mark a claimed delivery (or digest and its members) delivered."""
        return self.record([(claim, None)], now)[0]

    def record_failure(self, claim: Claim, error: DeliveryError, now: datetime | None = None) -> Outcome:
        """Schedule the next try of a claimed delivery, or mark it dead (410 also disables the channel)."""
        return self.record([(claim, error)], now)[0]

    def record(self, results: Sequence[tuple[Claim, DeliveryError | None]], now: datetime | None = None,
               sent: Mapping[tuple[str, int], Sent] | None = None) -> list[Outcome]:
        """Record many outcomes (and their attempt rows) in one transaction; returns each one's resulting state.

        `sent` says, per `(claim.kind, claim.id)`, when the send started and the HTTP status it got.
        """
        now = now or utcnow()
        outcomes: list[Outcome] = []
        attempts: list[dict[str, Any]] = []
        with self.engine.begin() as conn:
            for claim, error in results:
                outcome = self._record_one(conn, claim, error, now)
                outcomes.append(outcome)
                if outcome in ATTEMPT_OUTCOMES:
                    how = (sent or {}).get((claim.kind, claim.id))
                    attempts.append(attempt_row(claim, error, ATTEMPT_OUTCOMES[outcome], how, now))
            if attempts:
                conn.execute(ATTEMPTS.insert(), attempts)
        return outcomes

    def _record_one(self, conn: Connection, claim: Claim, error: DeliveryError | None, now: datetime) -> Outcome:
        table = DIGESTS if claim.kind == "digest" else DELIVERIES
        first = claim.first_attempt_at or now
        values: dict[str, Any] = {"attempts": claim.attempts + 1, "last_attempt_at": now, "first_attempt_at": first,
                                  "claimed_by": None, "lease_until": None}
        if error is None:
            values.update(state=DeliveryState.DELIVERED, delivered_at=now, last_error=None)
            outcome = Outcome.DELIVERED
        else:
            plan = plan_failure(self.retry_config.schedule, claim.step, error, now)
            values.update(state=plan.state, step=claim.step + 1, last_error=str(error)[:2000])
            if plan.next_attempt_at is not None:
                values["next_attempt_at"] = plan.next_attempt_at
            outcome = Outcome.GONE if isinstance(error, ChannelGoneError) else Outcome(plan.state)
        mine = sa.and_(table.c.id == claim.id, table.c.claimed_by == self.worker_id)
        if not conn.execute(table.update().where(mine).values(**values)).rowcount:
            log.warning("lease on %s %d (%s) expired before its result was recorded; another worker may resend it",
                        claim.kind, claim.id, claim.channel)
            return Outcome.LOST
        log_attempt(claim, error, outcome, values.get("next_attempt_at"), now)
        if claim.kind == "digest":
            member = {k: v for k, v in values.items() if k in ("state", "delivered_at", "last_error", "last_attempt_at",
                                                              "first_attempt_at", "attempts")}
            conn.execute(DELIVERIES.update().where(DELIVERIES.c.digest_id == claim.id).values(**member))
        channelstate.note_result(conn, claim.channel, error, now, self.configs.get(claim.channel))
        return outcome

    def release(self, claims: Sequence[Claim]) -> int:
        """Give back claims that were not sent (a stop came first): due again at once, for any worker.

        Each one given back leaves a `given-back` attempt row (no send happened; the next try keeps its number).
        """
        released = 0
        now = utcnow()
        with self.engine.begin() as conn:
            for kind, table in (("delivery", DELIVERIES), ("digest", DIGESTS)):
                ids = [c.id for c in claims if c.kind == kind]
                if not ids:
                    continue
                mine = set(conn.execute(table.update().where(table.c.id.in_(ids), table.c.claimed_by == self.worker_id)
                                        .values(claimed_by=None, lease_until=None).returning(table.c.id)).scalars())
                released += len(mine)
                rows = [attempt_row(c, None, AttemptOutcome.GIVEN_BACK, None, now) for c in claims if c.kind == kind and c.id in mine]
                if rows:
                    conn.execute(ATTEMPTS.insert(), rows)
        return released

    def release_all(self) -> int:
        """Give back every delivery and digest lease this worker holds (on a clean stop)."""
        released = 0
        with self.engine.begin() as conn:
            for table in (DELIVERIES, DIGESTS):
                released += int(conn.execute(table.update().where(table.c.claimed_by == self.worker_id)
                                             .values(claimed_by=None, lease_until=None)).rowcount)
        return released

    def settle(self, results: Sequence[tuple[Claim, DeliveryError | None]], unsent: Sequence[Claim],
               now: datetime | None = None, sent: Mapping[tuple[str, int], Sent] | None = None) -> list[Outcome]:
        """Record the sends that got an answer, then give back the claims that were never sent."""
        outcomes = self.record(results, now, sent) if results else []
        if unsent:
            self.release(unsent)
            log.info("gave back %d unsent deliveries (stopping); the next run sends them", len(unsent))
        return outcomes

    # --- channel state --------------------------------------------------------------------

    def sync_channels(self) -> list[str]:
        """Re-enable disabled channels whose config changed since they were disabled; returns their names."""
        self._synced = True
        return channelstate.enable_changed(self.engine, self.configs)

    def enable_channel(self, name: str) -> bool:
        """Clear a channel's disabled flag (after its endpoint was fixed); True if it was disabled."""
        with self.engine.begin() as conn:
            return channelstate.enable(conn, name) > 0

    def channel_states(self) -> list[dict[str, Any]]:
        """Every recorded channel state (for `wirewatch status`), as plain dicts."""
        return channelstate.all_states(self.engine)

    # --- listing and requeueing -----------------------------------------------------------

    def list_deliveries(self, state: str | None = None, limit: int = 1000) -> list[DeliveryInfo]:
        """Deliveries, newest first, optionally only those in `state` (pending, retrying, delivered, dead)."""
        d, a = DELIVERIES.c, ALERTS.c
        query = (sa.select(d.id, d.message_id, d.channel, d.state, d.attempts, d.next_attempt_at, d.last_error,
                           d.created_at, d.delivered_at, d.digest_id, a.public_id, a.watchlist, a.title, a.type)
                 .join(ALERTS, a.id == d.alert_id).order_by(d.id.desc()).limit(limit))
        if state is not None:
            query = query.where(d.state == state)
        with self.engine.connect() as conn:
            return [DeliveryInfo(**r._mapping) for r in conn.execute(query)]

    def retry(self, delivery_id: int | None = None, all_dead: bool = False, now: datetime | None = None) -> int:
        """Requeue one delivery (dead or retrying) or every dead one to be sent now; returns how many."""
        if (delivery_id is None) == (not all_dead):
            raise ValueError("give either a delivery id or all_dead=True")
        d = DELIVERIES.c
        where = d.state == DeliveryState.DEAD if all_dead else sa.and_(d.id == delivery_id, d.state.in_((DeliveryState.DEAD, DeliveryState.RETRYING)))
        with self.engine.begin() as conn:
            return int(conn.execute(DELIVERIES.update().where(where).values(
                state=DeliveryState.PENDING, step=0, first_attempt_at=None, next_attempt_at=now or utcnow(), batched=False,
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
