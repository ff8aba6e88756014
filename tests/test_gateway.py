"""The database gateway: async code's database work runs on its threads (one writer on SQLite), nowhere else."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.feedserver import FeedServer
from tests.helpers import rss, write_config
from tests.receivers import Receiver
from tests.test_outbox_helpers import gateway, make_item, make_match, make_story
from wirewatch.alerts.apprise_channel import AppriseSender
from wirewatch.alerts.create import create_alerts
from wirewatch.alerts.deliver import deliver_due
from wirewatch.alerts.outbox import Outbox
from wirewatch.alerts.route import Channel, build_channels, close_channels
from wirewatch.app import App
from wirewatch.config.models import AppriseChannel, RetryConfig, WebhookChannel
from wirewatch.daemon import poll_once
from wirewatch.db import make_engine
from wirewatch.gateway import THREAD_PREFIX, Gateway, writer_threads


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    """The name of the thread each SQL statement on `engine` ran on, from here on."""
    seen: list[str] = []

    def note(*_: Any) -> None:
        seen.append(threading.current_thread().name)

    event.listen(engine, "before_cursor_execute", note)
    yield seen
    event.remove(engine, "before_cursor_execute", note)


def alert(engine: Engine, channel: str) -> None:
    with Session(engine) as session:
        create_alerts(session, make_item(1), make_story(1), [make_match()], {"acme": [channel]})
        session.commit()


class ThreadsOf(Outbox):
    """A real outbox that notes the thread its claim and its record ran on."""

    ran: dict[str, str]

    def claim_due(self, *args: Any, **kwargs: Any) -> Any:
        self.ran = {"claim_due": threading.current_thread().name}
        return super().claim_due(*args, **kwargs)

    def settle(self, *args: Any, **kwargs: Any) -> Any:
        self.ran["settle"] = threading.current_thread().name
        return super().settle(*args, **kwargs)


def test_the_delivery_pass_claims_and_records_on_the_gateways_one_writer_thread(
        engine: Engine, receiver: Receiver, statements: list[str]) -> None:
    alert(engine, "hook")
    statements.clear()  # from here on, the pass's statements only
    configs = {"hook": WebhookChannel(type="webhook", url=receiver.url)}
    outbox = ThreadsOf(engine, "w", RetryConfig(), channels=configs)
    with gateway(engine) as db:

        async def go() -> dict[str, int]:
            channels = build_channels(configs)
            try:
                return await deliver_due(outbox, channels, db=db)
            finally:
                await close_channels(channels)

        assert asyncio.run(go())["delivered"] == 1
    assert set(outbox.ran) == {"claim_due", "settle"}
    assert outbox.ran["claim_due"] == outbox.ran["settle"]  # SQLite: one writer thread, the same one
    assert outbox.ran["claim_due"].startswith(THREAD_PREFIX) and "-read" not in outbox.ran["claim_due"]
    assert statements and set(statements) == {outbox.ran["claim_due"]}


def test_the_apprise_channel_reads_and_writes_its_url_state_on_the_gateway(
        engine: Engine, receiver: Receiver, statements: list[str]) -> None:
    alert(engine, "chat")
    statements.clear()
    host = receiver.url.split("//")[1].split("/")[0]
    config = AppriseChannel.model_validate({"type": "apprise", "urls": [f"json://{host}/alerts"]})
    outbox = Outbox(engine, "w", RetryConfig(), channels={"chat": config})
    with gateway(engine) as db:
        sender: Channel = AppriseSender("chat", config, db)
        assert asyncio.run(deliver_due(outbox, {"chat": sender}, db=db))["delivered"] == 1
    assert len(receiver.requests) == 1
    assert len(statements) > 4  # claim, URL state read and write, record
    assert {name.startswith(THREAD_PREFIX) for name in statements} == {True}
    assert len(set(statements)) == 1


def test_reads_run_on_a_thread_of_their_own_and_writes_on_one_thread_on_sqlite(engine: Engine) -> None:
    async def names(db: Gateway) -> tuple[set[str], str]:
        writers = await asyncio.gather(*(db.run(lambda: threading.current_thread().name) for _ in range(8)))
        return set(writers), await db.read(lambda: threading.current_thread().name)

    with gateway(engine) as db:
        writers, reader = asyncio.run(names(db))
        assert db.reading.get_execution_options() != engine.get_execution_options()  # DEFERRED: no write lock
    assert len(writers) == 1 and reader not in writers
    assert reader.startswith(f"{THREAD_PREFIX}-read")


def test_postgresql_gets_four_database_threads_and_sqlite_one(tmp_path: Any) -> None:
    pg = make_engine("postgresql+psycopg://127.0.0.1/none")  # not connected: only its dialect is read
    lite = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    assert (writer_threads(pg), writer_threads(lite)) == (4, 1)
    pg.dispose()
    lite.dispose()


def test_a_poll_pass_runs_every_statement_on_the_apps_one_gateway(tmp_path: Path) -> None:
    """Claim, fetch, store, record, alert and deliver: `wirewatch poll`'s path, with `full_text` reading too."""
    (tmp_path / "w.yaml").write_text("watchlist: w\nchannels: [screen]\nentities:\n"
                                     "  - {id: ALPHA, name: Alpha, aliases: [Alpha Corp]}\n", encoding="utf-8")
    with FeedServer() as server:
        server.add("/page", b"<html><body><article><p>Alpha Corp raised its guidance after strong demand "
                   b"from cloud customers, the company said on Thursday.</p></article></body></html>",
                   content_type="text/html")
        server.add("/f.xml", rss([{"title": "Alpha raises guidance", "link": server.url("/page"), "guid": "a-1",
                                   "body": "<p>Alpha Corp raised its guidance.</p>"}]))
        config = write_config(tmp_path, {"f": server.url("/f.xml")}, watchlists=["w.yaml"],
                              channels={"screen": {"type": "console"}})
        config.write_text(config.read_text().replace("{name: f, ", "{name: f, full_text: true, "))
        app = App.open(config)
        seen: list[str] = []

        def note(*_: Any) -> None:
            seen.append(threading.current_thread().name)

        event.listen(app.engine, "before_cursor_execute", note)
        try:
            assert app.pipeline.db is app.db
            counts: dict[str, int] = {}
            [report] = asyncio.run(poll_once(app, deliveries=counts))
            assert report.status == "ok" and report.new == 1
            assert counts.get("delivered") == 1 and server.hits("/page") == 1
        finally:
            event.remove(app.engine, "before_cursor_execute", note)
            app.close()
    assert len(seen) > 10
    assert set(seen) == {f"{THREAD_PREFIX}_0"}  # SQLite: the one writer thread, and nothing else


