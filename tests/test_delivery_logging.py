"""Deliveries explain themselves: alert created, each attempt, a dead delivery; `poll` ends with a summary.
A channel that cannot be built, or whose sender raises, never holds back another channel's deliveries."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.feedserver import FeedServer
from tests.helpers import ACME_WATCHLIST, rss, write_config
from tests.receivers import Receiver, Reply
from tests.test_outbox_helpers import deliver_pass, make_item, make_match, make_story
from wirewatch.alerts.create import create_alerts
from wirewatch.alerts.deliver import build_each
from wirewatch.alerts.outbox import Outbox
from wirewatch.alerts.route import Channel, close_channels
from wirewatch.alerts.tables import DELIVERIES
from wirewatch.config.models import RetryConfig, WebhookChannel

ITEMS = [{"title": "Acme buys a rival", "link": "http://example.invalid/1", "guid": "1",
          "body": "<p>Acme agreed to buy its largest rival for four billion dollars in cash and shares.</p>"}]


def poll(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wirewatch.cli", "--config", str(config), "poll"],
                          capture_output=True, text=True, timeout=120, cwd=config.parent)


def test_poll_logs_alert_each_attempt_and_the_dead_delivery_and_ends_with_a_summary(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text(ACME_WATCHLIST)
    with FeedServer() as server, Receiver(Reply(503)) as receiver:
        server.add("/f.xml", rss(ITEMS))
        config = write_config(tmp_path, {"f": server.url("/f.xml")}, watchlists=["w.yaml"],
                              channels={"hook": {"type": "webhook", "url": receiver.url}},
                              extra="retry: {schedule: [0, 1s]}\n")
        first = poll(config)
        assert first.returncode == 0, first.stderr
        time.sleep(1.2)  # the retry is due
        second = poll(config)
        assert second.returncode == 0, second.stderr
    assert len(receiver.requests) == 2
    one = first.stderr
    assert "alert alt_" in one and "created: alert.created of story" in one and "watchlist 'acme'" in one
    assert " WARNING " in one and "to 'hook' failed (attempt 1): " in one and "HTTP 503; next try in 1s" in one
    assert one.rstrip().splitlines()[-1] == "deliveries: 0 sent, 1 retrying, 0 dead", one
    two = second.stderr
    assert " ERROR " in two and "to 'hook' is dead after 2 attempts: " in two
    assert "wirewatch alerts retry" in two  # what the user can do about it
    assert two.rstrip().splitlines()[-1] == "deliveries: 0 sent, 0 retrying, 1 dead", two


class Raising:
    """A channel whose sender has a bug: every send raises something that is not a DeliveryError."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def send(self, payload: Mapping[str, Any], delivery_id: str) -> None:
        raise RuntimeError("sender bug")

    async def send_digest(self, payloads: Sequence[Mapping[str, Any]], delivery_id: str) -> None:
        raise RuntimeError("sender bug")


def states(engine: Engine) -> dict[str, list[str]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(DELIVERIES.c.channel, DELIVERIES.c.state).order_by(DELIVERIES.c.id)).all()
    out: dict[str, list[str]] = {}
    for channel, state in rows:
        out.setdefault(channel, []).append(state)
    return out


def test_a_broken_channel_never_blocks_the_others(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    with Session(engine) as session:
        for n in range(3):
            create_alerts(session, make_item(n), make_story(n), [make_match()], {"acme": ["good", "unbuildable",
                                                                                          "raising"]})
        session.commit()
    with Receiver() as receiver:
        configs = {"good": WebhookChannel.model_validate({"type": "webhook", "url": receiver.url}),
                   "unbuildable": WebhookChannel.model_validate({"type": "webhook", "url": receiver.url,
                                                                 "template": "{{ broken"})}
        with caplog.at_level(logging.ERROR, logger="wirewatch.delivery"):
            built = build_each(configs)
        assert sorted(built) == ["good"]  # the one that cannot be built is left out, the other is built
        assert "channel 'unbuildable' cannot be built" in caplog.text
        channels: dict[str, Channel] = {**built, "raising": Raising("raising")}

        async def go() -> dict[str, int]:
            try:
                return await deliver_pass(Outbox(engine, "w", RetryConfig(schedule=[0, 60])), channels)
            finally:
                await close_channels(built)

        counts = asyncio.run(go())
    assert counts["delivered"] == 3 and counts["retrying"] == 3
    assert len(receiver.delivered()) == 3
    assert states(engine) == {"good": ["delivered"] * 3, "unbuildable": ["pending"] * 3,
                              "raising": ["retrying"] * 3}


def test_poll_delivers_everything_due_not_one_batch(tmp_path: Path) -> None:
    """More alerts than one delivery pass claims: `poll` keeps passing until nothing is due."""
    (tmp_path / "w.yaml").write_text(ACME_WATCHLIST)
    words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike".split()
    items = [{"title": f"Acme item {n}", "link": f"http://example.invalid/{n}", "guid": str(n),
              "body": "<p>Acme " + " ".join(words[(n * k) % len(words)] + str(n * k) for k in range(1, 40))
                      + "</p>"} for n in range(300)]
    with FeedServer() as server, Receiver() as receiver:
        server.add("/f.xml", rss(items))
        config = write_config(tmp_path, {"f": server.url("/f.xml")}, watchlists=["w.yaml"],
                              channels={"hook": {"type": "webhook", "url": receiver.url}})
        done = poll(config)
    assert done.returncode == 0, done.stderr
    ids = {r["headers"].get("webhook-id") for r in receiver.requests}
    assert len(receiver.requests) == len(ids) == 300  # each alert once, none left pending
    assert done.stderr.rstrip().splitlines()[-1] == "deliveries: 300 sent, 0 retrying, 0 dead"
