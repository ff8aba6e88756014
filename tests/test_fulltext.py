"""Summary-only feeds with `full_text: true`: the article page is fetched and extracted, so the body can match."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlmodel import Session, select

from tests.feedserver import FeedServer
from tests.helpers import write_config
from wirewatch.app import App
from wirewatch.daemon import poll_once
from wirewatch.ingest.store import ItemRow

PAGE = """<html><head><title>Chipmaker outlook</title></head><body>
<nav><a href="/">Home</a> | <a href="/markets">Markets</a> | <a href="/login">Sign in</a></nav>
<article><h1>Chipmaker raises outlook on data-centre demand</h1>
<p>Taiwan Semiconductor Manufacturing Co raised its full-year revenue outlook on Thursday, citing strong demand
for advanced packaging from data-centre customers, and said capital spending would reach the top of its range.</p>
<p>The company said its newest plant in Arizona had begun volume production ahead of schedule, and that yields
there were now comparable with its factories at home.</p>
<p>Analysts said the update eased concerns that a slowdown in smartphone sales would weigh on the second half.</p>
</article>
<aside>Most read: ten other stories you may like</aside><footer>Copyright 2026 Example Media</footer>
</body></html>"""


def feed(page_url: str) -> bytes:
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>http://x.invalid/</link>'
            f"<description>d</description><item><title>Chipmaker raises outlook</title><link>{page_url}</link>"
            f"<guid>tsmc-1</guid><description>Chipmaker raises outlook.</description></item></channel></rss>"
            ).encode()


def test_full_text_fetches_and_extracts_the_article(tmp_path: Path) -> None:
    with FeedServer() as server:
        server.add("/article", PAGE.encode(), content_type="text/html; charset=utf-8")
        server.add("/f.xml", feed(server.url("/article")))
        config = write_config(tmp_path, {})
        config.write_text(config.read_text().replace(
            "feeds: []", f"feeds:\n  - {{name: f, url: '{server.url('/f.xml')}', full_text: true}}"), encoding="utf-8")
        app = App.open(config)
        try:
            asyncio.run(poll_once(app))
            asyncio.run(poll_once(app))  # a second poll does not fetch the page again
            with Session(app.engine) as session:
                rows = session.exec(select(ItemRow)).all()
        finally:
            app.close()
        assert server.hits("/article") == 1
    assert len(rows) == 1
    text = rows[0].text
    assert "Arizona had begun volume production" in text and "Analysts said" in text
    assert "Sign in" not in text and "Most read" not in text and "Copyright" not in text
    assert rows[0].raw_summary == "Chipmaker raises outlook."  # the raw fields stay as fetched
