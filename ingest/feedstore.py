"""Feed rows: keep them in step with the config, claim due feeds under a lease, record poll outcomes.

On PostgreSQL the claim uses `FOR UPDATE SKIP LOCKED`, so several daemons sharing one
database never poll the same feed at once; a daemon that dies loses its leases when they
expire. On SQLite the same statements run inside one immediate transaction.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, or_, select

from wirewatch.config.clock import as_utc, utcnow
from wirewatch.ingest.item import PollReport
from wirewatch.ingest.schedule import first_poll, next_poll
from wirewatch.ingest.store import FeedRow, ItemRow, Known, PollLogRow, known_items

POLL_LOG_KEEP = 50
"""Polls kept per feed in `poll_log` (older ones are deleted as new ones are recorded)."""
POLL_LOG = PollLogRow.__table__  # type: ignore[attr-defined]


@dataclass(slots=True)
class FeedSpec:
    """What the config says about one feed, as the scheduler needs it."""

    name: str
    url: str
    interval: float
    """Seconds between polls (the feed's own `interval`, else the config's default)."""
    enabled: bool = True


def sync_feeds(engine: Engine, specs: Sequence[FeedSpec], now: datetime | None = None) -> None:
    """Insert feeds new to the config, update URLs, disable feeds no longer configured."""
    now = now or utcnow()
    by_name = {s.name: s for s in specs}
    with Session(engine) as session:
        rows = {r.name: r for r in session.exec(select(FeedRow)).all()}
        for name, spec in by_name.items():
            row = rows.get(name)
            if row is None:
                _insert_feed(session, FeedRow(name=name, url=spec.url, enabled=spec.enabled,
                                              next_poll_at=first_poll(now, spec.interval)))
                continue
            if row.url != spec.url:
                row.url, row.etag, row.last_modified = spec.url, None, None
            row.enabled = spec.enabled
            session.add(row)
        for name, row in rows.items():
            if name not in by_name and row.enabled:
                row.enabled = False
                session.add(row)
        session.commit()


def _insert_feed(session: Session, row: FeedRow) -> None:
    """Insert a feed row unless one of that name exists: daemons starting together all sync the same feeds."""
    builder = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(builder(FeedRow).values(**row.model_dump()).on_conflict_do_nothing(index_elements=["name"]))


def claim_due(engine: Engine, worker: str, lease: float, limit: int, names: Sequence[str] | None = None,
              now: datetime | None = None, due_only: bool = True, *, take_turns: float = 0.0) -> list[FeedRow]:
    """Lease up to `limit` due feeds to `worker`; returns detached rows with their validators.

    `take_turns` (seconds; for a worker that knows a peer is polling, see `others_polled_since`):
    a feed whose last poll this worker recorded waits that long past its due time, so that an idle
    peer (which claims every second) takes it, and daemons sharing a database alternate instead of
    the quickest one polling everything.
    """
    now = now or utcnow()
    with Session(engine, expire_on_commit=False) as session:
        query = select(FeedRow).where(
            FeedRow.enabled == True,  # noqa: E712
            col(FeedRow.paused_at).is_(None),
            or_(col(FeedRow.lease_until).is_(None), col(FeedRow.lease_until) < now, FeedRow.claimed_by == worker),
        )
        if due_only:
            query = query.where(or_(col(FeedRow.next_poll_at).is_(None), col(FeedRow.next_poll_at) <= now))
        if due_only and take_turns > 0:
            query = query.where(or_(col(FeedRow.polled_by).is_(None), col(FeedRow.polled_by) != worker,
                                    col(FeedRow.next_poll_at) <= now - timedelta(seconds=take_turns)))
        if names is not None:
            query = query.where(col(FeedRow.name).in_(list(names)))
        query = query.order_by(col(FeedRow.next_poll_at)).limit(limit)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = list(session.exec(query).all())
        for row in rows:
            row.claimed_by = worker
            row.lease_until = now + timedelta(seconds=lease)
            session.add(row)
        session.commit()  # expire_on_commit=False: the rows stay readable without a query each
        for row in rows:
            session.expunge(row)
        return rows


def others_polled_since(engine: Engine, worker: str, since: datetime) -> bool:
    """Whether a feed row shows a poll recorded after `since` by a worker other than `worker`."""
    with Session(engine) as session:
        query = select(FeedRow.name).where(col(FeedRow.polled_by).is_not(None), col(FeedRow.polled_by) != worker,
                                           col(FeedRow.last_polled_at) > since).limit(1)
        return session.exec(query).first() is not None


@dataclass(slots=True)
class PollRecord:
    """One poll to record: the feed, what happened, its interval, and whether it goes into `poll_log`."""

    name: str
    outcome: PollReport
    interval: float
    history: bool = True
    """False for a poll our own database could not take: an outage of ours, not a page of the feed's history
    (and on a nearly full disk the feed rows must still fit)."""


def record_polls(engine: Engine, worker: str, polls: Sequence[PollRecord], *, jitter: float = 0.1,
                 max_backoff: float = 6 * 3600.0, now: datetime | None = None, rng: random.Random | None = None,
                 per_feed: Callable[[Session, FeedRow], None] | None = None) -> list[FeedRow | None]:
    """Record polls' outcomes in one transaction (one commit for a burst of 304s); the feed rows, in order.

    For each: the feed row's status and errors, the next poll time, the lease released, a `poll_log`
    row; `per_feed(session, row)` runs for each updated row in the same transaction (the daemon's
    feed-health check).
    """
    now = now or utcnow()
    with Session(engine, expire_on_commit=False) as session:
        rows = {r.name: r for r in session.exec(
            select(FeedRow).where(col(FeedRow.name).in_(sorted({p.name for p in polls})))).all()}
        for poll in polls:
            row = rows.get(poll.name)
            if row is not None:
                _apply(row, worker, poll.outcome, poll.interval, now, jitter, max_backoff, rng)
                session.add(row)
                if per_feed is not None:
                    per_feed(session, row)
        _log_polls(session, [p for p in polls if p.name in rows and p.history], now)
        session.commit()
        for row in rows.values():
            session.expunge(row)
        return [rows.get(p.name) for p in polls]


def _log_polls(session: Session, polls: Sequence[PollRecord], now: datetime) -> None:
    """Append the batch to `poll_log` (one INSERT), then keep the newest `POLL_LOG_KEEP` of each feed (one DELETE)."""
    if not polls:
        return
    session.execute(sa.insert(POLL_LOG), [
        {"feed": p.name, "at": now, "status": p.outcome.status, "http_status": p.outcome.http_status,
         "new": p.outcome.new, "updated": p.outcome.updated, "duplicate": p.outcome.duplicate,
         "duration": p.outcome.duration, "error": p.outcome.error[:2000] if p.outcome.error else None}
        for p in polls])
    c = POLL_LOG.c
    # per feed: everything at or below its 51st newest id, found on the (feed, id) index; executemany, one statement
    oldest_kept = (sa.select(c.id).where(c.feed == sa.bindparam("f")).order_by(c.id.desc())
                   .offset(POLL_LOG_KEEP).limit(1).scalar_subquery())
    session.execute(POLL_LOG.delete().where(c.feed == sa.bindparam("f"), c.id <= oldest_kept),
                    [{"f": name} for name in sorted({p.name for p in polls})])


def recent_polls(engine: Engine, feed: str, limit: int = POLL_LOG_KEEP) -> list[PollLogRow]:
    """The feed's recorded polls, newest first."""
    with Session(engine) as session:
        rows = list(session.exec(select(PollLogRow).where(PollLogRow.feed == feed)
                                 .order_by(col(PollLogRow.id).desc()).limit(limit)).all())
        for row in rows:
            session.expunge(row)
        return rows


