"""JSON and HTML sources through the daemon's poll path: real HTTP on 127.0.0.1, real databases, the feed rules."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from tests.conftest import ROOT
from tests.feedserver import FeedServer
from tests.helpers import write_config
from tests.receivers import Receiver
from tests.test_sources import DISCLOSURES, NEWS, html_fixture
from wirewatch.app import App
from wirewatch.config.errors import ConfigError
from wirewatch.daemon import poll_once
from wirewatch.ingest.item import PollReport
from wirewatch.ingest.pipeline import reprocess
from wirewatch.ingest.store import ItemRow
from wirewatch.reports import status_rows

REALWORLD = Path(os.environ.get("WIREWATCH_REALWORLD", ROOT.parent / "shared" / "realworld"))
SINA = REALWORLD / "feeds" / "sina_finance_roll_20240229_news.json"
SINA_SELECT = {"items": "@", "title": "title", "body": "text", "source": "source",
               "published": {"path": "time", "format": "%Y年%m月%d日 %H:%M", "tz": "Asia/Shanghai"}}
HTML = "text/html; charset=utf-8"


def source_config(tmp: Path, feeds: list[dict[str, Any]], *, database: str | None = None,
                  private: bool = True, **kwargs: Any) -> Path:
    """A config whose feeds are written out in full (kind, select)."""
    path = write_config(tmp, {}, database=database, **kwargs)
    text = path.read_text(encoding="utf-8").replace("feeds: []\n", f"feeds: {json.dumps(feeds, ensure_ascii=False)}\n")
    if not private:
        text = text.replace("allow_private_networks: true", "allow_private_networks: false")
    path.write_text(text, encoding="utf-8")
    return path


def poll(app: App) -> dict[str, PollReport]:
    return {r.feed: r for r in asyncio.run(poll_once(app))}


def stored(app: App) -> list[ItemRow]:
    with Session(app.engine) as session:
        return list(session.exec(select(ItemRow).order_by(ItemRow.id)).all())  # type: ignore[arg-type]


@pytest.fixture
def server() -> FeedServer:
    with FeedServer() as srv:
        yield srv


@pytest.mark.corpus
def test_sina_roll_json_stores_50_items_with_their_sources_and_no_app_promo(
        tmp_path: Path, server: FeedServer, db_url: str) -> None:
    if not SINA.is_file():
        pytest.skip(f"realworld Sina JSON not found at {SINA} (set WIREWATCH_REALWORLD)")
    server.add("/roll.json", SINA.read_bytes(), content_type="application/json; charset=utf-8", etag='"r1"')
    config = source_config(tmp_path, [{"name": "sina-roll", "url": server.url("/roll.json"), "kind": "json",
                                       "select": SINA_SELECT}], database=db_url)
    app = App.open(config)
    try:
        first = poll(app)["sina-roll"]
        assert first.status == "ok" and first.new == 50 and first.skipped == 0, first
        again = poll(app)["sina-roll"]
        assert again.status == "not-modified"  # conditional GET as for feeds
        assert server.requests[-1].headers.get("if-none-match") == '"r1"'
        rows = stored(app)
        wiring = app.wiring
        assert reprocess(app.engine, wiring.loaded.config, wiring.cleaner, None, "sina-roll") == 50
        assert [r.source for r in stored(app)] == [r.source for r in rows]  # the field's source survives
    finally:
        app.close()
    raw = json.loads(SINA.read_text(encoding="utf-8"))
    assert len(rows) == 50
    assert sorted(r.source or "" for r in rows) == sorted(a["source"] for a in raw)
    assert not [r.title for r in rows if "新浪财经APP" in r.text]
    assert not [r.title for r in rows if "责任编辑" in r.text]
    first_row = next(r for r in rows if r.title == raw[0]["title"])
    assert first_row.published_at is not None and first_row.published_at.strftime("%Y-%m-%d %H:%M") == \
        "2024-02-29 15:26"  # 23:26 in Shanghai, stored in UTC
    assert "维修计划" in first_row.text and first_row.url == ""


def test_disclosure_table_stores_rows_with_absolute_links_and_counts_the_row_without_one(
        tmp_path: Path, server: FeedServer) -> None:
    server.add("/inbs/I_main_00.html", html_fixture("disclosures.html"), content_type=HTML)
    url = server.url("/inbs/I_main_00.html")
    app = App.open(source_config(tmp_path, [{"name": "tdnet", "url": url, "kind": "html", "select": DISCLOSURES}]))
    try:
        report = poll(app)["tdnet"]
        rows = stored(app)
    finally:
        app.close()
    assert report.status == "ok" and report.new == 3 and report.skipped == 1, report
    base = url.rsplit("/", 2)[0]
    assert [r.url for r in rows] == [f"{base}/inbs/140120261207512345.pdf", f"{base}/140120261207512399.pdf",
                                     f"{base}/sub/140120261207512500.pdf"]  # tracking parameter dropped too
    assert rows[0].source == "トヨタ自動車" and "通期の業績予想を上方修正" in rows[0].text
    assert rows[0].published_at is not None and rows[0].published_at.hour == 6  # 15:00 Tokyo


def test_a_layout_change_shows_in_status_after_one_poll_and_raises_feed_unhealthy(
        tmp_path: Path, server: FeedServer) -> None:
    receiver = Receiver().start()
    try:
        server.add("/ir/news/", html_fixture("news_list.html"), content_type=HTML)
        channels = {"ops": {"type": "webhook", "url": receiver.url, "secret": "whsec_dGVzdHNlY3JldA=="}}
        config = source_config(tmp_path, [{"name": "ir", "url": server.url("/ir/news/"), "kind": "html",
                                           "select": NEWS}], channels=channels,
                               extra="ops_channels: [ops]\nfeed_health: {failures: 2}\n")
        app = App.open(config)
        try:
            assert poll(app)["ir"].new == 3
            redesigned = html_fixture("news_list.html").replace(b'<ul class="news-list">', b'<div class="grid">')
            server.add("/ir/news/", redesigned.replace(b"</ul>", b"</div>"), content_type=HTML)
            broken = poll(app)["ir"]
            assert broken.status == "error"
            assert broken.error is not None and "`ul.news-list li.news` (items) matched nothing" in broken.error
            [_, row] = status_rows(app.engine)
            assert row[0] == "ir" and row[1].startswith("failing") and row[3] == "1"
            assert "ul.news-list li.news" in row[6]
            assert receiver.delivered() == []  # one failure is not yet unhealthy
            poll(app)
        finally:
            app.close()
    finally:
        receiver.close()
    events = [json.loads(str(r["body"])) for r in receiver.delivered()]
    assert [e["type"] for e in events] == ["feed.unhealthy"]
    assert "matched nothing" in events[0]["feed"]["reason"]


def test_a_source_on_a_private_address_is_refused_like_a_feed(tmp_path: Path, server: FeedServer) -> None:
    """`check` refuses it at load, as it does a feed: no poll would ever reach it."""
    server.add("/api", b"[]", content_type="application/json")
    config = source_config(tmp_path, [{"name": "api", "url": server.url("/api"), "kind": "json",
                                       "select": {"title": "title"}}], private=False)
    with pytest.raises(ConfigError) as caught:
        App.open(config)
    assert "allow_private_networks" in str(caught.value) and "feeds[0].url" in str(caught.value)
    assert server.hits("/api") == 0


def test_an_html_list_with_full_text_fetches_each_items_page(tmp_path: Path, server: FeedServer) -> None:
    from tests.test_fulltext import PAGE

    listing = b'<ul class="list"><li><a href="articles/tsmc.html">Chipmaker raises outlook</a>' \
              b'<span class="t">2026-12-07 09:30</span></li></ul>'
    server.add("/news/", listing, content_type=HTML)
    server.add("/news/articles/tsmc.html", PAGE.encode(), content_type=HTML)
    select_ = {"items": "ul.list li", "title": "a", "url": "a@href", "published": "span.t"}
    config = source_config(tmp_path, [{"name": "ir", "url": server.url("/news/"), "kind": "html",
                                       "select": select_, "full_text": True}])
    app = App.open(config)
    try:
        assert poll(app)["ir"].new == 1
        poll(app)  # known items are not fetched again
        [row] = stored(app)
    finally:
        app.close()
    assert server.hits("/news/articles/tsmc.html") == 1
    assert row.url == server.url("/news/articles/tsmc.html")
    assert "Arizona had begun volume production" in row.text and "Most read" not in row.text
