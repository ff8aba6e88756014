"""Recording poll outcomes in batches (`feedstore.record_polls`, `daemon.Recorder`) on real SQLite files."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event
from sqlmodel import Session, select

from tests.feedserver import FeedServer
from tests.helpers import rss, write_config
from wirewatch.app import App
from wirewatch.daemon import Recorder, poll_once
from wirewatch.ingest.feedstore import PollRecord, record_polls
from wirewatch.ingest.item import PollReport
from wirewatch.ingest.store import FeedRow

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def test_one_transaction_records_every_feed_of_a_batch(tmp_path: Path) -> None:
    with FeedServer() as server:
        server.add("/f.xml", rss([]))
        app = App.open(write_config(tmp_path, {f"f{i}": server.url("/f.xml") for i in range(3)}))
        try:
            with Session(app.engine) as session:
                for row in session.exec(select(FeedRow)).all():
                    row.claimed_by = "me" if row.name != "f2" else "someone-else"
                    session.add(row)
                session.commit()
            rows = record_polls(app.engine, "me", [
                PollRecord("f0", PollReport("f0", "not-modified", http_status=304, etag='"e0"'), 60.0),
                PollRecord("gone", PollReport("gone", "ok", http_status=200), 60.0),
                PollRecord("f1", PollReport("f1", "error", http_status=500, error="HTTP 500"), 60.0),
                PollRecord("f2", PollReport("f2", "ok", http_status=200, etag='"e2"', new=3), 60.0),
            ], now=NOW)
            assert [r.name if r else None for r in rows] == ["f0", None, "f1", "f2"]
            with Session(app.engine) as session:
                stored = {r.name: r for r in session.exec(select(FeedRow)).all()}
        finally:
            app.close()
    assert (stored["f0"].etag, stored["f0"].last_status, stored["f0"].claimed_by) == ('"e0"', "not-modified", None)
    assert (stored["f1"].consecutive_errors, stored["f1"].last_error) == (1, "HTTP 500")
    assert (stored["f2"].items_total, stored["f2"].claimed_by) == (3, "someone-else")  # not our lease to release


def test_outcomes_that_finish_together_share_one_commit(tmp_path: Path) -> None:
    with FeedServer() as server:
        server.add("/f.xml", rss([]))
        app = App.open(write_config(tmp_path, {f"f{i}": server.url("/f.xml") for i in range(10)}))
        commits: list[int] = []
        event.listen(app.engine, "commit", lambda conn: commits.append(1))
        try:
            recorder = Recorder(app, lambda session, row: None)

            async def finish_together() -> None:
                await asyncio.gather(*(recorder.record(PollRecord(
                    f"f{i}", PollReport(f"f{i}", "not-modified", http_status=304, etag=f'"{i}"'), 60.0))
                    for i in range(10)))

            asyncio.run(finish_together())
            with Session(app.engine) as session:
                etags = {r.name: r.etag for r in session.exec(select(FeedRow)).all()}
        finally:
            app.close()
    assert len(commits) == 1
    assert etags == {f"f{i}": f'"{i}"' for i in range(10)}


def test_a_failed_batch_is_reported_to_every_poll_in_it(tmp_path: Path) -> None:
    with FeedServer() as server:
        server.add("/f.xml", rss([]))
        app = App.open(write_config(tmp_path, {"a": server.url("/f.xml"), "b": server.url("/f.xml")}))
        try:
            asyncio.run(poll_once(app))
            with app.engine.begin() as conn:
                conn.exec_driver_sql("ALTER TABLE feed RENAME TO feed_away")  # the database refuses the write
            recorder = Recorder(app, lambda session, row: None)

            async def both() -> list[BaseException | None]:
                return await asyncio.gather(*(recorder.record(PollRecord(
                    name, PollReport(name, "ok", http_status=200), 60.0)) for name in ("a", "b")),
                    return_exceptions=True)

            failures = asyncio.run(both())
        finally:
            app.close()
    assert len(failures) == 2 and all(isinstance(f, Exception) and "feed" in str(f) for f in failures)
