"""Read-only views for the CLI: feed status table, export lines, stories, learned boilerplate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from alerts.matchstore import matches_for
from ingest.feedstore import list_feeds
from ingest.store import ItemRow, StoryRow, as_utc, item_counts, learned_rules, utcnow


def _age(when: datetime | None, now: datetime) -> str:
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


def status_rows(engine: Engine, disabled_channels: dict[str, str] | None = None) -> list[list[str]]:
    """One row per feed: name, status, last poll, errors, items, next poll, last error."""
    now = utcnow()
    with Session(engine) as session:
        counts = item_counts(session)
    rows = [["FEED", "STATUS", "LAST POLL", "ERRORS", "ITEMS", "NEXT POLL", "LAST ERROR"]]
    for feed in list_feeds(engine):
        status = feed.last_status or "new"
        if not feed.enabled:
            status = "disabled"
        elif feed.consecutive_errors:
            status = f"failing ({feed.last_http_status or 'error'})"
        rows.append([
            feed.name, status, _age(feed.last_polled_at, now), str(feed.consecutive_errors),
            str(counts.get(feed.name, 0)), _age(feed.next_poll_at, now), (feed.last_error or "")[:70],
        ])
    return rows


def format_table(rows: list[list[str]]) -> str:
    """Left-aligned columns separated by two spaces."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def _iso(value: datetime | None) -> str | None:
    value = as_utc(value)
    return value.isoformat().replace("+00:00", "Z") if value else None


def export_lines(engine: Engine, feed: str | None = None, since: float | None = None) -> Iterator[str]:
    """The `export --format jsonl` lines: feed, guid, url, title, text, source, teaser, published, story, matches."""
    with Session(engine) as session:
        query = select(ItemRow).order_by(col(ItemRow.id))
        if feed:
            query = query.where(ItemRow.feed == feed)
        if since:
            query = query.where(col(ItemRow.fetched_at) >= utcnow() - timedelta(seconds=since))
        last = 0
        while True:
            rows = list(session.exec(query.where(col(ItemRow.id) > last).limit(1000)).all())
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
        query = select(StoryRow).order_by(col(StoryRow.first_seen).desc())
        if since:
            query = query.where(col(StoryRow.last_updated) >= now - timedelta(seconds=since))
        stories = session.exec(query).all()
        rows = [["STORY", "COPIES", "UPDATES", "FIRST SEEN", "LAST", "SOURCES", "TITLE"]]
        for s in stories:
            rows.append([str(s.id), str(s.items), str(s.updates), _age(s.first_seen, now), _age(s.last_updated, now),
                         ", ".join(s.sources)[:60], s.title[:60]])
    return rows


def boilerplate_rows(engine: Engine, feed: str | None) -> list[list[str]]:
    """Learned boilerplate lines per feed with their state."""
    with Session(engine) as session:
        rules = learned_rules(session, feed or None)
        return [["FEED", "STATE", "LEARNED", "LINE"]] + [
            [r.feed, r.state, _iso(r.learned_at) or "-", r.line[:100]] for r in rules
        ]
