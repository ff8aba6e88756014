"""Routing: which channels a watchlist alerts, and the channel objects built from config.

`routes_from(watchlists)` gives `create_alerts` what it needs per watchlist (channels, whether
updates alert, the hourly cap); a plain `{watchlist: [channel, ...]}` mapping works as well.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, TypeVar, runtime_checkable

import httpx
from sqlalchemy.engine import Engine

from wirewatch.alerts.console import ConsoleSender
from wirewatch.alerts.webhook import WebhookSender
from wirewatch.config.models import AppriseChannel, ConsoleChannel, EmailChannel, WebhookChannel
from wirewatch.config.watchlist import WatchlistConfig

__all__ = ["Channel", "ChannelConfig", "Database", "Route", "build_channels", "channel_problems",
           "close_channels", "route_of", "routes_from"]

ChannelConfig = WebhookChannel | EmailChannel | AppriseChannel | ConsoleChannel
T = TypeVar("T")


class Database(Protocol):
    """The database as the delivery pass and the channels reach it from the event loop.

    The composition root's `wirewatch.gateway.Gateway`: its engine, and `run`, which does blocking
    database work on its threads (one writer on SQLite), never on the event loop or a thread of its own.
    """

    @property
    def engine(self) -> Engine:
        """The engine the work runs against."""
        ...

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(*args, **kwargs)` on the database threads and wait for its result."""
        ...


@dataclass(frozen=True, slots=True)
class Route:
    """Where one watchlist's alerts go and how many per hour go out at once."""

    channels: tuple[str, ...]
    updates: bool = False
    max_per_hour: int | None = None


def route_of(value: Route | Sequence[str]) -> Route:
    """Accept a `Route` or a bare list of channel names."""
    if isinstance(value, Route):
        return value
    if isinstance(value, str):
        return Route(channels=(value,))
    return Route(channels=tuple(value))


def routes_from(watchlists: Iterable[WatchlistConfig]) -> dict[str, Route]:
    """The route of every watchlist, keyed by its name."""
    return {
        w.watchlist: Route(channels=tuple(w.channels), updates=w.updates, max_per_hour=w.max_per_hour)
        for w in watchlists
    }


@runtime_checkable
class Channel(Protocol):
    """Something that can deliver an alert, or a digest of alerts; raises `DeliveryError` on failure."""

    name: str

    async def send(self, payload: Mapping[str, Any], delivery_id: str) -> int | None:
        """Deliver one alert; `delivery_id` is the stable idempotency id; the HTTP status, if the channel has one."""

    async def send_digest(self, payloads: Sequence[Mapping[str, Any]], delivery_id: str) -> int | None:
        """Deliver one message listing several alerts; the HTTP status, if the channel has one."""


def _apprise(name: str, config: AppriseChannel, db: Database | None) -> Channel:
    from wirewatch.alerts.apprise_channel import AppriseSender

    channel: Channel = AppriseSender(name, config, db)
    return channel


def build_channels(configs: Mapping[str, ChannelConfig], http: httpx.AsyncClient | None = None,
                   db: Database | None = None) -> dict[str, Channel]:
    """Channel objects for every enabled channel config; one shared HTTP client for webhooks.

    When `http` is None a client is created; close it with `close_channels`. `db` lets
    Apprise channels remember which of their URLs a delivery already reached.
    Raises `TemplateError` for a template that does not compile, naming the channel.
    """
    from wirewatch.alerts.email import EmailSender  # local: keeps smtplib out of webhook-only imports

    client = http
    channels: dict[str, Channel] = {}
    for name, config in configs.items():
        if not config.enabled:
            continue
        if isinstance(config, WebhookChannel):
            owns = client is None
            if client is None:
                client = httpx.AsyncClient(limits=httpx.Limits(max_connections=64))
            channels[name] = WebhookSender(name, config, client, owns_http=owns)
        elif isinstance(config, EmailChannel):
            channels[name] = EmailSender(name, config)
        elif isinstance(config, ConsoleChannel):
            channels[name] = ConsoleSender(name, config=config)
        else:
            channels[name] = _apprise(name, config, db)
    return channels


Loc = tuple[str | int, ...]


def channel_problems(configs: Mapping[str, ChannelConfig]) -> list[tuple[Loc, str]]:
    """Build what each enabled channel builds when it starts, sending nothing; `(path in the config, message)` per fault.

    Catches at load what would otherwise fail every delivery: a template that does not compile, an Apprise
    URL that Apprise cannot parse, Apprise itself missing. Paths are like `("channels", "desk", "template")`.
    """
    problems: list[tuple[Loc, str]] = []
    for name, config in configs.items():
        if not config.enabled:
            continue
        at: Loc = ("channels", name)
        if isinstance(config, WebhookChannel) and config.template:
            from wirewatch.alerts.render import JsonTemplate

            problems += _template_problem(at + ("template",), partial(JsonTemplate, config.template, name))
        elif isinstance(config, AppriseChannel):
            problems += _apprise_problems(name, config, at)
    return problems


def _template_problem(at: Loc, compile_template: Callable[[], object]) -> list[tuple[Loc, str]]:
    from wirewatch.alerts.errors import TemplateError

    try:
        compile_template()
    except TemplateError as exc:
        return [(at, f"the Jinja2 template does not compile: {str(exc).partition(': ')[2] or exc}")]
    return []


def _apprise_problems(name: str, config: AppriseChannel, at: Loc) -> list[tuple[Loc, str]]:
    from apprise import AppriseAsset

    from wirewatch.alerts.apprise_render import ChatTemplate
    from wirewatch.alerts.apprise_targets import apprise_target, load_plugins

    load_plugins()
    asset = AppriseAsset(storage_mode="memory", secure_logging=True)
    problems: list[tuple[Loc, str]] = []
    for i, url in enumerate(config.urls):
        try:
            apprise_target(name, i, url, asset)
        except ValueError as exc:
            problems.append((at + ("urls", i), str(exc).partition(": ")[2] or str(exc)))
    if config.template:
        problems += _template_problem(at + ("template",), partial(ChatTemplate, config.template, name))
    return problems


async def close_channels(channels: Mapping[str, Channel]) -> None:
    """Release what channels hold (the HTTP client `build_channels` created; a client passed in stays open)."""
    for channel in channels.values():
        close = getattr(channel, "aclose", None)
        if close is not None:
            await close()
