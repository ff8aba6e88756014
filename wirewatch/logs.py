"""Logging set-up: one line per event, text or JSON, with secrets redacted."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

_SECRET_PATTERNS = [
    (re.compile(r"(?P<pre>[a-z][a-z0-9+.-]*://)[^/@\s:]+:[^/@\s]+@", re.IGNORECASE), r"\g<pre>***:***@"),
    # user:password@host without the scheme (a URL's netloc quoted in an error message)
    (re.compile(r"(?P<pre>[\s('\"])[^\s/@:()'\"*]+:[^\s/@()'\"]+@(?=[\w\[])"), r"\g<pre>***:***@"),
    (re.compile(r"whsec_[A-Za-z0-9+/=]+"), "whsec_***"),
    (re.compile(r"(?i)(?P<k>[?&](?:token|access_token|api_key|apikey|key|secret|password|sig|signature)=)[^&\s]+"),
     r"\g<k>***"),
    (re.compile(r"(?i)(?P<k>authorization:\s*)(?:bearer|basic)?\s*\S+"), r"\g<k>***"),
]
_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime"}


def redact(text: str) -> str:
    """Remove credentials in URLs, webhook secrets, tokens in query strings and auth headers."""
    for pattern, repl in _SECRET_PATTERNS:
        text = pattern.sub(repl, text)
    return text


class TextFormatter(logging.Formatter):
    """`time level logger message key=value…`, redacted."""

    def format(self, record: logging.LogRecord) -> str:
        """Render one record as a single line."""
        extra = " ".join(f"{k}={v}" for k, v in record.__dict__.items() if k not in _STANDARD)
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        line = f"{when} {record.levelname:<7} {record.name} {record.getMessage()}" + (f" {extra}" if extra else "")
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
        data.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(data, ensure_ascii=False, default=str))


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
