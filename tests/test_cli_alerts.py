"""`wirewatch alerts` as a person reads it: an aligned table, filters, JSON lines, retry by the ids shown, enable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.feedserver import FeedServer
from tests.helpers import rss, write_config
from tests.receivers import Receiver, Reply
from wirewatch.config.clock import utcnow
from wirewatch.reports import clip, display_width, format_table, next_poll

ROOT = Path(__file__).resolve().parent.parent
WATCHLIST = """\
watchlist: tech
channels: [hook]
entities:
  - {id: MSFT, name: Microsoft, aliases: [Microsoft, 微软]}
  - {id: AMZN, name: Amazon, aliases: [Amazon]}
"""
ITEMS = [{"title": "微软发布财报，云业务大幅增长", "link": "http://example.invalid/1", "guid": "1",
          "body": "<p>微软云业务增长。</p>"},
         {"title": "Amazon opens a new warehouse", "link": "http://example.invalid/2", "guid": "2",
          "body": "<p>Amazon said it would hire.</p>"}]


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wirewatch.cli", *args], capture_output=True, text=True,
                          timeout=120, env=env, cwd=ROOT)


@pytest.fixture
def gone(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A polled setup whose only channel answered 410: both deliveries dead, the channel disabled."""
    server = FeedServer().start()
    server.add("/f.xml", rss(ITEMS))
    with Receiver(default=Reply(410)) as receiver:
        (tmp_path / "tech.yaml").write_text(WATCHLIST, encoding="utf-8")
        config = write_config(tmp_path, {"f": server.url("/f.xml")}, watchlists=["tech.yaml"],
                              channels={"hook": {"type": "webhook", "url": receiver.url}})
        env = dict(os.environ, WIREWATCH_CONFIG=str(config))
        assert cli("poll", env=env).returncode == 0
        yield env
    server.stop()


def column_at(line: str, start: int) -> int:
    """The display column at which character index `start` of `line` sits."""
    return display_width(line[:start])


def test_alerts_table_is_aligned_with_cjk_titles_and_filters(gone: dict[str, str]) -> None:
    out = cli("alerts", env=gone)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:5] == ["ID", "ALERT", "WATCHLIST", "CHANNEL", "STATE"] and len(lines) == 3
    assert any("微软" in line for line in lines)
    # the last column (after the CJK title) starts at the same display column on every row
    header_at = column_at(lines[0], lines[0].index("LAST ERROR"))
    for line in lines[1:]:
        error_at = line.index("410") if "410" in line else line.index("gone")
        assert column_at(line, line.rindex("  ", 0, error_at) + 2) == header_at, lines
    rows = [json.loads(line) for line in cli("alerts", "--json", env=gone).stdout.splitlines()]
    assert {r["state"] for r in rows} == {"dead"} and len(rows) == 2
    assert {"id", "public_id", "message_id", "channel", "state", "watchlist", "title"} <= set(rows[0])
    assert len(cli("alerts", "--limit", "1", env=gone).stdout.splitlines()) == 2
    assert len(cli("alerts", "--json", "--state", "delivered", env=gone).stdout.splitlines()) == 0
    assert len(cli("alerts", "--json", "--channel", "hook", "--watchlist", "tech", env=gone).stdout.splitlines()) == 2
    for flag in ("--channel", "--watchlist"):
        bad = cli("alerts", flag, "nope", env=gone)
        assert bad.returncode == 2 and "nope" in bad.stderr


def test_retry_takes_the_ids_alerts_shows(gone: dict[str, str]) -> None:
    rows = [json.loads(line) for line in cli("alerts", "--json", env=gone).stdout.splitlines()]
    first, second = rows
    by_alert = cli("alerts", "retry", first["public_id"], env=gone)
    assert by_alert.returncode == 0 and by_alert.stdout.strip() == "requeued 1 deliveries", by_alert.stderr
    by_message = cli("alerts", "retry", second["message_id"], env=gone)
    assert by_message.stdout.strip() == "requeued 1 deliveries"
    states = {r["id"]: r["state"] for r in map(json.loads, cli("alerts", "--json", env=gone).stdout.splitlines())}
    assert states == {first["id"]: "pending", second["id"]: "pending"}
    again = cli("alerts", "retry", str(first["id"]), env=gone)  # pending now: nothing to requeue, said so
    assert again.returncode == 1 and "pending" in again.stderr
    for ref in ("999", "alt_NOPE", "msg_NOPE", "banana"):
        bad = cli("alerts", "retry", ref, env=gone)
        assert bad.returncode == 2 and "Traceback" not in bad.stderr and "invalid literal" not in bad.stderr, ref


def test_enable_re_enables_a_channel_disabled_by_410(gone: dict[str, str]) -> None:
    assert "channel hook: disabled" in cli("status", env=gone).stdout
    out = cli("alerts", "enable", "hook", env=gone)
    assert out.returncode == 0 and "re-enabled" in out.stdout, out.stderr
    assert "channel hook: disabled" not in cli("status", env=gone).stdout
    assert "not disabled" in cli("alerts", "enable", "hook", env=gone).stdout
    bad = cli("alerts", "enable", "nope", env=gone)
    assert bad.returncode == 2 and "nope" in bad.stderr


@pytest.mark.parametrize(("text", "width"), [("abc", 3), ("微软", 4), ("ｱｲ", 2), ("e\u0301", 1), ("", 0),
                                             ("Ａ1", 3), ("한국", 4)])
def test_display_width(text: str, width: int) -> None:
    assert display_width(text) == width


def test_format_table_aligns_by_display_width() -> None:
    table = format_table([["A", "B"], ["微软", "x"], ["ab", "y"]]).splitlines()
    assert [column_at(line, line.rindex(" ") + 1) for line in table] == [6, 6, 6]
    assert display_width(clip("微软发布财报", 7)) <= 7 and clip("微软发布财报", 7).endswith("…")
    assert clip("short", 10) == "short"


def test_alert_rows_say_when_a_waiting_delivery_is_due() -> None:
    from wirewatch.alerts.tables import DeliveryInfo
    from wirewatch.reports import alert_rows

    now = utcnow()
    base = {"message_id": "msg_1", "channel": "hook", "attempts": 1, "last_error": "HTTP 503\nretry",
            "created_at": now - timedelta(hours=3), "delivered_at": None, "digest_id": None,
            "public_id": "alt_1", "watchlist": "w", "title": "微软", "type": "alert.created"}
    late = DeliveryInfo(id=1, state="retrying", next_attempt_at=now - timedelta(hours=2), **base)  # type: ignore[arg-type]
    soon = DeliveryInfo(id=2, state="pending", next_attempt_at=now + timedelta(minutes=5), **base)  # type: ignore[arg-type]
    rows = alert_rows([late, soon], now)
    assert [r[7] for r in rows[1:]] == ["overdue 2h", "in 5m"]
    assert rows[1][9] == "HTTP 503 retry"


def test_next_poll_is_honest_when_nobody_polls() -> None:
    now = utcnow()
    assert next_poll(now + timedelta(minutes=4), now) == "in 4m"
    assert next_poll(now - timedelta(seconds=5), now) == "due"
    assert next_poll(now - timedelta(hours=2), now) == "overdue 2h"
    assert "ago" not in next_poll(now - timedelta(minutes=1, seconds=30), now)
    assert next_poll(now, now, enabled=False) == "-"
