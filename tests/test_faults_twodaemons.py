"""Two daemons on one PostgreSQL database: both poll (work spreads while both are idle), nothing twice."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.feedserver import FeedServer
from tests.helpers import rss, wait_for, write_config

ITEM = [{"title": "Quiet day", "link": "http://example.invalid/q", "guid": "q",
         "body": "<p>Nothing happened on the markets today, said everyone who was asked about it.</p>"}]


def polls(log: Path, after: int = 0) -> Counter[str]:
    """Polls logged by one daemon, by outcome (from character `after` of its log on)."""
    return Counter(re.findall(r"poll f\d+ (ok|not-modified|error)", log.read_text()[after:]))


@pytest.mark.slow
@pytest.mark.postgres
def test_two_idle_daemons_on_one_database_both_poll(tmp_path: Path, pg_url: str) -> None:
    with FeedServer() as server:
        feeds = {}
        for f in range(10):
            server.add(f"/f{f}.xml", rss(ITEM))
            feeds[f"f{f}"] = server.url(f"/f{f}.xml")
        config = write_config(tmp_path, feeds, database=pg_url)
        config.write_text(config.read_text().replace("interval: 1m, jitter: 0", "interval: 2s, jitter: 0.2"))
        logs = [tmp_path / "a.log", tmp_path / "b.log"]
        daemons = []
        for log in logs:
            with log.open("w") as out:
                daemons.append(subprocess.Popen([sys.executable, "-m", "wirewatch.cli", "--config", str(config),
                                                 "run"], stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path))
        try:
            # both running and polling (the second may wait for the first's migrations), then count
            assert wait_for(lambda: all(polls(log) for log in logs), timeout=60)
            marks = [len(log.read_text()) for log in logs]
            time.sleep(15)  # about seven rounds of ten feeds
            for d in daemons:
                d.send_signal(signal.SIGTERM)
            assert all(d.wait(timeout=60) == 0 for d in daemons)
        finally:
            for d in daemons:
                if d.poll() is None:
                    d.kill()
                    d.wait()
    counts = [sum(polls(log, mark).values()) for log, mark in zip(logs, marks, strict=True)]
    total = sum(counts)
    assert total >= 30, counts
    assert min(counts) >= total // 4, counts  # both take a fair part, not one daemon all of it
    for log in logs:
        text = log.read_text()
        assert "maximum number of running instances" not in text and "Traceback" not in text, text
