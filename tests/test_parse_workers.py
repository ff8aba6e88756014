"""Parsing and cleaning in worker processes (`ingest.prepare.ParsePool`): same result, and a dead worker costs one poll."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session, select

from tests.feedserver import FeedServer
from tests.helpers import rss, write_config
from wirewatch.app import App
from wirewatch.config.models import FeedConfig
from wirewatch.config.packs import load_packs
from wirewatch.daemon import poll_once
from wirewatch.ingest.errors import WorkerError
from wirewatch.ingest.pipeline import Cleaner
from wirewatch.ingest.prepare import ParsePool, prepare_document
from wirewatch.ingest.store import ItemRow

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
ITEMS = [
    {"title": "宁德时代：匈牙利工厂投产", "link": "http://home.invalid/a1?utm_source=x", "guid": "a1",
     "body": "<p>炒股就看金麒麟分析师研报，权威，专业，及时，全面，助您挖掘潜力主题机会！</p>"
             "<p>宁德时代周三宣布，其位于匈牙利德布勒森的电池工厂一期已正式投产。</p>"
             "<p>海量资讯、精准解读，尽在新浪财经APP</p>"},
    {"title": "Toyota raises its forecast", "link": "http://home.invalid/b1", "guid": "b1",
     "body": "<p>(出典:网易科技)</p><p>Toyota Motor raised its full-year operating profit forecast on Wednesday.</p>"},
]


def test_a_worker_prepares_exactly_what_the_daemon_would_inline() -> None:
    feed = FeedConfig(name="home", url="http://home.invalid/feed.xml")
    body = rss(ITEMS)
    headers = {"content-type": "application/rss+xml"}
    tracking = ["utm_source"]
    inline = prepare_document(feed, Cleaner(load_packs()).compiled(feed), body, headers, feed.url, NOW, tracking)
    pool = ParsePool(1, load_packs())
    try:
        remote = asyncio.run(pool.prepare(feed, body, headers, feed.url, NOW, tracking, None))
    finally:
        pool.close()
    assert remote == inline
    assert [p.item.url for p in remote.entries] == ["http://home.invalid/a1", "http://home.invalid/b1"]
    assert "金麒麟" not in remote.entries[0].cleaned.text and remote.entries[1].cleaned.source == "网易科技"
    assert all(p.signature is not None and p.content_hash for p in remote.entries)


def test_a_worker_that_dies_costs_that_poll_only() -> None:
    feed = FeedConfig(name="home", url="http://home.invalid/feed.xml")
    body = rss(ITEMS)
    pool = ParsePool(1, load_packs())

    async def run() -> None:
        first = await pool.prepare(feed, body, {}, feed.url, NOW, [], None)
        assert len(first.entries) == 2
        executor = pool._pool
        assert executor is not None
        for pid in list(executor._processes):  # the kernel's OOM killer, say
            os.kill(pid, signal.SIGKILL)
        await asyncio.sleep(0.5)
        try:
            await pool.prepare(feed, body, {}, feed.url, NOW, [], None)
        except WorkerError as exc:
            assert "died" in str(exc)
        else:
            raise AssertionError("a dead worker went unnoticed")
        again = await pool.prepare(feed, body, {}, feed.url, NOW, [], None)  # fresh workers
        assert again == first

    try:
        asyncio.run(run())
    finally:
        pool.close()


def test_the_daemon_polls_through_workers_and_stores_every_item_once(tmp_path: Path) -> None:
    with FeedServer() as server:
        server.add("/home.xml", rss(ITEMS))
        config = write_config(tmp_path, {"home": server.url("/home.xml")}, extra="parse_workers: 2\n")
        app = App.open(config)
        try:
            assert app.pipeline.parse_pool is not None and app.pipeline.parse_pool.workers == 2
            reports = asyncio.run(poll_once(app))
            server.add("/home.xml", rss(ITEMS))  # the same items again, without validators
            reports += asyncio.run(poll_once(app))
            with Session(app.engine) as session:
                rows = session.exec(select(ItemRow)).all()
        finally:
            app.close()
    assert [(r.status, r.new) for r in reports] == [("ok", 2), ("ok", 0)]
    assert sorted(r.guid or "" for r in rows) == ["a1", "b1"]
    assert {r.guid: r.source for r in rows}["b1"] == "网易科技"
