"""Delivery attempt history (`delivery_attempt`): one row per try, with its HTTP status and redacted error,
on a real SQLite file and the real PostgreSQL, pruned with its delivery."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.receivers import Receiver, Reply
from tests.test_outbox_helpers import deliver_pass, make_item, make_match, make_story
from wirewatch import db
from wirewatch.alerts.attempts import attempts_of
from wirewatch.alerts.create import create_alerts
from wirewatch.alerts.errors import DeliveryError
from wirewatch.alerts.outbox import Outbox, prune_delivered
from wirewatch.alerts.route import Channel, build_channels, close_channels
from wirewatch.alerts.tables import ATTEMPTS, DELIVERIES
from wirewatch.config.clock import utcnow
from wirewatch.config.models import RetryConfig, WebhookChannel


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = db.make_engine(db_url)
    db.upgrade(engine)
    yield engine
    engine.dispose()


def alert(engine: Engine) -> int:
    with Session(engine) as session:
        create_alerts(session, make_item(1), make_story(1), [make_match()], {"acme": ["hook"]})
        session.commit()
    with engine.connect() as conn:
        return int(conn.execute(sa.select(DELIVERIES.c.id)).scalar_one())


def passes(outbox: Outbox, channels: Mapping[str, Channel], *, stop_first: bool = False, count: int = 2) -> None:
    """Worker passes, each a minute after the last in the outbox's eyes (so the next retry is due)."""
    async def go() -> None:
        stop = asyncio.Event()
        try:
            for n in range(count):
                if stop_first and n == 0:
                    stop.set()
                await deliver_pass(outbox, channels, now=utcnow() + timedelta(minutes=n),
                                  stop=stop if stop_first and n == 0 else None)
        finally:
            await close_channels(channels)
    asyncio.run(go())


def history(engine: Engine, delivery: int) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return attempts_of(conn, delivery)


def test_a_500_then_a_200_leaves_two_attempts_with_their_statuses(engine: Engine) -> None:
    delivery = alert(engine)
    with Receiver() as receiver:
        receiver.plan(Reply(500, body=b"receiver down for maintenance"))
        configs = {"hook": WebhookChannel.model_validate({"type": "webhook", "url": receiver.url})}
        passes(Outbox(engine, "w", RetryConfig(schedule=[0, 30]), channels=configs), build_channels(configs))
    rows = history(engine, delivery)
    assert [(r["attempt"], r["http_status"], r["outcome"]) for r in rows] == [(1, 500, "retry"), (2, 200, "sent")]
    assert "HTTP 500 receiver down for maintenance" in str(rows[0]["error"]) and rows[1]["error"] is None
    for row in rows:
        started, finished = row["started_at"], row["finished_at"]
        assert isinstance(started, datetime) and isinstance(finished, datetime) and started <= finished
        assert row["channel"] == "hook" and row["delivery_id"] == delivery and row["digest_id"] is None


def test_a_claim_given_back_unsent_and_a_dead_try_are_both_recorded(engine: Engine) -> None:
    delivery = alert(engine)
    with Receiver(Reply(500)) as receiver:
        configs = {"hook": WebhookChannel.model_validate({"type": "webhook", "url": receiver.url})}
        passes(Outbox(engine, "w", RetryConfig(schedule=[0]), channels=configs), build_channels(configs),
               stop_first=True)
        sent = len(receiver.requests)
    assert sent == 1  # the first pass was stopping: nothing was sent
    rows = history(engine, delivery)
    assert [(r["attempt"], r["http_status"], r["outcome"]) for r in rows] == [(1, None, "given-back"), (1, 500, "dead")]
    assert "daemon was stopping" in str(rows[0]["error"])


class FailingChannel:
    """A channel whose every send fails with an error that carries credentials (as a proxy's error might)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def send(self, payload: Mapping[str, Any], delivery_id: str) -> None:
        raise DeliveryError(self.reason)

    async def send_digest(self, payloads: Sequence[Mapping[str, Any]], delivery_id: str) -> None:
        raise DeliveryError(self.reason)


def test_a_stored_error_is_redacted(engine: Engine) -> None:
    delivery = alert(engine)
    channels: dict[str, Channel] = {
        "hook": FailingChannel("cannot reach https://ops:hunter2@hooks.example/x?token=abc123")}
    passes(Outbox(engine, "w", RetryConfig(schedule=[0])), channels, count=1)
    [row] = history(engine, delivery)
    error = str(row["error"])
    assert row["outcome"] == "dead" and row["http_status"] is None
    assert "hunter2" not in error and "abc123" not in error and "***:***@hooks.example" in error


def test_retention_prunes_the_attempts_with_their_delivery(engine: Engine) -> None:
    delivery = alert(engine)
    with Receiver() as receiver:
        configs = {"hook": WebhookChannel.model_validate({"type": "webhook", "url": receiver.url})}
        passes(Outbox(engine, "w", RetryConfig(schedule=[0]), channels=configs), build_channels(configs), count=1)
    assert len(history(engine, delivery)) == 1
    with Session(engine) as session:
        assert prune_delivered(session, utcnow() + timedelta(days=1)) == 1
        session.commit()
    with engine.connect() as conn:
        left = conn.execute(sa.select(sa.func.count()).select_from(ATTEMPTS)).scalar_one()
    assert left == 0
