"""Read-only views for the CLI: feed status table, export lines, stories, learned boilerplate."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from wirewatch import viewstore
from wirewatch.alerts.matchstore import matches_for
from wirewatch.alerts.outboxstore import list_deliveries
from wirewatch.alerts.tables import DeliveryInfo
from wirewatch.config.clock import as_utc, utcnow
from wirewatch.ingest.feedstore import list_feeds
from wirewatch.ingest.store import item_counts, learned_rules


def age(when: datetime | None, now: datetime) -> str:
    """How long ago (`5m ago`) or until when (`in 5m`) `when` is, from `now`; `-` for none."""
    when = as_utc(when)
    if when is None:
        return "-"
    seconds = (now - when).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            text = f"{int(seconds // size)}{unit}"
            break
    else:
        text = f"{int(seconds)}s"
    return f"in {text}" if future else f"{text} ago"


DUE_GRACE = 60.0
"""Seconds past its next-poll time a feed is still just "due"; later it is "overdue" (no daemon polled it)."""


def next_poll(when: datetime | None, now: datetime, enabled: bool = True) -> str:
    """When a feed is next polled, said honestly: `in 4m`, `due`, or `overdue 2h` when nobody polled it."""
    when = as_utc(when)
    if not enabled:
        return "-"
    if when is None:
        return "due"
    late = (now - when).total_seconds()
    if late < 0:
        return age(when, now)
    if late <= DUE_GRACE:
        return "due"
    return "overdue " + age(when, now).removesuffix(" ago")


def status_rows(engine: Engine, *, wide: bool = False) -> list[list[str]]:
    """One row per feed: name, status, last poll, errors, items, next poll, last error (`wide`: URL, health too)."""
    now = utcnow()
    with Session(engine) as session:
        counts = item_counts(session)
    head = ["FEED", "STATUS", "LAST POLL", "ERRORS", "ITEMS", "NEXT POLL", "LAST ERROR"]
    rows = [head + ["HEALTH", "LAST NEW ITEM", "URL"] if wide else head]
    for feed in list_feeds(engine):
        status = feed.last_status or "new"
        if not feed.enabled:
            status = "disabled"
        elif feed.paused_at is not None:
            status = "paused"
        elif feed.consecutive_errors:
            status = f"failing ({feed.last_http_status or 'error'})"
        error = " ".join((feed.last_error or "").split())
        row = [
            feed.name, status, age(feed.last_polled_at, now), str(feed.consecutive_errors),
            str(counts.get(feed.name, 0)), next_poll(feed.next_poll_at, now, feed.enabled),
            error if wide else clip(error, 70),
        ]
        if wide:
            row += [feed.health, age(feed.last_new_item_at, now), feed.url]
        rows.append(row)
    return rows


def char_width(ch: str) -> int:
    """Columns one character takes in a terminal: 2 for wide and full-width (CJK), 0 for combining marks."""
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Columns `text` takes in a terminal (CJK characters count two)."""
    if text.isascii():
        return len(text)
    return sum(char_width(ch) for ch in text)


def clip(text: str, width: int) -> str:
    """`text` cut to at most `width` display columns, with `…` when it was cut."""
    if display_width(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = char_width(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def pad(text: str, width: int) -> str:
    """`text` padded with spaces to `width` display columns."""
    return text + " " * max(width - display_width(text), 0)


def format_table(rows: list[list[str]]) -> str:
    """Left-aligned columns separated by two spaces, aligned by display width (CJK text lines up)."""
    cells = [[" ".join(c.split()) if "\n" in c or "\t" in c else c for c in r] for r in rows]
    widths = [max(display_width(r[i]) for r in cells) for i in range(len(cells[0]))]
    return "\n".join("  ".join(pad(c, w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells)


def _iso(value: datetime | None) -> str | None:
    value = as_utc(value)
    return value.isoformat().replace("+00:00", "Z") if value else None


def export_lines(engine: Engine, feed: str | None = None, since: float | None = None) -> Iterator[str]:
    """The `export --format jsonl` lines: feed, guid, url, title, text, source, teaser, published, story, matches."""
    with Session(engine) as session:
        fetched_since = utcnow() - timedelta(seconds=since) if since else None
        last = 0
        while True:
            rows = viewstore.items_page(session, feed, fetched_since, last, 1000)
            if not rows:
                return
            matches = matches_for(session, [r.id for r in rows if r.id is not None])
            for row in rows:
                assert row.id is not None
                yield json.dumps({
                    "feed": row.feed, "guid": row.guid, "url": row.url, "title": row.title, "text": row.text,
                    "source": row.source, "teaser": row.teaser, "published": _iso(row.published_at), "story": row.story_id,
                    "matches": matches.get(row.id, []),
                }, ensure_ascii=False)
            last = rows[-1].id or last


def story_rows(engine: Engine, since: float | None = None) -> list[list[str]]:
    """One row per story: id, copies, sources, first and last seen, title."""
    now = utcnow()
    with Session(engine) as session:
        stories = viewstore.stories_since(session, now - timedelta(seconds=since) if since else None)
        rows = [["STORY", "COPIES", "UPDATES", "FIRST SEEN", "LAST", "SOURCES", "TITLE"]]
        for s in stories:
            rows.append([str(s.id), str(s.items), str(s.updates), age(s.first_seen, now), age(s.last_updated, now),
                         clip(", ".join(s.sources), 60), clip(s.title, 60)])
    return rows


def boilerplate_rows(engine: Engine, feed: str | None) -> list[list[str]]:
    """Learned boilerplate lines per feed with their state."""
    with Session(engine) as session:
        rules = learned_rules(session, feed or None)
        return [["FEED", "STATE", "LEARNED", "LINE"]] + [
            [r.feed, r.state, _iso(r.learned_at) or "-", clip(r.line, 100)] for r in rules
        ]


def deliveries(engine: Engine, state: str | None = None, *, watchlist: str | None = None,
               channel: str | None = None, limit: int = 1000) -> list[DeliveryInfo]:
    """Deliveries newest first, optionally of one state, watchlist and channel (what `alerts` lists)."""
    with engine.connect() as conn:
        return list_deliveries(conn, state, limit, watchlist=watchlist, channel=channel)


def alert_rows(rows: list[DeliveryInfo], now: datetime | None = None) -> list[list[str]]:
    """The `alerts` table: one row per delivery, with the alert it carries."""
    now = now or utcnow()
    out = [["ID", "ALERT", "WATCHLIST", "CHANNEL", "STATE", "TRIES", "CREATED", "NEXT / DONE", "TITLE", "LAST ERROR"]]
    for r in rows:
        if r.state == "delivered":
            when = age(r.delivered_at, now)
        elif r.state in ("pending", "retrying"):
            when = f"digest {r.digest_id}" if r.digest_id is not None else next_poll(r.next_attempt_at, now)
        else:
            when = "-"
        out.append([str(r.id), r.public_id, r.watchlist, r.channel, r.state, str(r.attempts),
                    age(r.created_at, now), when, clip(r.title, 50), clip(" ".join((r.last_error or "").split()), 60)])
    return out
