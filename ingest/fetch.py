"""Fetch step: one conditional GET of a feed, hardened against hostile servers.

`Fetcher` owns one `httpx.AsyncClient`. Every fetch is bounded: a global and a per-host
concurrency cap, connect/read timeouts, a total deadline across all redirect hops, at most
`max_redirects` hops (followed here, so each hop's scheme and address are checked), and a
body cap enforced while streaming, on the decompressed bytes too (a gzip bomb stops at the
cap). Hosts that resolve to loopback, private, link-local, multicast, reserved or
unspecified addresses are refused unless `allow_private_networks` is set.

Outcomes: a `FetchResult` for 2xx and 304 (`not_modified`), or a `FetchError` subclass
(`ingest.errors`): `HTTPStatusError` (with `retry_after` for 429/503), `BodyTooLargeError`,
`UnsafeURLError`, `FetchTimeoutError`, `RedirectError`, `IncompleteBodyError`, `ConnectError`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from wirewatch.config.clock import parse_retry_after
from wirewatch.config.models import FetchConfig
from wirewatch.ingest.defuse import BoundedDecoder
from wirewatch.ingest.errors import (
    BodyTooLargeError,
    ConnectError,
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    IncompleteBodyError,
    RedirectError,
    UnsafeURLError,
)

__all__ = ["FALLBACK_USER_AGENT", "FetchResult", "Fetcher"]

FALLBACK_USER_AGENT = "wirewatch"
"""Sent when neither `fetch.user_agent` nor the caller names one (the daemon passes `wirewatch.USER_AGENT`)."""
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_RETRY_STATUSES = frozenset({429, 503})
_CROSS_ORIGIN_DROP = ("authorization", "cookie", "proxy-authorization")
_CHUNK = 64 * 1024


@dataclass(slots=True)
class FetchResult:
    """What one fetch produced: the final URL, status, body (decompressed) and caching validators."""

    url: str
    status: int
    body: bytes
    headers: dict[str, str]
    etag: str | None
    last_modified: str | None
    not_modified: bool
    retry_after: float | None
    bytes_read: int
    elapsed: float
    redirects: tuple[str, ...] = ()


def _address_refused(address: str) -> bool:
    """True for addresses a feed URL must not reach (anything not globally routable, or multicast)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


async def _public_addresses(host: str, port: int, url: str) -> list[str]:
    """Resolve `host`; raise UnsafeURLError if any address is not public, ConnectError if none."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError) as exc:
        raise ConnectError(f"cannot resolve {host!r} for {url}: {exc}") from exc
    addresses = [str(info[4][0]) for info in infos]
    for address in addresses:
        if _address_refused(address):
            raise UnsafeURLError(
                f"refused {url}: {host} resolves to non-public address {address} "
                "(set fetch.allow_private_networks: true to allow)"
            )
    if not addresses:
        raise ConnectError(f"cannot resolve {host!r} for {url}: no addresses")
    return addresses


async def check_url(url: str, allow_private: bool) -> None:
    """Refuse non-http(s) URLs and, unless allowed, hosts resolving to non-public addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeURLError(f"refused {url!r}: only http:// and https:// URLs are fetched")
    host = parts.hostname
    if not host:
        raise UnsafeURLError(f"refused {url!r}: no host")
    if not allow_private:
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise UnsafeURLError(f"refused {url!r}: bad port") from exc
        await _public_addresses(host, port, url)


class _PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses checked at connect time, so DNS rebinding cannot slip past `check_url`."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        """Resolve, refuse non-public addresses, then connect to the first checked address."""
        addresses = await _public_addresses(host, port, f"{host}:{port}")
        return await self._inner.connect_tcp(
            addresses[0], port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        """Unix sockets are never a feed's address."""
        raise UnsafeURLError(f"refused unix socket {path!r}")

    async def sleep(self, seconds: float) -> None:
        """Delegate to anyio."""
        await self._inner.sleep(seconds)


