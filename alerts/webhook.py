"""The webhook channel: POST each alert as JSON, signed the Standard Webhooks way.

Headers: `webhook-id` (the delivery's stable message id, the same on every retry, so receivers can
drop repeats), `webhook-timestamp` (seconds, this attempt) and `webhook-signature`
(`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` keyed with the `whsec_` secret).
Responses: 2xx delivered; 410 → `ChannelGoneError`; 429/503 → retry no sooner than Retry-After;
anything else, redirects included, and timeouts are failures to retry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from wirewatch.alerts.errors import ChannelGoneError, DeliveryError, TemplateError
from wirewatch.alerts.render import JsonTemplate, digest_entry, discord_message, slack_message
from wirewatch.config.clock import iso, parse_retry_after, utcnow
from wirewatch.config.models import WebhookChannel

__all__ = ["MAX_RETRY_AFTER", "WebhookSender", "sign"]

MAX_RETRY_AFTER = 24 * 3600.0
USER_AGENT = "wirewatch-webhook/1"


def _secret_key(secret: str) -> bytes:
    raw = secret.removeprefix("whsec_")
    try:
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except ValueError as exc:
        raise ValueError("webhook secret must be whsec_ followed by base64") from exc
    if not key:
        raise ValueError("webhook secret is empty")
    return key


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value for one attempt."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


class WebhookSender:
    """A configured webhook channel; `send` raises `DeliveryError` (or `ChannelGoneError`) on failure."""

    def __init__(self, name: str, config: WebhookChannel, http: httpx.AsyncClient, owns_http: bool = False) -> None:
        self.name = name
        self.config = config
        self.http = http
        self.owns_http = owns_http
        self._key = _secret_key(config.secret) if config.secret else None
        self._template = JsonTemplate(config.template, name) if config.template else None
        parts = urlsplit(config.url)  # never the userinfo: errors and `status` show this
        self._host = f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)

    async def aclose(self) -> None:
        """Close the HTTP client if this channel created it."""
        if self.owns_http:
            await self.http.aclose()

    def _alert_body(self, payload: Mapping[str, Any]) -> bytes:
        if self._template is not None:
            return self._template.render_alert(payload)
        if self.config.format == "slack":
            return _dumps(slack_message([payload]))
        if self.config.format == "discord":
            return _dumps(discord_message([payload]))
        return _dumps(payload)

    def _digest_body(self, payloads: Sequence[Mapping[str, Any]], delivery_id: str) -> bytes:
        if self._template is not None:
            return self._template.render_digest(payloads, delivery_id)
        if self.config.format == "slack":
            return _dumps(slack_message(payloads, digest=True))
        if self.config.format == "discord":
            return _dumps(discord_message(payloads, digest=True))
        return _dumps({
            "type": "alert.digest", "id": delivery_id, "created_at": iso(utcnow()),
            "count": len(payloads), "alerts": [digest_entry(p) for p in payloads],
        })

    async def send(self, payload: Mapping[str, Any], delivery_id: str) -> int:
        """POST one alert, signed, with `delivery_id` as the idempotency id; returns the HTTP status."""
        try:
            body = self._alert_body(payload)
        except TemplateError as exc:
            raise DeliveryError(str(exc), permanent=True) from exc
        return await self.post(body, delivery_id)

    async def send_digest(self, payloads: Sequence[Mapping[str, Any]], delivery_id: str) -> int:
        """POST one message listing every alert of a digest window; returns the HTTP status."""
        try:
            body = self._digest_body(payloads, delivery_id)
        except TemplateError as exc:
            raise DeliveryError(str(exc), permanent=True) from exc
        return await self.post(body, delivery_id)

    def headers(self, body: bytes, delivery_id: str) -> dict[str, str]:
        """Custom headers first, then content type and the Standard Webhooks headers (which win)."""
        timestamp = int(time.time())
        headers = dict(self.config.headers)
        headers.update({
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": delivery_id,
            "webhook-timestamp": str(timestamp),
        })
        if self._key is not None:
            headers["webhook-signature"] = sign(self._key, delivery_id, timestamp, body)
        return headers

    async def post(self, body: bytes, delivery_id: str) -> int:
        """Send a body and turn the outcome into success (the 2xx status) or a `DeliveryError` (with the status)."""
        where = f"channel {self.name!r} ({self._host})"
        try:
            response = await self.http.post(
                self.config.url, content=body, headers=self.headers(body, delivery_id),
                timeout=self.config.timeout, follow_redirects=False,
            )
        except httpx.TimeoutException as exc:
            raise DeliveryError(f"{where}: no answer within {self.config.timeout:g}s ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{where}: {type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return status
        snippet = response.text[:200].replace("\n", " ") if response.content else ""
        message = f"{where}: HTTP {status} {snippet}".rstrip()
        if status == 410:
            raise ChannelGoneError(message + " — endpoint gone; channel disabled until its config changes",
                                   permanent=True, status=status)
        if status in (429, 503):
            raise DeliveryError(message, retry_after=parse_retry_after(response.headers.get("retry-after"),
                                                                        cap=MAX_RETRY_AFTER), status=status)
        if 300 <= status < 400:
            raise DeliveryError(f"{message} — redirects are not followed; point the channel at the final URL",
                                status=status)
        raise DeliveryError(message, status=status)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
