"""A real webhook receiver on 127.0.0.1 for tests and benchmarks.

It records every request as `{"headers", "body"}` (plus path and the status it answered) and
answers 200 unless told otherwise: `receiver.plan(Reply(503), Reply(503))` makes the next two
requests fail, `Reply(410)` says gone, `Reply(302, headers={"location": …})` redirects,
`Reply(200, delay=5)` hangs. Use it as a context manager so the server thread is stopped.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["Receiver", "Reply"]


@dataclass(frozen=True)
class Reply:
    """How the receiver answers one request."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # bursts of concurrent deliveries; the default backlog of 5 drops connections
    receiver: Receiver

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that gave up (timeouts) are expected; stay quiet."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """No access log on stderr."""

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        receiver = self.server.receiver
        reply = receiver.next_reply()
        receiver.record({"path": self.path, "headers": dict(self.headers.items()),
                         "body": body.decode("utf-8", "replace"), "status": reply.status})
        if reply.delay and receiver.closing.wait(reply.delay):
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    do_PUT = do_POST


class Receiver:
    """A threaded HTTP server that records requests and answers as planned."""

    def __init__(self, default: Reply | None = None) -> None:
        self.default = default or Reply()
        self.requests: list[dict[str, Any]] = []
        self.closing = threading.Event()
        self._plan: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.receiver = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="test-receiver", daemon=True)

    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:54321/hook."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hook"

    def plan(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, then with the default again."""
        with self._lock:
            self._plan.extend(replies)

    def next_reply(self) -> Reply:
        """The reply for the request being handled."""
        with self._lock:
            return self._plan.popleft() if self._plan else self.default

    def record(self, request: dict[str, Any]) -> None:
        """Keep one request."""
        with self._lock:
            self.requests.append(request)

    def delivered(self) -> list[dict[str, Any]]:
        """The requests answered with 2xx."""
        with self._lock:
            return [r for r in self.requests if 200 <= r["status"] < 300]

    def bodies(self) -> list[Any]:
        """The JSON bodies of the requests answered with 2xx."""
        return [json.loads(r["body"]) for r in self.delivered()]

    def dump_jsonl(self, path: Path) -> None:
        """Write the 2xx requests as `{"headers", "body"}` lines (what corpus/score.py reads)."""
        with path.open("w", encoding="utf-8") as f:
            for r in self.delivered():
                f.write(json.dumps({"headers": r["headers"], "body": r["body"]}, ensure_ascii=False) + "\n")

    def start(self) -> Receiver:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def close(self) -> None:
        """Release hanging requests, stop serving, close the socket."""
        self.closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
