"""Chat channels through Apprise: one outbox delivery fans out to every URL of the channel.

    AppriseSender     the channel (`send`, `send_digest`, `aclose`); each URL's success is
                      recorded under the delivery id, so a retry skips the URLs already done
    AppriseUrlState   that record: (delivery_id, url_hash, delivered_at); URLs are never stored
    render_chat       (title, body) of one alert for a format (text, markdown, html) and limits
    chat_limits       the format and lengths one Apprise service accepts

Feed text is data: it is escaped for the target format and never evaluated as a template.
Messages are cut to the service's limits here, with an ellipsis, so Apprise never splits them.
URLs carry tokens: errors name a URL by Apprise's privacy form, with anything secret redacted.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import re
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache, partial
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Field, SQLModel

from alerts.digest import insert_ignoring_conflict
from alerts.errors import DeliveryError, TemplateError
from alerts.models import DELIVERIES, DIGESTS, DeliveryState, UTCDateTime, utcnow
from alerts.render import strip_controls
from config.models import AppriseChannel

if TYPE_CHECKING:  # Apprise and Jinja2 are imported where a chat channel or template is built (~0.3 s, 25 MB)
    from apprise import AppriseAsset
    from jinja2 import Template

__all__ = ["SEND_TIMEOUT", "URL_STATES", "AppriseSender", "AppriseUrlState", "ChatLimits", "ChatTemplate",
           "chat_limits", "prune_url_states", "render_chat", "render_chat_digest", "url_hash"]

SEND_TIMEOUT = 30.0  # seconds for one URL, connection and retries included
EXCERPT_LINES = 3
EXCERPT_CHARS = 600
ELLIPSIS = "…"
FORMATS = ("text", "markdown", "html")
PRUNE_EVERY = 3600.0
PRUNE_AFTER = timedelta(days=1)

_MD_ALWAYS = frozenset("\\`*_[]<>|~")
_MD_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]{1,32};)")  # `&amp;` would be decoded; `AT&T` is left alone
_MD_LINE_START = re.compile(r"(?m)^[ \t]*(?:[#>+=-]|\d{1,9}[.)])")
_MENTION = re.compile(r"(?<=@)(?=(?:everyone|here|channel|all)\b)|(?<=<)(?=[@!#]|at\b)", re.IGNORECASE)
_LINE_SEP = {"text": "\n", "markdown": "\n\n", "html": "<br/>\n"}
_PART_SEP = {"text": "\n\n", "markdown": "\n\n", "html": "<br/><br/>\n"}
_BOLD = {"text": ("", ""), "markdown": ("**", "**"), "html": ("<b>", "</b>")}
_DANGLING = re.compile(r"(?:&[#a-zA-Z0-9]{0,10}|<[^>]{0,200})$")


class AppriseUrlState(SQLModel, table=True):
    """One URL of an Apprise channel that accepted one delivery (or digest); the URL itself is hashed."""

    __tablename__ = "alert_apprise_urls"

    delivery_id: str = Field(sa_column=sa.Column(sa.String(40), primary_key=True))
    url_hash: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    delivered_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))


URL_STATES: sa.Table = AppriseUrlState.__table__  # type: ignore[attr-defined]


def url_hash(url: str) -> str:
    """The key a URL's outcomes are stored under (SHA-256 hex; the URL carries tokens)."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


# --- rendering -------------------------------------------------------------------------------


def _units(text: str, fmt: str) -> list[str]:
    """`text` escaped for `fmt`, one string per source character (so a cut never splits an escape)."""
    text = _MENTION.sub("\u200b", strip_controls(text))
    if fmt == "html":
        return [html.escape(c) for c in text]
    if fmt != "markdown":
        return list(text)
    marked = {m.end() - 1 for m in _MD_LINE_START.finditer(text)} | {m.start() for m in _MD_ENTITY.finditer(text)}
    return ["\\" + c if c in _MD_ALWAYS or i in marked else c for i, c in enumerate(text)]


