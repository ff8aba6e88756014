"""Log lines: one event a line in text and JSON; structured fields (feed, alert, channel, attempt) as JSON keys."""

from __future__ import annotations

import json
import logging

import pytest

from wirewatch import daemon
from wirewatch.ingest.item import PollReport
from wirewatch.logs import JsonFormatter, TextFormatter, fields


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("wirewatch.test", logging.WARNING, __file__, 1, message, args, None)
    rec.__dict__.update(extra)
    return rec


def test_json_events_carry_fields_as_keys_on_one_line() -> None:
    rec = record("delivery to %s failed:\nline two", "hook",
                 **fields(alert="alt_1", channel="hook", attempt=2, item=7, story=3, feed="a", none=None))
    line = JsonFormatter().format(rec)
    assert "\n" not in line
    event = json.loads(line)
    assert {k: event[k] for k in ("alert", "channel", "attempt", "item", "story", "feed")} == {
        "alert": "alt_1", "channel": "hook", "attempt": 2, "item": 7, "story": 3, "feed": "a"}
    assert "none" not in event and "fields" not in event
    assert event["message"] == "delivery to hook failed:\nline two" and event["level"] == "warning"


def test_fields_do_not_clobber_the_event_keys() -> None:
    event = json.loads(JsonFormatter().format(record("m", **fields(message="x", level="y"))))
    assert (event["message"], event["level"], event["field_message"]) == ("m", "warning", "x")


def test_text_events_are_one_line_and_do_not_repeat_fields() -> None:
    rec = record("reload rejected:\n%s", "a.yaml:3: feeds: bad", **fields(feed="a"), line="two words")
    line = TextFormatter().format(rec)
    assert "\n" not in line and "reload rejected: | a.yaml:3: feeds: bad" in line
    assert "feed=a" not in line and 'line="two words"' in line


def test_secrets_in_fields_are_redacted() -> None:
    line = JsonFormatter().format(record("x", **fields(url="https://user:hunter2@example.invalid/feed")))
    assert "hunter2" not in line


def test_a_poll_is_logged_with_its_feed_as_a_key(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="wirewatch.daemon"):
        daemon.observe(PollReport(feed="reuters", status="ok", http_status=200, new=3, duration=0.25))
    event = json.loads(JsonFormatter().format(caplog.records[-1]))
    assert (event["feed"], event["status"], event["new"], event["http"]) == ("reuters", "ok", 3, 200)
    assert event["message"].startswith("poll reuters ok")
