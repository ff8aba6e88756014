"""Every real-world fixture through the daemon's poll: feeds store all their items once, non-feeds are recorded errors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from tests.feedserver import FeedServer
from tests.helpers import write_config
from tests.test_parse import MINIFLUX, NOT_FEEDS, REALFEEDS
from wirewatch.app import App
from wirewatch.daemon import poll_once
from wirewatch.ingest.feedstore import list_feeds
from wirewatch.ingest.store import ItemRow

pytestmark = pytest.mark.corpus


def test_every_realfeeds_file_through_the_pipeline(tmp_path: Path) -> None:
    names = {path.stem.lower().replace("_", "-").replace(".", "-"): path for path in sorted(MINIFLUX.iterdir())}
    with FeedServer() as server:
        for path in names.values():
            ctype = "text/html" if path.suffix == ".html" else "application/xml"  # no charset: bytes decide
            server.add(f"/{path.name}", path.read_bytes(), content_type=ctype)
        app = App.open(write_config(tmp_path, {n: server.url(f"/{p.name}") for n, p in names.items()}))
        try:
            reports = {r.feed: r for r in asyncio.run(poll_once(app))}
            again = {r.feed: r for r in asyncio.run(poll_once(app))}
            with Session(app.engine) as session:
                stored = dict(session.exec(select(ItemRow.feed, func.count()).group_by(ItemRow.feed)).all())
                titles = {t for t in session.exec(select(ItemRow.title)).all()}
            rows = {f.name: f for f in list_feeds(app.engine)}
        finally:
            app.close()
    for name, path in names.items():
        if path.name in NOT_FEEDS:
            assert reports[name].status == "error" and rows[name].consecutive_errors == 2, name  # recorded on both polls
            continue
        _fmt, _title, count, first = REALFEEDS[path.name]
        assert reports[name].status == "ok", (name, reports[name].error)
        assert stored.get(name, 0) == reports[name].new == count, name
        assert again[name].new == 0, name  # a second poll stores nothing twice
        if first is not None:
            assert first in titles, (name, first)
    assert stored["large-rss"] == 25 and stored["rdf-utf8"] == 60 and stored["encoding-windows-1251"] == 50
