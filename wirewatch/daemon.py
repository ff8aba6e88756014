"""The daemon: APScheduler 3 drives polling, delivery and upkeep; signals stop or reload it.

Polling is claim-based rather than one job per feed: every second a `dispatch` job claims the
feeds that are due (next poll time and backoff live in the database, so a restart neither
hammers every feed nor forgets a backoff) under a lease, and polls them within the fetch caps.
The same claim lets several daemons share one PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import time
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from wirewatch import USER_AGENT, __version__, delivery, metrics, upkeep
from wirewatch.alerts.normalise import native_folder
from wirewatch.app import App, build_wiring
from wirewatch.config.clock import utcnow
from wirewatch.config.errors import ConfigError
from wirewatch.config.loader import Loaded, resolve_paths, resolve_watchlist_paths
from wirewatch.dbwatch import DatabaseWatch, is_database_error, one_line
from wirewatch.feedwatch import refresh_gauges
from wirewatch.ingest.feedstore import (
    claim_due,
    others_polled_since,
    release_all,
    renew_leases,
)
from wirewatch.ingest.fetch import Fetcher
from wirewatch.ingest.item import PollReport
from wirewatch.ingest.pipeline import describe_error
from wirewatch.logs import redact
from wirewatch.polling import Recorder, observe, poll_once, poll_rows

__all__ = ["Daemon", "Recorder", "files_fingerprint", "observe", "poll_once", "poll_rows"]  # `poll` and tests import these here

log = logging.getLogger("wirewatch.daemon")
# A feed this daemon polled last waits this long past due while another daemon polls the same database:
# longer than the one-second dispatch tick, so an idle peer takes it and the two alternate.
TAKE_TURNS = 1.5
PEER_CHECK = 1.0  # seconds between two looks for another daemon polling the same database
BUG_REPEAT = 600.0  # seconds between two tracebacks of the same unexpected error in the same job
BUSY_AFTER = 2.0  # seconds a write transaction waits for SQLite's lock before /readyz says "database busy"


def files_fingerprint(loaded: Loaded) -> tuple[tuple[str, float, int], ...]:
    """Paths, mtimes and sizes of the config and of every watchlist and feeds file its globs match now."""
    paths = [loaded.path]
    try:
        paths += resolve_watchlist_paths(loaded.config.watchlists, loaded.base_dir, str(loaded.path), {})
        paths += resolve_paths(loaded.config.feeds_files, loaded.base_dir, str(loaded.path), {}, "feeds_files", "")
    except ConfigError:
        pass  # a listed file vanished: the fingerprint changes and the reload reports it
    out = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue
        out.append((str(path), st.st_mtime, st.st_size))
    return tuple(out)


class Daemon:
    """`wirewatch run`: polls, delivers and prunes until SIGTERM/SIGINT; reloads on SIGHUP."""

    def __init__(self, app: App, config_path: str | None) -> None:
        self.app = app
        self.config_path = config_path
        self.stopping = asyncio.Event()
        self.inflight: set[asyncio.Task[list[PollReport]]] = set()
        self.jobs: set[asyncio.Task[object]] = set()  # scheduled jobs running now (stop waits for them)
        self.claimed: set[str] = set()
        self.dispatching = asyncio.Lock()
        self.delivering = asyncio.Lock()
        self.claim_queued = False  # finished polls queued a dispatch that has not started claiming yet
        self.claim_again = False  # a dispatch came while one was claiming: that one claims once more
        self.health = metrics.HealthState(self._ready)
        self.dbwatch = DatabaseWatch()
        self.busy: set[str] = set()  # scheduled jobs whose previous run is still going
        self.job_errors: dict[tuple[str, str], float] = {}  # (job, error type) → when its traceback was last logged
        self._probe_engine: Any = None
        self.peer_checked = -PEER_CHECK  # when `others_polled_since` was last asked (monotonic)
        self.peer_until = 0.0  # another daemon counts as polling until then (monotonic)
        self.fetcher: Fetcher | None = None
        self.fingerprint = files_fingerprint(app.wiring.loaded)
        self.gauges_since = utcnow()

    def _ready(self) -> tuple[bool, str]:
        """Readiness (run by `HealthState` in its own thread, under its own timeout): never the daemon's pool."""
        from wirewatch import db

        outage = self.dbwatch.readiness()
        if outage is not None:
            return outage
        waiting = db.lock_wait_since()
        if waiting is not None and time.time() - waiting > BUSY_AFTER:
            return False, (f"not ready: database busy: waiting {time.time() - waiting:.1f}s for a lock "
                           "another connection holds")
        if self._probe_engine is None:
            cfg = self.app.wiring.loaded.config
            self._probe_engine = db.for_reading(db.make_engine(
                cfg.database, busy_timeout_ms=500, sqlite_cache=2 * 1024 * 1024, connect_timeout=2, pool_size=1))
        try:
            ok = db.is_current(self._probe_engine)
        except Exception as exc:  # readiness reports, never raises
            return False, f"not ready: database unavailable: {redact(one_line(exc))}"
        return ok, "ok" if ok else "not ready: migrations pending"

    def _tracked(self, name: str, job: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], Coroutine[Any, Any, None]]:
        """Wrap a scheduled job: it runs as a task the stop waits for, and a tick that finds it still running is
        skipped and counted (`wirewatch_jobs_skipped_total`), never an APScheduler warning."""

        @functools.wraps(job)
        async def tick() -> None:
            self.health.tick()  # the scheduler is alive even while a job waits on a busy database
            if name in self.busy:
                metrics.JOBS_SKIPPED.labels(name).inc()
                return
            self.busy.add(name)
            task = asyncio.get_running_loop().create_task(self._run_job(name, job))
            self.jobs.add(task)

            def done(t: asyncio.Task[None]) -> None:
                self.jobs.discard(t)
                self.busy.discard(name)

            task.add_done_callback(done)

        return tick

    async def _run_job(self, name: str, job: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run one job; a database outage goes to the watch (a few lines in all), a cancel at stop is quiet."""
        try:
            await job()
        except asyncio.CancelledError:
            if not self.stopping.is_set():
                raise
            log.debug("job %s cancelled: the stop's grace ran out", name)
        except Exception as exc:  # the next tick retries; the daemon keeps running
            if is_database_error(exc):
                self.dbwatch.failed(exc, name)
                return
            key, now = (name, type(exc).__name__), time.monotonic()
            if now - self.job_errors.get(key, -BUG_REPEAT) >= BUG_REPEAT:  # a bug that fires every tick: once in 10 min
                self.job_errors[key] = now
                log.exception("job %s failed; it runs again at its next tick", name)
            else:
                log.debug("job %s failed again: %s", name, one_line(exc))

    async def dispatch(self) -> None:
        """Claim due feeds (up to the free capacity) and start polling them."""
        if self.dispatching.locked():
            self.claim_again = True  # the one claiming now claims once more when it is done
            return
        async with self.dispatching:
            self.claim_again = True
            while self.claim_again:
                self.claim_again = self.claim_queued = False
                await self._dispatch()

    async def _dispatch(self) -> None:
        if self.stopping.is_set() or self.fetcher is None:
            return
        cfg = self.app.wiring.loaded.config
        free = cfg.fetch.concurrency * 2 - len(self.claimed)
        if free <= 0:
            return
        turns = TAKE_TURNS if await self._peer_polling() else 0.0
        rows = await self.app.db.run(claim_due, self.app.engine, self.app.worker, cfg.lease, free,
                                     take_turns=turns)
        self.dbwatch.succeeded()
        rows = [r for r in rows if r.name not in self.claimed]
        if not rows:
            return
        names = {r.name for r in rows}
        self.claimed |= names
        task = asyncio.create_task(poll_rows(self.app, self.fetcher, rows, self._polled, self.dbwatch))
        self.inflight.add(task)

        def done(t: asyncio.Task[list[PollReport]]) -> None:
            self.inflight.discard(t)
            self.claimed -= names

        task.add_done_callback(done)

    async def _peer_polling(self) -> bool:
        """Whether another daemon polls this database (looked up every few seconds, remembered for a while).

        Remembered, because the rows only show who polled each feed last: once this daemon has polled
        every feed, the peer it yielded to would vanish from them, and it would stop yielding.
        """
        now = time.monotonic()
        if now >= self.peer_checked + PEER_CHECK:
            self.peer_checked = now
            window = max(2 * self.app.wiring.loaded.config.lease, 60.0)
            if await self.app.db.run(others_polled_since, self.app.engine, self.app.worker,
                                     utcnow() - timedelta(seconds=window)):
                self.peer_until = now + window
        return now < self.peer_until

    def _polled(self, report: PollReport) -> None:
        """A feed's poll is recorded: free its slot, claim more once half the slots are free, send new alerts.

        Waiting for the next one-second ticks instead would cap a daemon at 2 × fetch.concurrency
        polls per second however fast the feeds answer, and add up to a second to every alert.
        """
        self.claimed.discard(report.feed)
        if self.stopping.is_set():
            return
        concurrency = self.app.wiring.loaded.config.fetch.concurrency
        if not self.claim_queued and concurrency * 2 - len(self.claimed) >= concurrency:
            self.claim_queued = True
            self._soon(self.dispatch, "claim feeds")
        if report.new and not self.delivering.locked():
            self._soon(self.deliver, "deliver alerts")

    def _soon(self, job: Callable[[], Coroutine[Any, Any, None]], what: str) -> None:
        """Run a job now, outside the schedule; a stop waits for it like for a scheduled one."""

        async def run() -> None:
            try:
                await job()
            except Exception as exc:  # database gone: the scheduled run retries every second
                self.claim_queued = False
                if is_database_error(exc):
                    self.dbwatch.failed(exc, what)
                else:
                    log.warning("could not %s: %s", what, redact(describe_error(exc)).splitlines()[0])

        task = asyncio.get_running_loop().create_task(self._run_job(what, run))
        self.jobs.add(task)
        task.add_done_callback(self.jobs.discard)

    async def gauges(self) -> None:
        """Refresh outbox depth, oldest pending age, delivery latency and feed staleness."""
        # reads only: they get through while SQLite's write lock is held elsewhere, so they do not end an outage
        self.gauges_since = await self.app.db.read(refresh_gauges, self.app.db.reading, self.gauges_since)

    async def keep_leases(self) -> None:
        """Renew leases on feeds still being polled (long polls must not be taken over)."""
        cfg = self.app.wiring.loaded.config
        await self.app.db.run(renew_leases, self.app.engine, self.app.worker, sorted(self.claimed), cfg.lease)

    async def deliver(self) -> None:
        """Send what the outbox holds that is due."""
        if self.stopping.is_set() or self.delivering.locked():
            return
        async with self.delivering:
            if await delivery.deliver_once(self.app, stop=self.stopping):
                self.dbwatch.succeeded()

    async def prune(self) -> None:
        """Daily upkeep: retention and vacuum."""
        await self.app.db.run(upkeep.prune, self.app.engine, self.app.wiring.loaded.config)

    async def watch_files(self) -> None:
        """Reload when the config or a watchlist file changed on disk (a bad edit keeps the running config)."""
        current = files_fingerprint(self.app.wiring.loaded)
        if current != self.fingerprint:
            self.fingerprint = current
            log.info("config or watchlist files changed; reloading")
            self.reload()

    def reload(self) -> None:
        """Validate the config and watchlists, then swap; on error keep the running ones."""
        try:
            wiring = build_wiring(self.config_path)
        except ConfigError as exc:
            log.error("reload rejected, keeping the running config:\n%s", exc)
            return
        except Exception as exc:
            log.error("reload failed, keeping the running config: %s", exc)
            return
        self.app.swap(wiring, sync=False)
        self._soon(self._sync_feeds, "sync the feed table")
        self.fingerprint = files_fingerprint(wiring.loaded)
        log.info("reloaded: %d feeds, %d watchlists", len(wiring.loaded.config.feeds), len(wiring.loaded.watchlists))

    async def _sync_feeds(self) -> None:
        """Bring the feed table in line with the reloaded config, on the database gateway."""
        await self.app.db.run(self.app.sync_feeds)

    def banner(self) -> dict[str, object]:
        """The start-up summary as the fields of one log event (one JSON object in JSON mode)."""
        cfg = self.app.wiring.loaded.config
        return {
            "version": __version__, "worker": self.app.worker, "database": redact(cfg.database),
            "feeds": len(cfg.feeds),
            "watchlists": [wl.watchlist for _, wl in self.app.wiring.loaded.watchlists],
            "channels": {n: c.type for n, c in cfg.channels.items()},
            "metrics": cfg.metrics.listen or "off", "web": cfg.web.listen or "off",
            "matcher": "native" if native_folder() is not None else "python (alerts._scan was not built)",
        }

    async def run(self) -> int:
        """Run until a stop signal; finish in-flight work within the grace period; return the exit code."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        cfg = self.app.wiring.loaded.config
        server = metrics.serve(cfg.metrics.listen, self.health) if cfg.metrics.listen else None
        from wirewatch.web.run import start_in_daemon

        web = await start_in_daemon(self.app)  # web.listen: the console, on this loop
        log.info("starting", extra=self.banner())
        scheduler = AsyncIOScheduler(event_loop=loop)
        now = utcnow()
        # each tick only starts a task (or counts a skip): APScheduler never sees a job still running
        common = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
        job = self._tracked
        # jitter: two daemons' ticks do not keep one fixed order, so neither always claims first
        scheduler.add_job(job("dispatch", self.dispatch), "interval", seconds=1, next_run_time=now, id="dispatch",
                          jitter=0.25, **common)
        scheduler.add_job(job("deliver", self.deliver), "interval", seconds=1, next_run_time=now, id="deliver",
                          **common)
        if server is not None:
            scheduler.add_job(job("gauges", self.gauges), "interval", seconds=5, next_run_time=now, id="gauges",
                              **common)
        scheduler.add_job(job("watch", self.watch_files), "interval", seconds=2, id="watch", **common)
        scheduler.add_job(job("leases", self.keep_leases), "interval", seconds=max(cfg.lease / 3, 1), id="leases",
                          **common)
        scheduler.add_job(job("prune", self.prune), "interval", hours=24, next_run_time=now + timedelta(minutes=1),
                          id="prune", **common)
        async with Fetcher(cfg.fetch, USER_AGENT) as fetcher:
            self.fetcher = fetcher
            scheduler.start()
            await self.stopping.wait()
            log.info("stopping: finishing %d in-flight polls (grace %.0fs)", len(self.inflight), cfg.shutdown_grace)
            scheduler.pause()  # no new runs; shutdown() would cancel the running ones mid-way
            deadline = time.monotonic() + cfg.shutdown_grace
            # jobs first: a dispatch that is claiming may still start polls, a delivery is mid-send
            for running in (self.jobs, self.inflight):
                pending: set[asyncio.Task[Any]] = set(running)
                if pending:
                    _, pending = await asyncio.wait(pending, timeout=max(deadline - time.monotonic(), 0))
                for task in pending:
                    task.cancel()
                if pending:
                    await asyncio.gather(*pending, return_exceptions=True)
            scheduler.shutdown(wait=False)
        await self.app.close_channels()
        await self._release()
        if server is not None:
            server.shutdown()
        if web is not None:
            await web.stop()
        if self._probe_engine is not None:
            self._probe_engine.dispose()
        log.info("stopped")
        return 0

    async def _release(self) -> None:
        """Give back every feed and delivery lease this daemon holds, so the next one starts on them at once."""
        try:
            await self.app.db.run(release_all, self.app.engine, self.app.worker)
            released = await self.app.db.run(delivery.outbox_of(self.app).release_all)
        except Exception as exc:  # the leases expire on their own (`lease`)
            log.warning("could not give back leases at stop (they expire within `lease`): %s", redact(one_line(exc)))
            return
        if released:
            log.info("gave back %d delivery leases", released)
