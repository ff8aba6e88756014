"""Fetcher against a real server on 127.0.0.1: plain GETs, conditional GETs, statuses, Retry-After."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from tests.feedserver import FeedServer
from wirewatch import USER_AGENT
from wirewatch.config.clock import parse_retry_after
from wirewatch.config.models import FetchConfig
from wirewatch.ingest.errors import HTTPStatusError
from wirewatch.ingest.fetch import Fetcher, FetchResult

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>a</title></item></channel></rss>'
LAST_MODIFIED = "Wed, 01 Jan 2025 00:00:00 GMT"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


def fetch(url: str, config: FetchConfig | None = None, **kwargs: Any) -> FetchResult:
    """Run one fetch with a fresh Fetcher (private networks allowed: the server is on 127.0.0.1)."""
    config = config or FetchConfig(allow_private_networks=True)

    async def go() -> FetchResult:
        async with Fetcher(config, USER_AGENT) as fetcher:
            return await fetcher.fetch(url, **kwargs)

    return asyncio.run(go())


def test_plain_get_returns_body_headers_and_user_agent(server: FeedServer) -> None:
    server.add("/feed.xml", RSS, headers={"X-Extra": "1"})
    result = fetch(server.url("/feed.xml"))
    assert (result.status, result.body, result.not_modified) == (200, RSS, False)
    assert result.headers["x-extra"] == "1"
    assert result.bytes_read == len(RSS)
    agent = server.requests[-1].headers["user-agent"]
    assert agent == USER_AGENT and agent.startswith("wirewatch/") and "+http" in agent


def test_custom_headers_are_sent(server: FeedServer) -> None:
    server.add("/feed.xml", RSS)
    fetch(server.url("/feed.xml"), headers={"X-Api-Key": "k"})
    assert server.requests[-1].headers["x-api-key"] == "k"


def test_etag_gives_304_on_second_fetch(server: FeedServer) -> None:
    server.add("/feed.xml", RSS, etag='"v1"')
    first = fetch(server.url("/feed.xml"))
    assert first.etag == '"v1"' and first.body == RSS
    second = fetch(server.url("/feed.xml"), etag=first.etag)
    assert (second.status, second.not_modified, second.body) == (304, True, b"")
    assert server.requests[-1].headers["if-none-match"] == '"v1"'


def test_last_modified_gives_304_on_second_fetch(server: FeedServer) -> None:
    server.add("/feed.xml", RSS, last_modified=LAST_MODIFIED)
    first = fetch(server.url("/feed.xml"))
    assert first.last_modified == LAST_MODIFIED
    second = fetch(server.url("/feed.xml"), last_modified=first.last_modified)
    assert second.not_modified and second.status == 304


def test_gzip_content_encoding_is_decoded(server: FeedServer) -> None:
    server.add("/feed.xml", RSS * 50, gzip=True)
    result = fetch(server.url("/feed.xml"))
    assert result.body == RSS * 50
    assert result.bytes_read < len(RSS * 50)
    assert "gzip" in server.requests[-1].headers["accept-encoding"]


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_seconds_is_reported(server: FeedServer, status: int) -> None:
    server.add("/feed.xml", b"slow down", status=status, headers={"Retry-After": "120"})
    with pytest.raises(HTTPStatusError) as caught:
        fetch(server.url("/feed.xml"))
    assert caught.value.status == status and caught.value.retry_after == 120.0


def test_retry_after_http_date_is_reported(server: FeedServer) -> None:
    when = datetime.now(UTC) + timedelta(seconds=600)
    server.add("/feed.xml", b"", status=429, headers={"Retry-After": format_datetime(when, usegmt=True)})
    with pytest.raises(HTTPStatusError) as caught:
        fetch(server.url("/feed.xml"))
    assert caught.value.retry_after is not None and 500 < caught.value.retry_after <= 600


def test_retry_after_on_200_is_reported(server: FeedServer) -> None:
    server.add("/feed.xml", RSS, headers={"Retry-After": "30"})
    assert fetch(server.url("/feed.xml")).retry_after == 30.0


def test_server_error_is_http_status_error(server: FeedServer) -> None:
    server.add("/feed.xml", b"oops", status=500)
    with pytest.raises(HTTPStatusError) as caught:
        fetch(server.url("/feed.xml"))
    assert caught.value.status == 500 and caught.value.retry_after is None
    assert "HTTP 500" in str(caught.value)


def test_not_found_is_http_status_error(server: FeedServer) -> None:
    with pytest.raises(HTTPStatusError) as caught:
        fetch(server.url("/missing"))
    assert caught.value.status == 404


def test_redirect_chain_is_followed_and_reported(server: FeedServer) -> None:
    server.add("/feed.xml", RSS)
    server.redirect("/old", "/older", status=301)
    server.redirect("/older", server.url("/feed.xml"), status=308)
    result = fetch(server.url("/old"))
    assert result.body == RSS and result.url == server.url("/feed.xml")
    assert result.redirects == (server.url("/older"), server.url("/feed.xml"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("0", 0.0),
        ("120", 120.0),
        ("soon", None),
        ("-5", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 60.0),
        ("Wed, 21 Oct 2015 07:26:00 GMT", 0.0),  # in the past: retry now
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 27, tzinfo=UTC)
    assert parse_retry_after(value, now=now) == expected
