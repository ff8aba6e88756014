"""The attempt history: one `delivery_attempt` row per try of a delivery or digest, and one log line.

A try records when it started and finished, the receiver's HTTP status, the error (redacted: pages and
the CLI show it) and what came of it (`AttemptOutcome`); a claim given back unsent records `given-back`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wirewatch.alerts.errors import DeliveryError
from wirewatch.alerts.outboxlog import log, log_fields
from wirewatch.alerts.outboxstore import attempts_of
from wirewatch.alerts.tables import AttemptOutcome, Claim, Outcome
from wirewatch.config.redaction import redact

__all__ = ["ATTEMPT_OUTCOMES", "Sent", "attempt_row", "attempts_of", "log_attempt"]

ATTEMPT_OUTCOMES: Mapping[Outcome, str] = {
    Outcome.DELIVERED: AttemptOutcome.SENT, Outcome.RETRYING: AttemptOutcome.RETRY,
    Outcome.DEAD: AttemptOutcome.DEAD, Outcome.GONE: AttemptOutcome.DEAD,
}  # the attempt each recorded outcome writes; a lost lease writes none


@dataclass(frozen=True, slots=True)
class Sent:
    """How one send went, as the attempt history records it: when it started, the receiver's HTTP status."""

    started_at: datetime
    http_status: int | None = None


def attempt_row(claim: Claim, error: DeliveryError | None, outcome: str, sent: Sent | None,
                now: datetime) -> dict[str, Any]:
    """The `delivery_attempt` row of one try (error text redacted: it is shown on pages and by the CLI)."""
    started = min(sent.started_at, now) if sent is not None else now
    status = sent.http_status if sent is not None and sent.http_status is not None else getattr(error, "status", None)
    text = redact(str(error))[:2000] if error is not None else (
        "not sent: the daemon was stopping; due again at once" if outcome == AttemptOutcome.GIVEN_BACK else None)
    return {"delivery_id": claim.id if claim.kind == "delivery" else None,
            "digest_id": claim.id if claim.kind == "digest" else None, "channel": claim.channel,
            "attempt": claim.attempts + 1, "started_at": started, "finished_at": now, "http_status": status,
            "error": text, "outcome": outcome}


def log_attempt(claim: Claim, error: DeliveryError | None, outcome: Outcome, next_at: datetime | None,
                 now: datetime) -> None:
    """One line per delivery attempt: the channel, what happened, and what comes next."""
    alert = claim.payloads[0].get("id", "?") if claim.payloads else "?"
    what = f"{claim.kind} {claim.id} of alert {alert}" if claim.kind == "delivery" else \
        f"digest {claim.id} ({len(claim.payloads)} alerts)"
    attempt = claim.attempts + 1
    keys = {"delivery" if claim.kind == "delivery" else "digest": claim.id}
    info = log_fields(alert=alert if claim.kind == "delivery" else None, channel=claim.channel, attempt=attempt,
                      outcome=ATTEMPT_OUTCOMES.get(outcome, outcome.value), status=getattr(error, "status", None),
                      error=str(error) if error is not None else None,
                      next_attempt_at=next_at.isoformat() if next_at is not None else None, **keys)
    if error is None:
        log.info("%s to %r delivered (attempt %d)", what, claim.channel, attempt, extra=info)
    elif outcome in (Outcome.DEAD, Outcome.GONE):
        requeue = f"wirewatch alerts retry {claim.id}" if claim.kind == "delivery" else "wirewatch alerts retry --all-dead"
        log.error("%s to %r is dead after %d attempts: %s; fix the channel, then `%s`",
                  what, claim.channel, attempt, error, requeue, extra=info)
    else:
        wait = f"in {(next_at - now).total_seconds():.0f}s" if next_at is not None else "later"
        log.warning("%s to %r failed (attempt %d): %s; next try %s", what, claim.channel, attempt, error, wait,
                    extra=info)
