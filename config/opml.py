"""OPML 2.0 in and out: the feed lists Miniflux, FreshRSS, Inoreader and most readers export.

`parse_opml` reads every `<outline>` with an `xmlUrl`, at any depth (folders are outlines too),
and never expands anything: a document with a DTD or entity declaration is refused outright,
which closes entity expansion ("billion laughs") and external entities alike; the size is capped.
`plan_import` turns the outlines into feed entries: names derived from titles (else the host) to
the `[a-z0-9-]` rule and made unique against the feeds already configured; a URL already
configured or repeated in the file is skipped and reported, as is a URL that is not http(s).
`to_opml` writes OPML 2.0 of configured feeds. All three are pure.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import urlsplit
from xml.parsers import expat
from xml.sax.saxutils import escape, quoteattr

from wirewatch.config.errors import OpmlError
from wirewatch.config.models import FEED_NAME

__all__ = ["MAX_OPML_BYTES", "ImportPlan", "Outline", "feed_name", "parse_opml", "plan_import", "to_opml"]

MAX_OPML_BYTES = 10 * 1024 * 1024
MAX_NAME = 60
_NOT_NAME = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class Outline:
    """One feed outline: its URL, its title (or text), and the folders it sits in."""

    url: str
    title: str
    folders: tuple[str, ...] = ()


@dataclass(slots=True)
class ImportPlan:
    """What an import adds (name, URL) and what it skips (URL, why)."""

    feeds: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _refuse(what: str) -> object:
    def handler(*_args: object) -> None:
        raise OpmlError(f"refused: the document declares {what}; OPML needs none, and it could expand "
                        "without limit or read other files")

    return handler


def parse_opml(data: bytes) -> list[Outline]:
    """Every feed outline of an OPML document, in document order; raises OpmlError for anything else."""
    if len(data) > MAX_OPML_BYTES:
        raise OpmlError(f"refused: the file is larger than {MAX_OPML_BYTES // (1024 * 1024)} MiB")
    outlines: list[Outline] = []
    stack: list[str | None] = []  # per open element: the folder title it opens (None: not a folder)
    root: list[str] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        if not root:
            root.append(tag)
            if tag.lower() != "opml":
                raise OpmlError(f"not an OPML document: the root element is <{tag}>, expected <opml>")
        folder: str | None = None
        if tag.lower() == "outline":
            lowered = {k.lower(): v for k, v in attrs.items()}
            title = (lowered.get("title") or lowered.get("text") or "").strip()
            url = (lowered.get("xmlurl") or "").strip()
            if url:
                outlines.append(Outline(url, title, tuple(f for f in stack if f)))
            else:
                folder = title or None
        stack.append(folder)

    def end(_tag: str) -> None:
        stack.pop()

    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _refuse("a DTD (<!DOCTYPE …>)")  # type: ignore[assignment]
    parser.EntityDeclHandler = _refuse("an entity (<!ENTITY …>)")  # type: ignore[assignment]
    parser.ExternalEntityRefHandler = _refuse("an external entity")  # type: ignore[assignment]
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise OpmlError(f"not well-formed XML: {expat.ErrorString(exc.code)} at line {exc.lineno}") from None
    if not root:
        raise OpmlError("not an OPML document: no elements")
    return outlines


def feed_name(title: str, url: str, taken: set[str]) -> str:
    """A feed name from `title` (else the URL's host) that fits `[a-z0-9][a-z0-9-]*` and is not in `taken`."""
    base = _slug(title) or _slug(_host(url)) or "feed"
    name, n = base, 2
    while name in taken:
        suffix = f"-{n}"
        name = base[:MAX_NAME - len(suffix)].rstrip("-") + suffix
        n += 1
    return name


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    slug = _NOT_NAME.sub("-", ascii_text).strip("-")[:MAX_NAME].rstrip("-")
    return slug if FEED_NAME.match(slug) else ""


def _host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def _url_key(url: str) -> str:
    """URLs that differ only in scheme case, host case or a trailing slash are one feed."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/") or "/"
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}?{parts.query}"


def plan_import(outlines: Iterable[Outline], configured: Iterable[tuple[str, str]]) -> ImportPlan:
    """Feeds to add for `outlines`, given the (name, URL) pairs already configured."""
    configured = list(configured)
    taken = {name for name, _ in configured}
    seen = {_url_key(url): f"already configured as {name}" for name, url in configured}
    plan = ImportPlan()
    for outline in outlines:
        parts = urlsplit(outline.url)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            plan.skipped.append((outline.url, "not an http:// or https:// URL"))
            continue
        key = _url_key(outline.url)
        if key in seen:
            plan.skipped.append((outline.url, seen[key]))
            continue
        name = feed_name(outline.title, outline.url, taken)
        taken.add(name)
        seen[key] = f"a repeat in this file (imported as {name})"
        plan.feeds.append((name, outline.url))
    return plan


def to_opml(feeds: Iterable[tuple[str, str]], title: str = "wirewatch feeds", now: datetime | None = None) -> str:
    """An OPML 2.0 document listing (name, URL) feeds."""
    created = format_datetime(now or datetime.now(UTC), usegmt=True)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<opml version="2.0">', "  <head>",
             f"    <title>{escape(title)}</title>", f"    <dateCreated>{escape(created)}</dateCreated>",
             "  </head>", "  <body>"]
    for name, url in feeds:
        lines.append(f'    <outline type="rss" text={quoteattr(name)} title={quoteattr(name)} '
                     f"xmlUrl={quoteattr(url)}/>")
    lines += ["  </body>", "</opml>"]
    return "\n".join(lines) + "\n"
