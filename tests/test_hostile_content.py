"""Hostile item content through the real pipeline, on SQLite and PostgreSQL.

Feed on 127.0.0.1 → `poll_once` → clean → store → match → alerts → a signed webhook (generic JSON),
a Slack-format webhook, a webhook with a user template, and the console. For every case: the poll
has no error, the item is stored exactly once (a second poll stores nothing and sends nothing),
what is stored is the feed's text taken literally (never evaluated), and what leaves wirewatch is
bounded and escaped for where it goes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from sqlmodel import Session, col, select

from tests.feedserver import FeedServer
from tests.helpers import write_config
from tests.receivers import Receiver
from wirewatch.alerts.matchstore import ItemMatch
from wirewatch.alerts.render import MAX_ENTITIES, MAX_MENTIONS, MAX_TEXT, SLACK_MAX
from wirewatch.app import App
from wirewatch.daemon import poll_once
from wirewatch.ingest.item import PollReport
from wirewatch.ingest.store import ItemRow

KB = 1024
SECRET = "whsec_" + "c2VjcmV0LWtleS1mb3ItaG9zdGlsZS10ZXN0cw=="
TEMPLATE = '{"title": {{ alert.item.title | tojson }}, "entities": {{ alert.entities | length }}}'
CROWD = [f"Nimbus{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(40)]  # 40 entities, one alias each
BODY_LIMIT = 64 * KB  # any one webhook body
CONSOLE_LIMIT = 4 * KB  # any one console block


def rss_doc(*items: tuple[str, str, str]) -> bytes:
    """RSS 2.0 from (guid, title, body HTML); text escaped for XML, CR kept as a character reference."""
    def text(value: str) -> str:
        return escape(value).replace("\r", "&#13;")

    body = "".join(f"<item><guid isPermaLink=\"false\">{text(guid)}</guid><title>{text(title)}</title>"
                   f"<link>http://example.invalid/{text(guid)}</link><description>{text(html)}</description></item>"
                   for guid, title, html in items)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>hostile</title>'
            f"<link>http://example.invalid/</link><description>d</description>{body}</channel></rss>").encode()


def json_feed(items: list[dict[str, Any]]) -> bytes:
    """A JSON Feed 1.1 document; `json.dumps` writes NUL and lone surrogates as \\u escapes."""
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "hostile", "items": items}).encode()


@dataclass
class Outcome:
    """What one hostile feed led to: the poll, the stored items and matches, and what went out."""

    report: PollReport
    items: list[ItemRow]
    matches: list[ItemMatch]
    sent: dict[str, list[dict[str, Any]]]  # receiver path → requests
    console: str

    def body(self, path: str, n: int = 0) -> Any:
        """The n-th JSON body received at `path`."""
        return json.loads(self.sent[path][n]["body"])


@dataclass
class World:
    """A feed server, a webhook receiver and a config whose one watchlist alerts four channels."""

    tmp: Path
    db_url: str
    server: FeedServer
    receiver: Receiver
    capsys: pytest.CaptureFixture[str]

    def poll(self, document: bytes, content_type: str = "application/rss+xml") -> Outcome:
        """Serve `document` as the only feed, poll once (which also delivers), report what happened."""
        self.server.add("/feed", document, content_type=content_type)
        base = self.receiver.url.rsplit("/", 1)[0]
        watchlist = self.tmp / "watchlist.yaml"
        entities = [{"id": "ACME", "name": "Acme", "aliases": ["Acme"]}]
        entities += [{"id": alias.upper(), "name": alias, "aliases": [alias]} for alias in CROWD]
        watchlist.write_text(json.dumps({"watchlist": "desk", "channels": ["hook", "slack", "tmpl", "screen"],
                                         "entities": entities}), encoding="utf-8")
        channels = {
            "hook": {"type": "webhook", "url": f"{base}/hook", "secret": SECRET},
            "slack": {"type": "webhook", "url": f"{base}/slack", "format": "slack"},
            "tmpl": {"type": "webhook", "url": f"{base}/tmpl", "template": TEMPLATE},
            "screen": {"type": "console"},
        }
        config = write_config(self.tmp, {"hostile": self.server.url("/feed")}, database=self.db_url,
                              watchlists=[str(watchlist)], channels=channels)
        config.write_text(config.read_text().replace("max_bytes: 1MiB", "max_bytes: 8MiB"))
        self.capsys.readouterr()
        app = App.open(config)
        try:
            [report] = asyncio.run(poll_once(app))
            with Session(app.engine) as session:
                items = list(session.exec(select(ItemRow).order_by(col(ItemRow.id))).all())
                matches = list(session.exec(select(ItemMatch).order_by(col(ItemMatch.id))).all())
                for row in (*items, *matches):
                    session.expunge(row)
            again = asyncio.run(poll_once(app))[0]
        finally:
            app.close()
        sent: dict[str, list[dict[str, Any]]] = {}
        for request in self.receiver.delivered():
            sent.setdefault(request["path"], []).append(request)
        console = self.capsys.readouterr().out
        # every case: no error, stored once, a second poll stores and sends nothing more
        assert report.status == "ok" and report.error is None, report.error
        assert again.status == "ok" and again.new == 0 and again.updated == 0 and again.duplicate == report.new
        assert len(self.receiver.delivered()) == sum(len(v) for v in sent.values())
        for requests in sent.values():
            assert all(len(r["body"].encode()) < BODY_LIMIT for r in requests)
        for block in console.split("\n\n"):
            assert len(block) < CONSOLE_LIMIT
            assert "\r" not in block and "\x1b" not in block and "\x00" not in block
        return Outcome(report, items, matches, sent, console)


@pytest.fixture
def world(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> Iterator[World]:
    with FeedServer() as server, Receiver() as receiver:
        yield World(tmp_path, db_url, server, receiver, capsys)


def test_crlf_in_title_and_body_is_data_never_a_header(world: World) -> None:
    title = "Acme results\r\nBcc: victim@example.com\r\nX-Injected: yes"
    body = "<p>Acme beat estimates.\r\nContent-Type: text/html\r\n\r\n<b>forged</b> part</p>"
    out = world.poll(rss_doc(("crlf", title, body)))
    [item] = out.items
    assert item.title == title  # stored as the feed wrote it
    assert "Content-Type: text/html" in item.text and "\r" not in item.text
    for requests in out.sent.values():
        for request in requests:
            headers = {name.lower(): value for name, value in request["headers"].items()}
            assert not headers.keys() & {"bcc", "x-injected"}
            assert headers["content-type"] == "application/json"
    assert out.body("/hook")["item"]["title"] == title  # JSON carries it as an escaped string
    assert "\r" not in out.body("/slack")["text"]
    assert out.body("/tmpl")["title"] == title
    lines = out.console.splitlines()
    assert not any(line.startswith(("Bcc:", "X-Injected", "Content-Type")) for line in lines)
    assert "== ALERT desk: Acme results  Bcc: victim@example.com  X-Injected: yes" in lines


def test_html_and_script_are_stripped_from_text_and_escaped_for_slack(world: World) -> None:
    title = 'Acme <script>alert(1)</script> <img src=x onerror="alert(2)">'
    body = ('<p>Acme shares rose.<script>alert(document.cookie)</script><img src=x onerror="alert(3)">'
            '<a href="javascript:alert(4)">click</a></p><style>p{color:red}</style><iframe src="//evil"></iframe>')
    out = world.poll(rss_doc(("html", title, body)))
    [item] = out.items
    assert item.text == "Acme shares rose."  # a javascript: link is a control, not text (issue #21)
    assert item.raw_summary == body  # the raw field is kept for reprocessing
    slack = out.body("/slack")["text"]
    assert "<script" not in slack and "&lt;script&gt;alert(1)&lt;/script&gt;" in slack
    assert "<img" not in slack
    assert out.body("/hook")["item"]["text"] == "Acme shares rose."
    assert out.body("/tmpl")["title"] == title  # a template gets the value as data, JSON-escaped by |tojson


def test_template_syntax_is_stored_and_delivered_literally(world: World) -> None:
    title = "Acme {{ 7*7 }} {% for x in range(3) %}loop{% endfor %} ${7*7} #{7*7}"
    body = "<p>Acme {{ config.items() }} {{ ''.__class__.__mro__[1].__subclasses__() }} {{ 6*7 }}</p>"
    out = world.poll(rss_doc(("tmpl", title, body)))
    [item] = out.items
    assert item.title == title
    assert "{{ 6*7 }}" in item.text and "42" not in item.text
    delivered = [out.body("/hook")["item"]["title"], out.body("/tmpl")["title"]]
    assert delivered == [title, title]
    assert all("49" not in value and "looploop" not in value for value in delivered)
    assert "{{ 6*7 }}" in out.body("/hook")["item"]["text"]
    assert "{{ 7*7 }}" in out.console and "49" not in out.console.split("\n", 1)[0]


def test_right_to_left_overrides_do_not_break_storage_or_delivery(world: World) -> None:
    title = "Acme \u202egnp.exe\u202c quarterly \u2067report\u2069"
    body = "<p>Acme \u202eevil\u202c filing \u2066text\u2069 here.</p>"
    out = world.poll(rss_doc(("rlo", title, body)))
    [item] = out.items
    assert item.title == title  # titles are stored as fetched
    assert item.text == "Acme evil filing text here."  # cleaning drops bidi controls from the text
    assert out.body("/hook")["item"]["title"] == title
    assert out.body("/tmpl")["title"] == title
    assert len(out.sent["/slack"]) == 1 and "== ALERT desk: Acme" in out.console


def test_right_to_left_overrides_are_removed_from_text_renderings(world: World) -> None:
    out = world.poll(rss_doc(("rlo", "Acme \u202egnp.exe\u202c quarterly", "<p>Acme filing.</p>")))
    assert "\u202e" not in out.console
    assert "\u202e" not in out.body("/slack")["text"]


def test_a_one_megabyte_single_line_body_is_stored_and_alerts_stay_bounded(world: World) -> None:
    words = ("lorem ipsum dolor sit amet consectetur " * 30_000)[: 1 << 20]
    body = f"<p>Acme {words} Acme</p>"
    out = world.poll(rss_doc(("big", "Acme ships a very long filing", body)))
    [item] = out.items
    assert len(item.raw_summary) > 1 << 20 and len(item.text) > 1_000_000  # nothing truncated in the store
    payload = out.body("/hook")
    assert len(payload["item"]["text"]) <= MAX_TEXT
    assert len(out.body("/slack")["text"]) <= SLACK_MAX
    assert all(len(json.dumps(m.mentions)) < 8 * KB for m in out.matches)


def test_ten_thousand_mentions_keep_stored_matches_and_payloads_bounded(world: World) -> None:
    sentence = " ".join(f"{alias} rose." for alias in CROWD)  # 40 mentions
    body = "<p>" + " ".join([sentence] * 250) + "</p>"  # 10,000 mentions
    out = world.poll(rss_doc(("crowd", "Forty companies, one story", body)))
    [item] = out.items
    assert len(out.matches) == len(CROWD)  # one row per entity
    assert all(len(m.mentions) <= 20 for m in out.matches)
    assert sum(len(json.dumps(m.mentions)) for m in out.matches) < 256 * KB
    assert item.id is not None and {m.item_id for m in out.matches} == {item.id}
    payload = out.body("/hook")
    assert len(payload["entities"]) == MAX_ENTITIES
    assert all(len(e["mentions"]) <= MAX_MENTIONS for e in payload["entities"])
    assert out.body("/tmpl")["entities"] == MAX_ENTITIES
    assert len(out.body("/slack")["text"]) <= SLACK_MAX
    assert len(out.sent["/hook"]) == 1  # one alert for the story, however many entities


def test_nul_bytes_and_lone_surrogates_are_stored_without_losing_the_batch(world: World) -> None:
    items = [
        {"id": "nul\u0000id", "url": "http://example.invalid/n\u0000ul", "title": "Acme\u0000 NUL title",
         "content_html": "<p>Acme body \u0000with NUL</p>"},
        {"id": "surrogate", "url": "http://example.invalid/s", "title": "Acme \ud800 lone half",
         "content_html": "<p>Acme \udfff body with a lone surrogate</p>"},
        {"id": "plain", "url": "http://example.invalid/p", "title": "Acme plain neighbour",
         "content_html": "<p>Acme says nothing unusual happened today.</p>"},
    ]
    out = world.poll(json_feed(items), content_type="application/feed+json")
    assert out.report.new == 3  # one bad item must not sink the batch
    by_guid = {row.guid: row for row in out.items}
    assert set(by_guid) == {"nulid", "surrogate", "plain"}
    assert by_guid["nulid"].title == "Acme NUL title" and by_guid["nulid"].url == "http://example.invalid/nul"
    assert by_guid["surrogate"].title == "Acme \ufffd lone half"
    assert "\ufffd" in by_guid["surrogate"].raw_content
    assert len(out.sent["/hook"]) == 3
    assert {b["item"]["title"] for b in map(json.loads, (r["body"] for r in out.sent["/hook"]))} == {
        "Acme NUL title", "Acme \ufffd lone half", "Acme plain neighbour"}


# --- the feed server's own words: a Retry-After meant to silence the feed forever ----------------


@pytest.mark.parametrize("retry_after", ["99999999999999", "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_a_huge_retry_after_neither_breaks_the_poll_nor_drops_the_feed(tmp_path: Path, retry_after: str) -> None:
    from datetime import timedelta

    from wirewatch.config.clock import as_utc, utcnow
    from wirewatch.ingest.feedstore import list_feeds

    with FeedServer() as server:
        server.add("/busy", b"come back in a few millennia", status=429, headers={"Retry-After": retry_after})
        app = App.open(write_config(tmp_path, {"busy": server.url("/busy")}))
        try:
            [report] = asyncio.run(poll_once(app))
            [row] = list_feeds(app.engine)
        finally:
            app.close()
    assert report.status == "error" and report.http_status == 429
    assert row.consecutive_errors == 1 and row.claimed_by is None  # recorded, lease given back
    next_poll = as_utc(row.next_poll_at)
    assert next_poll is not None and next_poll <= utcnow() + timedelta(days=1, minutes=1)  # honoured, but capped
