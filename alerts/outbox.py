"""The durable outbox: alerts are written with the item that caused them (`create`), then delivered at least once.

    Outbox            the claim/record state machine: closes ended digest windows, leases due deliveries
                      and digests, records each outcome (pending → retrying → delivered or dead, the next
                      try planned by `retry`, each try in `attempts`, the channel's state in `channelstate`),
                      gives back unsent claims, lists and requeues
    prune_delivered   retention: finished alerts, their deliveries, digests and attempts older than a cutoff

The SQL of each is `outboxstore`'s; this module decides (what an outcome is, what is due, what is given back).

The pass that sends what is claimed is `deliver.deliver_due`.

A crash between a send and its record repeats the send with the same `message_id`
(the `webhook-id`), so receivers can drop the repeat.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection, Engine

from wirewatch.alerts import channelstate, outboxstore
from wirewatch.alerts.attempts import ATTEMPT_OUTCOMES, Sent, attempt_row, log_attempt
from wirewatch.alerts.create import new_id
from wirewatch.alerts.digest import OVERFLOW_EVERY, Schedule, close_window, parse_every
from wirewatch.alerts.errors import ChannelGoneError, DeliveryError
from wirewatch.alerts.outboxlog import log
from wirewatch.alerts.outboxstore import prune_delivered
from wirewatch.alerts.retry import plan_failure
from wirewatch.alerts.route import ChannelConfig
from wirewatch.alerts.tables import AttemptOutcome, Claim, DeliveryInfo, DeliveryState, Outcome
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
            claims = outboxstore.claim_deliveries(conn, limit, now, self.lease, self.worker_id, channels,
                                                  disabled | set(self.digest_schedules))
            if len(claims) < limit:
                claims += outboxstore.claim_digests(conn, limit - len(claims), now, self.lease, self.worker_id,
                                                    channels, disabled)
        return claims

    def _close_windows(self, conn: Connection, now: datetime, channels: Collection[str] | None) -> None:
        for name in sorted(outboxstore.overflowing_channels(conn) | set(self.digest_schedules)):
            if channels is not None and name not in channels:
                continue
            schedule = self.digest_schedules.get(name, self._overflow)
            digest_id = close_window(conn, name, schedule, now, all_rows=name in self.digest_schedules,
                                     message_id=new_id("msg"))
            if digest_id is not None:
                log.info("digest %d of channel %r closed", digest_id, name)

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
            outboxstore.add_attempts(conn, attempts)
        return outcomes

    def _record_one(self, conn: Connection, claim: Claim, error: DeliveryError | None, now: datetime) -> Outcome:
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
        member = {k: v for k, v in values.items() if k in ("state", "delivered_at", "last_error", "last_attempt_at",
                                                          "first_attempt_at", "attempts")}  # a digest's members
        if not outboxstore.settle_claim(conn, claim, self.worker_id, values, member):
            log.warning("lease on %s %d (%s) expired before its result was recorded; another worker may resend it",
                        claim.kind, claim.id, claim.channel)
            return Outcome.LOST
        log_attempt(claim, error, outcome, values.get("next_attempt_at"), now)
        channelstate.note_result(conn, claim.channel, error, now, self.configs.get(claim.channel))
        return outcome

    def release(self, claims: Sequence[Claim]) -> int:
        """Give back claims that were not sent (a stop came first): due again at once, for any worker.

        Each one given back leaves a `given-back` attempt row (no send happened; the next try keeps its number).
        """
        released = 0
        now = utcnow()
        with self.engine.begin() as conn:
            for kind in ("delivery", "digest"):
                ids = [c.id for c in claims if c.kind == kind]
                if not ids:
                    continue
                mine = outboxstore.give_back(conn, kind, ids, self.worker_id)
                released += len(mine)
                outboxstore.add_attempts(conn, [attempt_row(c, None, AttemptOutcome.GIVEN_BACK, None, now)
                                                for c in claims if c.kind == kind and c.id in mine])
        return released

    def release_all(self) -> int:
        """Give back every delivery and digest lease this worker holds (on a clean stop)."""
        with self.engine.begin() as conn:
            return outboxstore.give_back_all(conn, self.worker_id)

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
        with self.engine.connect() as conn:
            return outboxstore.list_deliveries(conn, state, limit)

    def retry(self, delivery_id: int | None = None, all_dead: bool = False, now: datetime | None = None) -> int:
        """Requeue one delivery (dead or retrying) or every dead one to be sent now; returns how many."""
        if (delivery_id is None) == (not all_dead):
            raise ValueError("give either a delivery id or all_dead=True")
        with self.engine.begin() as conn:
            return outboxstore.requeue(conn, delivery_id, all_dead, now or utcnow())
