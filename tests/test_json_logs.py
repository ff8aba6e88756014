"""`--log-format json`: every stderr line of `wirewatch poll` is one JSON event, and the events carry their
fields (feed, item, story, alert, channel, attempt) as keys (#18 point 9)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.feedserver import FeedServer
from tests.helpers import rss, write_config
from tests.receivers import Receiver, Reply

ITEMS = [{"title": "Acme buys a rival", "link": "http://example.invalid/1", "guid": "1",
          "body": "<p>Acme agreed to buy its largest rival for four billion dollars in cash and shares.</p>"}]


def poll_json(tmp_path: Path) -> list[dict[str, Any]]:
    (tmp_path / "w.yaml").write_text(
        "watchlist: acme\nchannels: [hook]\nentities:\n  - {id: ACME, name: Acme, aliases: [Acme]}\n")
    with FeedServer() as server, Receiver(Reply(500, body=b"down")) as receiver:
        server.add("/f.xml", rss(ITEMS))
        config = write_config(tmp_path, {"f": server.url("/f.xml")}, watchlists=["w.yaml"],
                              channels={"hook": {"type": "webhook", "url": receiver.url}},
                              extra="retry: {schedule: [0]}\n")
        done = subprocess.run([sys.executable, "-m", "wirewatch.cli", "--config", str(config), "poll",
                               "--log-format", "json", "--log-level", "debug"],
                              capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(receiver.requests) == 1
    lines = done.stderr.splitlines()
    events = []
    for line in lines:
        event = json.loads(line)  # every line is one JSON object
        assert isinstance(event, dict) and {"time", "level", "logger", "message"} <= event.keys(), line
        events.append(event)
    return events


def only(events: list[dict[str, Any]], predicate: Any) -> dict[str, Any]:
    found = [e for e in events if predicate(e)]
    assert len(found) == 1, [e["message"] for e in events]
    return found[0]


def test_poll_with_a_dead_receiver_logs_json_events_with_their_fields(tmp_path: Path) -> None:
    events = poll_json(tmp_path)
    created = only(events, lambda e: " created: alert.created" in e["message"])
    assert created["alert"].startswith("alt_") and created["channel"] == ["hook"]
    assert isinstance(created["story"], int) and isinstance(created["item"], int) and created["watchlist"] == "acme"
    dead = only(events, lambda e: "is dead after" in e["message"])
    assert dead["level"] == "error"
    assert (dead["alert"], dead["channel"], dead["attempt"], dead["outcome"], dead["status"]) == (
        created["alert"], "hook", 1, "dead", 500)
    assert isinstance(dead["delivery"], int)
    stored = only(events, lambda e: e.get("event") == "item.new")
    assert (stored["feed"], stored["item"], stored["story"]) == ("f", created["item"], created["story"])
    polled = only(events, lambda e: e["logger"] == "wirewatch.daemon" and e["message"].startswith("poll f "))
    assert (polled["feed"], polled["status"], polled["new"]) == ("f", "ok", 1)
    result = only(events, lambda e: e.get("event") == "poll.result")
    assert (result["feed"], result["status"], result["new"]) == ("f", "ok", 1)
    summary = events[-1]
    assert summary["event"] == "poll.deliveries" and summary["dead"] == 1
    assert summary["message"] == "deliveries: 0 sent, 0 retrying, 1 dead"
