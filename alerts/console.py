"""The console channel: print a readable block per alert (the demo uses it)."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from wirewatch.alerts.render import alert_lines
from wirewatch.config.models import ConsoleChannel

__all__ = ["ConsoleSender", "format_alert"]


def format_alert(payload: Mapping[str, Any]) -> str:
    """One alert as a framed block of text, control characters removed."""
    kind = "UPDATED" if payload.get("type") == "alert.updated" else "ALERT"
    lines = alert_lines(payload)
    return "\n".join([f"== {kind} {lines[0]}", *("   " + line for line in lines[1:]), ""])


class ConsoleSender:
    """Writes alerts to standard output (or any text stream)."""

    def __init__(self, name: str, stream: TextIO | None = None, config: ConsoleChannel | None = None) -> None:
        self.name = name
        self.config = config
        self._stream = stream

    def _write(self, text: str) -> None:
        stream = self._stream or sys.stdout
        stream.write(text + "\n")
        stream.flush()

    async def send(self, payload: Mapping[str, Any], delivery_id: str) -> None:
        """Print one alert."""
        self._write(format_alert(payload))

    async def send_digest(self, payloads: Sequence[Mapping[str, Any]], delivery_id: str) -> None:
        """Print a digest: a header, then every alert."""
        self._write(f"== DIGEST {len(payloads)} alerts ({delivery_id})")
        for payload in payloads:
            self._write(format_alert(payload))
