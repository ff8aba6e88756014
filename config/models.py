"""Pydantic models of the main configuration file (`wirewatch.yaml`), one per section.

Every model forbids unknown keys, so a typo fails loudly with the file, line and field.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config.types import ByteSize, Delay, Duration

FEED_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
DEFAULT_TRACKING_PARAMS = [
    "utm_*", "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "_hsenc", "_hsmi",
    "yclid", "igshid", "ref_src", "spm", "from", "share_token", "cmpid",
]


class Strict(BaseModel):
    """Base of every config model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
    return value


class CleanRuleConfig(Strict):
    """One boilerplate rule: a literal or regex pattern and where in the text it applies."""

    id: str = Field(min_length=1)
    pattern: str = Field(min_length=1)
    regex: bool = False
    where: Literal["start", "end", "line", "anywhere"] = "line"
    feeds: list[str] = []
    hosts: list[str] = []

    @model_validator(mode="after")
    def _compiles(self) -> CleanRuleConfig:
        if self.regex:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern is not a valid regular expression: {exc}") from exc
        return self


class LearnedConfig(Strict):
    """Per-feed control of learned boilerplate: turn learning off, pin or ignore lines."""

    enabled: bool = True
    pin: list[str] = []
    disable: list[str] = []


class FeedCleanConfig(Strict):
    """Per-feed cleaning: which shipped packs apply (default all) and extra rules."""

    packs: list[str] | None = None
    rules: list[CleanRuleConfig] = []
    learned: LearnedConfig = LearnedConfig()


class FeedConfig(Strict):
    """One feed to poll."""

    name: str
    url: str
    interval: Duration | None = None
    enabled: bool = True
    full_text: bool = False
    headers: dict[str, str] = {}
    clean: FeedCleanConfig = FeedCleanConfig()

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not FEED_NAME.match(value):
            raise ValueError(f"expected lower-case letters, digits and '-' (like sina-finance), got {value!r}")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)


class DefaultsConfig(Strict):
    """Values every feed inherits unless it sets its own."""

    interval: Duration = 300.0
    jitter: float = Field(default=0.1, ge=0, le=0.5)


class FetchConfig(Strict):
    """HTTP limits for feed and page fetches."""

    timeout: Duration = 20.0
    connect_timeout: Duration = 10.0
    deadline: Duration = 60.0
    max_bytes: ByteSize = 15 * 1024 * 1024
    max_redirects: int = Field(default=5, ge=0, le=20)
    concurrency: int = Field(default=16, ge=1, le=512)
    per_host: int = Field(default=2, ge=1, le=64)
    max_backoff: Duration = 6 * 3600.0
    user_agent: str | None = None
    allow_private_networks: bool = False
    tracking_params: list[str] = DEFAULT_TRACKING_PARAMS


class CrossLanguageConfig(Strict):
    """Grouping copies of one event written in other languages, by their entities and figures."""

    enabled: bool = True
    threshold: float = Field(default=0.5, gt=0, le=1)


class DedupeConfig(Strict):
    """Story grouping: how far back to look and how similar copies must be."""

    window: Duration = 7 * 86400.0
    threshold: float = Field(default=0.5, gt=0, le=1)
    short_text: int = Field(default=50, ge=0)
    cross_language: CrossLanguageConfig = Field(default_factory=CrossLanguageConfig)


class RetentionConfig(Strict):
    """How long stored rows are kept."""

    items: Duration = 30 * 86400.0
    delivered_alerts: Duration = 90 * 86400.0


class MetricsConfig(Strict):
    """Prometheus metrics and health endpoints."""

    listen: str | None = None

    @field_validator("listen", mode="before")
    @classmethod
    def _listen(cls, value: object) -> object:
        if value is not None:
            if not isinstance(value, str):
                raise ValueError(f"expected host:port like 127.0.0.1:9464, got {value!r}")
            host, sep, port = value.rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"expected host:port like 127.0.0.1:9464, got {value!r}")
        return value


class FeedHealthConfig(Strict):
    """When a feed counts as unhealthy: failing polls in a row, or silent far past its usual cadence."""

    failures: int = Field(default=5, ge=1)
    silence_factor: float = Field(default=10.0, gt=1)
    min_silence: Duration = 6 * 3600.0


class RetryConfig(Strict):
    """Delivery retry schedule (seconds after the first try); Standard Webhooks' by default."""

    schedule: list[Delay] = Field(default=[0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400], min_length=1)


class _ChannelBase(Strict):
    mode: Literal["instant", "digest"] = "instant"
    every: str = "1h"
    enabled: bool = True


class WebhookChannel(_ChannelBase):
    """POST each alert as signed JSON (Standard Webhooks)."""

    type: Literal["webhook"]
    url: str
    secret: str | None = None
    format: Literal["generic", "slack", "discord"] = "generic"
    template: str | None = None
    headers: dict[str, str] = {}
    timeout: Duration = 15.0

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)


class EmailChannel(_ChannelBase):
    """Send each alert (or digest) as a multipart e-mail over SMTP."""

    type: Literal["email"]
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: str | None = None
    from_: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    subject: str = "[wirewatch] {watchlist}: {title}"
    timeout: Duration = 30.0


class AppriseChannel(_ChannelBase):
    """Send through Apprise to chat services (Slack, Telegram, DingTalk, WeCom, …)."""

    type: Literal["apprise"]
    urls: list[str] = Field(min_length=1)
    template: str | None = None


class ConsoleChannel(_ChannelBase):
    """Print alerts to standard output (the demo uses it)."""

    type: Literal["console"]


ChannelConfig = Annotated[
    WebhookChannel | EmailChannel | AppriseChannel | ConsoleChannel, Field(discriminator="type")
]


class Config(Strict):
    """The whole main configuration file."""

    database: str = "sqlite:///wirewatch.db"
    sqlite_cache: ByteSize = 64 * 1024 * 1024
    defaults: DefaultsConfig = DefaultsConfig()
    fetch: FetchConfig = FetchConfig()
    feeds: list[FeedConfig] = []
    watchlists: list[str] = []
    channels: dict[str, ChannelConfig] = {}
    ops_channels: list[str] = []
    dedupe: DedupeConfig = DedupeConfig()
    retention: RetentionConfig = RetentionConfig()
    metrics: MetricsConfig = MetricsConfig()
    retry: RetryConfig = RetryConfig()
    feed_health: FeedHealthConfig = FeedHealthConfig()
    shutdown_grace: Duration = 10.0
    lease: Duration = 120.0
    parse_workers: int | None = Field(default=None, ge=0, le=64)
    """Processes that parse and clean fetched feeds (None: one per CPU beyond the first, at most 4; 0: none)."""

    @field_validator("database")
    @classmethod
    def _database(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise ValueError(
                f"expected sqlite:///path.db or postgresql+psycopg://user@host/db, got {value!r}"
            )
        return value

    def feed_interval(self, feed: FeedConfig) -> float:
        """Seconds between polls of `feed` (its own interval or the default)."""
        return feed.interval if feed.interval is not None else self.defaults.interval