def failing_since(engine: Engine, feeds: Sequence[str]) -> dict[str, datetime]:
    """When the current run of failed polls began, for each of `feeds` whose last recorded poll failed.

    That is the first error after the feed's last success in `poll_log` (or its oldest kept poll).
    """
    if not feeds:
        return {}
    c = POLL_LOG.c
    last_ok = (sa.select(c.feed, sa.func.max(c.id).label("ok_id")).where(c.status != "error", c.feed.in_(list(feeds)))
               .group_by(c.feed).subquery())
    query = (sa.select(c.feed, sa.func.min(c.at)).select_from(POLL_LOG.outerjoin(last_ok, last_ok.c.feed == c.feed))
             .where(c.feed.in_(list(feeds)), c.status == "error", sa.or_(last_ok.c.ok_id.is_(None), c.id > last_ok.c.ok_id))
             .group_by(c.feed))
    with engine.connect() as conn:
        since = {feed: as_utc(first) for feed, first in conn.execute(query)}
    return {feed: at for feed, at in since.items() if at is not None}


def _apply(row: FeedRow, worker: str, outcome: PollReport, interval: float, now: datetime, jitter: float,
           max_backoff: float, rng: random.Random | None) -> None:
    row.last_polled_at = now
    row.polled_by = worker
    row.last_status = outcome.status
    row.last_http_status = outcome.http_status
    if outcome.status == "error":
        row.consecutive_errors += 1
        row.last_error = (outcome.error or "unknown error")[:2000]
    else:
        row.consecutive_errors = 0
        row.last_error = None
        if outcome.etag is not None or outcome.status == "ok":
            row.etag = outcome.etag
        if outcome.last_modified is not None or outcome.status == "ok":
            row.last_modified = outcome.last_modified
    if outcome.new:
        previous = as_utc(row.last_new_item_at)
        if previous is not None:
            gap = (now - previous).total_seconds()
            row.new_item_gap = gap if row.new_item_gap is None else 0.8 * row.new_item_gap + 0.2 * gap
        row.items_total += outcome.new
        row.last_new_item_at = now
    row.next_poll_at = next_poll(now, interval, jitter=jitter, consecutive_errors=row.consecutive_errors,
                                 retry_after=outcome.retry_after, max_backoff=max_backoff, rng=rng)
    if row.claimed_by == worker:
        row.claimed_by, row.lease_until = None, None