def _fit(lines: Sequence[str], fmt: str, limit: int) -> str:
    """Escape lines for `fmt` and join them; cut to `limit` characters with an ellipsis."""
    units: list[str] = []
    for i, line in enumerate(lines):
        if i:
            units.append(_LINE_SEP[fmt])
        units += _units(line, fmt)
    if sum(map(len, units)) <= limit:
        return "".join(units)
    kept: list[str] = []
    used = len(ELLIPSIS)
    for unit in units:
        if used + len(unit) > limit:
            break
        kept.append(unit)
        used += len(unit)
    while kept and kept[-1] == _LINE_SEP[fmt]:
        kept.pop()
    return "".join(kept).rstrip() + ELLIPSIS if limit > len(ELLIPSIS) else ""


def _cut(rendered: str, limit: int) -> str:
    """Cut already-rendered text (a template's output) to `limit`, not ending inside an escape or tag."""
    if len(rendered) <= limit:
        return rendered
    kept = _DANGLING.sub("", rendered[: max(0, limit - len(ELLIPSIS))]).rstrip()
    if (len(kept) - len(kept.rstrip("\\"))) % 2:
        kept = kept[:-1]
    return kept + ELLIPSIS


def _title_line(payload: Mapping[str, Any]) -> str:
    item = payload.get("item") or {}
    names = ", ".join(str(e.get("name", "")) for e in payload.get("entities") or [] if e.get("name"))
    headline = str(item.get("title") or item.get("url") or "(untitled)")
    parts = [str(payload.get("watchlist") or ""), names, headline]
    line = " · ".join(p for p in parts if p).replace("\r", " ").replace("\n", " ")
    return ("Update: " if payload.get("type") == "alert.updated" else "") + line


def _excerpt(payload: Mapping[str, Any]) -> list[str]:
    text = str((payload.get("item") or {}).get("text") or "")
    lines = [line.strip() for line in text[: EXCERPT_CHARS * 2].splitlines() if line.strip()][:EXCERPT_LINES]
    kept: list[str] = []
    room = EXCERPT_CHARS
    for line in lines:
        if room <= 0:
            break
        kept.append(line if len(line) <= room else line[: room - 1].rstrip() + ELLIPSIS)
        room -= len(line)
    return kept


def _sources(payload: Mapping[str, Any]) -> str:
    story = payload.get("story") or {}
    names = [str(s) for s in story.get("sources") or []]
    if len(names) <= 1:
        return f"Source: {names[0] if names else (payload.get('item') or {}).get('source') or '-'}"
    shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
    return f"Sources: {len(names)} ({shown})"


def _link(url: Any, fmt: str, label: str | None = None) -> str:
    """A link to an http(s) URL in `fmt`, or "" for anything else; the URL is quoted, never interpreted."""
    url = str(url or "")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    safe = quote(url, safe="/:?#@!$&'()*+,;=%-._~[]")
    text = label if label is not None else f"Read on {parts.hostname or parts.netloc}"
    if fmt == "markdown":
        return f"[{''.join(_units(text, fmt))}]({safe.replace('(', '%28').replace(')', '%29')})"
    if fmt == "html":
        return f'<a href="{html.escape(safe)}">{html.escape(text)}</a>'
    return safe if label is None else f"{text}\n{safe}"


def _compose(head: list[str], middle: Callable[[int], str], tail: list[str], fmt: str, max_body: int) -> str:
    """Join head, a middle that fills the room left, and tail; a body still too long is cut."""
    sep = _PART_SEP[fmt]
    fixed = [p for p in head + tail if p]
    room = max_body - sum(map(len, fixed)) - len(sep) * len(fixed)
    body = sep.join([p for p in [*head, middle(room) if room > 8 else "", *tail] if p])
    return _cut(body, max_body)


def _titles(raw: str, fmt: str, max_body: int, max_title: int) -> tuple[str, list[str]]:
    """The title field, or (when the service has none) a bold first line of the body."""
    if max_title > 0:
        return _fit([raw], fmt, max_title), []
    left, right = _BOLD[fmt]
    return "", [f"{left}{_fit([raw], fmt, max_body - len(left) - len(right))}{right}"]


