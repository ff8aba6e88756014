"""Alert payloads and how they are rendered: the generic JSON contract, Slack, Discord, templates, text.

The generic payload is built once, when the alert is created, and stored on the alert row, so a
later send never depends on items or stories that retention may have pruned. Everything that came
from a feed is data: it is escaped for the target format and never evaluated as a template.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from wirewatch.alerts.errors import TemplateError
from wirewatch.alerts.templates import SandboxedTemplate
from wirewatch.alerts.types import EntityMatch, WatchlistMatch
from wirewatch.config.clock import iso, utcnow
from wirewatch.ingest.item import Item, StoryRef

__all__ = [
    "MAX_ENTITIES", "MAX_MENTIONS", "MAX_SNIPPET", "MAX_TEXT",
    "JsonTemplate", "alert_lines", "build_payload", "digest_entry", "discord_message", "iso",
    "sample_payload", "slack_message", "strip_controls", "cut", "ELLIPSIS",
]

ELLIPSIS = "…"
MAX_ENTITIES = 25
MAX_MENTIONS = 5
MAX_SNIPPET = 300
MAX_TEXT = 8000
MAX_SOURCES = 50
SLACK_MAX = 3000
DISCORD_MAX = 2000

_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]")  # bidi overrides too
_DISCORD_SPECIAL = re.compile(r"([\\*_~`|>#\[\]()<:-])")


def cut(text: str, limit: int, tidy: Callable[[str], str] | None = None) -> str:
    """`text` if it fits in `limit` characters, else its start and ELLIPSIS in `limit`; `tidy` may trim the
    kept start (chat messages: not ending inside an escape or a tag)."""
    if len(text) <= limit:
        return text
    kept = text[: max(0, limit - len(ELLIPSIS))]
    return (tidy(kept) if tidy is not None else kept) + ELLIPSIS


def strip_controls(text: str) -> str:
    """Remove control characters (terminal escapes, CR/LF tricks, bidi overrides) but keep tabs and newlines."""
    return _CONTROLS.sub("", text)


def _entity(entity: EntityMatch) -> dict[str, Any]:
    return {
        "id": entity.id,
        "name": entity.name,
        "mentions": [
            {"alias": m.alias, "field": m.field, "snippet": cut(m.snippet, MAX_SNIPPET)}
            for m in entity.mentions[:MAX_MENTIONS]
        ],
        "mentions_total": max(entity.count, len(entity.mentions)),
    }


def build_payload(
    *, alert_id: str, type: str, created_at: datetime, item: Item, story: StoryRef, match: WatchlistMatch,
) -> dict[str, Any]:
    """The generic alert payload (a public contract), bounded however many mentions the item has."""
    entities = sorted(match.entities, key=lambda e: -e.salience)[:MAX_ENTITIES]
    return {
        "type": type,
        "id": alert_id,
        "created_at": iso(created_at),
        "watchlist": match.watchlist,
        "story": {
            "id": story.id,
            "first_seen": iso(story.first_seen),
            "sources": story.sources[:MAX_SOURCES],
            "items": story.items,
        },
        "entities": [_entity(e) for e in entities],
        "item": {
            "feed": item.feed,
            "guid": item.guid,
            "url": item.url,
            "title": item.title,
            "text": cut(item.text, MAX_TEXT),
            "source": item.source,
            "published": iso(item.published_at),
        },
    }


def sample_payload(watchlist: str = "test") -> dict[str, Any]:
    """A realistic alert payload for `wirewatch test-alert --channel NAME`."""
    now = utcnow().replace(microsecond=0)
    return {
        "type": "alert.test",
        "id": "alt_test",
        "created_at": iso(now),
        "watchlist": watchlist,
        "story": {"id": 0, "first_seen": iso(now), "sources": ["wirewatch"], "items": 1},
        "entities": [{
            "id": "example-co", "name": "Example Co",
            "mentions": [{"alias": "Example Co", "field": "title",
                          "snippet": "Example Co raises full-year guidance"}],
            "mentions_total": 1,
        }],
        "item": {
            "feed": "wirewatch-test", "guid": "test", "url": "https://example.com/wirewatch-test",
            "title": "Test alert: Example Co raises full-year guidance",
            "text": "This is a test alert sent by `wirewatch test-alert`. If you can read it, the channel works.",
            "source": "wirewatch", "published": iso(now),
        },
    }


def digest_entry(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A slimmer copy of an alert payload for a digest (no item text, no snippets)."""
    item = payload.get("item", {})
    return {
        "type": payload.get("type"),
        "id": payload.get("id"),
        "created_at": payload.get("created_at"),
        "watchlist": payload.get("watchlist"),
        "story": payload.get("story"),
        "entities": [{"id": e.get("id"), "name": e.get("name")} for e in payload.get("entities", [])],
        "item": {k: item.get(k) for k in ("feed", "guid", "url", "title", "source", "published")},
    }


def _entity_names(payload: Mapping[str, Any]) -> str:
    return ", ".join(str(e.get("name", "")) for e in payload.get("entities", []))