def _transport(config: FetchConfig) -> httpx.AsyncHTTPTransport:
    """httpx's transport; unless private networks are allowed, its pool connects via `_PublicOnlyBackend`."""
    limits = httpx.Limits(max_connections=config.concurrency, max_keepalive_connections=config.concurrency)
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False, retries=0)
    pool: Any = getattr(transport, "_pool", None)
    if not config.allow_private_networks and hasattr(pool, "_network_backend"):
        pool._network_backend = _PublicOnlyBackend()
    return transport


def _h11_connection(response: httpx.Response) -> Any:
    """Best effort: the httpcore HTTP/1.1 connection under `response`, or None (internals may change)."""
    node: Any = response.stream
    for _ in range(6):
        if hasattr(node, "_h11_state"):
            return node
        node = next(
            (getattr(node, name) for name in ("_stream", "_httpcore_stream", "_connection") if hasattr(node, name)),
            None,
        )
    return None


async def _overran_content_length(response: httpx.Response) -> bool:
    """True when the server sent bytes past the declared Content-Length; that connection is then closed."""
    connection = _h11_connection(response)
    try:
        data, _closed = connection._h11_state.trailing_data
    except AttributeError:
        return False
    if data:
        await connection.aclose()  # never reuse a socket holding the rest of a lying response
    return bool(data)


