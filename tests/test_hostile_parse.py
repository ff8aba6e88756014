"""parse_feed against hostile documents: entity bombs, external entities, huge and deep feeds.

Each case also measures peak Python memory growth (tracemalloc) and asserts a generous bound.
"""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from typing import TypeVar

import pytest

from tests.feedserver import FeedServer
from wirewatch.ingest.errors import ParseError
from wirewatch.ingest.item import ParsedFeed
from wirewatch.ingest.parse import MAX_ENTRIES, parse_feed

MB = 1 << 20
T = TypeVar("T")


def measured(run: Callable[[], T]) -> tuple[T, int]:
    """Run `run` under tracemalloc; return its result and the peak bytes allocated meanwhile."""
    tracemalloc.start()
    try:
        result = run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def rss(items: str, prolog: str = '<?xml version="1.0" encoding="utf-8"?>', doctype: str = "") -> bytes:
    """An RSS 2.0 document around `items` (already XML)."""
    return f'{prolog}{doctype}<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


def item(title: str, n: int = 0, extra: str = "") -> str:
    return f"<item><title>{title}</title><link>https://x.example/{n}</link><guid>g{n}</guid>{extra}</item>"


def test_billion_laughs_is_defused() -> None:
    levels = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    doc = rss(item("&l9;"), doctype=f'<!DOCTYPE rss [<!ENTITY l0 "lol">{levels}]>')
    feed, peak = measured(lambda: parse_feed(doc))
    assert feed.entries[0].title == "&l9;"  # left as literal text, never expanded
    assert feed.warning and "DOCTYPE" in feed.warning
    assert peak < 100 * MB


def test_quadratic_blowup_is_defused() -> None:
    doc = rss(item("&a;" * 100_000), doctype=f'<!DOCTYPE rss [<!ENTITY a "{"A" * 100_000}">]>')
    feed, peak = measured(lambda: parse_feed(doc))
    assert "AAAA" not in feed.entries[0].title
    assert len(feed.entries[0].title) == len("&a;") * 100_000
    assert peak < 100 * MB


def test_external_entities_are_never_read_or_fetched() -> None:
    with FeedServer() as server:
        server.add("/evil.dtd", b'<!ENTITY leak "LEAKED">')
        doctype = (
            '<!DOCTYPE rss [<!ENTITY passwd SYSTEM "file:///etc/passwd">'
            f'<!ENTITY % remote SYSTEM "{server.url("/evil.dtd")}"> %remote;'
            f'<!ENTITY web SYSTEM "{server.url("/evil.dtd")}">]>'
        )
        doc = rss(item("&passwd;&web;&leak;", extra="<description>&passwd;</description>"), doctype=doctype)
        external = f'<!DOCTYPE rss SYSTEM "{server.url("/evil.dtd")}">'
        feeds = [parse_feed(doc), parse_feed(rss(item("&leak;"), doctype=external))]
        assert server.requests == []
    for feed in feeds:
        text = " ".join(e.title + e.summary + e.content for e in feed.entries)
        assert "root:" not in text and "LEAKED" not in text


def test_entity_declaration_outside_the_doctype_is_removed() -> None:
    doc = rss(item("safe") + '<!ENTITY x SYSTEM "file:///etc/passwd">' + item("&x;", 1))
    feed = parse_feed(doc)
    assert [e.title for e in feed.entries] == ["safe", "&x;"]


def test_html_entities_still_work() -> None:
    feed = parse_feed(rss(item("Caf&eacute;&nbsp;&amp; co &#8364; &euro;")))
    assert feed.entries[0].title == "Café\xa0& co € €"


def test_cdata_is_left_verbatim() -> None:
    feed = parse_feed(rss(item("t", extra="<description><![CDATA[<p>&nbsp;<!DOCTYPE x></p>]]></description>")))
    assert feed.entries[0].summary == "<p>&nbsp;<!DOCTYPE x></p>"


def test_hundred_thousand_items_in_bounded_memory() -> None:
    doc = rss("".join(item(f"title {n}", n) for n in range(100_000)))
    feed, peak = measured(lambda: parse_feed(doc))
    assert len(feed.entries) == MAX_ENTRIES
    assert feed.entries[-1].title == f"title {MAX_ENTRIES - 1}"
    assert feed.warning and "100000 entries" in feed.warning
    assert peak < 100 * MB


@pytest.mark.parametrize(
    "nested",
    [
        "<x>" * 100_000 + "</x>" * 100_000,  # deep elements inside an item
        "<description>" + "<div>" * 50_000 + "</description>",  # unclosed HTML, never ends
    ],
)
def test_deep_nesting_is_refused_cheaply(nested: str) -> None:
    doc = rss(item("deep", extra=nested))

    def run() -> str:
        with pytest.raises(ParseError, match="nested deeper") as caught:
            parse_feed(doc)
        return str(caught.value)

    _, peak = measured(run)
    assert peak < 100 * MB


def test_moderate_nesting_and_unclosed_br_are_fine() -> None:
    html = "<div>" * 40 + "<br>" * 1000 + "text" + "</div>" * 40
    feed = parse_feed(rss(item("ok", extra=f'<content:encoded xmlns:content="http://purl.org/rss/1.0/modules/content/">{html}</content:encoded>')))
    assert feed.entries[0].title == "ok"


