"""Fetcher against hostile servers on 127.0.0.1: every abuse ends in a specific FetchError, bounded."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest

from tests.feedserver import FeedServer, deflate_bomb, gzip_bomb
from wirewatch.config.models import FetchConfig
from wirewatch.ingest.errors import (
    BodyTooLargeError,
    ConnectError,
    FetchTimeoutError,
    IncompleteBodyError,
    ParseError,
    RedirectError,
    UnsafeURLError,
)
from wirewatch.ingest.fetch import Fetcher, FetchResult, check_url
from wirewatch.ingest.parse import parse_feed

MB = 1 << 20
RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>a</title></item></channel></rss>'
LOCAL = FetchConfig(allow_private_networks=True)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


def fetch(url: str, config: FetchConfig = LOCAL, fetcher_class: type[Fetcher] = Fetcher) -> FetchResult:
    """One fetch with a fresh Fetcher."""

    async def go() -> FetchResult:
        async with fetcher_class(config) as fetcher:
            return await fetcher.fetch(url)

    return asyncio.run(go())


def peak_growth(run: Callable[[], object]) -> int:
    """Bytes of peak Python memory growth while `run` executes (tracemalloc)."""
    tracemalloc.start()
    try:
        run()
    except Exception:  # the caller asserts the error separately
        pass
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


class FirstHopTrusted(Fetcher):
    """Lets the first hop reach the test server on 127.0.0.1; every redirect gets the production check.

    Use it with `allow_private_networks: true`, so the connect-time guard lets the first hop through.
    """

    async def _check_url(self, url: str, hop: int) -> None:
        await check_url(url, allow_private=hop == 0)  # checked (and pinned for connect) either way


def test_read_timeout(server: FeedServer) -> None:
    server.add("/slow", RSS, delay=3.0)
    with pytest.raises(FetchTimeoutError, match="read timed out"):
        fetch(server.url("/slow"), FetchConfig(allow_private_networks=True, timeout=0.3))


def test_endless_trickle_is_stopped_by_the_deadline(server: FeedServer) -> None:
    server.add("/trickle", b"<rss>", trickle=0.05, endless=True)
    config = FetchConfig(allow_private_networks=True, timeout=5, deadline=1.0)
    with pytest.raises(FetchTimeoutError, match="deadline"):
        fetch(server.url("/trickle"), config)


def test_oversized_body_with_content_length(server: FeedServer) -> None:
    server.add("/big", b"x" * 5000)
    with pytest.raises(BodyTooLargeError, match="Content-Length 5000"):
        fetch(server.url("/big"), FetchConfig(allow_private_networks=True, max_bytes=1000))


def test_oversized_body_without_content_length(server: FeedServer) -> None:
    server.add("/big", b"x" * (3 * MB), close_delimited=True)
    with pytest.raises(BodyTooLargeError, match="cap"):
        fetch(server.url("/big"), FetchConfig(allow_private_networks=True, max_bytes=MB))


@pytest.mark.parametrize(("encoding", "bomb"), [("gzip", gzip_bomb), ("deflate", deflate_bomb)])
def test_compression_bomb_is_stopped_while_streaming(
    server: FeedServer, encoding: str, bomb: Callable[[int], bytes]
) -> None:
    body = bomb(256 * MB)  # 256 MiB of zeros, about 250 KB on the wire
    server.add("/bomb", body, headers={"Content-Encoding": encoding})
    with pytest.raises(BodyTooLargeError, match="cap"):
        fetch(server.url("/bomb"))
    assert peak_growth(lambda: fetch(server.url("/bomb"))) < 100 * MB


def test_gzip_bomb_served_plain_is_fetched_as_bytes_and_is_not_a_feed(server: FeedServer) -> None:
    server.add("/bomb.gz", gzip_bomb(256 * MB), content_type="application/gzip")
    result = fetch(server.url("/bomb.gz"))
    assert result.body.startswith(b"\x1f\x8b") and len(result.body) < 2 * MB
    with pytest.raises(ParseError, match="not a feed"):
        parse_feed(result.body, result.headers)


def test_corrupt_gzip_is_incomplete_body(server: FeedServer) -> None:
    server.add("/bad", b"\x1f\x8b\x08\x00garbage-not-deflate" * 10, headers={"Content-Encoding": "gzip"})
    with pytest.raises(IncompleteBodyError, match="corrupt gzip"):
        fetch(server.url("/bad"))


def test_redirect_loop(server: FeedServer) -> None:
    server.redirect("/a", "/b")
    server.redirect("/b", "/a")
    with pytest.raises(RedirectError, match="loop"):
        fetch(server.url("/a"))


def test_too_many_redirects(server: FeedServer) -> None:
    for hop in range(10):
        server.redirect(f"/r{hop}", f"/r{hop + 1}")
    server.add("/r10", RSS)
    with pytest.raises(RedirectError, match="more than 5 redirects"):
        fetch(server.url("/r0"))
    assert server.hits("/r6") == 0


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/feed.xml", "gopher://x/"])
def test_redirect_to_non_http_scheme_is_refused(server: FeedServer, target: str) -> None:
    server.redirect("/r", target)
    with pytest.raises(UnsafeURLError, match="only http and https"):
        fetch(server.url("/r"))


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:1/feed.xml",
        "http://10.0.0.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://localhost/",
    ],
)
def test_redirect_to_private_address_is_refused(server: FeedServer, target: str) -> None:
    server.redirect("/r", target)
    with pytest.raises(UnsafeURLError, match="non-public address"):
        fetch(server.url("/r"), FetchConfig(allow_private_networks=True), fetcher_class=FirstHopTrusted)
    assert server.hits("/r") == 1  # the first hop was served: the refusal is the redirect check's


def test_private_address_is_refused_before_connecting(server: FeedServer) -> None:
    server.add("/feed.xml", RSS)
    with pytest.raises(UnsafeURLError, match="allow_private_networks"):
        fetch(server.url("/feed.xml"), FetchConfig(allow_private_networks=False))
    assert server.hits("/feed.xml") == 0


def test_reset_mid_body(server: FeedServer) -> None:
    server.add("/reset", RSS * 100, reset_after=200)
    with pytest.raises(IncompleteBodyError, match="connection broke"):
        fetch(server.url("/reset"))


def test_content_length_longer_than_body(server: FeedServer) -> None:
    server.add("/lie", RSS, content_length=len(RSS) + 500)
    with pytest.raises(IncompleteBodyError, match="connection broke"):
        fetch(server.url("/lie"))


def test_content_length_shorter_than_body(server: FeedServer) -> None:
    server.add("/lie", RSS, content_length=20)
    with pytest.raises(IncompleteBodyError, match="more than its Content-Length"):
        fetch(server.url("/lie"))


def test_connection_refused() -> None:
    with FeedServer() as srv:
        url = srv.url("/feed.xml")
    with pytest.raises(ConnectError, match="cannot connect"):
        fetch(url)


def gather(config: FetchConfig, urls: list[str]) -> list[FetchResult]:
    """Fetch all `urls` concurrently through one Fetcher."""

    async def go() -> list[FetchResult]:
        async with Fetcher(config) as fetcher:
            jobs: list[Coroutine[Any, Any, FetchResult]] = [fetcher.fetch(u) for u in urls]
            return list(await asyncio.gather(*jobs))

    return asyncio.run(go())


def test_per_host_cap_is_honoured_and_other_hosts_proceed() -> None:
    with FeedServer() as busy, FeedServer() as other:
        busy.add("/feed.xml", RSS, delay=0.3)
        other.add("/feed.xml", RSS, delay=0.3)
        config = FetchConfig(allow_private_networks=True, per_host=2, concurrency=16)
        results = gather(config, [busy.url("/feed.xml")] * 8 + [other.url("/feed.xml")] * 2)
        assert all(r.status == 200 for r in results)
        assert busy.max_in_flight == 2
        assert other.max_in_flight == 2


def test_global_cap_is_honoured(server: FeedServer) -> None:
    server.add("/feed.xml", RSS, delay=0.2)
    config = FetchConfig(allow_private_networks=True, per_host=64, concurrency=3)
    gather(config, [server.url("/feed.xml")] * 9)
    assert server.max_in_flight == 3


class NoPreCheck(Fetcher):
    """Skips the pre-request address check, as a DNS rebinding attack would slip past it."""

    async def _check_url(self, url: str, hop: int) -> None:
        return None


def test_connect_time_check_refuses_private_address_even_after_the_pre_check(server: FeedServer) -> None:
    server.add("/feed.xml", RSS)
    with pytest.raises(UnsafeURLError, match="non-public address 127.0.0.1"):
        fetch(server.url("/feed.xml"), FetchConfig(allow_private_networks=False), fetcher_class=NoPreCheck)
    assert server.hits("/feed.xml") == 0
