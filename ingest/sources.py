"""Sources that are not feeds: a JSON API (`kind: json`) or an HTML list page (`kind: html`) read into feed entries.

`parse_document` is the one entry point of the parse step: a feed goes to `ingest.parse.parse_feed`,
the other kinds are read here with the feed's `select:` mapping (config/sources.py), JMESPath for
JSON and CSS selectors (selectolax's Lexbor engine) for HTML. Both yield the same `Entry` values
as a feed, so cleaning, stories, matching and alerts run unchanged. Pure; never touches the network.

Failure rules (a source that changes its layout must be seen, never a silent zero):
- the `items` path or selector matching nothing, or a required field (`title`, and `url` when it
  is configured) matching in no item, raises `SelectorError` naming the expression: a poll error
  that counts toward `feed.unhealthy`;
- one item missing a required field is skipped, logged with the field and counted
  (`ParsedFeed.skipped`);
- a date that does not read with its format leaves the item dated by its fetch and is noted in
  `ParsedFeed.warning`.
"""

from __future__ import annotations

import calendar
import email.utils
import functools
import hashlib
import html
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

from wirewatch.config.models import FeedConfig
from wirewatch.config.sources import HtmlSelect, JsonSelect, Published, split_attr
from wirewatch.ingest.encoding import decode_document
from wirewatch.ingest.errors import ParseError, SelectorError
from wirewatch.ingest.item import Entry, ParsedFeed
from wirewatch.ingest.parse import MAX_ENTRIES, parse_feed

__all__ = ["parse_document", "parse_html_source", "parse_json_source", "read_date"]

log = logging.getLogger("wirewatch.ingest")

