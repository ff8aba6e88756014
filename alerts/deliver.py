"""The delivery pass: claim what is due for the built channels, send concurrently (bounded), record.

    build_each    the channels of a config, one that cannot be built left out (its deliveries wait)
    deliver_due   one worker pass over an `Outbox`; a stop lets sends under way finish, a cancel
                  records the answered sends and gives the others back unsent
    summary       the pass's counts as the line `wirewatch poll` ends with
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime

from wirewatch.alerts.attempts import Sent
from wirewatch.alerts.errors import DeliveryError
from wirewatch.alerts.outbox import Outbox
from wirewatch.alerts.outboxlog import log, log_fields
from wirewatch.alerts.route import Channel, ChannelConfig, Database, build_channels
from wirewatch.alerts.tables import Claim, Outcome
from wirewatch.config.clock import utcnow

__all__ = ["build_each", "deliver_due", "summary"]

_build_log = logging.getLogger("wirewatch.delivery")  # the logger name these lines had before they moved here


def build_each(configs: Mapping[str, ChannelConfig], db: Database | None = None) -> dict[str, Channel]:
    """Build the channels; one that cannot be built is logged and left out, so the others still deliver.

    The left-out channel's deliveries stay pending (nothing claims them) until a reload fixes it.
    """
    try:
        return build_channels(configs, db=db)
    except Exception:  # find the broken one(s); the rest are built one by one below
        pass
    built: dict[str, Channel] = {}
    for name, config in configs.items():
        try:
            built.update(build_channels({name: config}, db=db))
        except Exception as exc:  # one broken channel never blocks another
            _build_log.error("channel %r cannot be built, its deliveries wait until the config is fixed: %s: %s",
                             name, type(exc).__name__, exc)
    return built


class _Unsent:
    """The result of a send that never started: the daemon is stopping."""


UNSENT = _Unsent()


async def _send(claim: Claim, channel: Channel | None, gate: asyncio.Semaphore,
                stop: asyncio.Event | None = None,
                sent: dict[tuple[str, int], Sent] | None = None) -> DeliveryError | _Unsent | None:
    """Send one claim; `sent` receives when the send started and the HTTP status it got."""
    if channel is None:
        return DeliveryError(f"channel {claim.channel!r} is not configured")
    async with gate:
        if stop is not None and stop.is_set():
            return UNSENT
        started = utcnow()
        status: int | None = None
        try:
            if claim.kind == "digest":
                status = await channel.send_digest(claim.payloads, claim.message_id)
            else:
                status = await channel.send(claim.payloads[0], claim.message_id)
        except DeliveryError as exc:
            status = exc.status
            return exc
        except Exception as exc:  # a channel bug must not stop the other deliveries
            log.exception("channel %r failed unexpectedly", claim.channel, extra=log_fields(channel=claim.channel))
            return DeliveryError(f"channel {claim.channel!r}: unexpected {type(exc).__name__}: {exc}")
        finally:
            if sent is not None:
                sent[(claim.kind, claim.id)] = Sent(started, status if isinstance(status, int) else None)
    return None


def _safe_batch(outbox: Outbox, channels: Mapping[str, Channel], concurrency: int) -> int:
    """How many claims can all be sent before their lease runs out, even if every send times out."""
    timeouts = [float(getattr(getattr(ch, "config", None), "timeout", 30.0)) for ch in channels.values()]
    rounds = int(outbox.lease.total_seconds() // max(timeouts, default=30.0))
    return concurrency * max(1, rounds)


async def deliver_due(outbox: Outbox, channels: Mapping[str, Channel], limit: int = 100,
                      concurrency: int = 16, now: datetime | None = None,
                      stop: asyncio.Event | None = None, *, db: Database) -> dict[str, int]:
    """One worker pass: claim what is due for these channels, send concurrently, record; counts by outcome.

    The claim and the record run on `db`'s threads (the composition root's gateway), as all database work does.

    `now` is for tests (what is due, when results are recorded); the daemon leaves it to the clock.
    An Outbox made without channel configs takes them from the channels (their `config`).
    Once `stop` is set no new send starts; sends under way finish. If the pass is cancelled, the sends
    that got their answer are recorded and the rest are given back unsent (counted as "unsent").
    """
    if not outbox.configs:
        known = {name: getattr(ch, "config", None) for name, ch in channels.items()}
        outbox.use_configs({name: c for name, c in known.items() if c is not None})
    limit = min(limit, _safe_batch(outbox, channels, concurrency))
    claims = await db.run(outbox.claim_due, limit, now, list(channels))
    counts = {"claimed": len(claims), **{o.value: 0 for o in Outcome}, "unsent": 0}
    if not claims:
        return counts
    gate = asyncio.Semaphore(concurrency)
    sent: dict[tuple[str, int], Sent] = {}
    sends = [asyncio.create_task(_send(c, channels.get(c.channel), gate, stop, sent)) for c in claims]
    cancelled = False
    try:
        await asyncio.wait(sends)
    except asyncio.CancelledError:
        cancelled = True
        for task in sends:
            task.cancel()
        await asyncio.wait(sends)
    answered: list[tuple[Claim, DeliveryError | None]] = []
    unsent: list[Claim] = []
    for claim, task in zip(claims, sends, strict=True):
        result = None if task.cancelled() else task.result()
        if task.cancelled() or isinstance(result, _Unsent):
            unsent.append(claim)
        else:
            answered.append((claim, result if isinstance(result, DeliveryError) else None))
    settling = asyncio.ensure_future(db.run(outbox.settle, answered, unsent, now, sent))
    try:
        outcomes = await asyncio.shield(settling)
    except asyncio.CancelledError:
        await settling  # the results are written before this pass ends, cancelled or not
        raise
    for outcome in outcomes:
        counts[outcome.value] += 1
    counts["unsent"] = len(unsent)
    if cancelled:
        raise asyncio.CancelledError
    return counts


def summary(counts: Mapping[str, int]) -> str:
    """`deliveries: 3 sent, 1 retrying, 0 dead` for the end of `wirewatch poll`."""
    dead = counts.get("dead", 0) + counts.get("gone", 0)
    line = f"deliveries: {counts.get('delivered', 0)} sent, {counts.get('retrying', 0)} retrying, {dead} dead"
    if counts.get("lost"):
        line += f", {counts['lost']} lost their lease"
    return line
