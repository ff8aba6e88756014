"""The signed webhook channel against a real receiver on 127.0.0.1, through the real outbox."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session
from standardwebhooks import Webhook

from tests.receivers import Receiver, Reply
from tests.test_outbox_helpers import deliver_pass, make_item, make_match, make_story
from wirewatch.alerts.create import create_alerts
from wirewatch.alerts.outbox import Outbox
from wirewatch.alerts.route import build_channels, close_channels
from wirewatch.alerts.webhook import MAX_RETRY_AFTER
from wirewatch.config.clock import parse_retry_after, utcnow
from wirewatch.config.models import RetryConfig, WebhookChannel

SECRET = "whsec_" + base64.b64encode(os.urandom(24)).decode()
QUICK = RetryConfig(schedule=[0.001, 0.001, 0.001, 0.001, 0.001])  # six tries, no waiting


def hook(receiver: Receiver, **extra: Any) -> dict[str, WebhookChannel]:
    return {"hook": WebhookChannel.model_validate({"type": "webhook", "url": receiver.url, "secret": SECRET,
                                                   **extra})}


def alert(engine: Engine, n: int = 1) -> None:
    with Session(engine) as session:
        create_alerts(session, make_item(n), make_story(n), [make_match()], {"acme": ["hook"]})
        session.commit()


def run(outbox: Outbox, configs: dict[str, WebhookChannel], passes: int = 1) -> list[dict[str, int]]:
    """Run `passes` worker passes with channels built from `configs` (a short pause between passes)."""
    async def go() -> list[dict[str, int]]:
        channels = build_channels(configs)
        try:
            results = []
            for _ in range(passes):
                results.append(await deliver_pass(outbox, channels))
                await asyncio.sleep(0.01)
            return results
        finally:
            await close_channels(channels)
    return asyncio.run(go())


def test_the_alert_arrives_signed_and_in_the_generic_format(engine: Engine, receiver: Receiver) -> None:
    alert(engine)
    configs = hook(receiver, headers={"x-team": "desk", "webhook-id": "spoofed"})
    counts = run(Outbox(engine, "w", QUICK, channels=configs), configs)
    assert counts[0]["delivered"] == 1
    [request] = receiver.delivered()
    body = Webhook(SECRET).verify(request["body"], request["headers"])
    assert body["type"] == "alert.created" and body["watchlist"] == "acme"
    assert body["item"]["feed"] == "wire" and body["item"]["url"] == "https://news.example/1"
    assert set(body) == {"type", "id", "created_at", "watchlist", "story", "entities", "item"}
    assert request["headers"]["x-team"] == "desk"
    assert request["headers"]["webhook-id"].startswith("msg_")  # a custom header cannot spoof it


def test_503s_then_200_deliver_once_with_one_webhook_id(engine: Engine, receiver: Receiver) -> None:
    alert(engine)
    receiver.plan(Reply(503), Reply(503), Reply(500))
    configs = hook(receiver)
    outbox = Outbox(engine, "w", QUICK, channels=configs)
    run(outbox, configs, passes=8)
    assert [r["status"] for r in receiver.requests] == [503, 503, 500, 200]
    assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 1
    for request in receiver.requests:
        Webhook(SECRET).verify(request["body"], request["headers"])
    [delivery] = outbox.list_deliveries()
    assert delivery.state == "delivered" and delivery.attempts == 4
    assert delivery.message_id == receiver.requests[0]["headers"]["webhook-id"]


def test_429_retry_after_is_honoured(engine: Engine, receiver: Receiver) -> None:
    alert(engine)
    receiver.plan(Reply(429, headers={"retry-after": "120"}))
    configs = hook(receiver)
    outbox = Outbox(engine, "w", QUICK, channels=configs)
    before = utcnow()
    run(outbox, configs, passes=3)
    [delivery] = outbox.list_deliveries()
    assert len(receiver.requests) == 1 and delivery.state == "retrying"
    assert delivery.next_attempt_at is not None and delivery.next_attempt_at >= before + timedelta(seconds=120)
    assert outbox.claim_due(10, now=before + timedelta(seconds=100)) == []
    assert len(outbox.claim_due(10, now=before + timedelta(seconds=125))) == 1


@pytest.mark.parametrize(("value", "seconds"), [
    ("120", 120.0), ("0", 0.0), ("9999999", 86400.0), ("soon", None), (None, None),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past: no extra wait
])
def test_retry_after_values(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, cap=MAX_RETRY_AFTER) == seconds


def test_410_disables_the_channel_until_its_config_changes(engine: Engine, receiver: Receiver) -> None:
    alert(engine, 1)
    receiver.plan(Reply(410))
    configs = hook(receiver)
    outbox = Outbox(engine, "w", QUICK, channels=configs)
    assert run(outbox, configs)[0]["gone"] == 1
    alert(engine, 2)
    assert run(outbox, configs)[0]["claimed"] == 0  # the channel is off: the new alert waits
    [state] = outbox.channel_states()
    assert state["name"] == "hook" and state["disabled"] and "410" in state["reason"]
    assert [d.state for d in outbox.list_deliveries()] == ["pending", "dead"]
    changed = hook(receiver, headers={"authorization": "Bearer new"})
    fixed = Outbox(engine, "w", QUICK, channels=changed)
    assert fixed.sync_channels() == ["hook"]
    run(fixed, changed)
    assert fixed.retry(all_dead=True) == 1
    run(fixed, changed)
    assert [d.state for d in fixed.list_deliveries()] == ["delivered", "delivered"]


def test_a_redirect_is_a_failure_and_is_not_followed(engine: Engine, receiver: Receiver) -> None:
    alert(engine)
    receiver.plan(Reply(302, headers={"location": receiver.url + "/elsewhere"}))
    configs = hook(receiver)
    outbox = Outbox(engine, "w", QUICK, channels=configs)
    run(outbox, configs)
    [delivery] = outbox.list_deliveries()
    assert delivery.state == "retrying" and "HTTP 302" in (delivery.last_error or "")
    assert [r["path"] for r in receiver.requests] == ["/hook"]


def test_dead_after_the_last_try_then_requeued(engine: Engine, receiver: Receiver) -> None:
    alert(engine)
    receiver.plan(*[Reply(500)] * 3)
    configs = hook(receiver)
    outbox = Outbox(engine, "w", RetryConfig(schedule=[0.001, 0.001]), channels=configs)
    run(outbox, configs, passes=5)
    [dead] = outbox.list_deliveries("dead")
    assert dead.attempts == 3 and len(receiver.requests) == 3
    assert outbox.retry(dead.id) == 1
    run(outbox, configs)
    assert outbox.list_deliveries("delivered")[0].message_id == dead.message_id
    assert len(receiver.delivered()) == 1


def test_a_receiver_that_hangs_past_the_timeout_is_a_failure(engine: Engine, receiver: Receiver) -> None:
    alert(engine)
    receiver.plan(Reply(200, delay=30))
    configs = hook(receiver, timeout="300ms")
    outbox = Outbox(engine, "w", QUICK, channels=configs)
    run(outbox, configs)
    [delivery] = outbox.list_deliveries()
    assert delivery.state == "retrying" and "no answer within 0.3s" in (delivery.last_error or "")
    run(outbox, configs, passes=2)
    assert outbox.list_deliveries()[0].state == "delivered"


def test_an_unreachable_receiver_is_retried(engine: Engine) -> None:
    alert(engine)
    configs = {"hook": WebhookChannel(type="webhook", url="http://127.0.0.1:9/hook", secret=SECRET)}
    outbox = Outbox(engine, "w", QUICK, channels=configs)
    run(outbox, configs)
    [delivery] = outbox.list_deliveries()
    assert delivery.state == "retrying" and "ConnectError" in (delivery.last_error or "")
    assert SECRET not in (delivery.last_error or "")


def test_a_caller_supplied_http_client_is_used_and_left_open(engine: Engine, receiver: Receiver) -> None:
    alert(engine)
    configs = hook(receiver)

    async def go() -> dict[str, int]:
        async with httpx.AsyncClient() as http:
            channels = build_channels(configs, http)
            counts = await deliver_pass(Outbox(engine, "w", QUICK), channels)
            await close_channels(channels)
            assert not http.is_closed
            return counts

    assert asyncio.run(go())["delivered"] == 1
    assert json.loads(receiver.requests[0]["body"])["watchlist"] == "acme"


def test_a_pass_claims_no_more_than_it_can_send_within_the_lease(engine: Engine) -> None:
    for n in range(1, 21):
        alert(engine, n)
    configs = {"hook": WebhookChannel(type="webhook", url="http://127.0.0.1:9/hook", timeout=15.0)}
    outbox = Outbox(engine, "w", QUICK, lease_seconds=30, channels=configs)

    async def go() -> dict[str, int]:
        channels = build_channels(configs)
        try:
            return await deliver_pass(outbox, channels, limit=100, concurrency=2)
        finally:
            await close_channels(channels)

    assert asyncio.run(go())["claimed"] == 4  # two rounds of 15 s fit in a 30 s lease, two at a time
