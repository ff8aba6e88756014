"""Logging set-up: one line per event, text or JSON, with secrets redacted.

Structured fields: `log.info("poll %s ok", name, extra=fields(feed=name, new=3))`. In JSON each
field is a key of the event's object (`"feed": "a", "new": 3`); in text the message already says
it, so `fields` are not repeated. Other `extra` keys show in both (text: `key=value`).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from wirewatch.config.redaction import redact

__all__ = ["JsonFormatter", "TextFormatter", "fields", "line", "redact", "setup"]

_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime", "fields"}
_RESERVED = ("time", "level", "logger", "message", "exception")


def fields(**values: object) -> dict[str, object]:
    """`extra=` for a log call: structured fields (feed, item, story, alert, channel, attempt…); None dropped."""
    return {"fields": {k: v for k, v in values.items() if v is not None}}


def _text_value(value: object) -> str:
    if isinstance(value, dict):
        value = ",".join(f"{k}:{v}" for k, v in value.items())
    elif isinstance(value, list | tuple | set):
        value = ",".join(map(str, value))
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if not text or any(c.isspace() or c in '="' for c in text) else text


def _one_line(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", " | ") if "\n" in text else text


class TextFormatter(logging.Formatter):
    """`time level logger message key=value…` on one line (newlines become ` | `), redacted."""

    def format(self, record: logging.LogRecord) -> str:
        """Render one record as a single line."""
        extra = " ".join(f"{k}={_text_value(v)}" for k, v in record.__dict__.items() if k not in _STANDARD)
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        line = f"{when} {record.levelname:<7} {record.name} {_one_line(record.getMessage())}" + (
            f" {extra}" if extra else "")
        if record.exc_info:
            line += " | " + self.formatException(record.exc_info).replace("\n", " | ")
        return redact(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, redacted."""

    def format(self, record: logging.LogRecord) -> str:
        """Render one record as a JSON line."""
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        structured = record.__dict__.get("fields")
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if isinstance(structured, dict):
            extras.update(structured)
        data.update({f"field_{k}" if k in _RESERVED else k: v for k, v in extras.items()})
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(data, ensure_ascii=False, default=str))


def line(fmt: str, logger: str, message: str, **values: object) -> str:
    """One event as a line for a report printed at any log level: `message` in text, a JSON event with fields in JSON."""
    if fmt != "json":
        return redact(message)
    record = logging.LogRecord(logger, logging.INFO, "", 0, message, None, None)
    record.__dict__.update(fields(**values))
    return JsonFormatter().format(record)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at the time of each record (it may be replaced, e.g. in tests)."""

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        return


def setup(fmt: str = "text", level: str = "INFO") -> None:
    """Send logs to stderr in the chosen format."""
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "apscheduler", "alembic", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Apprise's debug lines carry the service URLs and tokens in forms `redact` cannot know (bot paths).
    logging.getLogger("apprise").setLevel(max(logging.INFO, logging.getLogger().level))
