"""`wirewatch run` under faults, as real processes: a locked SQLite database, SIGTERM mid-delivery.

- Another connection holds SQLite under BEGIN EXCLUSIVE → /readyz answers within a second, 503 with
  a reason, and the busy timeout (`sqlite_busy_timeout`) is logged when it is hit.
- SIGTERM while a slow receiver takes a batch → every answered delivery is recorded, every lease is
  given back, the log holds no ERROR; the next daemon sends the rest at once and nothing twice.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.feedserver import FeedServer
from tests.helpers import ACME_WATCHLIST, free_port, rss, wait_for, write_config
from tests.receivers import Receiver, Reply


def items(count: int) -> list[dict[str, str]]:
    """`count` items naming Acme, each different enough to be its own story."""
    return [{"title": f"Acme story {n}", "link": f"http://example.invalid/{n}", "guid": f"g{n}",
             "body": "<p>Acme " + " ".join(f"w{n}x{k}" for k in range(30)) + ".</p>"} for n in range(count)]


def start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as out:
        return subprocess.Popen([sys.executable, "-m", "wirewatch.cli", "--config", str(config), "run"],
                                stdout=out, stderr=subprocess.STDOUT, cwd=config.parent)


@contextmanager
def running(config: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`wirewatch run` for the block; killed at the end if the block did not stop it."""
    proc = start(config, log)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def readyz(port: int, timeout: float) -> tuple[int, dict[str, object]]:
    """(status, body) of /readyz; raises on no answer within `timeout`."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        return list(conn.execute(sql).fetchall())


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


class ExclusiveLock:
    """Holds `BEGIN EXCLUSIVE` on its own connection, in a thread, until released."""

    def __init__(self, db: Path) -> None:
        self.db, self.taken, self.done = db, threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._hold, daemon=True)

    def _hold(self) -> None:
        conn = sqlite3.connect(self.db, timeout=30, isolation_level=None)
        try:
            conn.execute("BEGIN EXCLUSIVE")
            self.taken.set()
            self.done.wait(60)
            conn.execute("COMMIT")
        finally:
            conn.close()

    def __enter__(self) -> ExclusiveLock:
        self.thread.start()
        assert self.taken.wait(30), "could not take the exclusive lock"
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join(timeout=30)


def test_readyz_answers_within_a_second_while_another_connection_holds_the_database(
        tmp_path: Path, server: FeedServer) -> None:
    server.add("/f.xml", rss(items(2)))
    port = free_port()
    config = write_config(tmp_path, {"f": server.url("/f.xml")},
                          extra=f"metrics: {{listen: '127.0.0.1:{port}'}}\nsqlite_busy_timeout: 2s\n")
    log = tmp_path / "daemon.log"
    with running(config, log) as proc:
        assert wait_for(lambda: "poll f ok" in log.read_text()), log.read_text()
        assert wait_for(lambda: readyz(port, 5)[0] == 200), log.read_text()
        with ExclusiveLock(tmp_path / "wirewatch.db"):
            # the daemon's once-a-second claim now waits for the lock
            assert wait_for(lambda: readyz(port, 1.0)[0] == 503, timeout=5), log.read_text()
            for _ in range(3):  # each answer comes within the bound, every time, while the lock is held
                status, body = readyz(port, 1.0)
                assert status == 503 and "database busy" in str(body["detail"]), body
            assert wait_for(lambda: "SQLite busy timeout hit" in log.read_text(), timeout=10), log.read_text()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1.0) as resp:
                assert resp.status == 200  # alive: merely waiting
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1.0) as resp:
                body = resp.read()  # the metrics server is not blocked either
            # the claim job is stuck on the lock: its next ticks are counted, not warned about
            assert b'wirewatch_jobs_skipped_total{job="dispatch"}' in body
        assert wait_for(lambda: readyz(port, 1.0)[0] == 200, timeout=10)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    text = log.read_text()
    assert "Traceback" not in text and " ERROR " not in text, text
    assert "maximum number of running instances" not in text


def test_sigterm_mid_delivery_records_what_was_answered_and_the_restart_sends_the_rest_once(
        tmp_path: Path, server: FeedServer) -> None:
    count = 40
    server.add("/f.xml", rss(items(count)))
    (tmp_path / "w.yaml").write_text(ACME_WATCHLIST)
    db = tmp_path / "wirewatch.db"
    with Receiver(Reply(delay=0.5)) as receiver:
        config = write_config(tmp_path, {"f": server.url("/f.xml")}, watchlists=["w.yaml"],
                              channels={"hook": {"type": "webhook", "url": receiver.url}})
        first_log = tmp_path / "first.log"
        with running(config, first_log) as first:
            assert wait_for(lambda: len(receiver.requests) >= 4, timeout=60), first_log.read_text()
            first.send_signal(signal.SIGTERM)
            assert first.wait(timeout=30) == 0
        text = first_log.read_text()
        assert " ERROR " not in text and "Traceback" not in text and "CancelledError" not in text, text
        answered = len(receiver.requests)
        assert 0 < answered < count  # stopped mid-batch
        [(delivered, leased)] = query(db, "select sum(state = 'delivered'), sum(claimed_by is not null) "
                                          "from alert_deliveries")
        assert delivered == answered  # every answer was recorded before exit
        assert leased == 0  # every delivery lease was given back
        assert query(db, "select count(*) from feed where claimed_by is not null") == [(0,)]

        receiver.default = Reply()  # the receiver is fast again
        second_log = tmp_path / "second.log"
        with running(config, second_log) as second:
            assert wait_for(lambda: "starting" in second_log.read_text(), timeout=60), second_log.read_text()
            assert wait_for(lambda: len(receiver.requests) >= count, timeout=2.0), (
                len(receiver.requests), second_log.read_text())
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0
    ids = Counter({k.lower(): v for k, v in r["headers"].items()}["webhook-id"] for r in receiver.requests)
    assert len(ids) == count and max(ids.values()) == 1, ids.most_common(3)  # each alert once, no resend
    assert query(db, "select state, count(*) from alert_deliveries group by state") == [("delivered", count)]


def test_sigterm_while_a_send_hangs_past_the_grace_gives_it_back_unsent_and_logs_no_error(
        tmp_path: Path, server: FeedServer) -> None:
    server.add("/f.xml", rss(items(3)))
    (tmp_path / "w.yaml").write_text(ACME_WATCHLIST)
    db = tmp_path / "wirewatch.db"
    with Receiver(Reply(delay=60)) as receiver:  # never answers in time
        config = write_config(tmp_path, {"f": server.url("/f.xml")}, watchlists=["w.yaml"],
                              channels={"hook": {"type": "webhook", "url": receiver.url, "timeout": "60s"}},
                              extra="shutdown_grace: 2s\n")
        first_log = tmp_path / "first.log"
        with running(config, first_log) as first:
            assert wait_for(lambda: len(receiver.requests) == 3, timeout=60), first_log.read_text()
            first.send_signal(signal.SIGTERM)
            assert first.wait(timeout=30) == 0
        text = first_log.read_text()
        assert " ERROR " not in text and "Traceback" not in text and "CancelledError" not in text, text
        assert "gave back 3 unsent deliveries" in text, text
        assert query(db, "select state, attempts, count(*) from alert_deliveries where claimed_by is null "
                         "group by state, attempts") == [("pending", 0, 3)]  # not counted as a try

        receiver.default = Reply()
        second_log = tmp_path / "second.log"
        with running(config, second_log) as second:
            assert wait_for(lambda: len(receiver.requests) == 6, timeout=30), second_log.read_text()  # 3 sent again
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0
    ids = {r["headers"].get("webhook-id") or r["headers"].get("Webhook-Id") for r in receiver.requests}
    assert len(ids) == 3  # the unanswered sends are repeated under the same webhook-id
    assert query(db, "select state, count(*) from alert_deliveries group by state") == [("delivered", 3)]
