"""A real HTTP/1.1 server on 127.0.0.1 for tests: honest feeds and hostile servers.

Usage::

    with FeedServer() as server:                       # port 0, background thread
        server.add("/feed.xml", body, etag='"v1"', last_modified="Wed, 01 Jan 2025 00:00:00 GMT")
        server.add("/slow", b"<rss/>", delay=2.0)      # wait before answering (read timeouts)
        server.add("/trickle", b"x", trickle=0.5, endless=True)   # one byte every 0.5 s, forever
        server.add("/bomb", gzip_bomb(200 * 2**20), headers={"Content-Encoding": "gzip"})
        server.add("/reset", body, reset_after=100)    # 100 body bytes, then a TCP reset
        server.add("/lie", body, content_length=10)    # Content-Length that lies
        server.add("/nolen", body, close_delimited=True)  # no Content-Length, ends at close
        server.redirect("/a", "/b")                     # 302 by default; `to` may be absolute
        server.add_dynamic("/feed/", lambda path: Route(body=make(path), etag=tag(path)))  # built per request
        url = server.url("/feed.xml")
        server.hits("/feed.xml"), server.requests[-1].headers, server.max_in_flight

A route answers 304 when the request's If-None-Match equals its `etag` or its
If-Modified-Since equals its `last_modified`. A dynamic route is a function from the path to a `Route`
(or None: 404), asked at every request under its prefix: benchmarks use it for feeds that change with
the clock or a generation counter. Unknown paths answer 404. `max_in_flight` is
the largest number of requests the server was handling at once (for concurrency caps).
Everything runs in daemon threads; `stop()` (or leaving the `with`) closes the socket and
ends hostile handlers that are still sending.
"""

from __future__ import annotations

import gzip
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["FeedServer", "Route", "SeenRequest", "deflate_bomb", "gzip_bomb"]


@dataclass
class Route:
    """How the server answers one path."""

    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    gzip: bool = False  # compress `body` and send Content-Encoding: gzip
    delay: float = 0.0  # seconds to wait before the status line
    trickle: float | None = None  # send the body one byte per `trickle` seconds
    endless: bool = False  # with `trickle`: repeat the body forever (no Content-Length)
    reset_after: int | None = None  # send this many body bytes, then reset the connection
    content_length: int | None = None  # declare this length whatever the body's size
    close_delimited: bool = False  # send no Content-Length; the body ends when the connection closes


@dataclass
class SeenRequest:
    """One request as the server received it."""

    path: str
    headers: dict[str, str]


def gzip_bomb(size: int) -> bytes:
    """Gzip of `size` zero bytes, built in chunks (about 1 KiB out per MiB in)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1 << 20)
    parts = [compressor.compress(chunk) for _ in range(size >> 20)]
    parts.append(compressor.compress(bytes(size & ((1 << 20) - 1))))
    parts.append(compressor.flush())
    return b"".join(parts)


def deflate_bomb(size: int) -> bytes:
    """zlib-wrapped deflate of `size` zero bytes (Content-Encoding: deflate)."""
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(bytes(1 << 20)) for _ in range(size >> 20)]
    parts.append(compressor.flush())
    return b"".join(parts)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        """Answer from the route table."""
        owner = self.server.owner
        path = self.path.split("?", 1)[0]
        owner._enter(SeenRequest(self.path, {k.lower(): v for k, v in self.headers.items()}))
        try:
            route = owner.routes.get(path) or owner._dynamic(path)
            if route is None:
                self._send(404, {"Content-Type": "text/plain"}, b"not found")
            else:
                self._answer(route)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, OSError):
            self.close_connection = True
        finally:
            owner._leave()

    def _send(self, status: int, headers: dict[str, str], body: bytes, length: bool = True) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if length and not any(name.lower() == "content-length" for name in headers):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _answer(self, route: Route) -> None:
        stop = self.server.owner.stopping
        if route.delay and stop.wait(route.delay):
            return
        headers = {"Content-Type": route.content_type, **route.headers}
        if route.etag:
            headers["ETag"] = route.etag
        if route.last_modified:
            headers["Last-Modified"] = route.last_modified
        fresh = (route.etag and self.headers.get("If-None-Match") == route.etag) or (
            route.last_modified and self.headers.get("If-Modified-Since") == route.last_modified
        )
        if fresh and 200 <= route.status < 300:
            self._send(304, {k: v for k, v in headers.items() if k.lower() != "content-type"}, b"")
            return
        body = gzip.compress(route.body) if route.gzip else route.body
        if route.gzip:
            headers["Content-Encoding"] = "gzip"
        if route.content_length is not None:
            headers["Content-Length"] = str(route.content_length)
        if route.close_delimited:
            headers["Connection"] = "close"
            self.close_connection = True
        if route.trickle is not None:
            self._trickle(route, headers, body)
        elif route.reset_after is not None:
            self._reset(headers, body, route.reset_after)
        else:
            if route.content_length is not None:
                headers["Connection"] = "close"
                self.close_connection = True
            self._send(route.status, headers, body, length=not route.close_delimited)

    def _trickle(self, route: Route, headers: dict[str, str], body: bytes) -> None:
        if route.endless:
            headers["Connection"] = "close"
        self._send(route.status, headers, b"", length=not route.endless and not route.close_delimited)
        self.close_connection = True
        stop = self.server.owner.stopping
        source = _repeat(body) if route.endless else iter(body)
        for byte in source:
            if stop.is_set():
                return
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            stop.wait(route.trickle or 0.0)

    def _reset(self, headers: dict[str, str], body: bytes, after: int) -> None:
        headers.setdefault("Content-Length", str(len(body)))
        self._send(200, headers, body[:after])
        time.sleep(0.05)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()


def _repeat(body: bytes) -> Iterator[int]:
    while True:
        yield from body or b" "


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # benchmarks open many connections at once; the default 5 drops SYNs
    owner: FeedServer

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients hanging up mid-response is what hostile tests do; stay quiet about it."""


