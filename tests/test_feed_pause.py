"""Pausing a feed: the state is in the database, a paused feed is never claimed, `status` shows it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import Session

from tests.feedserver import FeedServer
from tests.helpers import rss, write_config
from wirewatch import db
from wirewatch.ingest.feedstore import FeedSpec, claim_due, list_feeds, set_paused, sync_feeds

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_paused_feed_is_not_claimed_until_resumed(db_url: str) -> None:
    engine = db.make_engine(db_url)
    try:
        db.upgrade(engine)
        sync_feeds(engine, [FeedSpec("a", "http://a.example/f", 60), FeedSpec("b", "http://b.example/f", 60)], T0)
        later = T0 + timedelta(hours=1)
        with Session(engine) as session:
            assert set_paused(session, "a", True, later) is True
            assert set_paused(session, "nope", True, later) is False
            session.commit()
        claimed = claim_due(engine, "w1", 60, 10, now=later + timedelta(hours=1))
        assert [r.name for r in claimed] == ["b"]
        assert claim_due(engine, "w2", 60, 10, names=["a"], now=later, due_only=False) == []
        with Session(engine) as session:  # pausing twice keeps the first time
            assert set_paused(session, "a", True, later + timedelta(hours=5))
            session.commit()
        paused = {r.name: r.paused_at for r in list_feeds(engine)}
        assert paused["a"] is not None and paused["a"].replace(tzinfo=UTC) == later
        assert paused["b"] is None
        sync_feeds(engine, [FeedSpec("a", "http://a.example/f", 60), FeedSpec("b", "http://b.example/f", 60)], later)
        assert next(r for r in list_feeds(engine) if r.name == "a").paused_at is not None  # a sync keeps it
        with Session(engine) as session:
            assert set_paused(session, "a", False, later)
            session.commit()
        claimed = claim_due(engine, "w3", 60, 10, names=["a"], now=later + timedelta(hours=2))
        assert [r.name for r in claimed] == ["a"]
    finally:
        engine.dispose()


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wirewatch.cli", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_cli_pause_stops_polls_and_status_shows_it(tmp_path: Path) -> None:
    with FeedServer() as server:
        server.add("/a.xml", rss([{"title": "t", "link": "http://example.invalid/1", "guid": "1", "body": "b"}]))
        server.add("/b.xml", rss([]))
        config = write_config(tmp_path, {"a": server.url("/a.xml"), "b": server.url("/b.xml")})
        env = dict(os.environ, WIREWATCH_CONFIG=str(config))
        out = _cli("feeds", "pause", "a", env=env)
        assert out.returncode == 0, out.stderr
        assert "a: paused" in out.stdout
        assert _cli("poll", env=env).returncode == 0
        assert server.hits("/a.xml") == 0 and server.hits("/b.xml") == 1
        status = _cli("status", env=env).stdout
        line_a = next(line for line in status.splitlines() if line.startswith("a "))
        assert "paused" in line_a
        assert "paused" not in next(line for line in status.splitlines() if line.startswith("b "))
        missing = _cli("feeds", "pause", "nope", env=env)
        assert missing.returncode == 2 and "no feed named 'nope'" in missing.stderr
        assert _cli("feeds", "resume", "a", env=env).returncode == 0
        assert _cli("poll", env=env).returncode == 0
        assert server.hits("/a.xml") == 1