def render_chat(payload: Mapping[str, Any], fmt: str, max_body: int, max_title: int) -> tuple[str, str]:
    """(title, body) of one alert; `max_title` 0 puts the title in the body; both fit their limits."""
    fmt = fmt if fmt in FORMATS else "text"
    title, head = _titles(_title_line(payload), fmt, max_body, max_title)
    tail = [_fit([_sources(payload)], fmt, max_body), _link((payload.get("item") or {}).get("url"), fmt)]
    body = _compose(head, lambda room: _fit(_excerpt(payload), fmt, room), tail, fmt, max_body)
    return title, body


def _digest_entry(payload: Mapping[str, Any], fmt: str) -> str:
    raw = _title_line(payload)[:300]
    url = (payload.get("item") or {}).get("url")
    linked = _link(url, fmt, label=raw) if fmt != "text" else ""
    bare = "" if linked else _link(url, "text")
    return "• " + (linked or _fit([raw], fmt, 300) + (f" {bare}" if bare else ""))


def _digest_lines(payloads: Sequence[Mapping[str, Any]], fmt: str, room: int) -> str:
    sep, entries = _LINE_SEP[fmt], list[str]()
    for n, payload in enumerate(payloads):
        entry, left = _digest_entry(payload, fmt), len(payloads) - n - 1
        if len(sep.join([*entries, entry, f"{ELLIPSIS} and {left} more" if left else ""])) > room:
            entries.append(f"{ELLIPSIS} and {left + 1} more")
            break
        entries.append(entry)
    return sep.join(entries)


def render_chat_digest(payloads: Sequence[Mapping[str, Any]], fmt: str, max_body: int,
                       max_title: int) -> tuple[str, str]:
    """(title, body) of a digest: one line per alert with its link, as many as fit, then "… and N more"."""
    fmt = fmt if fmt in FORMATS else "text"
    watchlists = sorted({str(p.get("watchlist") or "") for p in payloads} - {""})
    raw = f"wirewatch digest: {len(payloads)} alerts" + (f" ({', '.join(watchlists)})" if watchlists else "")
    title, head = _titles(raw, fmt, max_body, max_title)
    return title, _compose(head, lambda room: _digest_lines(payloads, fmt, room), [], fmt, max_body)


class ChatTemplate:
    """A user template (Jinja2, sandboxed) for the message body; every `{{ value }}` is escaped for the format."""

    def __init__(self, source: str, channel: str) -> None:
        from jinja2 import StrictUndefined, TemplateSyntaxError
        from jinja2.sandbox import SandboxedEnvironment

        self.channel = channel
        self._compiled: dict[str, Template] = {}
        for fmt in FORMATS:
            env = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined,
                                       finalize=partial(_escape_value, fmt=fmt))
            try:
                self._compiled[fmt] = env.from_string(source)
            except TemplateSyntaxError as exc:
                raise TemplateError(f"channel {channel!r}: template line {exc.lineno}: {exc.message}") from exc

    def render(self, fmt: str, context: Mapping[str, Any], max_body: int) -> str:
        """Render for `fmt` and cut to `max_body` with an ellipsis."""
        from jinja2.exceptions import SecurityError
        from jinja2.exceptions import TemplateError as JinjaTemplateError

        try:
            body = self._compiled[fmt if fmt in FORMATS else "text"].render(**context)
        except (SecurityError, JinjaTemplateError) as exc:
            raise TemplateError(f"channel {self.channel!r}: template failed: {exc}") from exc
        return _cut(body.strip(), max_body) or ELLIPSIS


def _escape_value(value: Any, fmt: str) -> str:
    return "" if value is None else "".join(_units(str(value), fmt))


