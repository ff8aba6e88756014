"""Parse step: feed bytes and response headers in, `ParsedFeed` out. Pure; never touches the network.

RSS 0.9x/1.0/2.0 and Atom go through feedparser, after the bytes are decoded here
(`ingest.encoding`) and defused (`ingest.defuse`: no DTD, no entity declarations, at most
`max_entries` entries) and handed over as clean UTF-8 with only the headers feedparser uses.
JSON Feed 1.0/1.1 is read with the standard library. A document with entries is accepted
even when feedparser flags it as malformed (`ParsedFeed.warning` says why); a document
without entries that is not a feed raises `ParseError` naming what it looked like.
"""

from __future__ import annotations

import calendar
import html
import json
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import feedparser

from wirewatch.ingest.defuse import defuse, too_deep, truncate_entries
from wirewatch.ingest.encoding import decode_document
from wirewatch.ingest.errors import ParseError
from wirewatch.ingest.item import Entry, ParsedFeed

__all__ = ["MAX_DEPTH", "MAX_ENTRIES", "parse_feed"]

MAX_ENTRIES = 2000
"""Entries kept from one document; a feed with more keeps its first ones (newest, by convention)."""

MAX_DEPTH = 256
"""Deepest element nesting accepted; real feeds (even XHTML content) stay far below it."""

_JSON_TYPES = ("application/feed+json", "application/json", "text/json")
_PROLOG = re.compile(r"^\s*<\?xml[^>]*\?>")
_ROOT = re.compile(r"<(?![?!])([\w.:-]+)")
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def parse_feed(
    body: bytes, headers: Mapping[str, str] | None = None, url: str = "", *, max_entries: int = MAX_ENTRIES
) -> ParsedFeed:
    """Parse a feed document (RSS, Atom, RDF or JSON Feed) into a `ParsedFeed`."""
    where = f" at {url}" if url else ""
    if not body.strip():
        raise ParseError(f"empty response body{where}: not a feed")
    content_type = _header(headers, "content-type").lower()
    decoded = decode_document(body, headers)
    text = decoded.text.lstrip("\ufeff \t\r\n")
    if text.startswith(("{", "[")) or any(t in content_type for t in _JSON_TYPES):
        return _parse_json_feed(text, where)
    return _parse_xml_feed(text, content_type, where, max_entries, decoded.replaced)


def _header(headers: Mapping[str, str] | None, name: str) -> str:
    """Case-insensitive header lookup; empty string when absent."""
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return ""


