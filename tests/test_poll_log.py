"""Persisted poll history (`poll_log`): written with each batch of recorded polls, capped per feed, read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import event

from wirewatch import db
from wirewatch.ingest.feedstore import (
    POLL_LOG,
    POLL_LOG_KEEP,
    FeedSpec,
    PollRecord,
    failing_since,
    recent_polls,
    record_polls,
    sync_feeds,
)
from wirewatch.ingest.item import PollReport

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
OK = PollReport("", "ok", http_status=200, new=2, updated=1, duplicate=3, duration=0.25)
FAIL = PollReport("", "error", http_status=500, error="HTTP 500 upstream exploded", duration=0.5)


def test_polls_are_kept_newest_first_with_their_counts_and_capped_per_feed(db_url: str) -> None:
    engine = db.make_engine(db_url)
    try:
        db.upgrade(engine)
        sync_feeds(engine, [FeedSpec("a", "http://127.0.0.1:1/a", 60), FeedSpec("b", "http://127.0.0.1:1/b", 60)])
        inserts: list[str] = []

        @event.listens_for(engine, "before_cursor_execute")
        def _seen(conn: object, cursor: object, statement: str, *args: object) -> None:
            if statement.lstrip().upper().startswith("INSERT INTO POLL_LOG"):
                inserts.append(statement)

        for n in range(POLL_LOG_KEEP + 5):
            record_polls(engine, "me", [PollRecord("a", OK if n % 2 else FAIL, 60.0), PollRecord("b", OK, 60.0),
                                        PollRecord("not-a-feed", OK, 60.0)], now=T0 + timedelta(minutes=n))
        assert len(inserts) == POLL_LOG_KEEP + 5  # one statement per batch, not one per feed
        polls = recent_polls(engine, "a")
        with engine.connect() as conn:
            per_feed = dict(conn.execute(sa.select(POLL_LOG.c.feed, sa.func.count()).group_by(POLL_LOG.c.feed)).all())
    finally:
        engine.dispose()
    assert per_feed == {"a": POLL_LOG_KEEP, "b": POLL_LOG_KEEP}  # the unknown feed left nothing
    newest = polls[0]
    assert newest.at is not None and newest.at.replace(tzinfo=UTC) == T0 + timedelta(minutes=POLL_LOG_KEEP + 4)
    assert (newest.status, newest.http_status, newest.error) == ("error", 500, "HTTP 500 upstream exploded")
    second = polls[1]
    assert (second.status, second.new, second.updated, second.duplicate, second.duration) == ("ok", 2, 1, 3, 0.25)
    assert [p.id for p in polls] == sorted((p.id for p in polls), reverse=True)


def test_failing_since_is_the_first_error_after_the_last_success(db_url: str) -> None:
    engine = db.make_engine(db_url)
    try:
        db.upgrade(engine)
        sync_feeds(engine, [FeedSpec(n, f"http://127.0.0.1:1/{n}", 60) for n in ("up", "down", "never")])
        plan = {"up": [FAIL, OK], "down": [FAIL, OK, FAIL, FAIL], "never": [FAIL, FAIL]}
        for minute in range(4):
            batch = [PollRecord(name, outcomes[minute], 60.0) for name, outcomes in plan.items() if minute < len(outcomes)]
            record_polls(engine, "me", batch, now=T0 + timedelta(minutes=minute))
        since = failing_since(engine, ["up", "down", "never"])
    finally:
        engine.dispose()
    assert since == {"down": T0 + timedelta(minutes=2), "never": T0}


def test_a_poll_our_database_could_not_take_updates_the_feed_but_not_its_history(db_url: str) -> None:
    engine = db.make_engine(db_url)
    try:
        db.upgrade(engine)
        sync_feeds(engine, [FeedSpec("a", "http://127.0.0.1:1/a", 60)])
        outage = PollReport("", "error", http_status=200, error="database unavailable: database or disk is full")
        [row] = record_polls(engine, "me", [PollRecord("a", outage, 60.0, history=False)], now=T0)
        polls = recent_polls(engine, "a")
    finally:
        engine.dispose()
    assert row is not None and row.consecutive_errors == 1 and row.last_error == outage.error
    assert polls == []
