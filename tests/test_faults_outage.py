"""A PostgreSQL outage under `wirewatch run`: a few clear lines, no traceback, nothing lost or doubled.

The test starts its own cluster (tests/pgcluster.py) so that stopping it disturbs no other test.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.feedserver import FeedServer
from tests.helpers import ACME_WATCHLIST, free_port, rss, wait_for, write_config
from tests.pgcluster import PrivateCluster
from tests.receivers import Receiver


def items_of(feed: int, count: int) -> list[dict[str, str]]:
    return [{"title": f"Acme feed {feed} story {n}", "link": f"http://example.invalid/{feed}/{n}",
             "guid": f"f{feed}-{n}", "body": "<p>Acme " + " ".join(f"w{feed}x{n}x{k}" for k in range(30)) + ".</p>"}
            for n in range(count)]


def readyz(port: int) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2.0) as resp:
            return resp.status, str(json.loads(resp.read())["detail"])
    except urllib.error.HTTPError as err:
        return err.code, str(json.loads(err.read())["detail"])


def webhook_ids(receiver: Receiver) -> list[str]:
    return [{k.lower(): v for k, v in r["headers"].items()}["webhook-id"] for r in receiver.delivered()]


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_outage_is_one_line_down_one_line_up_and_loses_nothing(tmp_path: Path,
                                                                       cluster: PrivateCluster) -> None:
    (tmp_path / "w.yaml").write_text(ACME_WATCHLIST)
    port = free_port()
    with FeedServer() as server, Receiver() as receiver:
        feeds = {}
        for f in range(3):
            server.add(f"/f{f}.xml", rss(items_of(f, 2)))
            feeds[f"f{f}"] = server.url(f"/f{f}.xml")
        config = write_config(tmp_path, feeds, database=cluster.url, watchlists=["w.yaml"],
                              channels={"hook": {"type": "webhook", "url": receiver.url}},
                              extra=f"metrics: {{listen: '127.0.0.1:{port}'}}\nlease: 10s\n"
                                    "retry: {schedule: [0, 1s, 2s, 4s, 8s]}\n")
        config.write_text(config.read_text().replace("interval: 1m", "interval: 2s")
                          .replace("max_bytes: 1MiB", "max_bytes: 1MiB, max_backoff: 4s"))
        log = tmp_path / "daemon.log"
        with log.open("w") as out:
            daemon = subprocess.Popen([sys.executable, "-m", "wirewatch.cli", "--config", str(config), "run"],
                                      stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
        try:
            assert wait_for(lambda: len(set(webhook_ids(receiver))) == 6, timeout=60), log.read_text()
            cluster.stop()
            for f in range(3):  # news arrives during the outage
                server.add(f"/f{f}.xml", rss(items_of(f, 4)))
            assert wait_for(lambda: readyz(port)[0] == 503, timeout=10), log.read_text()
            # the probe's own answer first, then the daemon's jobs' (with the outage's start)
            assert wait_for(lambda: "database unavailable since" in readyz(port)[1], timeout=10), readyz(port)
            time.sleep(8)  # ten seconds down in all
            cluster.start()
            assert wait_for(lambda: len(set(webhook_ids(receiver))) == 12, timeout=60), log.read_text()[-3000:]
            assert wait_for(lambda: readyz(port)[0] == 200, timeout=10)
            assert daemon.poll() is None
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=60) == 0
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
    text = log.read_text()
    assert "Traceback" not in text and " ERROR " not in text, text
    assert text.count("database unavailable (") == 1, text  # one line down …
    assert text.count("database available again after") == 1, text  # … one line up, with the duration
    assert "maximum number of running instances" not in text
    titles = [json.loads(r["body"])["item"]["title"] for r in receiver.delivered()]
    assert len(set(titles)) == 12 and len(set(webhook_ids(receiver))) == 12  # nothing lost, no alert doubled