_MARKUP = re.compile(r"<(?:p|br|div|span|a|img|b|i|strong|em|table|ul|ol|li|h[1-6]|blockquote|figure)\b|</\w+>",
                     re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n\s*\n")
_REQUIRED = ("title", "url")
_FIELDS = ("id", "title", "url", "body", "source", "author")


def parse_document(feed: FeedConfig, body: bytes, headers: Mapping[str, str] | None = None,
                   url: str = "", *, max_entries: int = MAX_ENTRIES) -> ParsedFeed:
    """Parse what a feed's URL served, by the feed's `kind`: feed, JSON API or HTML list page."""
    if feed.kind == "feed" or feed.select is None:
        return parse_feed(body, headers, url, max_entries=max_entries)
    page = url or feed.url
    if not body.strip():
        raise ParseError(f"empty response body at {page}: nothing to select from")
    text = decode_document(body, headers).text.lstrip("\ufeff")
    if isinstance(feed.select, JsonSelect):
        return parse_json_source(text, feed.select, page, max_entries=max_entries)
    return parse_html_source(text, feed.select, page, max_entries=max_entries)


@dataclass(slots=True)
class _Tally:
    """What reading a document's items found: fields that matched somewhere, skips by field, bad dates."""

    matched: set[str] = field(default_factory=set)
    missing: Counter[str] = field(default_factory=Counter)
    first_missing: dict[str, int] = field(default_factory=dict)
    bad_dates: int = 0
    first_bad_date: str = ""
    notes: list[str] = field(default_factory=list)


def _finish(fmt: str, entries: list[Entry | None], tally: _Tally, fields: Mapping[str, str], page: str,
            title: str = "") -> ParsedFeed:
    """Raise when a required field matched in no item; else the entries with skips counted and noted."""
    for name in _REQUIRED:
        if entries and name in fields and name not in tally.matched:
            raise SelectorError(f"{_what(fmt)} `{fields[name]}` ({name}) matched nothing in "
                                f"{len(entries)} items at {page}; the source's layout may have changed")
    kept = [e for e in entries if e is not None]
    notes = list(tally.notes)
    for name, count in sorted(tally.missing.items()):  # one line per field and document, not per item
        log.warning("%d items at %s skipped: no %s (`%s` matched nothing in them; the first is item %d)",
                    count, page, name, fields[name], tally.first_missing[name])
    if tally.missing:
        detail = ", ".join(f"{n} without {f} `{fields[f]}`" for f, n in sorted(tally.missing.items()))
        notes.append(f"{len(entries) - len(kept)} items skipped ({detail})")
    if tally.bad_dates:
        notes.append(f"{tally.bad_dates} dates did not read with the published format "
                     f"(first {tally.first_bad_date[:40]!r}); those items are dated by their fetch")
    for name in ("published", *_FIELDS):
        if name in fields and name not in _REQUIRED and name not in tally.matched and kept:
            notes.append(f"{_what(fmt)} `{fields[name]}` ({name}) matched in no item")
    return ParsedFeed(format=fmt, title=title, entries=kept, warning="; ".join(notes) or None,
                      skipped=len(entries) - len(kept))


def _what(fmt: str) -> str:
    return "path" if fmt == "json-select" else "selector"


def _configured(select: JsonSelect | HtmlSelect) -> dict[str, str]:
    """The configured fields as name → expression (published by its path or selector)."""
    fields = {name: getattr(select, name) for name in _FIELDS if getattr(select, name) is not None}
    if select.published is not None:
        fields["published"] = select.published.where
    return fields


def _build(values: Mapping[str, str | None], select: JsonSelect | HtmlSelect, tally: _Tally, page: str,
           index: int) -> Entry | None:
    """One entry from an item's field values; None (logged, counted) when a required field is missing."""
    for name, value in values.items():
        if value:
            tally.matched.add(name)
    link = _absolute(values.get("url"), page)
    title = " ".join((values.get("title") or "").split())
    for name, present in (("title", bool(title)), ("url", link is not None)):
        if getattr(select, name) is not None and not present:
            tally.missing[name] += 1
            tally.first_missing.setdefault(name, index)
            log.debug("item %d at %s skipped: no %s (`%s` matched nothing in it)", index, page, name,
                      getattr(select, name))
            return None
    published = None
    if select.published is not None and values.get("published"):
        raw_date = values["published"] or ""
        published = read_date(raw_date, select.published)
        if published is None:
            tally.bad_dates += 1
            tally.first_bad_date = tally.first_bad_date or raw_date
    guid = values.get("id") or None
    source = _one_line(values.get("source"))
    if guid is None and link is None:  # no id, no link: title, date and outlet name the item (not its text,
        stamp = published.isoformat() if published else ""  # which an edit changes)
        key = f"{title}\n{stamp}\n{source or ''}"
        guid = "sha1:" + hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()
    return Entry(guid=guid, link=link, title=title, content=values.get("body") or "", published=published,
                 author=_one_line(values.get("author")), source=source)


def _one_line(value: str | None) -> str | None:
    return (" ".join(value.split()) or None) if value else None


def _absolute(link: str | None, page: str) -> str | None:
    """A link resolved against the page; None unless it ends up http(s) with a host."""
    if not link or not link.strip():
        return None
    resolved = urljoin(page, link.strip())
    parts = urlsplit(resolved)
    return resolved if parts.scheme in ("http", "https") and parts.netloc else None


# --- dates ---------------------------------------------------------------------------------------

def read_date(value: str, how: Published) -> datetime | None:
    """A date as written by a source, read with `how.format` (or detected) and `how.tz`, in UTC; None if unreadable."""
    value = value.strip()
    if not value:
        return None
    zone = ZoneInfo(how.tz)
    try:
        if how.format == "unix" or (how.format is None and re.fullmatch(r"\d{9,13}(\.\d+)?", value)):
            return _unix(float(value))
        if how.format is not None:
            parsed = datetime.strptime(value, how.format)
        else:
            parsed = _detect(value)
    except (ValueError, OverflowError, OSError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


def _unix(seconds: float) -> datetime:
    """Seconds since 1970 (milliseconds when the number is too large to be seconds) as UTC."""
    if seconds > 1e11:
        seconds /= 1000.0
    return datetime.fromtimestamp(seconds, tz=UTC)


def _detect(value: str) -> datetime:
    """ISO 8601 or RFC 2822; ValueError otherwise."""
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        raise ValueError(f"not a date: {value!r}")
    stamp = calendar.timegm(parsed[:9]) - (parsed[9] or 0)
    return datetime.fromtimestamp(stamp, tz=UTC) if parsed[9] is not None else datetime(*parsed[:6])


# --- JSON ----------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=512)
def _compiled(expr: str) -> Callable[[Any], Any]:
    """A JMESPath expression compiled once per process (config validation has proved it compiles)."""
    import jmespath

    return jmespath.compile(expr).search


def _json_text(value: Any) -> str | None:
    """A JSON value as text: strings as they are, numbers written out, lists of strings one per line."""
    if value is None or isinstance(value, dict):
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float | str):
        return str(value)
    if isinstance(value, list):
        parts = [str(v) for v in value if isinstance(v, str | int | float) and not isinstance(v, bool)]
        return "\n".join(parts) or None
    return None


def _as_html(text: str) -> str:
    """A body as HTML for cleaning: HTML kept; plain text escaped with its lines and paragraphs kept."""
    if _MARKUP.search(text):
        return text
    paras = [p.strip() for p in _BLANK_LINES.split(text.replace("\r\n", "\n")) if p.strip()]
    return "".join("<p>" + html.escape(p).replace("\n", "<br>") + "</p>" for p in paras)


def parse_json_source(text: str, select: JsonSelect, page: str, *, max_entries: int = MAX_ENTRIES) -> ParsedFeed:
    """Read a JSON document's items with JMESPath expressions into feed entries."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"not JSON at {page}: {exc}") from None
    items = _compiled(select.items)(doc)
    if items is None:
        raise SelectorError(f"path `{select.items}` (items) matched nothing in the JSON at {page}; "
                            "the API's layout may have changed")
    if not isinstance(items, list):
        raise SelectorError(f"path `{select.items}` (items) gave a {type(items).__name__}, not a list, at {page}")
    tally = _Tally()
    if len(items) > max_entries:
        tally.notes.append(f"{len(items)} items; kept the first {max_entries}")
        items = items[:max_entries]
    fields = _configured(select)
    entries: list[Entry | None] = []
    for index, item in enumerate(items):
        values = {name: _json_text(_compiled(expr)(item)) for name, expr in fields.items()}
        if values.get("body"):
            values["body"] = _as_html(values["body"] or "")
        entries.append(_build(values, select, tally, page, index))
    if not items:
        tally.notes.append(f"path `{select.items}` gave an empty list")
    return _finish("json-select", entries, tally, fields, page)


# --- HTML ----------------------------------------------------------------------------------------

def parse_html_source(text: str, select: HtmlSelect, page: str, *, max_entries: int = MAX_ENTRIES) -> ParsedFeed:
    """Read an HTML page's items with CSS selectors (`@attr` for an attribute) into feed entries."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(text)
    base = tree.css_first("base[href]")
    if base is not None and base.attributes.get("href"):
        page = urljoin(page, base.attributes.get("href") or "")
    nodes = tree.css(select.items)
    if not nodes:
        raise SelectorError(f"selector `{select.items}` (items) matched nothing on the page at {page}; "
                            "the page's layout may have changed")
    tally = _Tally()
    if len(nodes) > max_entries:
        tally.notes.append(f"{len(nodes)} items; kept the first {max_entries}")
        nodes = nodes[:max_entries]
    fields = _configured(select)
    title_node = tree.css_first("title")
    title = " ".join(title_node.text().split()) if title_node is not None else ""
    entries: list[Entry | None] = []
    for index, node in enumerate(nodes):
        values = {name: _select(node, expr, whole=name == "body") for name, expr in fields.items()}
        entries.append(_build(values, select, tally, page, index))
    return _finish("html-select", entries, tally, fields, page, title)


def _select(node: Any, selector: str, *, whole: bool = False) -> str | None:
    """The text (or `@attr`) of the first match of `selector` under `node`; `whole`: the HTML of every match."""
    css, attr = split_attr(selector)
    matches = node.css(css) if css else [node]
    if not matches:
        return None
    if attr is not None:
        value = matches[0].attributes.get(attr)
        return value if isinstance(value, str) else None
    if whole:
        return "".join(m.html or "" for m in matches) or None
    return " ".join((matches[0].text(separator=" ") or "").split()) or None