def _first_snippet(payload: Mapping[str, Any]) -> str:
    for entity in payload.get("entities", []):
        for mention in entity.get("mentions", []):
            if mention.get("field") == "body" and mention.get("snippet"):
                return str(mention["snippet"])
    return ""


def alert_lines(payload: Mapping[str, Any]) -> list[str]:
    """A readable plain-text rendering of one alert, one line per fact, control characters removed."""
    item = payload.get("item", {})
    story = payload.get("story", {})
    lines = [
        f"{payload.get('watchlist', '')}: {item.get('title', '')}",
        f"Entities: {_entity_names(payload)}",
        f"Source: {item.get('source') or item.get('feed', '')}  Published: {item.get('published') or '-'}",
        f"Link: {item.get('url', '')}",
    ]
    if story.get("items", 1) > 1:
        lines.append(f"Story: {story.get('items')} items from {', '.join(story.get('sources', [])[:5])}")
    snippet = _first_snippet(payload)
    if snippet:
        lines.append(f"… {snippet} …")
    return [strip_controls(line.replace("\n", " ").replace("\r", " ")) for line in lines]


# --- Slack -----------------------------------------------------------------------------------


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: str, label: str) -> str:
    safe_url = _slack_escape(url).replace("|", "%7C").replace(" ", "%20")
    return f"<{safe_url}|{_slack_escape(label).replace('|', '¦')}>"


def _slack_alert(payload: Mapping[str, Any]) -> str:
    item = payload.get("item", {})
    title = strip_controls(str(item.get("title") or item.get("url") or "(untitled)")).replace("\n", " ")
    text = f"*{_slack_escape(str(payload.get('watchlist', '')))}*: {_slack_link(str(item.get('url', '')), title)}"
    names = _entity_names(payload)
    if names:
        text += f"\n{_slack_escape(names)}"
    snippet = _first_snippet(payload)
    if snippet:
        text += f"\n> {_slack_escape(strip_controls(snippet).replace(chr(10), ' '))}"
    return text


def slack_message(payloads: Sequence[Mapping[str, Any]], digest: bool = False) -> dict[str, Any]:
    """A Slack incoming-webhook body; `&`, `<`, `>` escaped so feed text cannot form links or mentions."""
    text = _message_text(payloads, digest, _slack_alert, "*", SLACK_MAX)
    return {"text": text, "unfurl_links": False, "unfurl_media": False}


def _message_text(payloads: Sequence[Mapping[str, Any]], digest: bool, one: Callable[[Mapping[str, Any]], str],
                  bold: str, limit: int) -> str:
    """The alerts one after another (a digest under a bold heading), cut to the service's `limit`."""
    head = f"{bold}wirewatch digest: {len(payloads)} alerts{bold}\n" if digest else ""
    return cut(head + "\n\n".join(one(p) for p in payloads), limit)


# --- Discord ---------------------------------------------------------------------------------


def _discord_escape(text: str) -> str:
    text = strip_controls(text).replace("\n", " ")
    text = _DISCORD_SPECIAL.sub(r"\\\1", text)
    return text.replace("@", "@\u200b")


def _discord_url(url: str) -> str:
    return url.replace(" ", "%20").replace(">", "%3E").replace("<", "%3C")


def _discord_alert(payload: Mapping[str, Any]) -> str:
    item = payload.get("item", {})
    title = _discord_escape(str(item.get("title") or "(untitled)"))
    text = f"**{_discord_escape(str(payload.get('watchlist', '')))}**: {title}\n<{_discord_url(str(item.get('url', '')))}>"
    names = _entity_names(payload)
    if names:
        text += f"\n{_discord_escape(names)}"
    return text


def discord_message(payloads: Sequence[Mapping[str, Any]], digest: bool = False) -> dict[str, Any]:
    """A Discord webhook body; Markdown escaped, `@` neutralised and no mention may ping anyone."""
    return {"content": _message_text(payloads, digest, _discord_alert, "**", DISCORD_MAX),
            "allowed_mentions": {"parse": []}}


# --- templates -------------------------------------------------------------------------------


class JsonTemplate:
    """A user template (Jinja2, sandboxed) that renders a JSON body; compiled once, at config time."""

    def __init__(self, source: str, channel: str) -> None:
        self.channel = channel
        self._template = SandboxedTemplate(source, channel)

    def render(self, context: Mapping[str, Any]) -> bytes:
        """Render and check the result is JSON; feed text is passed as values, never re-parsed."""
        body = self._template.render(context)
        try:
            json.loads(body)
        except ValueError as exc:
            raise TemplateError(
                f"channel {self.channel!r}: template did not produce JSON ({exc}); "
                "use the |tojson filter for feed values"
            ) from exc
        return body.encode("utf-8")

    def render_alert(self, payload: Mapping[str, Any]) -> bytes:
        """Render for one alert: `alert` (and each top-level payload key) is in scope."""
        return self.render({**payload, "alert": payload, "digest": None})

    def render_digest(self, payloads: Sequence[Mapping[str, Any]], digest_id: str) -> bytes:
        """Render for a digest: `alerts` (full payloads) and `digest` ({id, count}) are in scope."""
        return self.render({"alerts": list(payloads), "digest": {"id": digest_id, "count": len(payloads)},
                            "alert": None})
