"""The outbox's log: one logger for alert creation, sends and their records, and its structured fields.

The modules split out of `outbox.py` (create, attempts, channel state, the delivery pass) keep writing
as `wirewatch.alerts.outbox`, so log filters written against that name keep matching.
"""

from __future__ import annotations

import logging

__all__ = ["log", "log_fields"]

log = logging.getLogger("wirewatch.alerts.outbox")


def log_fields(**values: object) -> dict[str, object]:
    """`extra=` for a log call: the structured fields `wirewatch.logs` puts in JSON lines (None dropped)."""
    return {"fields": {k: v for k, v in values.items() if v is not None}}
