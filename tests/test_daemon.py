"""`wirewatch run` as a real process: signals, reload, metrics and health, against local servers."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import native_built
from tests.feedserver import FeedServer
from tests.helpers import free_port, rss, wait_for, write_config

ITEMS = [{"title": f"Story {i}", "link": f"http://example.invalid/{i}", "guid": f"g{i}",
          "body": f"<p>Body number {i} with enough words to be a real paragraph about markets.</p>"}
         for i in range(3)]






@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


def start(config: Path, *extra: str) -> subprocess.Popen[str]:
    """Start `wirewatch run` on a config, logs to a file next to it."""
    log = open(config.parent / "daemon.log", "w")  # closed with the process
    return subprocess.Popen([sys.executable, "-m", "wirewatch.cli", "--config", str(config), *extra, "run"],
                            stdout=log, stderr=subprocess.STDOUT, text=True, cwd=config.parent)


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    proc.send_signal(sig)
    return proc.wait(timeout=timeout)


def count_items(db: Path) -> int:
    """Items stored so far (0 while the daemon is still creating the database)."""
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("select count(*) from item").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def test_sigterm_during_a_poll_lets_it_finish_and_exits_zero(tmp_path: Path, server: FeedServer) -> None:
    server.add("/slow.xml", rss(ITEMS), delay=2.0)
    config = write_config(tmp_path, {"slow": server.url("/slow.xml")}, extra="shutdown_grace: 10s\n")
    proc = start(config)
    try:
        assert wait_for(lambda: server.hits("/slow.xml") > 0), (tmp_path / "daemon.log").read_text()
        assert stop(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    log = (tmp_path / "daemon.log").read_text()
    assert "stopping: finishing 1 in-flight polls" in log
    db = tmp_path / "wirewatch.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("select story_id from item").fetchall()
        leases = conn.execute("select count(*) from feed where claimed_by is not null").fetchone()[0]
    assert len(rows) == 3 and all(r[0] is not None for r in rows)  # the in-flight poll finished whole
    assert leases == 0  # leases given back on a clean stop


def test_sigint_stops_cleanly_too(tmp_path: Path, server: FeedServer) -> None:
    server.add("/f.xml", rss(ITEMS))
    proc = start(write_config(tmp_path, {"f": server.url("/f.xml")}))
    try:
        assert wait_for(lambda: (tmp_path / "wirewatch.db").exists() and count_items(tmp_path / "wirewatch.db") == 3)
        assert stop(proc, signal.SIGINT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_sighup_adds_feeds_and_keeps_running_config_on_a_bad_edit(tmp_path: Path, server: FeedServer) -> None:
    server.add("/a.xml", rss(ITEMS[:1]))
    server.add("/b.xml", rss(ITEMS[1:]))
    config = write_config(tmp_path, {"a": server.url("/a.xml")})
    proc = start(config)
    try:
        assert wait_for(lambda: server.hits("/a.xml") > 0)
        write_config(tmp_path, {"a": server.url("/a.xml"), "b": server.url("/b.xml")})
        proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: server.hits("/b.xml") > 0), (tmp_path / "daemon.log").read_text()
        assert wait_for(lambda: count_items(tmp_path / "wirewatch.db") == 3)
        config.write_text(config.read_text() + "feeds_typo: []\n")
        proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "reload rejected" in (tmp_path / "daemon.log").read_text())
        assert proc.poll() is None  # still running on the old config
        assert stop(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    log = (tmp_path / "daemon.log").read_text()
    assert "feeds_typo: unknown key" in log


def test_metrics_health_and_redacted_logs(tmp_path: Path, server: FeedServer) -> None:
    server.add("/f.xml", rss(ITEMS))
    port = free_port()
    secret_url = f"http://user:hunter2@127.0.0.1:{server.port}/missing?token=abc123"
    (tmp_path / "w.yaml").write_text("watchlist: w\nchannels: [screen]\nentities:\n"
                                     "  - {id: BODY, name: Body, aliases: [Body number]}\n", encoding="utf-8")
    config = write_config(tmp_path, {"f": server.url("/f.xml"), "secret": secret_url}, watchlists=["w.yaml"],
                          channels={"screen": {"type": "console"}},
                          extra=f"metrics: {{listen: '127.0.0.1:{port}'}}\n")
    proc = start(config, "--log-format", "json")
    try:
        assert wait_for(lambda: server.hits("/f.xml") > 0 and server.hits("/missing") > 0)

        def metrics() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
                return str(resp.read().decode())

        assert wait_for(lambda: 'wirewatch_polls_total{outcome="ok"}' in metrics())
        # the three items are near-copies: one story, so one alert
        assert wait_for(lambda: "wirewatch_delivery_latency_seconds_count 1.0" in metrics())
        body = metrics()
        assert 'wirewatch_items_total{kind="new"} 3.0' in body
        assert 'wirewatch_matches_total{watchlist="w"} 3.0' in body
        assert "wirewatch_alerts_created_total 1.0" in body
        assert 'wirewatch_deliveries_total{outcome="delivered"} 1.0' in body
        assert "wirewatch_stories_created_total 1.0" in body
        assert "wirewatch_outbox_depth 0.0" in body
        assert 'wirewatch_feed_staleness_seconds{feed="f"}' in body
        assert 'wirewatch_polls_total{outcome="error"}' in body
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            assert resp.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as resp:
            assert resp.status == 200
        health = subprocess.run([sys.executable, "-m", "wirewatch.cli", "--config", str(config), "health"],
                                capture_output=True, text=True, timeout=30)
        assert health.returncode == 0, health.stderr
        assert stop(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    log = (tmp_path / "daemon.log").read_text()
    assert "hunter2" not in log and "abc123" not in log
    assert '"level": "warning"' in log  # JSON lines
    assert ('"matcher": "native"' if native_built() else '"matcher": "python (alerts._scan was not built') in log
    gone = subprocess.run([sys.executable, "-m", "wirewatch.cli", "--config", str(config), "health"],
                          capture_output=True, text=True, timeout=30)
    assert gone.returncode == 1  # no daemon, no health


def test_cli_poll_status_export_and_version(tmp_path: Path, server: FeedServer) -> None:
    server.add("/f.xml", rss(ITEMS))
    config = write_config(tmp_path, {"f": server.url("/f.xml"), "down": "http://127.0.0.1:9/x"})
    env = dict(os.environ, WIREWATCH_CONFIG=str(config))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "wirewatch.cli", *args], capture_output=True, text=True,
                              env=env, timeout=60)

    assert cli("check").returncode == 0
    polled = cli("poll")
    assert polled.returncode == 0, polled.stderr  # a failing feed is recorded, not an exit code
    status = cli("status").stdout
    assert "failing" in status and "down" in status and "f " in status
    export = cli("export", "--format", "jsonl", "--feed", "f").stdout.splitlines()
    assert len(export) == 3
    assert cli("export", "--since", "1d").stdout.count("\n") == 3
    assert cli("poll", "--feed", "nope").returncode == 2
    assert cli("--version").stdout.startswith("wirewatch ")
    assert cli("stories").stdout.startswith("STORY")


def test_editing_a_watchlist_file_reloads_it_and_a_bad_edit_is_rejected(tmp_path: Path, server: FeedServer) -> None:
    server.add("/f.xml", rss(ITEMS))
    (tmp_path / "watchlists").mkdir()
    wl = tmp_path / "watchlists" / "w.yaml"
    wl.write_text("watchlist: w\nentities:\n  - {id: A, name: Alpha, aliases: [Alpha]}\n", encoding="utf-8")
    config = write_config(tmp_path, {"f": server.url("/f.xml")}, watchlists=["watchlists/*.yaml"])
    proc = start(config)
    log = tmp_path / "daemon.log"
    try:
        assert wait_for(lambda: server.hits("/f.xml") > 0)
        time.sleep(1.1)  # a new mtime
        wl.write_text("watchlist: w\nentities:\n  - {id: B, name: Beta, aliases: [Beta]}\n", encoding="utf-8")
        assert wait_for(lambda: "reloaded: 1 feeds, 1 watchlists" in log.read_text()), log.read_text()
        wl.write_text("watchlist: w\nentities:\n  - {id: B, name: Beta, aliases: [B]}\n", encoding="utf-8")
        assert wait_for(lambda: "reload rejected" in log.read_text()), log.read_text()
        assert proc.poll() is None
        assert stop(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "aliases: alias 'B' is shorter than 2 characters" in log.read_text()