# --- limits ----------------------------------------------------------------------------------


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
def _load_plugins() -> None:
    """Load Apprise's plugins once; some import deprecated modules (imghdr) that warn at import."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import apprise

        manager: Any = apprise.manager_plugins.NotificationManager
        manager().load_modules()


@dataclass(frozen=True, slots=True)
class _Target:
    url: str = field(repr=False)
    key: str
    label: str
    limits: ChatLimits
    secrets: tuple[str, ...] = field(repr=False)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def _target(channel: str, index: int, url: str, asset: AppriseAsset) -> _Target:
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
    return _Target(url, url_hash(url), label, chat_limits(plugin), tuple(secrets))


# --- the channel -----------------------------------------------------------------------------


class AppriseSender:
    """A configured Apprise channel; a retry of a delivery sends only to the URLs that failed it."""

    def __init__(self, name: str, config: AppriseChannel, engine: Engine | None,
                 timeout: float = SEND_TIMEOUT) -> None:
        _load_plugins()
        from apprise import AppriseAsset

        self.name = name
        self.config = config
        self.engine = engine
        self.timeout = timeout
        self._asset = AppriseAsset(service_timeout=timeout, storage_mode="memory", secure_logging=True)
        self._targets = [_target(name, i, url, self._asset) for i, url in enumerate(dict.fromkeys(config.urls))]
        self._template = ChatTemplate(config.template, name) if config.template else None
        self._memory: dict[str, set[str]] = {}  # per-URL state when there is no database
        self._next_prune = time.monotonic()

    async def aclose(self) -> None:
        """Nothing to release: every send uses its own Apprise object."""

    async def send(self, payload: Mapping[str, Any], delivery_id: str) -> None:
        """Deliver one alert to every URL not yet done for `delivery_id`."""
        context = {**payload, "alert": payload, "alerts": None, "digest": None,
                   "title": _title_line(payload), "excerpt": "\n".join(_excerpt(payload))}
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
        done = await asyncio.to_thread(self._done, delivery_id)
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
            await asyncio.to_thread(self._mark, delivery_id, sent)
        failed = [f"{t.label}: {error}" for t, error in zip(pending, errors, strict=True) if error is not None]
        if failed:
            raise DeliveryError(f"channel {self.name!r}: {len(failed)} of {len(self._targets)} URLs failed, "
                                f"will retry only those: {'; '.join(failed)}")

    async def _notify(self, target: _Target, title: str, body: str) -> str | None:
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
        except Exception as exc:  # noqa: BLE001 - an Apprise bug must fail this URL only
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

    def _done(self, delivery_id: str) -> set[str]:
        if self.engine is None:
            return set(self._memory.get(delivery_id, ()))
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + PRUNE_EVERY
            prune_url_states(self.engine)
        with self.engine.connect() as conn:
            query = sa.select(URL_STATES.c.url_hash).where(URL_STATES.c.delivery_id == delivery_id)
            return set(conn.execute(query).scalars())

    def _mark(self, delivery_id: str, keys: list[str]) -> None:
        if self.engine is None:
            self._memory.setdefault(delivery_id, set()).update(keys)
            return
        now = utcnow()
        rows = [{"delivery_id": delivery_id, "url_hash": key, "delivered_at": now} for key in keys]
        with self.engine.begin() as conn:
            insert_ignoring_conflict(conn, URL_STATES, rows, ["delivery_id", "url_hash"])


def prune_url_states(engine: Engine, now: datetime | None = None) -> int:
    """Forget per-URL outcomes older than a day whose delivery was delivered or no longer exists."""
    cutoff = (now or utcnow()) - PRUNE_AFTER
    s = URL_STATES.c
    finished = sa.or_(
        s.delivery_id.in_(sa.select(DELIVERIES.c.message_id).where(DELIVERIES.c.state == DeliveryState.DELIVERED)),
        s.delivery_id.in_(sa.select(DIGESTS.c.message_id).where(DIGESTS.c.state == DeliveryState.DELIVERED)),
        sa.and_(s.delivery_id.not_in(sa.select(DELIVERIES.c.message_id)),
                s.delivery_id.not_in(sa.select(DIGESTS.c.message_id))),
    )
    with engine.begin() as conn:
        return int(conn.execute(URL_STATES.delete().where(s.delivered_at < cutoff, finished)).rowcount)