def renew_leases(engine: Engine, worker: str, names: Sequence[str], lease: float) -> None:
    """Extend this worker's leases on feeds still being polled."""
    if not names:
        return
    until = utcnow() + timedelta(seconds=lease)
    with Session(engine) as session:
        for row in session.exec(select(FeedRow).where(col(FeedRow.name).in_(list(names)),
                                                      FeedRow.claimed_by == worker)).all():
            row.lease_until = until
            session.add(row)
        session.commit()


def release_all(engine: Engine, worker: str) -> None:
    """Give back every lease this worker holds (on clean shutdown)."""
    with Session(engine) as session:
        for row in session.exec(select(FeedRow).where(FeedRow.claimed_by == worker)).all():
            row.claimed_by, row.lease_until = None, None
            session.add(row)
        session.commit()


def set_paused(session: Session, name: str, paused: bool, now: datetime) -> bool:
    """Pause (stop claiming it for polls) or resume one feed in the caller's transaction; False if no such feed.

    Pausing an already paused feed keeps its first `paused_at`; the caller commits.
    """
    row = session.get(FeedRow, name)
    if row is None:
        return False
    if not paused:
        row.paused_at = None
    elif row.paused_at is None:
        row.paused_at = now
    session.add(row)
    return True


def list_feeds(engine: Engine) -> list[FeedRow]:
    """Every feed row, by name."""
    with Session(engine) as session:
        rows = list(session.exec(select(FeedRow).order_by(FeedRow.name)).all())
        for row in rows:
            session.expunge(row)
        return rows


def stored_items(session: Session, feed: str | None = None) -> list[ItemRow]:
    """Every stored item of one feed (of every feed when `feed` is None), by id: what `reprocess` cleans again."""
    query = select(ItemRow).order_by(col(ItemRow.id))
    if feed is not None:
        query = query.where(ItemRow.feed == feed)
    return list(session.exec(query).all())


def known_entries(engine: Engine, feed: str, identities: Sequence[str]) -> dict[str, Known]:
    """What is stored of these entries of the feed, by identity (a read, in a session of its own)."""
    with Session(engine) as session:
        return known_items(session, feed, identities)