class Fetcher:
    """Fetches feeds with limits; use as `async with Fetcher(config) as fetcher:`."""

    def __init__(self, config: FetchConfig, default_agent: str = FALLBACK_USER_AGENT) -> None:
        """`default_agent` is the User-Agent when the config names none (`fetch.user_agent` wins)."""
        self.config = config
        self.user_agent = config.user_agent or default_agent
        self._global = asyncio.Semaphore(config.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}
        timeout = httpx.Timeout(config.timeout, connect=config.connect_timeout, pool=config.deadline)
        self._client = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            transport=_transport(config),
            headers={
                "User-Agent": self.user_agent,
                "Accept": "application/rss+xml, application/atom+xml, application/rdf+xml, "
                "application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8",
                "Accept-Encoding": "gzip, deflate",
            },
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client and its connections."""
        await self._client.aclose()

    def _host_slot(self, url: str) -> asyncio.Semaphore:
        parts = urlsplit(url)
        key = f"{(parts.hostname or '').lower()}:{parts.port or ''}"
        slot = self._hosts.get(key)
        if slot is None:
            slot = self._hosts[key] = asyncio.Semaphore(self.config.per_host)
        return slot

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> FetchResult:
        """GET `url` (conditionally when `etag`/`last_modified` are given), following redirects safely."""
        request_headers = {k.lower(): v for k, v in (headers or {}).items()}
        if etag:
            request_headers["if-none-match"] = etag
        if last_modified:
            request_headers["if-modified-since"] = last_modified
        started = time.monotonic()
        budget = self.config.deadline
        seen = [url]
        current = url
        while True:
            await self._check_url(current, hop=len(seen) - 1)
            hop_started = time.monotonic()
            async with self._host_slot(current), self._global:
                result = await self._get_within(current, request_headers, budget)
            budget -= time.monotonic() - hop_started
            if isinstance(result, FetchResult):
                result.elapsed = time.monotonic() - started
                result.redirects = tuple(seen[1:])
                return result
            _, target = result
            nxt = self._next_hop(current, target, seen)
            if urlsplit(nxt).netloc.lower() != urlsplit(current).netloc.lower():
                for name in _CROSS_ORIGIN_DROP:
                    request_headers.pop(name, None)
            seen.append(nxt)
            current = nxt

    async def _check_url(self, url: str, hop: int) -> None:
        """Apply the scheme and address policy to hop `hop` (0 is the URL asked for)."""
        await check_url(url, self.config.allow_private_networks)

    def _next_hop(self, current: str, location: str, seen: list[str]) -> str:
        """Resolve a Location header, refusing loops, too many hops and non-http(s) targets."""
        if not location.strip():
            raise RedirectError(f"{current}: redirect without a Location header")
        target = urljoin(current, location.strip()).split("#", 1)[0]
        if urlsplit(target).scheme not in ("http", "https"):
            raise UnsafeURLError(f"{current}: refused redirect to {target!r} (only http and https)")
        if target in seen:
            raise RedirectError(f"{seen[0]}: redirect loop ({' -> '.join([*seen, target])})")
        if len(seen) > self.config.max_redirects:
            raise RedirectError(f"{seen[0]}: more than {self.config.max_redirects} redirects (fetch.max_redirects)")
        return target

    async def _get_within(
        self, url: str, headers: dict[str, str], budget: float
    ) -> FetchResult | tuple[int, str]:
        """One hop under the remaining deadline, with httpx errors mapped to FetchError subclasses."""
        try:
            async with asyncio.timeout(max(budget, 0.0)):
                return await self._get(url, headers)
        except TimeoutError as exc:
            if isinstance(exc, FetchError):
                raise
            raise FetchTimeoutError(f"{url}: passed the {self.config.deadline:g}s deadline (fetch.deadline)") from exc
        except httpx.TimeoutException as exc:
            kind = "connect" if isinstance(exc, httpx.ConnectTimeout) else "read"
            raise FetchTimeoutError(f"{url}: {kind} timed out ({exc!r})") from exc
        except httpx.ConnectError as exc:
            raise ConnectError(f"{url}: cannot connect: {exc}") from exc
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            raise IncompleteBodyError(f"{url}: connection broke mid-response: {exc or type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from exc

    async def _get(self, url: str, headers: dict[str, str]) -> FetchResult | tuple[int, str]:
        """Send one request; return a result, or (status, location) for a redirect."""
        async with self._client.stream("GET", url, headers=headers) as response:
            status = response.status_code
            if status in _REDIRECTS:
                return status, response.headers.get("location", "")
            lower = {k.lower(): v for k, v in response.headers.items()}
            retry_after = parse_retry_after(lower.get("retry-after"))
            if status == 304:
                return self._result(url, status, b"", lower, retry_after, 0)
            if not 200 <= status < 300:
                reason = response.reason_phrase or "error"
                hint = f"; retry after {retry_after:g}s" if retry_after is not None else ""
                raise HTTPStatusError(
                    status,
                    f"{url}: HTTP {status} {reason}{hint}",
                    retry_after=retry_after if status in _RETRY_STATUSES else None,
                )
            body, raw = await self._read_body(url, response, lower)
            return self._result(url, status, body, lower, retry_after, raw)

    async def _read_body(self, url: str, response: httpx.Response, lower: dict[str, str]) -> tuple[bytes, int]:
        """Stream the body through the decoder under the cap; return it and the raw byte count."""
        cap = self.config.max_bytes
        declared = lower.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > cap:
            raise BodyTooLargeError(f"{url}: Content-Length {declared} passes the {cap}-byte cap (fetch.max_bytes)")
        decoder = BoundedDecoder(lower.get("content-encoding", ""), cap, url)
        parts: list[bytes] = []
        raw = 0
        async for chunk in response.aiter_raw(_CHUNK):
            raw += len(chunk)
            if raw > cap:
                raise BodyTooLargeError(f"{url}: body passed the {cap}-byte cap (fetch.max_bytes)")
            parts.append(decoder.feed(chunk))
        if declared.isdigit() and await _overran_content_length(response):
            raise IncompleteBodyError(f"{url}: server sent more than its Content-Length of {declared} bytes")
        return b"".join(parts), raw

    def _result(
        self, url: str, status: int, body: bytes, headers: dict[str, str], retry_after: float | None, raw: int
    ) -> FetchResult:
        return FetchResult(
            url=url,
            status=status,
            body=body,
            headers=headers,
            etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
            not_modified=status == 304,
            retry_after=retry_after,
            bytes_read=raw,
            elapsed=0.0,
        )
