"""Hostile inputs, one row each: what wirewatch does with it, peak Python memory, time to the verdict.

Run: `python -m bench.hostile [--markdown]` from the repository root.

Three layers, each through the real code on 127.0.0.1:
- fetch: `ingest.fetch.Fetcher` against `tests.feedserver.FeedServer` (bombs, trickles, lies, redirects);
- parse: `ingest.parse.parse_feed` on the documents of `tests/test_hostile_parse.py`;
- content: the whole pipeline (`poll_once` → store → match → a signed webhook to
  `tests.receivers.Receiver`) over SQLite on the items of `tests/test_hostile_content.py`.

Each case runs twice: once timed, once under tracemalloc for the peak of Python allocations made
while it ran (C libraries' own buffers are not counted). Fetch limits are the defaults except
`deadline` and `timeout`, 2 s here (60 s and 20 s by default), so the slow cases end quickly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.feedserver import FeedServer, deflate_bomb, gzip_bomb
from tests.helpers import write_config
from tests.receivers import Receiver
from tests.test_hostile_content import CROWD, json_feed, rss_doc
from tests.test_hostile_parse import item as parse_item
from tests.test_hostile_parse import rss as parse_rss
from wirewatch.app import App
from wirewatch.config.models import FetchConfig
from wirewatch.daemon import poll_once
from wirewatch.ingest.errors import IngestError
from wirewatch.ingest.fetch import Fetcher, check_url
from wirewatch.ingest.parse import parse_feed

MB = 1 << 20
FETCH = FetchConfig(allow_private_networks=True, timeout=2, deadline=2)
RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>a</title></item></channel></rss>'


class LoopbackFirstHop(Fetcher):
    """Lets the first hop reach the test server on 127.0.0.1; every redirect gets the production check."""

    async def _check_url(self, url: str, hop: int) -> None:
        await check_url(url, allow_private=hop == 0)


@dataclass
class Case:
    """One hostile input: its layer, a name, and a thunk that returns the outcome as text."""

    layer: str
    name: str
    run: Callable[[], str]


@dataclass
class Row:
    """A measured case."""

    layer: str
    name: str
    outcome: str
    peak_mb: float
    seconds: float


def verdict(thunk: Callable[[], object], strip: str = "") -> str:
    """What a call came to: the error it raised (class and first words, `strip` removed), or what it returned."""
    try:
        value = thunk()
    except (IngestError, ValueError) as exc:
        message = str(exc).replace(strip, "") if strip else str(exc)
        return f"{type(exc).__name__}: {shorten(message)}"
    return str(value)


def shorten(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- fetch ----------------------------------------------------------------------------------------


def fetch_case(server: FeedServer, path: str, config: FetchConfig = FETCH,
               fetcher_class: type[Fetcher] = Fetcher) -> Callable[[], str]:
    async def go() -> str:
        async with fetcher_class(config) as fetcher:
            result = await fetcher.fetch(server.url(path))
            return f"fetched {result.bytes_read} bytes (status {result.status})"

    return lambda: verdict(lambda: asyncio.run(go()), strip=server.url(""))


def fetch_cases(server: FeedServer) -> Iterator[Case]:
    server.add("/gzip-bomb", gzip_bomb(1024 * MB), headers={"Content-Encoding": "gzip"})
    server.add("/deflate-bomb", deflate_bomb(1024 * MB), headers={"Content-Encoding": "deflate"})
    server.add("/huge-declared", b"x" * (16 * MB))
    server.add("/huge-undeclared", b"x" * (40 * MB), close_delimited=True)
    server.add("/trickle", b"<rss>", trickle=0.05, endless=True)
    server.add("/slow-headers", RSS, delay=10.0)
    server.add("/reset", RSS * 100, reset_after=200)
    server.add("/short-length", RSS, content_length=20)
    server.add("/long-length", RSS, content_length=len(RSS) + 500)
    server.redirect("/loop-a", "/loop-b")
    server.redirect("/loop-b", "/loop-a")
    for hop in range(10):
        server.redirect(f"/hop{hop}", f"/hop{hop + 1}")
    server.add("/hop10", RSS)
    server.redirect("/to-file", "file:///etc/passwd")
    server.redirect("/to-metadata", "http://169.254.169.254/latest/meta-data/")
    server.add("/private", RSS)
    yield Case("fetch", "gzip bomb (1 GiB of zeros, ~1 MB sent)", fetch_case(server, "/gzip-bomb"))
    yield Case("fetch", "deflate bomb (1 GiB)", fetch_case(server, "/deflate-bomb"))
    yield Case("fetch", "16 MiB body, Content-Length declared", fetch_case(server, "/huge-declared"))
    yield Case("fetch", "40 MiB body, no Content-Length", fetch_case(server, "/huge-undeclared"))
    yield Case("fetch", "endless trickle, 1 byte / 50 ms", fetch_case(server, "/trickle"))
    yield Case("fetch", "no response headers for 10 s", fetch_case(server, "/slow-headers"))
    yield Case("fetch", "connection reset mid-body", fetch_case(server, "/reset"))
    yield Case("fetch", "Content-Length shorter than the body", fetch_case(server, "/short-length"))
    yield Case("fetch", "Content-Length longer than the body", fetch_case(server, "/long-length"))
    yield Case("fetch", "redirect loop", fetch_case(server, "/loop-a"))
    yield Case("fetch", "10 redirects", fetch_case(server, "/hop0"))
    yield Case("fetch", "redirect to file:///etc/passwd", fetch_case(server, "/to-file"))
    yield Case("fetch", "redirect to 169.254.169.254 (metadata)", fetch_case(server, "/to-metadata",
                                                                           fetcher_class=LoopbackFirstHop))
    strict = FetchConfig(timeout=2, deadline=2)
    yield Case("fetch", "feed on 127.0.0.1, private networks off", fetch_case(server, "/private", strict))


# --- parse ----------------------------------------------------------------------------------------


def parsed(doc: bytes) -> Callable[[], str]:
    def run() -> str:
        feed = parse_feed(doc)
        warning = f"; warning: {shorten(feed.warning, 40)}" if feed.warning else ""
        return f"{len(feed.entries)} entries{warning}"

    return lambda: verdict(run)


def parse_cases() -> Iterator[Case]:
    levels = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    yield Case("parse", "billion laughs (10^9 expansions)",
               parsed(parse_rss(parse_item("&l9;"), doctype=f'<!DOCTYPE rss [<!ENTITY l0 "lol">{levels}]>')))
    yield Case("parse", "quadratic blowup (100k × 100 KB entity)",
               parsed(parse_rss(parse_item("&a;" * 100_000), doctype=f'<!DOCTYPE rss [<!ENTITY a "{"A" * 100_000}">]>')))
    yield Case("parse", "external entity file:///etc/passwd",
               parsed(parse_rss(parse_item("&x;"), doctype='<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>')))
    yield Case("parse", "100,000 items", parsed(parse_rss("".join(parse_item(f"t {n}", n) for n in range(100_000)))))
    yield Case("parse", "elements nested 100,000 deep",
               parsed(parse_rss(parse_item("deep", extra="<x>" * 100_000 + "</x>" * 100_000))))
    yield Case("parse", "JSON nested 200,000 deep",
               parsed(b'{"version": "https://jsonfeed.org/version/1.1", "items": ' + b"[" * 200_000
                      + b"]" * 200_000 + b"}"))
    yield Case("parse", "HTML page served as a feed",
               parsed(b"<!DOCTYPE html><html><head><title>Home</title></head><body>hi</body></html>"))


# --- content, through the whole pipeline ----------------------------------------------------------


class ContentRunner:
    """One feed on a FeedServer, a webhook Receiver and an App over SQLite in a fresh folder per case."""

    def __init__(self, server: FeedServer, receiver: Receiver, root: Path) -> None:
        self.server, self.receiver, self.root = server, receiver, root
        self.count = 0

    def case(self, document: bytes, content_type: str = "application/rss+xml") -> Callable[[], str]:
        def run() -> str:
            self.count += 1
            folder = self.root / f"case{self.count}"
            folder.mkdir()
            path = f"/content{self.count}"
            self.server.add(path, document, content_type=content_type)
            watchlist = folder / "watchlist.yaml"
            entities = [{"id": "ACME", "name": "Acme", "aliases": ["Acme"]}]
            entities += [{"id": alias.upper(), "name": alias, "aliases": [alias]} for alias in CROWD]
            watchlist.write_text(json.dumps({"watchlist": "desk", "channels": ["hook"], "entities": entities}))
            config = write_config(folder, {"hostile": self.server.url(path)}, watchlists=[str(watchlist)],
                                  channels={"hook": {"type": "webhook", "url": self.receiver.url}})
            config.write_text(config.read_text().replace("max_bytes: 1MiB", "max_bytes: 8MiB"))
            app = App.open(config)
            try:
                before = len(self.receiver.delivered())
                [report] = asyncio.run(poll_once(app))
                sent = [len(r["body"].encode()) for r in self.receiver.delivered()[before:]]
            finally:
                app.close()
            if report.status != "ok":
                return f"poll {report.status}: {shorten(report.error or '')}"
            return f"stored {report.new}; {len(sent)} alert(s), largest {max(sent, default=0) / 1024:.1f} KB"

        return run


def content_cases(runner: ContentRunner) -> Iterator[Case]:
    yield Case("content", "CRLF header injection in title/body", runner.case(rss_doc((
        "crlf", "Acme results\r\nBcc: victim@example.com\r\nX-Injected: yes",
        "<p>Acme beat.\r\nContent-Type: text/html\r\n\r\n<b>forged</b></p>"))))
    yield Case("content", "HTML and script in title/body", runner.case(rss_doc((
        "html", 'Acme <script>alert(1)</script>', '<p>Acme rose.<script>alert(2)</script><img onerror="x()"></p>'))))
    yield Case("content", "template syntax {{ 7*7 }}", runner.case(rss_doc((
        "tmpl", "Acme {{ 7*7 }} {% for x in y %}", "<p>Acme {{ ''.__class__.__mro__ }}</p>"))))
    yield Case("content", "right-to-left override characters", runner.case(rss_doc((
        "rlo", "Acme \u202egnp.exe\u202c report", "<p>Acme \u202eevil\u202c text</p>"))))
    words = ("lorem ipsum dolor sit amet consectetur " * 30_000)[:MB]
    yield Case("content", "1 MB single-line body", runner.case(rss_doc(("big", "Acme long filing", f"<p>Acme {words}</p>"))))
    sentence = " ".join(f"{alias} rose." for alias in CROWD)
    yield Case("content", "10,000 entity mentions (40 entities)", runner.case(rss_doc((
        "crowd", "Forty companies", "<p>" + " ".join([sentence] * 250) + "</p>"))))
    yield Case("content", "NUL and lone surrogates (JSON Feed)", runner.case(json_feed([
        {"id": "nul\u0000", "url": "http://example.invalid/n", "title": "Acme\u0000 NUL",
         "content_html": "<p>Acme \u0000 body</p>"},
        {"id": "sur", "url": "http://example.invalid/s", "title": "Acme \ud800 half",
         "content_html": "<p>Acme \udfff body</p>"}]), "application/feed+json"))


# --- measuring ------------------------------------------------------------------------------------


@contextmanager
def traced() -> Iterator[list[int]]:
    """Trace Python allocations; the yielded list gets the peak in bytes."""
    out: list[int] = []
    tracemalloc.start()
    try:
        yield out
    finally:
        out.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()


def measure(case: Case) -> Row:
    started = time.perf_counter()
    outcome = case.run()
    seconds = time.perf_counter() - started
    with traced() as peak:
        case.run()
    return Row(case.layer, case.name, outcome, peak[0] / MB, seconds)


def print_rows(rows: list[Row], markdown: bool) -> None:
    if markdown:
        print("| layer | hostile input | outcome | peak MB | time |")
        print("| --- | --- | --- | ---: | ---: |")
        for r in rows:
            print(f"| {r.layer} | {r.name} | {r.outcome.replace('|', '/')} | {r.peak_mb:.1f} | {r.seconds:.2f} s |")
        return
    for r in rows:
        print(f"{r.layer:<8} {r.name:<42} {r.peak_mb:7.1f} MB {r.seconds:6.2f} s  {r.outcome}")


def main() -> None:
    """Run every case and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--layer", choices=["fetch", "parse", "content"], help="only this layer")
    args = parser.parse_args()
    with FeedServer() as server, Receiver() as receiver, tempfile.TemporaryDirectory() as tmp:
        runner = ContentRunner(server, receiver, Path(tmp))
        cases = [*fetch_cases(server), *parse_cases(), *content_cases(runner)]
        rows = [measure(c) for c in cases if args.layer in (None, c.layer)]
    print_rows(rows, args.markdown)


if __name__ == "__main__":
    main()
