"""Web console benchmark: how fast each page answers over a database of 100,000 stored items.

    python bench/web.py [--items 100000] [--rounds 20] [--database sqlite|postgres] [--without-short-index] [--build-only]

Builds a fresh database (SQLite file in a temp folder, or a fresh PostgreSQL database on
127.0.0.1:5432), migrated to head, with `--items` items spread over 30 days across 20 feeds
(half English, half Chinese, ~500 characters each), one story per two items, a match for one
item in ten, an alert per matched story with one delivery (one in twenty dead). Then serves the
console in this process (uvicorn on its own loop in a thread, as the daemon does) and times
`--rounds` GETs of each page over real HTTP on 127.0.0.1, after one warm-up request. Prints
the median and the 95th percentile per page, in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wirewatch import db  # noqa: E402
from wirewatch.alerts.matchstore import ItemMatch  # noqa: E402
from wirewatch.alerts.tables import ALERTS, DELIVERIES  # noqa: E402
from wirewatch.alerts.watchlist import compile_watchlists  # noqa: E402
from wirewatch.config.clock import utcnow  # noqa: E402
from wirewatch.config.models import Config, FeedConfig  # noqa: E402
from wirewatch.config.watchlist import WatchlistConfig  # noqa: E402
from wirewatch.ingest.store import FeedRow, ItemRow, StoryRow  # noqa: E402
from wirewatch.web.app import Console, start  # noqa: E402
from wirewatch.web.store import read_engine  # noqa: E402

EN = ("Microsoft said on Monday it will invest billions in cloud data centres across Japan as demand for "
      "computing grows; analysts expect the spending to lift suppliers of chips, power and cooling gear. ")
ZH = "微软周一表示，将在未来两年内向日本的云计算数据中心投资，人工智能算力需求持续增长，分析师预计供应商将受益。"
FEEDS = [f"feed-{n:02d}" for n in range(20)]


def without_short_index(engine: sa.Engine) -> None:
    """Drop the short-word index of migration 0005h (its triggers, FTS5 table or GIN index): the A side of the cost."""
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            for name in ("item_short_ai", "item_short_ad", "item_short_au"):
                conn.execute(sa.text(f"DROP TRIGGER IF EXISTS {name}"))
            conn.execute(sa.text("DROP TABLE IF EXISTS item_short"))
        else:
            conn.execute(sa.text("DROP INDEX IF EXISTS ix_item_search_short"))


def size(engine: sa.Engine, url: str) -> int:
    """Bytes the database takes (SQLite: the file and its WAL after a checkpoint; PostgreSQL: pg_database_size)."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
        finally:
            raw.close()
        path = Path(url.split(":///", 1)[1])
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar_one())


