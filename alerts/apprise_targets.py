"""The URLs of an Apprise channel as targets: what each service accepts, and how to name it safely.

    AppriseTarget    one URL: its key (`url_hash`), its label (Apprise's privacy form), its limits and
                     the pieces of the URL to redact from error messages (URLs carry tokens)
    chat_limits      the format and lengths one Apprise service accepts
    load_plugins     Apprise's plugins, loaded once

Apprise is imported inside the functions, so importing `alerts` does not load it.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import unquote

from wirewatch.alerts.apprisestore import url_hash

__all__ = ["AppriseTarget", "ChatLimits", "apprise_target", "chat_limits", "load_plugins"]


@dataclass(frozen=True, slots=True)
class ChatLimits:
    """What one Apprise service takes: the format to render, and title/body lengths (title 0: no title)."""

    fmt: str
    max_body: int
    max_title: int


def chat_limits(plugin: Any) -> ChatLimits:
    """The limits of an instantiated Apprise service; Markdown wherever it accepts Markdown."""
    from apprise import NotifyFormat

    fmt = str(getattr(plugin.resolve_format(NotifyFormat.MARKDOWN), "value", "text"))
    body, title = int(plugin.body_maxlen), max(0, int(plugin.title_maxlen))
    buffer = max(0, int(getattr(plugin, "overflow_buffer", 0)))
    if title and getattr(plugin, "overflow_amalgamate_title", False):
        body -= min(title + int(getattr(plugin, "overflow_max_display_count_width", 0)), title, body)
    json_cap = int(getattr(plugin, "ntfy_json_upstream_size_limit", 0) or 0)
    if json_cap:  # ntfy: a bigger JSON body (non-ASCII is 6 bytes escaped) turns into a file attachment
        body = min(body, (json_cap - 6 * title - 256) // 6)
    return ChatLimits(fmt, max(1, body - buffer), title)


@cache
def load_plugins() -> None:
    """Load Apprise's plugins once; some import deprecated modules (imghdr) that warn at import."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import apprise

        manager: Any = apprise.manager_plugins.NotificationManager
        manager().load_modules()


@dataclass(frozen=True, slots=True)
class AppriseTarget:
    """One URL of a channel: its hash (the key of its state), its privacy label, limits and secrets."""

    url: str = field(repr=False)
    key: str
    label: str
    limits: ChatLimits
    secrets: tuple[str, ...] = field(repr=False)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def apprise_target(channel: str, index: int, url: str, asset: Any) -> AppriseTarget:
    """The target for `urls[index]` of `channel`; ValueError naming the scheme when Apprise cannot use it."""
    from apprise import Apprise

    plugin: Any = Apprise.instantiate(url, asset=asset)
    if plugin is None:
        scheme = url.partition("://")[0][:20] if "://" in url else "?"
        raise ValueError(f"channel {channel!r}: urls[{index}] ({scheme}://…) is not a URL Apprise can use; "
                         "check it against `apprise --details` or the Apprise wiki")
    label = str(plugin.url(privacy=True)).partition("?")[0]
    visible = set(re.split(r"[/:@?&=#.]+", label))
    pieces = {p for p in re.split(r"[/:@?&=#.]+", url) if len(p) >= 4 and p not in visible}
    secrets = sorted(pieces | {unquote(p) for p in pieces}, key=len, reverse=True)
    return AppriseTarget(url, url_hash(url), label, chat_limits(plugin), tuple(secrets))
