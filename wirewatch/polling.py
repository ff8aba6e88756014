"""Polling a set of claimed feeds, for the daemon and for `wirewatch poll` (one pass, no daemon).

`poll_rows` polls feeds this worker has claimed (`feedstore.claim_due`) concurrently through
`Pipeline.poll`, records each outcome with a `Recorder` (the feed row, the next poll time, the
lease released, the feed-health check, in as few transactions as finish together), counts it
(`observe`) and tells the caller (`polled`: the daemon frees the slot and sends new alerts).
`poll_once` is `wirewatch poll`: claim every feed, poll them, deliver what is due.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterable

from sqlmodel import Session

from wirewatch import USER_AGENT, delivery, metrics
from wirewatch.app import App
from wirewatch.dbwatch import DatabaseWatch, is_database_error, one_line
from wirewatch.feedwatch import health_check
from wirewatch.ingest.feedstore import PollRecord, claim_due, record_polls
from wirewatch.ingest.fetch import Fetcher
from wirewatch.ingest.item import PollReport
from wirewatch.ingest.pipeline import DATABASE_UNAVAILABLE, describe_error
from wirewatch.ingest.store import FeedRow
from wirewatch.logs import fields, redact

log = logging.getLogger("wirewatch.daemon")  # the logger name is what users filter on; kept from daemon.py
MAX_DELIVERY_PASSES = 10_000  # `poll`: a bound on delivery passes, far above any outbox a poll can fill


def observe(report: PollReport) -> None:
    """Count one poll in the metrics and log it as one line."""
    metrics.POLLS.labels(report.status).inc()
    metrics.POLL_SECONDS.observe(report.duration)
    metrics.BYTES.inc(report.bytes)
    metrics.ITEMS.labels("new").inc(report.new)
    metrics.ITEMS.labels("duplicate").inc(report.duplicate)
    metrics.ITEMS.labels("updated").inc(report.updated)
    metrics.ITEMS.labels("skipped").inc(report.skipped)  # JSON/HTML source items missing a required field
    metrics.STORIES.inc(report.stories_created)
    metrics.BOILERPLATE.inc(report.removed_lines)
    level = logging.WARNING if report.status == "error" else logging.INFO
    if report.error and report.error.startswith(DATABASE_UNAVAILABLE):
        level = logging.INFO  # the outage itself is logged once, by the daemon's DatabaseWatch
    log.log(level, "poll %s %s http=%s new=%d updated=%d dup=%d %.2fs%s", report.feed, report.status,
            report.http_status, report.new, report.updated, report.duplicate, report.duration,
            f" error={report.error}" if report.error else "",
            extra=fields(feed=report.feed, status=report.status, http=report.http_status, new=report.new,
                         updated=report.updated, duplicate=report.duplicate, seconds=round(report.duration, 3),
                         error=report.error))


class Recorder:
    """Records poll outcomes on the database thread, as many per transaction as have finished meanwhile.

    The first outcome is written at once; those that finish while a write is queued or running
    go together in the next one, so a burst of 304s costs a commit per batch, not per feed.
    """

    def __init__(self, app: App, per_feed: Callable[[Session, FeedRow], None], batch_max: int = 100) -> None:
        self.app, self.per_feed, self.batch_max = app, per_feed, batch_max  # per_feed: see `record_polls`
        self.pending: list[tuple[PollRecord, asyncio.Future[None]]] = []
        self.writer: asyncio.Task[None] | None = None

    async def record(self, poll: PollRecord) -> None:
        """Record one poll (schedule, errors, lease released); returns once it is committed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append((poll, done))
        if self.writer is None:
            self.writer = asyncio.create_task(self._write())
        await done

    async def _write(self) -> None:
        cfg = self.app.wiring.loaded.config
        try:
            while self.pending:
                batch, self.pending = self.pending[: self.batch_max], self.pending[self.batch_max :]
                try:
                    await self.app.db.run(record_polls, self.app.engine, self.app.worker,
                                          [poll for poll, _ in batch], jitter=cfg.defaults.jitter,
                                          max_backoff=cfg.fetch.max_backoff, per_feed=self.per_feed)
                except Exception as exc:  # every poll of the batch reports it
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                else:
                    for _, done in batch:
                        if not done.done():
                            done.set_result(None)
        finally:
            self.writer = None


async def poll_rows(app: App, fetcher: Fetcher, rows: Iterable[FeedRow],
                    polled: Callable[[PollReport], None] | None = None,
                    watch: DatabaseWatch | None = None) -> list[PollReport]:
    """Poll claimed feeds concurrently, record each outcome and release its lease; `polled(report)` after each.

    With a `watch`, a database that cannot take a poll's record is reported there (one line per outage).
    """
    cfg = app.wiring.loaded.config
    feeds = {f.name: f for f in cfg.feeds}
    recorder = Recorder(app, health_check(cfg))

    async def one(row: FeedRow) -> PollReport | None:
        report = await poll_one(row)
        if report is not None and polled is not None:  # not for a feed gone from the config: it stays claimed
            polled(report)
        return report

    async def poll_one(row: FeedRow) -> PollReport | None:
        feed = feeds.get(row.name)
        if feed is None:
            return None
        report = await app.pipeline.poll(fetcher, feed, row.etag, row.last_modified)
        if report.error:  # the feed URL may carry credentials; the row, `status` and `poll` show this text
            report.error = redact(report.error)
        try:
            ours = (report.error or "").startswith(DATABASE_UNAVAILABLE)  # not the feed's doing: no history row
            await recorder.record(PollRecord(row.name, report, cfg.feed_interval(feed), history=not ours))
        except Exception as exc:  # database gone: the feed stays leased to us, due, and is polled again
            if watch is not None and is_database_error(exc):
                watch.failed(exc, f"recording the poll of {row.name}")
                log.info("could not record the poll of %s: %s", row.name, redact(one_line(exc)),
                         extra=fields(feed=row.name))
            else:
                log.warning("could not record the poll of %s: %s", row.name,
                            redact(describe_error(exc)).splitlines()[0], extra=fields(feed=row.name))
        else:
            if watch is not None:
                watch.succeeded()
        observe(report)
        return report

    results = await asyncio.gather(*(one(r) for r in rows))
    return [r for r in results if r is not None]


async def poll_once(app: App, names: list[str] | None = None,
                    deliveries: dict[str, int] | None = None) -> list[PollReport]:
    """One pass over all (or the named) feeds, due or not; then deliver everything that is due.

    Delivery passes repeat until one claims nothing (one pass takes a bounded batch; a retry is
    due seconds later, not now). `deliveries`, when given, receives the counts by outcome.
    """
    cfg = app.wiring.loaded.config
    rows = await app.db.run(claim_due, app.engine, app.worker, cfg.lease, 100_000, names, None, False)
    async with Fetcher(cfg.fetch, USER_AGENT) as fetcher:
        reports = await poll_rows(app, fetcher, rows)
    total: Counter[str] = Counter()
    for _ in range(MAX_DELIVERY_PASSES):
        counts = await delivery.deliver_once(app)
        total.update(counts)
        if not counts.get("claimed"):
            break
    await app.close_channels()
    if deliveries is not None:
        deliveries.update(total)
    return reports