def _parse_xml_feed(text: str, content_type: str, where: str, max_entries: int, replaced: bool) -> ParsedFeed:
    """Defuse, bound and hand the document to feedparser as UTF-8."""
    notes: list[str] = ["invalid bytes replaced while decoding"] if replaced else []
    text, defuse_notes = defuse(text)
    notes += defuse_notes
    if too_deep(text, MAX_DEPTH):
        raise ParseError(f"refused{where}: elements nested deeper than {MAX_DEPTH} levels (hostile or broken feed)")
    truncated = truncate_entries(text, max_entries)
    if truncated is not None:
        text, total = truncated
        notes.append(f"feed has {total} entries; kept the first {max_entries}")
    utf8 = _PROLOG.sub('<?xml version="1.0" encoding="utf-8"?>', text, count=1).encode("utf-8")
    mime = content_type.split(";")[0].strip() or "application/xml"
    result = feedparser.parse(
        utf8,
        response_headers={"content-type": f"{mime}; charset=utf-8"},
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    entries = [_entry(raw) for raw in result.get("entries", [])]
    version = result.get("version") or ""
    if not entries and not version:
        raise ParseError(f"not a feed{where}: {_describe(text)}")
    if result.get("bozo"):
        notes.append(f"malformed feed tolerated: {result.get('bozo_exception')}")
    title = result.get("feed", {}).get("title", "") or ""
    return ParsedFeed(
        format=version or "unknown", title=title, entries=entries, warning="; ".join(notes) or None
    )


def _describe(text: str) -> str:
    """Say what a non-feed document looks like, for the error message."""
    head = text[:4096].lstrip()
    lowered = head.lower()
    if lowered.startswith("<!doctype html") or "<html" in lowered[:1024]:
        match = _HTML_TITLE.search(text[:65536])
        title = " ".join(html.unescape(match.group(1)).split())[:80] if match else ""
        return f"an HTML page{f' titled {title!r}' if title else ''}; look for its RSS/Atom link"
    body = _PROLOG.sub("", head).lstrip()
    if not body and head.startswith("<?xml"):
        return "an XML declaration with no elements"
    root = _ROOT.match(body)
    if root:
        return f"an XML document with root <{root.group(1)}>, not RSS, RDF or Atom"
    return f"unrecognised content starting {head[:40]!r}"


def _text(value: Any) -> str:
    """A feedparser string field, or '' when absent."""
    return value if isinstance(value, str) else ""


def _content(raw: Mapping[str, Any]) -> str:
    """The longest of an entry's content values (feeds carrying several give the full text longest)."""
    values = [_text(item.get("value")) for item in raw.get("content") or [] if isinstance(item, Mapping)]
    return max(values, key=len, default="")


def _date(parsed: Any) -> datetime | None:
    """A feedparser UTC struct_time as an aware datetime, or None when missing or out of range."""
    if not isinstance(parsed, time.struct_time):
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _entry(raw: Mapping[str, Any]) -> Entry:
    """One feedparser entry as an `Entry`."""
    return Entry(
        guid=_text(raw.get("id")) or None,
        link=_text(raw.get("link")) or None,
        title=_text(raw.get("title")),
        summary=_text(raw.get("summary")),
        content=_content(raw),
        published=_date(raw.get("published_parsed")) or _date(raw.get("updated_parsed")),
        author=_text(raw.get("author")) or None,
        source=_text(raw["source"].get("title")) or None if isinstance(raw.get("source"), Mapping) else None,
    )


def _parse_json_feed(text: str, where: str) -> ParsedFeed:
    """Read a JSON Feed (1.0 or 1.1) with the standard library."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"not a feed{where}: JSON that does not parse ({exc})") from exc
    version = doc.get("version") if isinstance(doc, dict) else None
    if not isinstance(version, str) or "jsonfeed.org/version/" not in version:
        raise ParseError(f"not a feed{where}: JSON without a jsonfeed.org version")
    items = doc.get("items")
    if not isinstance(items, list):
        raise ParseError(f"not a feed{where}: JSON Feed without an items list")
    entries = [_json_entry(item) for item in items if isinstance(item, dict)]
    skipped = len(items) - len(entries)
    fmt = "json" + version.rsplit("/", 1)[-1].replace(".", "")
    return ParsedFeed(
        format=fmt,
        title=_text(doc.get("title")),
        entries=entries,
        warning=f"{skipped} items that are not objects skipped" if skipped else None,
    )


def _json_entry(item: Mapping[str, Any]) -> Entry:
    """One JSON Feed item as an `Entry`."""
    ident = item.get("id")
    content = _text(item.get("content_html"))
    if not content and _text(item.get("content_text")):
        content = html.escape(item["content_text"])
    authors = item.get("authors")
    author = authors[0] if isinstance(authors, list) and authors else item.get("author")
    name = _text(author.get("name")) if isinstance(author, dict) else ""
    return Entry(
        guid=str(ident) if isinstance(ident, str | int) and str(ident) else None,
        link=_text(item.get("url")) or _text(item.get("external_url")) or None,
        title=_text(item.get("title")),
        summary=_text(item.get("summary")),
        content=content,
        published=_iso_date(item.get("date_published")) or _iso_date(item.get("date_modified")),
        author=name or None,
    )


def _iso_date(value: Any) -> datetime | None:
    """An RFC 3339 date as aware UTC, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
