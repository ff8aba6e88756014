"""The outbox: one alert per (story, watchlist), race-safe creation, leasing, retry plans, requeueing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.test_outbox_helpers import (
    T0,
    make_item,
    make_match,
    make_story,
    postgres_database,
    postgres_engine,
)
from wirewatch.alerts.channelstate import channel_states
from wirewatch.alerts.create import create_alerts, new_id
from wirewatch.alerts.errors import ChannelGoneError, DeliveryError
from wirewatch.alerts.outbox import Outbox, prune_delivered
from wirewatch.alerts.retry import plan_failure
from wirewatch.alerts.route import Route, routes_from
from wirewatch.alerts.tables import ALERTS, DELIVERIES, Outcome
from wirewatch.config.models import RetryConfig
from wirewatch.config.watchlist import WatchlistConfig

ROUTES = {"acme": ["hook", "mail"]}
FAST = RetryConfig(schedule=[0.001, 0.001])  # three tries, no waiting


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


def count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def create(engine: Engine, item_n: int, story_id: int, routes: object = ROUTES, **story: bool) -> int:
    with Session(engine) as session:
        alerts = create_alerts(session, make_item(item_n), make_story(story_id, **story), [make_match()],
                               routes, now=T0)  # type: ignore[arg-type]
        session.commit()
    return len(alerts)


def test_same_story_alerts_once_and_a_new_story_alerts_again(engine: Engine) -> None:
    assert create(engine, 1, story_id=10) == 1
    assert create(engine, 2, story_id=10, created=False) == 0  # a later copy of the story
    assert create(engine, 1, story_id=10) == 0  # the very same call repeated
    assert create(engine, 3, story_id=11) == 1
    assert count(engine, ALERTS) == 2
    assert count(engine, DELIVERIES) == 4  # two channels each


def test_payload_is_stored_at_creation_and_bounded(engine: Engine) -> None:
    with Session(engine) as session:
        [alert] = create_alerts(session, make_item(1), make_story(1), [make_match(mentions=10_000)],
                                ROUTES, now=T0)
        session.commit()
    payload = json.loads(alert.payload)
    assert payload["type"] == "alert.created" and payload["id"] == alert.public_id
    assert payload["item"]["url"] == "https://news.example/1" and payload["item"]["feed"] == "wire"
    assert payload["story"] == {"id": 1, "first_seen": "2026-03-02T09:00:00Z", "sources": ["Example Wire"],
                                "items": 1}
    [entity] = payload["entities"]
    assert len(entity["mentions"]) == 5 and entity["mentions_total"] == 10_000
    assert len(alert.payload) < 5_000


@pytest.mark.parametrize(("updates", "expected"), [(False, 0), (True, 1)])
def test_updates_alert_only_when_the_watchlist_opts_in(engine: Engine, updates: bool, expected: int) -> None:
    routes = {"acme": Route(channels=("hook",), updates=updates)}
    assert create(engine, 1, story_id=5, routes=routes) == 1
    assert create(engine, 2, story_id=5, routes=routes, created=False, updated=True) == expected
    assert create(engine, 2, story_id=5, routes=routes, created=False, updated=True) == 0  # same item again
    with engine.connect() as conn:
        types = sorted(conn.execute(sa.select(ALERTS.c.type)).scalars())
    assert types == ["alert.created"] + ["alert.updated"] * expected


def test_routes_from_watchlist_configs() -> None:
    config = WatchlistConfig.model_validate({
        "watchlist": "acme", "channels": ["hook"], "updates": True, "max_per_hour": 3,
        "entities": [{"id": "acme", "name": "Acme", "aliases": ["Acme"]}]})
    assert routes_from([config]) == {"acme": Route(channels=("hook",), updates=True, max_per_hour=3)}


def test_a_watchlist_without_channels_records_the_alert_without_deliveries(engine: Engine) -> None:
    assert create(engine, 1, story_id=1, routes={}) == 1
    assert count(engine, DELIVERIES) == 0


def test_message_ids_are_unique_and_sortable() -> None:
    ids = [new_id("msg") for _ in range(1000)]
    assert len(set(ids)) == 1000 and all(len(i) == 30 and i.startswith("msg_") for i in ids)


@pytest.mark.parametrize(("step", "error", "state", "at_least", "at_most"), [
    (0, DeliveryError("500"), "retrying", 4.5, 5.5),
    (1, DeliveryError("500"), "retrying", 265.5, 324.5),
    (0, DeliveryError("429", retry_after=120), "retrying", 120, 120),
    (1, DeliveryError("429", retry_after=3), "retrying", 265.5, 324.5),
    (0, DeliveryError("template", permanent=True), "dead", None, None),
    (0, ChannelGoneError("410", permanent=True), "dead", None, None),
    (9, DeliveryError("500"), "dead", None, None),
])
def test_retry_plan_follows_the_standard_webhooks_schedule(
        step: int, error: DeliveryError, state: str, at_least: float | None, at_most: float | None) -> None:
    schedule = RetryConfig().schedule
    plan = plan_failure(schedule, step, error, T0)
    assert plan.state == state
    if at_least is None:
        assert plan.next_attempt_at is None
    else:
        assert plan.next_attempt_at is not None
        assert at_least <= (plan.next_attempt_at - T0).total_seconds() <= at_most  # type: ignore[operator]


def test_claims_are_leased_and_a_lost_lease_is_resent_with_the_same_id(engine: Engine) -> None:
    create(engine, 1, story_id=1)
    first = Outbox(engine, "w1", FAST, lease_seconds=60)
    second = Outbox(engine, "w2", FAST, lease_seconds=60)
    claims = first.claim_due(10, now=T0)
    assert sorted(c.channel for c in claims) == ["hook", "mail"]
    assert second.claim_due(10, now=T0 + timedelta(seconds=30)) == []  # still leased
    # w1 "crashed" after sending: once the lease runs out, w2 sends again with the same id.
    again = second.claim_due(10, now=T0 + timedelta(seconds=61))
    assert {c.message_id for c in again} == {c.message_id for c in claims}
    assert first.record_success(claims[0], now=T0 + timedelta(seconds=62)) is Outcome.LOST
    assert [second.record_success(c) for c in again] == [Outcome.DELIVERED] * 2
    assert {d.state for d in first.list_deliveries()} == {"delivered"}


def test_dead_deliveries_are_listed_and_requeued(engine: Engine) -> None:
    create(engine, 1, story_id=1, routes={"acme": ["hook"]})
    create(engine, 2, story_id=2, routes={"acme": ["hook"]})
    outbox = Outbox(engine, "w", RetryConfig(schedule=[0.001]))
    for second in range(2):
        now = T0 + timedelta(seconds=second)
        for claim in outbox.claim_due(10, now=now):
            outbox.record_failure(claim, DeliveryError("HTTP 500"), now=now)
    dead = outbox.list_deliveries("dead")
    assert len(dead) == 2 and all(d.attempts == 2 and d.last_error == "HTTP 500" for d in dead)
    assert outbox.retry(dead[0].id) == 1
    assert outbox.retry(dead[0].id) == 0  # already pending
    assert outbox.retry(all_dead=True) == 1
    assert [d.state for d in outbox.list_deliveries()] == ["pending", "pending"]
    assert {c.message_id for c in outbox.claim_due(10)} == {d.message_id for d in dead}
    with pytest.raises(ValueError, match="either"):
        outbox.retry()


@pytest.mark.postgres
def test_two_writers_racing_on_postgres_create_one_alert(pg_url: str) -> None:
    engine = postgres_engine(pg_url)
    try:
        barrier = threading.Barrier(2)
        results: dict[str, int] = {}

        def writer(name: str, hold: bool) -> None:
            with Session(engine) as session:
                if hold:
                    results[name] = len(create_alerts(session, make_item(1), make_story(77), [make_match()], ROUTES))
                    barrier.wait()
                    threading.Event().wait(0.3)  # keep the transaction open while the other inserts
                else:
                    barrier.wait()
                    results[name] = len(create_alerts(session, make_item(2), make_story(77), [make_match()], ROUTES))
                session.commit()

        threads = [threading.Thread(target=writer, args=(n, n == "a")) for n in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results.values()) == [0, 1]
        assert count(engine, ALERTS) == 1 and count(engine, DELIVERIES) == 2
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_workers_on_postgres_claim_disjoint_rows(pg_url: str) -> None:
    engine = postgres_engine(pg_url)
    try:
        for n in range(20):
            create(engine, 100 + n, story_id=1000 + n)
        claimed: list[list[int]] = []
        barrier = threading.Barrier(4)

        def worker(name: str) -> None:
            outbox = Outbox(engine, name, FAST)
            barrier.wait()
            claimed.append([c.id for c in outbox.claim_due(15)])

        threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ids = [i for batch in claimed for i in batch]
        assert len(ids) == len(set(ids)) == count(engine, DELIVERIES)
    finally:
        engine.dispose()


def test_prune_keeps_open_and_recent_alerts(engine: Engine) -> None:
    create(engine, 1, story_id=1, routes={"acme": ["hook"]})
    create(engine, 2, story_id=2, routes={"acme": ["hook"]})
    outbox = Outbox(engine, "w", FAST)
    first = [c for c in outbox.claim_due(10, now=T0) if c.payload["item"]["url"].endswith("/1")]
    outbox.record_success(first[0], now=T0)
    with Session(engine) as session:
        assert prune_delivered(session, T0 - timedelta(days=1)) == 0  # nothing that old
        assert prune_delivered(session, T0 + timedelta(days=1)) == 1  # the delivered one; the open one stays
        session.commit()
    assert [d.title for d in outbox.list_deliveries()] == ["Acme Corp story 2"]


def test_listed_deliveries_dump_to_plain_json(engine: Engine) -> None:
    create(engine, 1, story_id=1, routes={"acme": ["hook"]})
    [info] = Outbox(engine, "w", FAST).list_deliveries()
    data = info.model_dump()
    assert json.loads(json.dumps(data))["watchlist"] == "acme" and data["state"] == "pending"
    assert channel_states(engine) == {}
