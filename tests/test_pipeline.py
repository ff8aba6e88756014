"""The daemon's poll path end to end: real HTTP server on 127.0.0.1, real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from tests.feedserver import FeedServer
from tests.helpers import rss, write_config
from wirewatch.alerts.matchstore import ItemMatch
from wirewatch.app import App
from wirewatch.config.clock import as_utc, utcnow
from wirewatch.daemon import poll_once
from wirewatch.ingest.feedstore import list_feeds
from wirewatch.ingest.item import Item, StoryRef
from wirewatch.ingest.store import ItemRow, StoryRow
from wirewatch.reports import export_lines

ITEMS = [
    {"title": "Alpha raises guidance", "link": "http://example.invalid/a?utm_source=x", "guid": "a-1",
     "body": "<p>Alpha Corp raised its full-year guidance on Thursday after strong cloud demand.</p>"
             "<p>Shares rose 5% in late trading.</p>"},
    {"title": "Beta cuts jobs", "link": "http://example.invalid/b", "guid": "b-1",
     "body": "<p>Beta Industries said it would cut 1,200 jobs as part of a restructuring plan.</p>"},
]


def poll(app: App, names: list[str] | None = None) -> dict[str, object]:
    """Run one poll pass; return reports by feed."""
    return {r.feed: r for r in asyncio.run(poll_once(app, names))}


def items(app: App) -> list[ItemRow]:
    with Session(app.engine) as session:
        return list(session.exec(select(ItemRow).order_by(ItemRow.id)).all())  # type: ignore[arg-type]


@pytest.fixture
def server() -> FeedServer:
    with FeedServer() as srv:
        yield srv


def test_two_polls_store_each_item_once_and_second_is_304(tmp_path: Path, server: FeedServer, db_url: str) -> None:
    server.add("/f.xml", rss(ITEMS), etag='"v1"')
    app = App.open(write_config(tmp_path, {"f": server.url("/f.xml")}, database=db_url))
    try:
        first = poll(app)["f"]
        assert first.status == "ok" and first.new == 2
        second = poll(app)["f"]
        assert second.status == "not-modified" and second.new == 0
        assert server.requests[-1].headers.get("if-none-match") == '"v1"'
        rows = items(app)
        assert [r.guid for r in rows] == ["a-1", "b-1"]
        assert rows[0].url == "http://example.invalid/a"  # tracking parameter dropped
        assert "Alpha Corp raised" in rows[0].text and "<p>" not in rows[0].text
        assert all(r.story_id is not None for r in rows) and rows[0].story_id != rows[1].story_id
    finally:
        app.close()


def test_last_modified_gives_304(tmp_path: Path, server: FeedServer) -> None:
    server.add("/f.xml", rss(ITEMS), last_modified="Wed, 25 Nov 2026 10:00:00 GMT")
    app = App.open(write_config(tmp_path, {"f": server.url("/f.xml")}))
    try:
        assert poll(app)["f"].new == 2
        assert poll(app)["f"].status == "not-modified"
        assert server.requests[-1].headers.get("if-modified-since") == "Wed, 25 Nov 2026 10:00:00 GMT"
    finally:
        app.close()


def test_same_content_without_validators_is_not_stored_twice(tmp_path: Path, server: FeedServer) -> None:
    server.add("/f.xml", rss(ITEMS))
    app = App.open(write_config(tmp_path, {"f": server.url("/f.xml")}))
    try:
        poll(app)
        again = poll(app)["f"]
        assert again.status == "ok" and again.new == 0 and again.duplicate == 2
        assert len(items(app)) == 2
    finally:
        app.close()


def test_edit_with_same_guid_updates_item_and_keeps_story(tmp_path: Path, server: FeedServer) -> None:
    server.add("/f.xml", rss(ITEMS))
    app = App.open(write_config(tmp_path, {"f": server.url("/f.xml")}))
    try:
        poll(app)
        story_before = items(app)[0].story_id
        edited = [dict(ITEMS[0], body=ITEMS[0]["body"] + "<p>The company also announced a buyback of $2 billion "
                                                          "over three years.</p>"), ITEMS[1]]
        server.add("/f.xml", rss(edited))
        report = poll(app)["f"]
        assert report.updated == 1 and report.new == 0
        rows = items(app)
        assert len(rows) == 2 and rows[0].story_id == story_before and "buyback" in rows[0].text
        with Session(app.engine) as session:
            story = session.get(StoryRow, story_before)
            assert story is not None and story.updates == 1 and story.items == 1
    finally:
        app.close()


def test_an_edit_replaces_the_stored_matches_of_its_item(tmp_path: Path, server: FeedServer) -> None:
    (tmp_path / "tech.yaml").write_text(
        "watchlist: tech\nentities:\n  - {id: MSFT, name: Microsoft, aliases: [Microsoft]}\n"
        "  - {id: AMZN, name: Amazon, aliases: [Amazon]}\n", encoding="utf-8")
    first = [dict(ITEMS[0], body="<p>Microsoft raised its full-year guidance on cloud demand.</p>")]
    server.add("/f.xml", rss(first))
    app = App.open(write_config(tmp_path, {"f": server.url("/f.xml")}, watchlists=["tech.yaml"]))
    try:
        poll(app)
        edited = [dict(ITEMS[0], body="<p>Amazon raised its full-year guidance on retail demand and ads.</p>")]
        server.add("/f.xml", rss(edited))
        assert poll(app)["f"].updated == 1
        with Session(app.engine) as session:
            stored = [(m.item_id, m.entity) for m in session.exec(select(ItemMatch)).all()]
        assert stored == [(items(app)[0].id, "AMZN")]  # the first text's MSFT match is gone, AMZN stored once
    finally:
        app.close()


def test_a_pass_over_many_feeds_holds_at_most_twice_the_fetch_concurrency_in_flight(
        tmp_path: Path, server: FeedServer) -> None:
    feeds = {f"f{n}": server.url(f"/f{n}.xml") for n in range(8)}
    for n in range(8):
        server.add(f"/f{n}.xml", rss([dict(ITEMS[0], guid=f"g{n}", title=f"Item {n} of a busy pass")]))
    path = write_config(tmp_path, feeds)
    path.write_text(path.read_text().replace("fetch: {", "fetch: {concurrency: 1, per_host: 1, "), encoding="utf-8")
    app = App.open(path)
    fetched_while_storing: list[int] = []
    original = app.pipeline.sink
    assert original is not None

    class SlowSink:  # the database thread is the bottleneck
        match = original.match

        def record(self, session: Session, item: Item, story: StoryRef, matched: object) -> None:
            time.sleep(0.3)
            fetched_while_storing.append(len(server.requests))
            original.record(session, item, story, matched)

    app.pipeline.sink = SlowSink()
    try:
        reports = poll(app)
        assert all(r.new == 1 for r in reports.values()) and len(reports) == 8
        # concurrency 1: while the n-th item is stored, n polls are done, this one and one fetched behind it
        assert len(fetched_while_storing) == 8
        assert all(seen <= n + 2 for n, seen in enumerate(fetched_while_storing)), fetched_while_storing
    finally:
        app.close()


def test_failing_feeds_are_recorded_and_others_keep_polling(tmp_path: Path, server: FeedServer) -> None:
    server.add("/ok.xml", rss(ITEMS))
    server.add("/500", b"boom", status=500)
    server.add("/html", b"<html><body><h1>Not a feed</h1></body></html>", content_type="text/html")
    server.add("/big", b"<rss>" + b"x" * (2 * 1024 * 1024) + b"</rss>")
    server.add("/slow", rss(ITEMS), delay=4.0)
    feeds = {"ok": server.url("/ok.xml"), "e500": server.url("/500"), "html": server.url("/html"),
             "big": server.url("/big"), "slow": server.url("/slow"), "dead": "http://127.0.0.1:9/feed"}
    app = App.open(write_config(tmp_path, feeds))
    try:
        reports = poll(app)
        assert reports["ok"].status == "ok" and reports["ok"].new == 2
        for name in ("e500", "html", "big", "slow", "dead"):
            assert reports[name].status == "error", name
            assert reports[name].error
        assert reports["e500"].http_status == 500
        rows = {f.name: f for f in list_feeds(app.engine)}
        assert rows["e500"].consecutive_errors == 1 and "500" in (rows["e500"].last_error or "")
        assert rows["ok"].consecutive_errors == 0
        # backoff: the failing feed's next poll is later than a healthy interval would put it
        poll(app, ["e500"])
        rows = {f.name: f for f in list_feeds(app.engine)}
        assert rows["e500"].consecutive_errors == 2
        assert as_utc(rows["e500"].next_poll_at) > utcnow() + timedelta(minutes=3)  # type: ignore[operator]
    finally:
        app.close()


def test_retry_after_delays_next_poll_and_survives_restart(tmp_path: Path, server: FeedServer) -> None:
    server.add("/busy", b"slow down", status=429, headers={"Retry-After": "7200"})
    path = write_config(tmp_path, {"busy": server.url("/busy")})
    app = App.open(path)
    try:
        report = poll(app)["busy"]
        assert report.status == "error" and report.http_status == 429 and report.retry_after == 7200
        row = list_feeds(app.engine)[0]
        assert as_utc(row.next_poll_at) >= utcnow() + timedelta(seconds=7190)  # type: ignore[operator]
        before = as_utc(row.next_poll_at)
    finally:
        app.close()
    again = App.open(path)  # a restart keeps the backoff and the next poll time
    try:
        row = list_feeds(again.engine)[0]
        assert as_utc(row.next_poll_at) == before and row.consecutive_errors == 1
    finally:
        again.close()


def test_export_lines_carry_the_public_fields(tmp_path: Path, server: FeedServer) -> None:
    server.add("/f.xml", rss(ITEMS))
    app = App.open(write_config(tmp_path, {"f": server.url("/f.xml")}))
    try:
        poll(app)
        lines = [json.loads(line) for line in export_lines(app.engine)]
    finally:
        app.close()
    assert [set(line) for line in lines] == [{"feed", "guid", "url", "title", "text", "source", "teaser", "published",
                                              "story", "matches"}] * 2
    assert lines[0]["published"] == "2026-11-27T09:30:00Z" and lines[0]["matches"] == []


def test_a_reload_that_drops_a_feed_stops_polling_it(tmp_path: Path, server: FeedServer) -> None:
    from wirewatch.app import build_wiring
    from wirewatch.ingest.feedstore import claim_due

    server.add("/a.xml", rss(ITEMS[:1]))
    server.add("/b.xml", rss(ITEMS[1:]))
    path = write_config(tmp_path, {"a": server.url("/a.xml"), "b": server.url("/b.xml")})
    app = App.open(path)
    try:
        write_config(tmp_path, {"b": server.url("/b.xml")})
        app.swap(build_wiring(path))
        assert {f.name: f.enabled for f in list_feeds(app.engine)} == {"a": False, "b": True}
        claimed = claim_due(app.engine, "w", 60, 10, due_only=False)
        assert [row.name for row in claimed] == ["b"]
    finally:
        app.close()
