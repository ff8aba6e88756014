"""The types that travel down the ingest pipeline: one entry as parsed, one item as stored.

`Entry` is what `parse` yields (raw fields exactly as the feed gave them). `Item` is what
`clean`, `dedupe` and `store` fill in and what `alerts` reads. Both are plain dataclasses so
every pure step can be tested as input → expected output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True)
class Entry:
    """One entry of a feed, raw, as the parser found it."""

    guid: str | None
    """The entry's own id (RSS `guid`, Atom `id`, JSON Feed `id`), if it has one."""
    link: str | None
    title: str
    summary: str = ""
    """The short form as HTML (RSS `description`, Atom `summary`)."""
    content: str = ""
    """The full form as HTML (`content:encoded`, Atom `content`), when the feed carries one."""
    published: datetime | None = None
    author: str | None = None
    source: str | None = None
    """The outlet the entry names in a field: RSS `<source>`, or `select.source` of a JSON or HTML source."""


@dataclass(slots=True)
class ParsedFeed:
    """A parsed feed document: its format, title, entries and any tolerated problem."""

    format: str
    title: str
    entries: list[Entry]
    warning: str | None = None
    skipped: int = 0
    """Items left out because a required field was missing (JSON and HTML sources)."""


@dataclass(slots=True)
class Removal:
    """One piece of text that cleaning removed, and the rule that removed it."""

    rule: str
    text: str


@dataclass(slots=True)
class Cleaned:
    """The result of cleaning one item: the article alone, its outlet, and what was removed."""

    text: str
    source: str | None = None
    removed: list[Removal] = field(default_factory=list)
    title: str | None = None
    """The title without a provider suffix (`…(Impress Watch)`), when it had one; None: the title as given."""
    teaser: bool = False
    """The body was only a placeholder or a paywall line (or a cut-off lead above one): not the article."""


@dataclass(slots=True)
class Item:
    """One news item as it moves from parse to store, and as alerts see it."""

    feed: str
    identity: str
    guid: str | None
    url: str
    title: str
    raw_summary: str
    raw_content: str
    published_at: datetime
    fetched_at: datetime
    text: str = ""
    source: str | None = None
    teaser: bool = False
    """The feed gave only a placeholder or paywall line (see `Cleaned.teaser`)."""
    content_hash: str = ""
    id: int | None = None
    story_id: int | None = None
    search_short: str | None = None
    """`item.search_short` for this title and text (`shortwords.stored_tokens`); None: the writer works it out."""


@dataclass(slots=True)
class StoryRef:
    """What alerts need to know about the story an item joined."""

    id: int
    first_seen: datetime
    """When the story's first item was stored."""
    sources: list[str]
    """The outlets of the story's items (`story.sources`)."""
    items: int
    created: bool = False
    updated: bool = False
    new_item: bool = False
    """The item was first stored by this call, so nothing stored about it (matches) needs replacing."""


@dataclass(slots=True)
class PollReport:
    """What one poll did: outcome, counts and timing, for logs, metrics and the feed row."""

    feed: str
    status: str
    http_status: int | None = None
    new: int = 0
    updated: int = 0
    duplicate: int = 0
    stories_created: int = 0
    removed_lines: int = 0
    bytes: int = 0
    duration: float = 0.0
    error: str | None = None
    retry_after: float | None = None
    etag: str | None = None
    last_modified: str | None = None
    warning: str | None = None
    skipped: int = 0
    """Items of a JSON or HTML source left out for a missing required field."""
