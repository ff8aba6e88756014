"""Exceptions raised by the alerts side.

    AlertsError
    ├── WatchlistError      a watchlist cannot be compiled (bad alias, unknown id in a rule)
    ├── TemplateError       a channel template failed to render
    └── DeliveryError       a channel could not deliver; carries whether and when to retry
        └── ChannelGoneError  the receiver said the endpoint is gone (HTTP 410): disable the channel
"""

from __future__ import annotations


class AlertsError(Exception):
    """Base of every error raised by `alerts`."""


class WatchlistError(AlertsError, ValueError):
    """A watchlist cannot be compiled into a matcher."""


class TemplateError(AlertsError):
    """A channel template failed to render."""


class DeliveryError(AlertsError):
    """A delivery attempt failed; `retry_after` (seconds) is set when the receiver asked for a delay.

    `status` is the receiver's HTTP status when it answered one (None: no answer, or not HTTP).
    """

    def __init__(self, message: str, retry_after: float | None = None, permanent: bool = False,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent
        self.status = status


class ChannelGoneError(DeliveryError):
    """The receiver answered 410 Gone: the channel is disabled until its config changes."""
