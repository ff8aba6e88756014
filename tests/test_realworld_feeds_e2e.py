"""The whole real feeds of ../shared/realworld/feeds polled from 127.0.0.1 through the daemon (issue #21).

What is stored must be article text as written: no placeholder stored as an article (teasers are marked
and never alerted on), no markup fragments, provider suffixes out of titles and into the source,
full-width punctuation kept, and the export line carrying `teaser`.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlmodel import Session, select

from tests.conftest import REALWORLD
from tests.feedserver import FeedServer
from tests.helpers import write_config
from wirewatch.alerts.tables import ALERTS
from wirewatch.app import App
from wirewatch.daemon import poll_once
from wirewatch.ingest.store import ItemRow, learned_rules
from wirewatch.reports import export_lines

pytestmark = pytest.mark.corpus

FEEDS = REALWORLD / "feeds"
WATCHLIST = """watchlist: autos
channels: [screen]
entities:
  - {id: GM, name: General Motors, aliases: [General Motors, GM], tickers: [GM]}
"""
_MARKUP = ("]]>", "<![CDATA[", "<p>", "</p>", "<div", "<img", "<a ", "&lt;", "&amp;", "&#")


def test_real_feeds_store_articles_as_written(tmp_path: Path) -> None:
    files = sorted(p for p in FEEDS.iterdir() if p.suffix in (".xml", ".json"))
    names = {p.stem.lower().replace("_", "-").replace(".", "-")[:60]: p for p in files}
    (tmp_path / "autos.yaml").write_text(WATCHLIST, encoding="utf-8")
    with FeedServer() as server:
        for path in names.values():
            ctype = "application/feed+json" if path.suffix == ".json" else "application/xml"
            server.add(f"/{path.name}", path.read_bytes(), content_type=ctype)
        config = write_config(tmp_path, {n: server.url(f"/{p.name}") for n, p in names.items()},
                              watchlists=[str(tmp_path / "autos.yaml")], channels={"screen": {"type": "console"}})
        app = App.open(config)
        try:
            reports = {r.feed: r for r in asyncio.run(poll_once(app))}
            with Session(app.engine) as session:
                rows = list(session.exec(select(ItemRow)).all())
                alerted = {r[0] for r in session.execute(select(ALERTS.c.item_id)).all()}
                learned = {name: [r.line for r in learned_rules(session, name)] for name in names}
            exported = [json.loads(line) for line in export_lines(app.engine)]
        finally:
            app.close()
    stored = [n for n, r in reports.items() if r.status == "ok"]
    assert len(stored) >= 9, {n: r.error for n, r in reports.items()}  # the Sina scraper cache is not a feed
    assert rows and all("teaser" in line for line in exported)
    for row in rows:
        assert not any(m in row.text for m in _MARKUP), (row.feed, row.title, row.text[:200])
        assert "Read full story for latest details" not in row.text, row.title
        if row.teaser:
            assert row.id not in alerted or row.text.strip(), row.title  # never alerted on an empty body
    cnn = [r for r in rows if r.feed.startswith("shocktrade-money-latest")]
    placeholders = [r for r in cnn if not r.text]
    assert len(placeholders) >= 5 and all(r.teaser for r in placeholders)
    assert alerted & {r.id for r in cnn if r.text}  # articles about GM were alerted on …
    assert not alerted & {r.id for r in placeholders}  # … the placeholders about GM were not
    yahoo = [r for r in rows if r.feed.startswith("yahoo")]
    assert len(yahoo) == 50
    assert all(r.source and not r.title.endswith(f"({r.source})") for r in yahoo)
    assert sum("、" in r.text or "「" in r.text for r in yahoo) >= 40  # as written, not folded
    kr = [r for r in rows if r.feed.startswith("36kr")]
    assert kr and all("，" in r.text and "36氪经授权发布" not in r.text for r in kr)
    assert all(r.source and r.source.startswith("微信公众号") for r in kr)
    reuters = [r for r in rows if r.feed.startswith("reuters-worldnews")]
    assert any(r.source == "Reuters" and "(Reuters) -" in r.text for r in reuters)
    assert all(not lines for lines in learned.values()), learned  # nothing of these feeds is a repeated line