def test_the_consoles_forms_write_on_the_gateway(engine: Engine, statements: list[str]) -> None:
    """In the daemon the console's writes (here: Retry now) share the gateway's writer thread, not Starlette's pool."""
    import httpx
    import sqlalchemy as sa

    from wirewatch.alerts.tables import DELIVERIES
    from wirewatch.alerts.watchlist import compile_watchlists
    from wirewatch.config.models import Config
    from wirewatch.web.app import Console, build_app
    from wirewatch.web.security import CSRF_COOKIE

    alert(engine, "hook")
    with engine.begin() as conn:
        conn.execute(DELIVERIES.update().values(state="dead"))
        delivery_id = conn.execute(sa.select(DELIVERIES.c.id)).scalar_one()
    matcher = compile_watchlists([])

    async def retry(console: Console) -> httpx.Response:
        transport = httpx.ASGITransport(app=build_app(console))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1",
                                     cookies={CSRF_COOKIE: "t" * 32}) as client:
            return await client.post(f"/deliveries/{delivery_id}/retry", data={"csrf": "t" * 32})

    with gateway(engine) as db:
        statements.clear()
        answer = asyncio.run(retry(Console(reads=engine, writes=engine, config=Config, matcher=lambda: matcher,
                                           db=db)))
        written = list(statements)
    assert answer.status_code == 303, answer.text
    with engine.connect() as conn:
        assert conn.execute(sa.select(DELIVERIES.c.state)).scalar_one() == "pending"
    assert written and set(written) == {f"{THREAD_PREFIX}_0"}
