"""Apprise channels through the real outbox, to real receivers on 127.0.0.1: once per URL, across retries."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

import wirewatch.alerts.matchstore  # noqa: F401 - every table in the metadata
import wirewatch.ingest.store  # noqa: F401
from tests.receivers import Receiver, Reply
from tests.test_outbox_helpers import gateway, make_item, make_match, make_story
from wirewatch.alerts.apprise_channel import AppriseSender
from wirewatch.alerts.apprise_render import ELLIPSIS
from wirewatch.alerts.apprisestore import URL_STATES, prune_url_states, url_hash
from wirewatch.alerts.create import create_alerts
from wirewatch.alerts.deliver import deliver_due
from wirewatch.alerts.errors import DeliveryError
from wirewatch.alerts.outbox import Outbox
from wirewatch.alerts.render import sample_payload
from wirewatch.alerts.tables import DELIVERIES
from wirewatch.config.clock import utcnow
from wirewatch.config.models import AppriseChannel, RetryConfig

QUICK = RetryConfig(schedule=[0.001] * 5)
ZH_JA = "腾讯控股季度利润大增，トヨタ自動車は過去最高益"


def hostport(r: Receiver) -> str:
    return r.url.split("//")[1].split("/")[0]


def channel(*urls: str, **extra: Any) -> AppriseChannel:
    return AppriseChannel.model_validate({"type": "apprise", "urls": list(urls), **extra})


def create(engine: Engine, n: int = 1, title: str = ZH_JA, text: str = "第一段。\n日本語の本文。",
           at: Any = None) -> None:
    with Session(engine) as session:
        create_alerts(session, make_item(n, title=title, text=text), make_story(n), [make_match()],
                      {"acme": ["chat"]}, now=at or utcnow())
        session.commit()


def deliver(engine: Engine, config: AppriseChannel, now: Any = None) -> dict[str, int]:
    """One outbox pass with a freshly built sender (as after a restart)."""
    outbox = Outbox(engine, "w1", QUICK, channels={"chat": config})
    with gateway(engine) as db:
        sender = AppriseSender("chat", config, db)
        counts = asyncio.run(deliver_due(outbox, {"chat": sender}, now=now, db=db))
    time.sleep(0.01)  # past the next try's due time
    return counts


def last_error(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(sa.select(DELIVERIES.c.last_error)).scalar_one())


def test_json_alert_arrives_once_with_title_body_and_unicode(engine: Engine, receiver: Receiver) -> None:
    config = channel(f"json://{hostport(receiver)}/alerts")
    create(engine)
    assert deliver(engine, config)["delivered"] == 1
    assert deliver(engine, config)["claimed"] == 0
    [request] = receiver.requests
    assert request["path"] == "/alerts"
    body = json.loads(request["body"])
    assert body["title"] == f"acme · Acme Corp · {ZH_JA}"
    assert body["message"] == ("第一段。\n\n日本語の本文。\n\nSource: Example Wire\n\n"
                               "[Read on news.example](https://news.example/1)")


def test_a_503_then_200_is_delivered_once(engine: Engine, receiver: Receiver) -> None:
    receiver.plan(Reply(503))
    config = channel(f"json://{hostport(receiver)}/alerts")
    create(engine)
    assert deliver(engine, config)["retrying"] == 1
    assert "1 of 1 URLs failed" in last_error(engine) and "503" in last_error(engine)
    assert deliver(engine, config)["delivered"] == 1
    assert [r["status"] for r in receiver.requests] == [503, 200]


@pytest.fixture
def any_engine(db_url: str) -> Iterator[Engine]:
    """A real SQLite file, then the real PostgreSQL (skipped when unreachable, outside CI)."""
    engine = sa.create_engine(db_url)
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_one_url_down_the_healthy_one_gets_exactly_one_message(any_engine: Engine) -> None:
    engine = any_engine
    with Receiver() as good, Receiver() as bad:
        bad.plan(Reply(503), Reply(502))
        config = channel(f"json://{hostport(good)}/a", f"form://robot:s3cretpass@{hostport(bad)}/b")
        create(engine)
        assert deliver(engine, config)["retrying"] == 1
        error = last_error(engine)
        assert f"form://robot:****@{hostport(bad)}/b" in error and "s3cretpass" not in error
        assert deliver(engine, config)["retrying"] == 1
        assert deliver(engine, config)["delivered"] == 1
        assert deliver(engine, config)["claimed"] == 0
        assert [r["status"] for r in good.requests] == [200]
        assert [r["status"] for r in bad.requests] == [503, 502, 200]
        assert good.requests[0]["body"] and json.loads(good.requests[0]["body"])["title"].endswith(ZH_JA)
        assert parse_qs(bad.requests[-1]["body"])["title"] == [f"acme · Acme Corp · {ZH_JA}"]


def test_form_and_ntfy_receive_the_fields_and_long_titles_end_in_an_ellipsis(engine: Engine,
                                                                            receiver: Receiver) -> None:
    long_title = "トヨタ" * 120
    config = channel(f"form://{hostport(receiver)}/form", f"ntfy://{hostport(receiver)}/wire-alerts?format=markdown")
    create(engine, title=long_title)
    assert deliver(engine, config)["delivered"] == 1
    by_path = {r["path"]: r for r in receiver.requests}
    form = parse_qs(by_path["/form"]["body"])
    [title] = form["title"]  # form:// takes 250 characters
    assert len(title) == 250 and title.startswith("acme · Acme Corp · トヨタ") and title.endswith(ELLIPSIS)
    ntfy = json.loads(by_path["/"]["body"])
    assert ntfy["topic"] == "wire-alerts" and by_path["/"]["headers"]["X-Markdown"] == "yes"
    assert len(ntfy["title"]) == 200 and ntfy["title"].endswith("トヨタ" + ELLIPSIS)
    assert "第一段。" in ntfy["message"]


@pytest.mark.parametrize(("scheme", "path", "field", "limit"), [
    ("mmost", "/hooks/tok3nabcdef", "text", 4000),  # Mattermost: 4000, no title field
    ("ntfy", "/", "message", 1090),  # ntfy: 8000 bytes of JSON, CJK escaped, or it becomes an attachment
])
def test_a_template_longer_than_the_service_allows_is_cut_with_an_ellipsis(
        engine: Engine, receiver: Receiver, scheme: str, path: str, field: str, limit: int) -> None:
    target = f"{scheme}://{hostport(receiver)}/tok3nabcdef" if scheme == "mmost" else \
        f"ntfy://{hostport(receiver)}/topic"
    config = channel(target, template="{{ alert.watchlist }}: {{ alert.item.text }}")
    create(engine, text="日本語と中文的长文。" * 1000)
    assert deliver(engine, config)["delivered"] == 1
    [request] = receiver.requests
    assert request["path"] == path
    message = json.loads(request["body"])[field]
    assert len(message) == limit and message.startswith("acme: 日本語と中文的长文。") and message.endswith(ELLIPSIS)


def test_feed_text_is_data_never_a_template_or_markup(engine: Engine, receiver: Receiver) -> None:
    hostile = "{{ 7*7 }} **Bold** [x](http://evil.example) <b>hi</b>"
    plain = channel(f"json://{hostport(receiver)}/plain?format=text")
    create(engine, 1, title=hostile)
    deliver(engine, plain)
    md = channel(f"json://{hostport(receiver)}/md", template="Story: {{ alert.item.title }}")
    create(engine, 2, title=hostile)
    deliver(engine, md)
    text_body, md_body = (json.loads(r["body"]) for r in receiver.requests)
    assert text_body["title"] == f"acme · Acme Corp · {hostile}"  # plain text: literal, untouched
    assert md_body["message"] == "Story: {{ 7\\*7 }} \\*\\*Bold\\*\\* \\[x\\](http://evil.example) \\<b\\>hi\\</b\\>"
    assert "49" not in md_body["message"] + text_body["message"]


def test_digest_mode_sends_one_message_listing_the_window(engine: Engine, receiver: Receiver) -> None:
    config = channel(f"json://{hostport(receiver)}/digest", mode="digest", every="1m")
    start = utcnow() - timedelta(minutes=5)
    for n in range(3):
        create(engine, n + 1, title=f"{ZH_JA} {n}", at=start)
    assert deliver(engine, config)["delivered"] == 1
    assert deliver(engine, config)["claimed"] == 0
    [body] = receiver.bodies()
    assert body["title"] == "wirewatch digest: 3 alerts (acme)"
    assert body["message"].count("• [acme · Acme Corp · ") == 3 and f"{ZH_JA} 2" in body["message"]


def test_a_hanging_url_fails_within_the_timeout(receiver: Receiver) -> None:
    receiver.plan(Reply(200, delay=5))
    sender = AppriseSender("chat", channel(f"json://{hostport(receiver)}/slow"), None, timeout=1)
    started = time.monotonic()
    with pytest.raises(DeliveryError, match="no answer within 1s"):
        asyncio.run(sender.send(sample_payload(), "msg_slow"))
    assert time.monotonic() - started < 3


def test_without_a_database_the_sender_still_skips_urls_already_done() -> None:
    with Receiver() as good, Receiver() as bad:
        bad.plan(Reply(500))
        sender = AppriseSender("chat", channel(f"json://{hostport(good)}/a", f"json://{hostport(bad)}/b"), None)
        with pytest.raises(DeliveryError, match="1 of 2 URLs failed"):
            asyncio.run(sender.send(sample_payload(), "msg_1"))
        asyncio.run(sender.send(sample_payload(), "msg_1"))
        assert len(good.requests) == 1 and len(bad.requests) == 2


def test_url_states_of_finished_deliveries_are_pruned_after_a_day(engine: Engine) -> None:
    create(engine, 1)
    create(engine, 2)
    with engine.begin() as conn:
        ids = list(conn.execute(sa.select(DELIVERIES.c.message_id).order_by(DELIVERIES.c.id)).scalars())
        conn.execute(DELIVERIES.update().where(DELIVERIES.c.message_id == ids[0]).values(state="delivered"))
        old = utcnow() - timedelta(days=2)
        conn.execute(URL_STATES.insert(), [{"delivery_id": d, "url_hash": url_hash("x"), "delivered_at": old}
                                           for d in [*ids, "msg_gone"]])
    assert prune_url_states(engine) == 2  # the delivered one and the one whose delivery is gone
    with engine.connect() as conn:
        assert list(conn.execute(sa.select(URL_STATES.c.delivery_id)).scalars()) == [ids[1]]