class FeedServer:
    """A threaded HTTP server on 127.0.0.1 serving `Route`s per path; see the module docstring."""

    def __init__(self, host: str = "127.0.0.1", protocol: str = "HTTP/1.1", *, record: bool = True) -> None:
        """`protocol`: "HTTP/1.0" closes every connection after one answer (like `python -m http.server`);
        `record=False` keeps no `requests` (long benchmark runs)."""
        self.routes: dict[str, Route] = {}
        self.dynamic: list[tuple[str, Callable[[str], Route | None]]] = []
        self.record = record
        self.requests: list[SeenRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        handler = _Handler if protocol == _Handler.protocol_version else type(
            "_Handler", (_Handler,), {"protocol_version": protocol})
        self._httpd = _Server((host, 0), handler)
        self._httpd.owner = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._httpd.server_address[1])

    def url(self, path: str = "/") -> str:
        """Absolute http URL of `path` on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def add(self, path: str, body: bytes = b"", **options: object) -> Route:
        """Serve `body` at `path`; `options` are `Route` fields (status, headers, etag, trickle, …)."""
        route = Route(body=body, **options)  # type: ignore[arg-type]
        self.routes[path] = route
        return route

    def add_dynamic(self, prefix: str, make: Callable[[str], Route | None]) -> None:
        """Answer every path under `prefix` with the `Route` `make(path)` returns at that request (None: 404)."""
        self.dynamic.append((prefix, make))

    def _dynamic(self, path: str) -> Route | None:
        for prefix, make in self.dynamic:
            if path.startswith(prefix):
                return make(path)
        return None

    def redirect(self, path: str, to: str, status: int = 302) -> Route:
        """Answer `path` with a redirect to `to` (a path on this server or any absolute URL)."""
        return self.add(path, b"", status=status, headers={"Location": to}, content_type="text/plain")

    def hits(self, path: str) -> int:
        """How many requests reached `path` (query strings ignored)."""
        return sum(1 for r in self.requests if r.path.split("?", 1)[0] == path)

    def reset_stats(self) -> None:
        """Forget recorded requests and the in-flight maximum."""
        with self._lock:
            self.requests.clear()
            self.max_in_flight = self.in_flight

    def _enter(self, request: SeenRequest) -> None:
        with self._lock:
            if self.record:
                self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def start(self) -> FeedServer:
        """Start serving in a daemon thread; returns self."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="feedserver", daemon=True)
        self._thread.start()
        return self

    def serve_until_killed(self, port_queue: Any) -> None:
        """For a server process of its own: start, put the port on `port_queue`, and serve until killed."""
        self.start()
        port_queue.put(self.port)
        self.stopping.wait()

    def stop(self) -> None:
        """Stop serving, end hostile handlers and close the listening socket."""
        self.stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
