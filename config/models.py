"""Pydantic models of the main configuration file (`wirewatch.yaml`), one per section.

Every model forbids unknown keys, so a typo fails loudly with the file, line and field.
"""

from __future__ import annotations

import base64
import binascii
import re
from email.utils import getaddresses
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from wirewatch.config.sources import SelectConfig
from wirewatch.config.types import ByteSize, Delay, Duration, parse_duration

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


def _webhook_secret(value: str) -> str:
    """A Standard Webhooks signing secret: `whsec_` then base64 of at least one byte (never echoed in errors)."""
    if not value.strip():
        raise ValueError("the secret is empty (an environment variable set to ''?); set it to whsec_ followed "
                         "by base64, or remove the key to send unsigned webhooks")
    if not value.startswith("whsec_"):
        raise ValueError("expected a Standard Webhooks secret: whsec_ followed by base64 "
                         "(the value given does not start with whsec_)")
    raw = value[len("whsec_"):]
    try:
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("expected whsec_ followed by base64; the part after whsec_ is not base64") from None
    if not key:
        raise ValueError("the secret is whsec_ with nothing after it; add the base64 key")
    return value


def _email_address(value: str) -> str:
    """One address, bare or as `Name <user@host>`; several in one string or a line break are refused."""
    found = getaddresses([value])
    address = found[0][1] if len(found) == 1 else ""
    local, _, domain = address.rpartition("@")
    if any(ord(c) < 32 for c in value) or not local or not domain or any(c.isspace() for c in address):
        raise ValueError(f"expected one e-mail address like desk@example.com or 'Desk <desk@example.com>' "
                         f"(a list takes one address per item), got {value!r}")
    return value


HttpUrlText = Annotated[str, AfterValidator(_http_url)]
"""An http:// or https:// URL, kept as written."""
WebhookSecret = Annotated[str, AfterValidator(_webhook_secret)]
"""A Standard Webhooks signing secret (`whsec_` + base64)."""
EmailAddress = Annotated[str, AfterValidator(_email_address)]
"""One e-mail address, bare or `Name <user@host>`."""


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
    url: HttpUrlText
    interval: Duration | None = None
    enabled: bool = True
    full_text: bool = False
    headers: dict[str, str] = {}
    clean: FeedCleanConfig = FeedCleanConfig()
    kind: Literal["feed", "json", "html"] = "feed"
    """What the URL serves: a feed (RSS, Atom, JSON Feed), a JSON API or an HTML list page (config/sources.py)."""
    select: SelectConfig | None = None
    """For kind json or html: where items and their fields are in the document."""

    @model_validator(mode="before")
    @classmethod
    def _select_kind(cls, data: Any) -> Any:
        """Tell the `select:` mapping which kind it describes (JMESPath for json, CSS for html)."""
        if isinstance(data, dict) and isinstance(data.get("select"), dict):
            kind = data.get("kind", "feed")
            if kind == "feed":
                raise ValueError("select: applies to kind: json or kind: html; add the kind to this feed")
            data = {**data, "select": {**data["select"], "kind": kind}}
        return data

    @model_validator(mode="after")
    def _needs_select(self) -> FeedConfig:
        if self.kind != "feed" and self.select is None:
            raise ValueError(f"kind: {self.kind} needs a select: mapping (items, title, …); see README")
        return self

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not FEED_NAME.match(value):
            raise ValueError(f"expected lower-case letters, digits and '-' (like sina-finance), got {value!r}")
        return value


class FeedsFile(Strict):
    """A file named by `feeds_files:` (as `wirewatch feeds import` writes): only a `feeds:` list."""

    feeds: list[FeedConfig] = []


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


def listen_address(value: object, example: str) -> object:
    """Check a `host:port` listen address (None: off); the error shows `example`."""
    if value is not None:
        host, sep, port = value.rpartition(":") if isinstance(value, str) else ("", "", "")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"expected host:port like {example}, got {value!r}")
    return value


class MetricsConfig(Strict):
    """Prometheus metrics and health endpoints."""

    listen: str | None = None

    @field_validator("listen", mode="before")
    @classmethod
    def _listen(cls, value: object) -> object:
        return listen_address(value, "127.0.0.1:9464")


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


class WebConfig(Strict):
    """The operator's web console; off unless `listen` is set; any non-loopback address needs `token`."""

    listen: str | None = None
    token: str | None = Field(default=None, min_length=16)

    @field_validator("listen", mode="before")
    @classmethod
    def _listen(cls, value: object) -> object:
        return listen_address(value, "127.0.0.1:8080")

    @model_validator(mode="after")
    def _token_off_loopback(self) -> WebConfig:
        if self.listen and not self.token and self.listen.rpartition(":")[0] not in LOOPBACK_HOSTS:
            raise ValueError(f"web.listen {self.listen!r} is not a loopback address: set web.token "
                             "(e.g. \"${WIREWATCH_WEB_TOKEN}\", at least 16 characters), or listen on 127.0.0.1")
        return self


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

    @field_validator("every")
    @classmethod
    def _every(cls, value: str) -> str:
        try:
            parse_duration(value)
            return value
        except ValueError:
            pass
        from apscheduler.triggers.cron import CronTrigger  # local: only cron-style digests need it

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(f"expected a duration like 1h or a 5-field cron expression like '0 8 * * 1-5', "
                             f"got {value!r} ({exc})") from None
        return value


class WebhookChannel(_ChannelBase):
    """POST each alert as signed JSON (Standard Webhooks)."""

    type: Literal["webhook"]
    url: HttpUrlText
    secret: WebhookSecret | None = None
    format: Literal["generic", "slack", "discord"] = "generic"
    template: str | None = None
    headers: dict[str, str] = {}
    timeout: Duration = 15.0


class EmailChannel(_ChannelBase):
    """Send each alert (or digest) as a multipart e-mail over SMTP."""

    type: Literal["email"]
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: str | None = None
    from_: EmailAddress = Field(alias="from")
    to: list[EmailAddress] = Field(min_length=1)
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
    sqlite_busy_timeout: Duration = Field(default=30.0, gt=0)
    """How long a SQLite statement waits for another connection's lock before it fails (and is retried)."""
    defaults: DefaultsConfig = DefaultsConfig()
    fetch: FetchConfig = FetchConfig()
    feeds: list[FeedConfig] = []
    feeds_files: list[str] = []
    """More files holding a `feeds:` list (globs, relative to this file); their feeds follow these."""
    watchlists: list[str] = []
    channels: dict[str, ChannelConfig] = {}
    ops_channels: list[str] = []
    dedupe: DedupeConfig = DedupeConfig()
    retention: RetentionConfig = RetentionConfig()
    metrics: MetricsConfig = MetricsConfig()
    web: WebConfig = WebConfig()
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
