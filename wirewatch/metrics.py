"""Prometheus metrics and the /healthz and /readyz endpoints, on `metrics.listen`."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

REGISTRY = CollectorRegistry()

POLLS = Counter("wirewatch_polls_total", "Feed polls by outcome", ["outcome"], registry=REGISTRY)
POLL_SECONDS = Histogram("wirewatch_poll_duration_seconds", "Time of one feed poll", registry=REGISTRY,
                         buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
BYTES = Counter("wirewatch_fetched_bytes_total", "Bytes fetched from feeds", registry=REGISTRY)
ITEMS = Counter("wirewatch_items_total", "Items by kind (new, duplicate, updated, skipped)", ["kind"], registry=REGISTRY)
BOILERPLATE = Counter("wirewatch_boilerplate_removed_total", "Boilerplate pieces removed by cleaning",
                      registry=REGISTRY)
STORIES = Counter("wirewatch_stories_created_total", "Stories created", registry=REGISTRY)
MATCHES = Counter("wirewatch_matches_total", "Items matched, by watchlist", ["watchlist"], registry=REGISTRY)
ALERTS = Counter("wirewatch_alerts_created_total", "Alerts created", registry=REGISTRY)
DELIVERIES = Counter("wirewatch_deliveries_total", "Delivery attempts by outcome", ["outcome"], registry=REGISTRY)
DELIVERY_LATENCY = Histogram("wirewatch_delivery_latency_seconds", "From alert created to delivered",
                             registry=REGISTRY, buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600))
OUTBOX_DEPTH = Gauge("wirewatch_outbox_depth", "Deliveries not yet delivered or dead", registry=REGISTRY)
OUTBOX_OLDEST = Gauge("wirewatch_outbox_oldest_pending_seconds", "Age of the oldest pending delivery",
                      registry=REGISTRY)
FEED_STALENESS = Gauge("wirewatch_feed_staleness_seconds", "Seconds since a feed was last polled", ["feed"],
                       registry=REGISTRY)
LAST_TICK = Gauge("wirewatch_scheduler_last_tick_timestamp", "When the scheduler last ticked", registry=REGISTRY)
JOBS_SKIPPED = Counter("wirewatch_jobs_skipped_total", "Scheduled job runs skipped because the previous run "
                       "was still going", ["job"], registry=REGISTRY)
DATABASE_UP = Gauge("wirewatch_database_up", "1 while the database answers the daemon's jobs, 0 during an outage",
                    registry=REGISTRY)


class HealthState:
    """What the health endpoints report: the scheduler's heartbeat and a readiness probe.

    The probe runs in its own thread and gets `probe_timeout` seconds: a probe stuck on a busy or
    unreachable database makes /readyz answer "not ready" at once instead of hanging. One probe runs
    at a time; requests arriving meanwhile wait for it (within their own timeout), they do not add more.
    """

    def __init__(self, ready: Callable[[], tuple[bool, str]], max_silence: float = 30.0,
                 probe_timeout: float = 0.8) -> None:
        self.ready_probe = ready
        self.max_silence = max_silence
        self.probe_timeout = probe_timeout
        self.last_tick = time.time()
        self._lock = threading.Lock()
        self._probe: Future[tuple[bool, str]] | None = None
        self._probe_started = 0.0

    def tick(self) -> None:
        """Record that the scheduler ran."""
        self.last_tick = time.time()
        LAST_TICK.set(self.last_tick)

    def healthy(self) -> tuple[bool, str]:
        """Alive when the scheduler ticked recently."""
        silence = time.time() - self.last_tick
        return silence <= self.max_silence, f"last tick {silence:.1f}s ago"

    def ready(self) -> tuple[bool, str]:
        """The readiness probe's answer, or "not ready: database busy" when it does not answer in time."""
        with self._lock:
            if self._probe is None or self._probe.done():
                self._probe, self._probe_started = Future(), time.time()
                threading.Thread(target=self._run_probe, args=(self._probe,), name="wirewatch-readyz",
                                 daemon=True).start()
            probe, started = self._probe, self._probe_started
        try:
            return probe.result(timeout=self.probe_timeout)
        except FutureTimeout:
            since = datetime.fromtimestamp(started, UTC).strftime("%H:%M:%SZ")
            return False, (f"not ready: database busy or unreachable (no answer for "
                           f"{time.time() - started:.1f}s, since {since})")

    def _run_probe(self, probe: Future[tuple[bool, str]]) -> None:
        try:
            probe.set_result(self.ready_probe())
        except Exception as exc:  # readiness reports, never raises
            probe.set_result((False, f"not ready: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"))


def serve(listen: str, health: HealthState) -> ThreadingHTTPServer:
    """Start the metrics/health HTTP server in a daemon thread; returns it (call shutdown() to stop)."""
    host, _, port = listen.rpartition(":")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._send(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
                return
            if self.path in ("/healthz", "/readyz"):
                ok, why = health.healthy() if self.path == "/healthz" else health.ready()
                body = json.dumps({"ok": ok, "detail": why}).encode()
                self._send(200 if ok else 503, body, "application/json")
                return
            self._send(404, b"not found\n", "text/plain")

        def _send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer((host.strip("[]"), int(port)), Handler)
    threading.Thread(target=server.serve_forever, name="wirewatch-metrics", daemon=True).start()
    return server
