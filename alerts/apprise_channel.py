"""The chat channel: alerts and digests sent through Apprise, one outbox delivery fanned out to every URL.

    AppriseSender     the channel (`send`, `send_digest`, `aclose`); each URL's success is recorded under
                      the delivery id (`alerts.apprisestore`), so a retry skips the URLs already done

Rendering is `alerts.apprise_render`, the URLs as targets with their limits `alerts.apprise_targets`.
URLs carry tokens: errors name a URL by Apprise's privacy form, with anything secret redacted.
Apprise is imported inside the methods, so importing `alerts` does not load it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from wirewatch.alerts.apprise_render import (
    ELLIPSIS,
    ChatTemplate,
    excerpt_lines,
    render_chat,
    render_chat_digest,
    title_line,
)
from wirewatch.alerts.apprise_targets import AppriseTarget, ChatLimits, apprise_target, load_plugins
from wirewatch.alerts.apprisestore import delivered_urls, record_urls
from wirewatch.alerts.errors import DeliveryError, TemplateError
from wirewatch.alerts.route import Database
from wirewatch.config.models import AppriseChannel

__all__ = ["SEND_TIMEOUT", "AppriseSender"]

SEND_TIMEOUT = 30.0  # seconds for one URL, connection and retries included


class AppriseSender:
    """A configured Apprise channel; a retry of a delivery sends only to the URLs that failed it."""

    def __init__(self, name: str, config: AppriseChannel, db: Database | None,
                 timeout: float = SEND_TIMEOUT) -> None:
        from apprise import AppriseAsset

        load_plugins()
        self.name = name
        self.config = config
        self.db = db
        self.timeout = timeout
        self._asset = AppriseAsset(service_timeout=timeout, storage_mode="memory", secure_logging=True)
        self._targets = [apprise_target(name, i, url, self._asset) for i, url in enumerate(dict.fromkeys(config.urls))]
        self._template = ChatTemplate(config.template, name) if config.template else None
        self._memory: dict[str, set[str]] = {}  # per-URL state when there is no database

    async def aclose(self) -> None:
        """Nothing to release: every send uses its own Apprise object."""

    async def send(self, payload: Mapping[str, Any], delivery_id: str) -> None:
        """Deliver one alert to every URL not yet done for `delivery_id`."""
        context = {**payload, "alert": payload, "alerts": None, "digest": None,
                   "title": title_line(payload), "excerpt": "\n".join(excerpt_lines(payload))}
        await self._deliver(delivery_id, partial(render_chat, payload), context)

    async def send_digest(self, payloads: Sequence[Mapping[str, Any]], delivery_id: str) -> None:
        """Deliver one message listing the alerts of a digest window."""
        context = {"alerts": list(payloads), "alert": None, "digest": {"id": delivery_id, "count": len(payloads)}}
        await self._deliver(delivery_id, partial(render_chat_digest, payloads), context)

    def _render(self, render: Callable[[str, int, int], tuple[str, str]], context: Mapping[str, Any],
                limits: ChatLimits) -> tuple[str, str]:
        title, body = render(limits.fmt, limits.max_body, limits.max_title)
        if self._template is not None:  # the template makes the body; the title stays ours
            body = self._template.render(limits.fmt, context, limits.max_body)
        return title, body

    async def _deliver(self, delivery_id: str, render: Callable[[str, int, int], tuple[str, str]],
                       context: Mapping[str, Any]) -> None:
        done = await self._done(delivery_id)
        pending = [t for t in self._targets if t.key not in done]
        if not pending:
            return
        try:
            messages = [self._render(render, context, t.limits) for t in pending]
        except TemplateError as exc:
            raise DeliveryError(str(exc), permanent=True) from exc
        errors = await asyncio.gather(*(self._notify(t, *m) for t, m in zip(pending, messages, strict=True)))
        sent = [t.key for t, error in zip(pending, errors, strict=True) if error is None]
        if sent:
            await self._mark(delivery_id, sent)
        failed = [f"{t.label}: {error}" for t, error in zip(pending, errors, strict=True) if error is not None]
        if failed:
            raise DeliveryError(f"channel {self.name!r}: {len(failed)} of {len(self._targets)} URLs failed, "
                                f"will retry only those: {'; '.join(failed)}")

    async def _notify(self, target: AppriseTarget, title: str, body: str) -> str | None:
        """Send to one URL; None on success, else why (secrets redacted)."""
        import apprise
        from apprise import Apprise
        from apprise.common import OverflowMode

        plugin = Apprise.instantiate(target.url, asset=self._asset)  # fresh: no throttle state shared
        if plugin is None:
            return "Apprise no longer accepts this URL"
        plugin.overflow_mode = OverflowMode.TRUNCATE  # a safety net: one message, never split
        notifier = Apprise(asset=self._asset)
        notifier.add(plugin)
        try:
            result = await notifier.async_notify(body=body or ELLIPSIS, title=title,
                                                 body_format=target.limits.fmt, timeout=self.timeout)
        except Exception as exc:  # an Apprise bug must fail this URL only
            return f"unexpected {type(exc).__name__}"
        try:
            if result:
                return None
            if result.status == apprise.AppriseResultStatus.TIMEOUT:
                return f"no answer within {self.timeout:g}s"
            problems = [e.message for e in result.logs() if str(e.level) in ("WARNING", "ERROR", "CRITICAL")]
            return target.redact(str(problems[-1])[:300]) if problems else "failed"
        finally:
            result.close()

    # --- per-URL state ---------------------------------------------------------------------

    async def _done(self, delivery_id: str) -> set[str]:
        """The URLs this delivery already reached (on the database gateway's threads)."""
        if self.db is None:
            return set(self._memory.get(delivery_id, ()))
        return await self.db.run(delivered_urls, self.db.engine, delivery_id)

    async def _mark(self, delivery_id: str, keys: list[str]) -> None:
        """Record the URLs this delivery just reached (on the database gateway's threads)."""
        if self.db is None:
            self._memory.setdefault(delivery_id, set()).update(keys)
            return
        await self.db.run(record_urls, self.db.engine, delivery_id, keys)
