"""Builders shared by the outbox, webhook, email and digest tests: databases, items, stories, matches.

Not tests themselves; imported by the test modules. PostgreSQL databases are created per test
session with a unique name and dropped afterwards; without a server the tests skip (fail in CI).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from wirewatch.alerts.apprisestore import URL_STATES
from wirewatch.alerts.deliver import deliver_due
from wirewatch.alerts.outbox import Outbox
from wirewatch.alerts.route import Channel
from wirewatch.alerts.tables import ALERTS, ATTEMPTS, CHANNEL_STATES, DELIVERIES, DIGESTS
from wirewatch.alerts.types import EntityMatch, Mention, WatchlistMatch
from wirewatch.gateway import Gateway
from wirewatch.ingest.item import Item, StoryRef

PG_ADMIN = os.environ.get("WIREWATCH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TABLES = [ALERTS, DIGESTS, DELIVERIES, CHANNEL_STATES, ATTEMPTS, URL_STATES]


def sqlite_engine(path: Path) -> Engine:
    """A file SQLite engine configured like the daemon's: WAL, busy timeout, BEGIN IMMEDIATE."""
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    SQLModel.metadata.create_all(engine, tables=TABLES)
    return engine


@contextmanager
def postgres_database() -> Iterator[str]:
    """Create a uniquely named PostgreSQL database; yields its SQLAlchemy URL; drops it afterwards."""
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_ADMIN} is required in CI: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN}: {str(exc).strip()[:120]}")
    name = f"ww_alerts_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
            yield f"{base}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_engine(url: str) -> Engine:
    """An engine on a test database with the alert tables created."""
    engine = sa.create_engine(url, pool_size=10)
    SQLModel.metadata.create_all(engine, tables=TABLES)
    return engine


@contextmanager
def gateway(engine: Engine) -> Iterator[Gateway]:
    """A database gateway over `engine` (what the daemon's `App` owns), its threads stopped after."""
    db = Gateway(engine)
    try:
        yield db
    finally:
        db.close()


async def deliver_pass(outbox: Outbox, channels: Mapping[str, Channel], **options: Any) -> dict[str, int]:
    """One `deliver_due` pass through a gateway of its own over the outbox's engine."""
    with gateway(outbox.engine) as db:
        return await deliver_due(outbox, channels, db=db, **options)


def make_item(n: int = 1, *, feed: str = "wire", title: str | None = None, text: str = "Acme Corp beat estimates.",
              url: str | None = None) -> Item:
    """An item as the pipeline hands it to alerts."""
    return Item(
        feed=feed, identity=f"{feed}:{n}", guid=f"g{n}", url=url or f"https://news.example/{n}",
        title=title if title is not None else f"Acme Corp story {n}", raw_summary="", raw_content="",
        published_at=T0, fetched_at=T0, text=text, source="Example Wire", id=n, story_id=n,
    )


def make_story(story_id: int = 1, *, created: bool = True, updated: bool = False, items: int = 1) -> StoryRef:
    """The story an item joined."""
    return StoryRef(id=story_id, first_seen=T0, sources=["Example Wire"], items=items, created=created,
                    updated=updated)


def make_match(watchlist: str = "acme", mentions: int = 1) -> WatchlistMatch:
    """One watchlist matching one entity with `mentions` mentions."""
    ms = [Mention(alias="Acme Corp", field="body", start=i, end=i + 9, snippet=f"…Acme Corp beat {i}…")
          for i in range(mentions)]
    return WatchlistMatch(watchlist=watchlist, entities=[EntityMatch(id="acme", name="Acme Corp", mentions=ms)])


def test_helpers_build_consistent_objects() -> None:
    """The builders agree with each other (a smoke test so this module is not empty)."""
    item, story, match = make_item(3), make_story(3), make_match()
    assert item.story_id == story.id and match.entities[0].mentions[0].field == "body"
