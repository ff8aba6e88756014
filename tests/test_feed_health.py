"""Feed health: a feed failing N polls in a row raises `feed.unhealthy` to the ops channels, then `feed.recovered`."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.feedserver import FeedServer
from tests.helpers import rss, write_config
from tests.receivers import Receiver
from wirewatch.app import App
from wirewatch.config.clock import utcnow
from wirewatch.daemon import poll_once
from wirewatch.ingest.feedhealth import FAILING, OK, SILENT, assess, transition

ITEM = [{"title": "t", "link": "http://example.invalid/1", "guid": "1", "body": "<p>Some text about markets.</p>"}]


@dataclass(frozen=True)
class Facts:
    """Plain values: assess needs no database row."""

    consecutive_errors: int
    last_error: str | None
    last_new_item_at: datetime | None
    new_item_gap: float | None


@pytest.mark.parametrize(("errors", "last_new_hours", "gap_hours", "state"), [
    (0, None, None, OK),
    (2, None, None, OK),
    (3, None, None, FAILING),
    (0, 5, 1, OK),  # 5 h silent, usually hourly: within max(10 × 1 h, 6 h)
    (0, 11, 1, SILENT),  # 11 h silent, usually hourly
    (0, 30, 24, OK),  # a daily feed one day late is fine
])
def test_assess(errors: int, last_new_hours: float | None, gap_hours: float | None, state: str) -> None:
    now = utcnow()
    row = Facts(errors, "HTTP 500", now - timedelta(hours=last_new_hours) if last_new_hours else None,
                gap_hours * 3600 if gap_hours else None)
    assert assess(row, now, failures=3, silence_factor=10, min_silence=6 * 3600)[0] == state


def test_transitions() -> None:
    assert transition(OK, OK, "ok") is None
    down = transition(OK, FAILING, "3 polls failed")
    assert down is not None and down.event == "feed.unhealthy"
    up = transition(FAILING, OK, "ok")
    assert up is not None and up.event == "feed.recovered"


def test_failing_feed_raises_unhealthy_then_recovered_through_the_outbox(tmp_path: Path) -> None:
    receiver = Receiver().start()
    try:
        with FeedServer() as server:
            server.add("/f.xml", b"down", status=500)
            channels = {"ops": {"type": "webhook", "url": receiver.url, "secret": "whsec_dGVzdHNlY3JldA=="}}
            config = write_config(tmp_path, {"f": server.url("/f.xml")}, channels=channels,
                                  extra="ops_channels: [ops]\nfeed_health: {failures: 2}\n")
            app = App.open(config)
            try:
                for _ in range(3):
                    asyncio.run(poll_once(app))
                server.add("/f.xml", rss(ITEM))
                asyncio.run(poll_once(app))
                asyncio.run(poll_once(app))
            finally:
                app.close()
    finally:
        receiver.close()
    events = [json.loads(str(r["body"])) for r in receiver.delivered()]
    assert [e["type"] for e in events] == ["feed.unhealthy", "feed.recovered"]
    assert events[0]["feed"]["name"] == "f" and "500" in events[0]["feed"]["reason"]
    assert events[0]["item"]["title"] == "Feed f is failing"
