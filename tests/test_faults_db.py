"""Database faults under real processes: nothing crashes, nothing is lost, nothing is stored twice.

- SQLite: another connection holds the write lock while `wirewatch poll` is storing → it waits
  (busy timeout) and stores everything once.
- SQLite on a full disk (a small tmpfs; needs root) → the poll records the error on the feeds, the
  database stays intact, and once space returns the next poll stores everything once.
- PostgreSQL (a private cluster) restarted under `wirewatch run` → the daemon keeps running, reconnects, retries what
  was interrupted, and every item is stored and alerted exactly once.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.feedserver import FeedServer
from tests.helpers import ACME_WATCHLIST, rss, wait_for, write_config
from tests.pgcluster import PrivateCluster
from tests.receivers import Receiver

KB = 1024


def items_of(feed: int, count: int, words: int = 30) -> list[dict[str, str]]:
    """`count` distinct items of feed number `feed`, each naming Acme, with `words` words of body."""
    return [{"title": f"Acme feed {feed} story {n}", "link": f"http://example.invalid/{feed}/{n}",
             "guid": f"f{feed}-{n}",
             "body": "<p>Acme " + " ".join(f"w{feed}x{n}x{k}" for k in range(words)) + ".</p>"}
            for n in range(count)]


def serve(server: FeedServer, feeds: int, per_feed: int, words: int = 30, delay: float = 0.0) -> dict[str, str]:
    """Serve `feeds` feeds of `per_feed` items; name → URL."""
    urls = {}
    for f in range(feeds):
        server.add(f"/f{f}.xml", rss(items_of(f, per_feed, words)), delay=delay)
        urls[f"f{f}"] = server.url(f"/f{f}.xml")
    return urls


def cli(config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wirewatch.cli", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=config.parent)




def sqlite_query(db: Path, sql: str) -> list[tuple[object, ...]]:
    """Run one read on its own connection, closed at once (a WAL reader never waits for the writer)."""
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        return list(conn.execute(sql).fetchall())


def stored(db: Path) -> tuple[int, int, int]:
    """(items, distinct feed+identity, items without a story)."""
    [row] = sqlite_query(db, "select count(*), count(distinct feed || '|' || identity), "
                             "coalesce(sum(story_id is null), 0) from item")
    return int(str(row[0])), int(str(row[1])), int(str(row[2]))


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


# --- SQLite: a writer lock held elsewhere --------------------------------------------------------


class LockHolder:
    """Holds SQLite's write lock (BEGIN IMMEDIATE) on its own connection in a thread until `release()`."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.acquired = threading.Event()
        self._release = threading.Event()
        self.thread = threading.Thread(target=self._run, name="sqlite-lock-holder", daemon=True)

    def _run(self) -> None:
        conn = sqlite3.connect(self.db, timeout=30, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            self.acquired.set()
            self._release.wait(60)
            conn.execute("COMMIT")
        finally:
            conn.close()

    def start(self) -> None:
        self.thread.start()
        assert self.acquired.wait(30), "could not take the write lock"

    def release(self) -> None:
        self._release.set()
        self.thread.join(timeout=30)


def test_sqlite_poll_waits_for_another_writer_and_loses_nothing(tmp_path: Path, server: FeedServer) -> None:
    feeds = serve(server, feeds=3, per_feed=5, delay=1.0)  # fetching takes a second: time to take the lock
    config = write_config(tmp_path, feeds)
    config.write_text(config.read_text().replace("max_bytes: 1MiB", "max_bytes: 1MiB, per_host: 8"))  # all at once
    assert cli(config, "db", "upgrade").returncode == 0
    db = tmp_path / "wirewatch.db"
    poll = subprocess.Popen([sys.executable, "-m", "wirewatch.cli", "--config", str(config), "poll"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    holder = LockHolder(db)
    try:
        assert wait_for(lambda: all(server.hits(f"/f{f}.xml") for f in range(3)))  # feeds claimed, fetching
        holder.start()
        time.sleep(2.5)  # the fetches end meanwhile; every store now waits for the lock
        assert poll.poll() is None, "poll ended while another connection held the write lock"
        assert stored(db)[0] == 0
    finally:
        holder.release()
    out, err = poll.communicate(timeout=60)
    assert poll.returncode == 0, err
    assert "locked" not in err and "error" not in out + err.replace("error=", ""), err
    assert stored(db) == (15, 15, 0)
    assert sqlite_query(db, "select last_status, count(*) from feed group by last_status") == [("ok", 3)]
    again = cli(config, "poll")
    assert "new=0 updated=0 duplicate=5" in again.stderr and stored(db) == (15, 15, 0)


# --- SQLite: the disk fills up -------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs mounted for this test (skipped where mounting is not allowed); always unmounted."""
    mount = shutil.which("mount")
    if mount is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run([mount, "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield disk
    finally:
        if subprocess.run(["umount", str(disk)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def fill(disk: Path, leave: int) -> Path:
    """Fill the file system with one file, then give back `leave` bytes; returns the filler."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as f:
        block = b"\1" * (64 * KB)
        with contextlib.suppress(OSError):
            while True:
                f.write(block)
    if leave:
        os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


def test_sqlite_full_disk_records_errors_keeps_the_database_and_loses_nothing(tmp_path: Path, server: FeedServer,
                                                                             small_disk: Path) -> None:
    feeds = serve(server, feeds=3, per_feed=10, words=1500)  # about 20 KB per item
    db = small_disk / "wirewatch.db"
    config = write_config(tmp_path, feeds, database=f"sqlite:///{db}")
    from wirewatch.app import App

    App.open(config).close()  # schema, index scheme and feed rows in place (`status` is read-only now)

    filler = fill(small_disk, leave=0)  # no room at all: not even SQLite's side files can be made
    full = cli(config, "poll")
    assert full.returncode == 1 and full.stderr.startswith("error: ") and "Traceback" not in full.stderr
    filler.unlink()
    assert sqlite_query(db, "pragma integrity_check") == [("ok",)]

    fill(small_disk, leave=64 * KB)  # room for bookkeeping, not for 600 KB of items
    nearly = cli(config, "poll")
    assert nearly.returncode == 0, nearly.stderr
    assert sqlite_query(db, "pragma integrity_check") == [("ok",)]
    assert stored(db) == (0, 0, 0)
    rows = sqlite_query(db, "select name, last_status, consecutive_errors, last_error, items_total, claimed_by "
                            "from feed order by name")
    assert [r[:3] for r in rows] == [(f"f{f}", "error", 1) for f in range(3)]
    assert all("disk is full" in str(r[3]) for r in rows)
    assert all(r[4] == 0 and r[5] is None for r in rows)  # nothing counted as stored; leases given back

    (small_disk / "filler").unlink()  # space returns
    after = cli(config, "poll")
    assert after.returncode == 0 and after.stderr.count(": ok new=10 ") == 3, after.stderr
    assert sqlite_query(db, "pragma integrity_check") == [("ok",)]
    assert stored(db) == (30, 30, 0)
    assert sqlite_query(db, "select sum(items_total), sum(consecutive_errors) from feed") == [(30, 0)]
    assert "duplicate=10" in cli(config, "poll").stderr and stored(db) == (30, 30, 0)


# --- PostgreSQL restarted under the daemon -------------------------------------------------------
# On a private cluster (tests/pgcluster.py): stopping the shared server on 5432 would break other tests.


def pg_started_at(url: str) -> object:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=5) as conn:
        return conn.execute("select pg_postmaster_start_time()").fetchone()


def pg_count(url: str, sql: str) -> tuple[object, ...]:
    """One row from the test database (psycopg URL form); empty tuple while unreachable."""
    try:
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3) as conn:
            return tuple(conn.execute(sql).fetchone() or ())
    except psycopg.Error:
        return ()


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_restart_under_the_daemon_is_survived_without_loss_or_doubles(
        tmp_path: Path, server: FeedServer, cluster: PrivateCluster) -> None:
    pg_url = cluster.url
    feeds = serve(server, feeds=6, per_feed=4, delay=1.5)  # polls stay in flight for 1.5 s
    (tmp_path / "watchlist.yaml").write_text(ACME_WATCHLIST)
    with Receiver() as receiver:
        config = write_config(tmp_path, feeds, database=pg_url, watchlists=["watchlist.yaml"],
                              channels={"hook": {"type": "webhook", "url": receiver.url}},
                              extra="lease: 10s\nretry: {schedule: [0, 1s, 2s, 4s, 8s]}\n")
        config.write_text(config.read_text().replace("interval: 1m", "interval: 2s")
                          .replace("max_bytes: 1MiB", "max_bytes: 1MiB, max_backoff: 4s, per_host: 8"))
        log = tmp_path / "daemon.log"
        with log.open("w") as out:
            daemon = subprocess.Popen([sys.executable, "-m", "wirewatch.cli", "--config", str(config), "run"],
                                      stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
        try:
            assert wait_for(lambda: all(server.hits(f"/f{f}.xml") for f in range(6))), log.read_text()
            before = pg_started_at(pg_url)
            cluster.stop()
            time.sleep(3)  # the fetches end while the database is down: their stores fail
            cluster.start()
            assert pg_started_at(pg_url) != before  # it really restarted
            # new items arrive after the restart: the daemon must still be polling
            for f in range(6):
                server.add(f"/f{f}.xml", rss(items_of(f, 5)), delay=0.2)
            every = "select count(*), count(distinct (feed, identity)), count(story_id) from item"
            assert wait_for(lambda: pg_count(pg_url, every) == (30, 30, 30), timeout=90), (
                pg_count(pg_url, every), log.read_text()[-3000:])
            alerts = "select count(*), count(distinct story_id) from alerts"
            assert wait_for(lambda: len(set(delivered_ids(receiver))) >= 30, timeout=60), log.read_text()[-3000:]
            assert daemon.poll() is None, "the daemon stopped"
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=60) == 0
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
        text = log.read_text()
        assert text.count("database unavailable (") == 1  # the outage was felt, and said once
        assert "database available again after" in text and "Traceback" not in text
        assert "never retrieved" not in text  # every failure was handled, none escaped a task
        assert pg_count(pg_url, every) == (30, 30, 30)
        assert pg_count(pg_url, "select count(*) from story") == (30,)
        assert pg_count(pg_url, alerts) == (30, 30)  # one alert per story, none doubled by a retry
        ids = delivered_ids(receiver)
        assert len(set(ids)) == 30  # every alert delivered; a repeat (if any) carries the same webhook-id
        titles = [json.loads(r["body"])["item"]["title"] for r in receiver.delivered()]
        assert len(set(titles)) == 30


def delivered_ids(receiver: Receiver) -> list[str]:
    """The webhook-id of every delivered request."""
    return [{k.lower(): v for k, v in r["headers"].items()}["webhook-id"] for r in receiver.delivered()]
