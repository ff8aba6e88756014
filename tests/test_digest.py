"""Digests: one message per window, each alert in exactly one digest, across restarts; max_per_hour overflow."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.receivers import Receiver, Reply
from tests.test_outbox_helpers import T0, deliver_pass, make_item, make_match, make_story, sqlite_engine
from wirewatch.alerts.create import create_alerts
from wirewatch.alerts.digest import Cron, Every, parse_every
from wirewatch.alerts.email import build_message
from wirewatch.alerts.errors import DeliveryError
from wirewatch.alerts.outbox import Outbox
from wirewatch.alerts.render import sample_payload
from wirewatch.alerts.route import Route, build_channels, close_channels
from wirewatch.alerts.tables import DELIVERIES, DIGESTS
from wirewatch.config.models import EmailChannel, RetryConfig, WebhookChannel

QUICK = RetryConfig(schedule=[0.001, 0.001])
MIN = timedelta(minutes=1)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """The file of the `engine` fixture (conftest), for tests that reopen it."""
    return tmp_path / "outbox.db"


def webhook(receiver: Receiver, **extra: Any) -> dict[str, WebhookChannel]:
    return {"hook": WebhookChannel.model_validate({"type": "webhook", "url": receiver.url, **extra})}


def alert(engine: Engine, n: int, at: datetime, route: Route | None = None) -> int:
    with Session(engine) as session:
        made = create_alerts(session, make_item(n), make_story(n), [make_match()],
                             {"acme": route or Route(channels=("hook",))}, now=at)
        session.commit()
    return len(made)


def deliver(outbox: Outbox, configs: dict[str, WebhookChannel], at: datetime) -> dict[str, int]:
    async def go() -> dict[str, int]:
        channels = build_channels(configs)
        try:
            return await deliver_pass(outbox, channels, now=at)
        finally:
            await close_channels(channels)
    return asyncio.run(go())


def memberships(engine: Engine) -> list[int | None]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(DELIVERIES.c.digest_id).order_by(DELIVERIES.c.id)).scalars())


def digest_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(DIGESTS)).scalar_one())


def test_alerts_within_a_window_go_out_as_one_message(engine: Engine, receiver: Receiver) -> None:
    configs = webhook(receiver, mode="digest", every="1h")
    outbox = Outbox(engine, "w", QUICK, channels=configs)
    for n, minutes in enumerate([10, 20, 30], start=1):
        alert(engine, n, T0 + minutes * MIN)
    assert deliver(outbox, configs, T0 + 50 * MIN)["claimed"] == 0  # the 09:00-10:00 window is still open
    alert(engine, 4, T0 + 61 * MIN)  # lands in the next window
    assert deliver(outbox, configs, T0 + 62 * MIN)["delivered"] == 1
    [body] = receiver.bodies()
    assert body["type"] == "alert.digest" and body["count"] == 3
    assert [a["item"]["url"] for a in body["alerts"]] == [f"https://news.example/{n}" for n in (1, 2, 3)]
    assert "text" not in body["alerts"][0]["item"]
    assert deliver(outbox, configs, T0 + 121 * MIN)["delivered"] == 1
    assert receiver.bodies()[1]["count"] == 1
    assert memberships(engine) == [1, 1, 1, 2]
    assert {d.state for d in outbox.list_deliveries()} == {"delivered"}


def test_digests_survive_a_restart_without_loss_or_repeats(db: Path, receiver: Receiver) -> None:
    configs = webhook(receiver, mode="digest", every="1h")
    first_engine = sqlite_engine(db)
    for n in range(1, 4):
        alert(first_engine, n, T0 + n * MIN)
    crashed = Outbox(first_engine, "w1", QUICK, lease_seconds=60, channels=configs)
    [claim] = crashed.claim_due(10, now=T0 + 61 * MIN)  # closed and leased, then the daemon died
    alert(first_engine, 4, T0 + 61 * MIN)
    first_engine.dispose()

    engine = sqlite_engine(db)
    try:
        again = Outbox(engine, "w2", QUICK, lease_seconds=60, channels=configs)
        assert again.claim_due(10, now=T0 + 61 * MIN) == []  # still leased to w1
        assert deliver(again, configs, T0 + 63 * MIN)["delivered"] == 1
        assert deliver(again, configs, T0 + 121 * MIN)["delivered"] == 1
        bodies = receiver.bodies()
        assert bodies[0]["id"] == claim.message_id and bodies[0]["count"] == 3
        assert receiver.delivered()[0]["headers"]["webhook-id"] == claim.message_id
        urls = [a["item"]["url"] for b in bodies for a in b["alerts"]]
        assert sorted(urls) == [f"https://news.example/{n}" for n in range(1, 5)]  # each exactly once
        assert digest_count(engine) == 2
    finally:
        engine.dispose()


def test_two_workers_closing_the_same_window_make_one_digest(engine: Engine) -> None:
    configs = {"hook": WebhookChannel(type="webhook", url="http://127.0.0.1:9/", mode="digest", every="1h")}
    for n in range(1, 6):
        alert(engine, n, T0 + n * MIN)
    a = Outbox(engine, "a", QUICK, channels=configs).claim_due(10, now=T0 + 61 * MIN)
    b = Outbox(engine, "b", QUICK, channels=configs).claim_due(10, now=T0 + 61 * MIN)
    assert len(a) == 1 and len(a[0].payloads) == 5 and b == []
    assert digest_count(engine) == 1 and set(memberships(engine)) == {a[0].id}


def test_max_per_hour_overflow_rolls_into_the_next_digest(engine: Engine, receiver: Receiver) -> None:
    configs = webhook(receiver)  # an instant channel
    outbox = Outbox(engine, "w", QUICK, channels=configs)
    route = Route(channels=("hook",), max_per_hour=2)
    for n in range(1, 6):
        alert(engine, n, T0 + n * MIN, route)
    assert deliver(outbox, configs, T0 + 6 * MIN)["delivered"] == 2
    assert [d.state for d in outbox.list_deliveries()].count("pending") == 3
    assert deliver(outbox, configs, T0 + 61 * MIN)["delivered"] == 1
    kinds = [b["type"] for b in receiver.bodies()]
    assert kinds == ["alert.created", "alert.created", "alert.digest"]
    assert receiver.bodies()[2]["count"] == 3
    assert {d.state for d in outbox.list_deliveries()} == {"delivered"}
    alert(engine, 6, T0 + 64 * MIN, route)  # a new hour: instant again
    assert deliver(outbox, configs, T0 + 65 * MIN)["delivered"] == 1
    assert receiver.bodies()[3]["type"] == "alert.created"


def test_a_dead_digest_is_requeued_into_the_next_one(engine: Engine, receiver: Receiver) -> None:
    configs = webhook(receiver, mode="digest", every="30m")
    outbox = Outbox(engine, "w", QUICK, channels=configs)
    alert(engine, 1, T0 + MIN)
    alert(engine, 2, T0 + 2 * MIN)
    receiver.plan(Reply(500), Reply(500), Reply(500))
    for minute in (31, 32, 33):
        deliver(outbox, configs, T0 + minute * MIN)
    assert [d.state for d in outbox.list_deliveries()] == ["dead", "dead"]
    assert outbox.retry(all_dead=True) == 2
    assert deliver(outbox, configs, T0 + 61 * MIN)["delivered"] == 1
    assert receiver.bodies()[0]["count"] == 2 and digest_count(engine) == 2


def test_a_digest_mail_lists_every_alert() -> None:
    config = EmailChannel.model_validate({"type": "email", "host": "127.0.0.1", "from": "a@example.com",
                                          "to": ["b@example.com"]})
    msg = build_message(config, [sample_payload("acme"), sample_payload("energy")], "msg_1", digest=True)
    assert msg["Subject"] == "[wirewatch] acme, energy: digest of 2 alerts"
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert text.count("Test alert: Example Co") == 2


@pytest.mark.parametrize(("every", "after", "expected"), [
    ("1h", datetime(2026, 3, 2, 9, 0, tzinfo=UTC), datetime(2026, 3, 2, 10, 0, tzinfo=UTC)),
    ("1h", datetime(2026, 3, 2, 9, 59, 59, tzinfo=UTC), datetime(2026, 3, 2, 10, 0, tzinfo=UTC)),
    ("15m", datetime(2026, 3, 2, 9, 7, tzinfo=UTC), datetime(2026, 3, 2, 9, 15, tzinfo=UTC)),
    ("1d", datetime(2026, 3, 2, 9, 7, tzinfo=UTC), datetime(2026, 3, 3, 0, 0, tzinfo=UTC)),
])
def test_fixed_windows_align_to_the_epoch(every: str, after: datetime, expected: datetime) -> None:
    assert parse_every(every).next_after(after) == expected


def test_cron_windows() -> None:
    schedule = parse_every("*/20 * * * *")
    assert isinstance(schedule, Cron)
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert schedule.next_after(start) == start + 20 * MIN
    assert schedule.last_at_or_before(start + 70 * MIN, start) == start + 60 * MIN
    assert isinstance(parse_every("2h"), Every)
    with pytest.raises(ValueError, match="cron expression"):
        parse_every("every tuesday")


def test_a_digest_send_failure_keeps_members_together(engine: Engine) -> None:
    configs = {"hook": WebhookChannel(type="webhook", url="http://127.0.0.1:9/", mode="digest", every="1h")}
    outbox = Outbox(engine, "w", RetryConfig(schedule=[60]), channels=configs)
    for n in range(1, 3):
        alert(engine, n, T0 + n * MIN)
    [claim] = outbox.claim_due(10, now=T0 + 61 * MIN)
    outbox.record_failure(claim, DeliveryError("HTTP 500"), now=T0 + 61 * MIN)
    assert {d.state for d in outbox.list_deliveries()} == {"retrying"}
    [again] = outbox.claim_due(10, now=T0 + 63 * MIN)
    assert again.id == claim.id and len(again.payloads) == 2 and again.message_id == claim.message_id


def test_an_outbox_made_without_configs_learns_digest_mode_from_the_channels(
        engine: Engine, receiver: Receiver) -> None:
    configs = webhook(receiver, mode="digest", every="1h")
    outbox = Outbox(engine, "w", QUICK)  # as `wirewatch.delivery` makes it
    alert(engine, 1, T0 + MIN)
    alert(engine, 2, T0 + 2 * MIN)
    assert deliver(outbox, configs, T0 + 3 * MIN)["claimed"] == 0
    assert deliver(outbox, configs, T0 + 61 * MIN)["delivered"] == 1
    assert receiver.bodies()[0]["count"] == 2