def build(engine: sa.Engine, n: int, short_index: bool = True) -> None:
    """Fill a migrated database with `n` items, their stories, matches, alerts and deliveries.

    One item in 1,000 holds the rare words `UK` (English) or `韩国` (Chinese). Without `short_index`
    the rows carry `search_short = NULL`, so nothing computes the short tokens.
    """
    rng = random.Random(7)
    now = utcnow()
    items_t = ItemRow.__table__  # type: ignore[attr-defined]
    stories_t = StoryRow.__table__  # type: ignore[attr-defined]
    matches_t = ItemMatch.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(FeedRow.__table__.insert(), [  # type: ignore[attr-defined]
            {"name": f, "url": f"http://127.0.0.1:9/{f}.xml", "enabled": True, "consecutive_errors": 0,
             "items_total": n // len(FEEDS), "health": "ok", "next_poll_at": now} for f in FEEDS])
    batch = 5000
    for start_at in range(0, n, batch):
        items, stories, matches, alerts = [], [], [], []
        for i in range(start_at, min(start_at + batch, n)):
            when = now - timedelta(seconds=rng.uniform(0, 30 * 86400))
            zh = i % 2 == 1
            body = (ZH * 8 if zh else EN * 5) + f" #{i}" + (("韩国" if zh else " UK") if i % 1000 < 2 else "")
            story = i // 2 + 1
            items.append({"id": i + 1, "feed": FEEDS[i % len(FEEDS)], "identity": f"i{i}", "url": f"http://x.invalid/{i}",
                          "title": (f"微软第{i}号新闻" if zh else f"Microsoft story number {i}"), "raw_summary": "",
                          "raw_content": "", "raw_hash": "h", "text": body, "content_hash": f"c{i}",
                          "fetched_at": when, "published_at": when, "story_id": story})
            if not short_index:
                items[-1]["search_short"] = None
            if i % 2 == 0:
                stories.append({"id": story, "first_item_id": i + 1, "title": f"story {story}", "first_seen": when,
                                "last_updated": when, "items": 2, "updates": 0, "sources": [FEEDS[i % len(FEEDS)]]})
            if i % 10 == 0:
                matches.append({"item_id": i + 1, "story_id": story, "watchlist": "ai-cloud", "entity": "MSFT",
                                "salience": 1.0, "mentions": [{"alias": "Microsoft", "field": "title", "start": 0,
                                                              "end": 9, "snippet": "Microsoft"}]})
                alerts.append({"id": story, "public_id": f"alt_{story}", "type": "alert.created", "story_id": story,
                               "watchlist": "ai-cloud", "key": "created", "item_id": i + 1, "title": f"story {story}",
                               "throttled": False, "payload": json.dumps({"id": story}), "created_at": when})
        with engine.begin() as conn:
            conn.execute(items_t.insert(), items)
            conn.execute(stories_t.insert(), stories)
            conn.execute(matches_t.insert(), matches)
            conn.execute(ALERTS.insert(), alerts)
            conn.execute(DELIVERIES.insert(), [
                {"alert_id": a["id"], "channel": "desk", "message_id": f"msg_{a['id']}",
                 "state": "dead" if a["id"] % 20 == 1 else "delivered", "batched": False, "attempts": 1, "step": 1,
                 "next_attempt_at": a["created_at"], "created_at": a["created_at"],
                 "last_error": "HTTP 500" if a["id"] % 20 == 1 else None} for a in alerts])


def serve(console: Console, listen: str) -> None:
    """Run the console on its own event loop in a daemon thread; returns once it listens."""
    ready = threading.Event()

    async def main() -> None:
        await start(console, listen)
        ready.set()
        await asyncio.Event().wait()

    threading.Thread(target=lambda: asyncio.run(main()), daemon=True).start()
    ready.wait(30)


def main() -> int:
    """Build, serve, time, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--without-short-index", action="store_true",
                        help="drop the short-word index before the build (to measure what it costs to build)")
    parser.add_argument("--build-only", action="store_true", help="build, print time and size, serve nothing")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wirewatch-bench-web-"))
    if args.database == "postgres":
        from tests.conftest import create_pg_database

        url = create_pg_database("wirewatch_bench_web")
    else:
        url = f"sqlite:///{tmp / 'web.db'}"
    engine = db.make_engine(url)
    db.upgrade(engine)
    if args.without_short_index:
        without_short_index(engine)
    load = os.getloadavg()[0]
    began = time.perf_counter()
    build(engine, args.items, short_index=not args.without_short_index)
    took = time.perf_counter() - began
    print(f"built {args.items} items on {args.database} in {took:.1f}s "
          f"({'without' if args.without_short_index else 'with'} the short-word index), "
          f"{size(engine, url) / 1e6:.0f} MB, load {load:.1f} -> {os.getloadavg()[0]:.1f}", flush=True)
    if args.build_only:
        engine.dispose()
        if args.database == "postgres":
            from tests.conftest import drop_pg_database

            drop_pg_database(url)
        shutil.rmtree(tmp, ignore_errors=True)
        return 0
    config = Config(database=url, feeds=[FeedConfig(name=f, url=f"http://127.0.0.1:9/{f}.xml") for f in FEEDS])
    watchlist = WatchlistConfig.model_validate({"watchlist": "ai-cloud", "entities": [
        {"id": "MSFT", "name": "Microsoft", "aliases": ["Microsoft", "微软"]}]})
    matcher = compile_watchlists([watchlist])
    console = Console(reads=read_engine(url, 64 * 1024 * 1024), writes=engine, config=lambda: config,
                      matcher=lambda: matcher)
    listen = "127.0.0.1:18931"
    serve(console, listen)
    dead = 1
    pages = ["/", "/feeds/feed-03", "/items", f"/items?before={args.items // 2}", f"/stories/{args.items // 4}",
             "/alerts", "/alerts?state=dead", f"/deliveries/{dead}", "/search?q=%E5%BE%AE%E8%BD%AF",
             "/search?q=%E4%BA%91%E8%AE%A1%E7%AE%97", "/search?q=cloud+data", "/search?q=zzzzqqq", "/search?q=qz",
             "/search?q=on", "/search?q=uk", "/search?q=%E5%BE%AE", "/search?q=%E9%9F%A9", "/search?q=%E9%9F%A9%E5%9B%BD",
             "/search?q=uk+cloud", "/search?q=on+zzzzqqq", "/search?q=%E5%BE%AE&feed=feed-03&since=7d",
             "/search?q=uk&entity=MSFT", "/search?entity=MSFT&since=7d", "/tester"]
    print(f"load {os.getloadavg()[0]:.1f}\n| page | median ms | p95 ms |\n| --- | ---: | ---: |")
    try:
        time_pages(listen, pages, args.rounds)
        print(f"load {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        if args.database == "postgres":
            from tests.conftest import drop_pg_database

            engine.dispose()
            console.reads.dispose()
            drop_pg_database(url)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def time_pages(listen: str, pages: list[str], rounds: int) -> None:
    """GET each page once to warm up, then `rounds` times; print median and p95 per page."""
    # a new connection per request, as a browser tab opening a page mostly gets; kept-alive connections
    # between two Python peers on loopback add a ~40 ms delayed-ACK stall that is not the page's time
    limits = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=f"http://{listen}", timeout=30, limits=limits) as client:
        for page in pages:
            assert client.get(page).status_code == 200, page
            times = []
            for _ in range(rounds):
                t0 = time.perf_counter()
                response = client.get(page)
                times.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200
            times.sort()
            p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
            print(f"| `{httpx.URL(page).path}{'?' + httpx.URL(page).query.decode() if httpx.URL(page).query else ''}` "
                  f"| {statistics.median(times):.1f} | {p95:.1f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