def test_deeply_nested_json_is_parse_error() -> None:
    doc = b'{"version": "https://jsonfeed.org/version/1.1", "items": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    with pytest.raises(ParseError, match="JSON"):
        parse_feed(doc)


def test_invalid_utf8_and_nul_bytes() -> None:
    doc = rss(item("新闻\x00标题", extra="<description>ok \xff\xfe bytes</description>").replace("\xff\xfe", "@@"))
    doc = doc.replace(b"@@", b"\xff\xfe")
    feed = parse_feed(doc)
    entry = feed.entries[0]
    assert entry.title == "新闻标题"
    assert entry.summary.startswith("ok ") and entry.summary.endswith(" bytes")
    assert feed.warning and "replaced" in feed.warning


def test_bom_beats_a_contradicting_prolog() -> None:
    doc = b"\xef\xbb\xbf" + rss(item("Café 中文"), prolog='<?xml version="1.0" encoding="ISO-8859-1"?>')
    assert parse_feed(doc).entries[0].title == "Café 中文"


def test_utf16_bom_beats_a_prolog_saying_utf8() -> None:
    text = rss(item("Café 中文")).decode()
    assert parse_feed(b"\xff\xfe" + text.encode("utf-16-le")).entries[0].title == "Café 中文"


def test_http_charset_beats_the_prolog() -> None:
    body = rss(item("新闻"), prolog='<?xml version="1.0" encoding="utf-8"?>').decode().encode("gbk")
    feed = parse_feed(body, {"Content-Type": "application/rss+xml; charset=GBK"})
    assert feed.entries[0].title == "新闻"


def test_a_wrong_http_charset_falls_back_to_the_prolog() -> None:
    body = rss(item("新闻"), prolog='<?xml version="1.0" encoding="gb2312"?>').decode().encode("gbk")
    feed = parse_feed(body, {"content-type": "text/xml; charset=utf-8"})
    assert feed.entries[0].title == "新闻"


def test_html_served_as_a_feed() -> None:
    page = b"<!DOCTYPE html><html><head><title>Sina &amp; Co</title></head><body><p>hi</p></body></html>"
    with pytest.raises(ParseError, match="HTML page titled 'Sina & Co'"):
        parse_feed(page, {"Content-Type": "application/rss+xml"})


@pytest.mark.parametrize("body", [b"", b"   \r\n"])
def test_empty_body(body: bytes) -> None:
    with pytest.raises(ParseError, match="empty"):
        parse_feed(body)


def test_empty_valid_feed_is_not_an_error() -> None:
    feed = parse_feed(rss(""))
    assert (feed.format, feed.entries) == ("rss20", [])


def test_malformed_feed_with_entries_yields_them_with_a_warning() -> None:
    doc = rss(item("one") + item("two & three", 1) + "<item><title>four</title>")
    feed = parse_feed(doc)
    assert [e.title for e in feed.entries][:2] == ["one", "two & three"]
    assert feed.warning and "malformed" in feed.warning


def test_dates_become_utc_or_none() -> None:
    doc = rss(
        item("a", 0, "<pubDate>Wed, 25 Nov 2026 19:30:00 +0800</pubDate>")
        + item("b", 1, "<pubDate>not a date</pubDate>")
        + item("c", 2)
    )
    dates = [e.published for e in parse_feed(doc).entries]
    assert dates[0] is not None and dates[0].isoformat() == "2026-11-25T11:30:00+00:00"
    assert dates[1:] == [None, None]


def json_feed(items: list[dict[str, object]], version: str = "1.1") -> bytes:
    return json.dumps({"version": f"https://jsonfeed.org/version/{version}", "title": "j", "items": items}).encode()


def test_json_feed_fields() -> None:
    doc = json_feed([
        {"id": "1", "url": "https://x/1", "title": "T", "summary": "S", "content_html": "<p>C</p>",
         "date_published": "2026-11-25T19:30:00+08:00", "authors": [{"name": "A"}]},
        {"id": 2, "content_text": "a < b", "date_published": "garbage"},
    ])
    feed: ParsedFeed = parse_feed(doc, {"Content-Type": "application/feed+json"})
    first, second = feed.entries
    assert (feed.format, first.guid, first.link, first.title, first.summary, first.content, first.author) == (
        "json11", "1", "https://x/1", "T", "S", "<p>C</p>", "A")
    assert first.published is not None and first.published.isoformat() == "2026-11-25T11:30:00+00:00"
    assert (second.guid, second.content, second.published, second.title) == ("2", "a &lt; b", None, "")


def test_json_feed_1_0_author() -> None:
    feed = parse_feed(json_feed([{"id": "x", "author": {"name": "Old"}}], version="1"))
    assert (feed.format, feed.entries[0].author) == ("json1", "Old")


@pytest.mark.parametrize(("doc", "words"), [
    (b'{"title": "no version"}', "jsonfeed.org version"),
    (b'{"version": "https://jsonfeed.org/version/1.1"}', "items"),
    (b"{not json", "does not parse"),
])
def test_json_that_is_not_a_feed(doc: bytes, words: str) -> None:
    with pytest.raises(ParseError, match=words):
        parse_feed(doc)
