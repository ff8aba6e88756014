"""`wirewatch reprocess` says what it does about alerts; `--alert` creates those new matches imply, each once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.feedserver import FeedServer
from tests.helpers import rss, write_config
from tests.receivers import Receiver

ROOT = Path(__file__).resolve().parent.parent
TECH = "watchlist: tech\nchannels: [hook]\nentities:\n  - {id: MSFT, name: Microsoft, aliases: [Microsoft]}\n"
CLOUD = "watchlist: cloud\nchannels: [hook]\nentities:\n  - {id: AZURE, name: Azure, aliases: [Azure]}\n"
ITEMS = [{"title": "Microsoft results", "link": "http://example.invalid/1", "guid": "1",
          "body": "<p>Microsoft beat estimates; Azure grew 40%.</p>"},
         {"title": "Azure outage", "link": "http://example.invalid/2", "guid": "2",
          "body": "<p>Azure had an outage in one region for two hours on Monday.</p>"}]


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wirewatch.cli", *args], capture_output=True, text=True,
                          timeout=120, env=env, cwd=ROOT)


def test_reprocess_alert_creates_each_implied_alert_once(tmp_path: Path) -> None:
    server = FeedServer().start()
    server.add("/f.xml", rss(ITEMS))
    try:
        with Receiver() as receiver:
            (tmp_path / "watchlists").mkdir()
            (tmp_path / "watchlists" / "tech.yaml").write_text(TECH, encoding="utf-8")
            config = write_config(tmp_path, {"f": server.url("/f.xml")}, watchlists=["watchlists/*.yaml"],
                                  channels={"hook": {"type": "webhook", "url": receiver.url}})
            env = dict(os.environ, WIREWATCH_CONFIG=str(config))
            assert cli("poll", env=env).returncode == 0
            assert [b["watchlist"] for b in receiver.bodies()] == ["tech"]
            (tmp_path / "watchlists" / "cloud.yaml").write_text(CLOUD, encoding="utf-8")  # a new watchlist
            plain = cli("reprocess", env=env)
            assert plain.returncode == 0 and "no alerts created" in plain.stderr and "--alert" in plain.stderr
            assert len(cli("alerts", "--json", env=env).stdout.splitlines()) == 1
            first = cli("reprocess", "--alert", env=env)
            assert first.returncode == 0 and "created 2 alerts (cloud 2)" in first.stderr, first.stderr
            again = cli("reprocess", "--alert", env=env)
            assert "no new alerts" in again.stderr  # each story × watchlist alerts once
            rows = [json.loads(line) for line in cli("alerts", "--json", env=env).stdout.splitlines()]
            assert sorted(r["watchlist"] for r in rows) == ["cloud", "cloud", "tech"]
            assert cli("poll", env=env).returncode == 0
            bodies = receiver.bodies()
            assert sorted(b["watchlist"] for b in bodies) == ["cloud", "cloud", "tech"]
            assert all(b["story"]["sources"] for b in bodies)
    finally:
        server.stop()
