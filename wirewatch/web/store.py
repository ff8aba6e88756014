"""Every SQL statement the web console runs: reads for its pages, and the few writes its forms make.

Route handlers call these with an engine and get plain values back; they hold no SQL. Reads
reuse the ingest and alerts tables (`ingest.store`, `alerts.tables`, `alerts.matchstore`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from wirewatch.alerts.attempts import attempts_of
from wirewatch.alerts.matchstore import ItemMatch
from wirewatch.alerts.tables import ALERTS, DELIVERIES, DeliveryState
from wirewatch.config.clock import as_utc, utcnow
from wirewatch.ingest import feedstore
from wirewatch.ingest.dedupe import Signature, similarity
from wirewatch.ingest.store import (
    ITEMS,
    RULES,
    SIGNATURES,
    STORIES,
    FeedRow,
    PollLogRow,
)

MATCHES: sa.Table = ItemMatch.__table__  # type: ignore[attr-defined]
RULE_STATES = ("learned", "pinned", "disabled")  # what `wirewatch boilerplate` lists and the cleaner obeys


def read_engine(url: str, sqlite_cache: int) -> Engine:
    """An engine for the console's reads: SQLite read-only with deferred transactions, PostgreSQL read-only."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if not path or path == ":memory:":
            return sa.create_engine(url)
        engine = sa.create_engine(f"sqlite:///file:{path}?mode=ro&uri=true",
                                  connect_args={"timeout": 30, "check_same_thread": False})

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute(f"PRAGMA cache_size=-{max(sqlite_cache // 1024, 2048)}")
            cur.execute("PRAGMA query_only=ON")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return sa.create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=4,
                            connect_args={"options": "-c default_transaction_read_only=on"})


# --- overview ---------------------------------------------------------------------------------


@dataclass(slots=True)
class FeedState:
    """One configured feed as the overview shows it."""

    name: str
    state: str  # failing | unhealthy | ok | new | disabled | paused
    last_status: str | None = None
    last_http_status: int | None = None
    last_error: str | None = None
    consecutive_errors: int = 0
    last_polled_at: datetime | None = None
    next_poll_at: datetime | None = None
    since: datetime | None = None
    backoff: float | None = None
    items: int = 0
    health: str = "ok"
    paused_at: datetime | None = None

    @property
    def rank(self) -> int:
        """Sort key: failing first, then unhealthy, paused, new, ok, disabled."""
        return ("failing", "unhealthy", "paused", "new", "ok", "disabled").index(self.state)


def _feed_state(row: FeedRow | None, name: str, configured: bool) -> FeedState:
    if row is None:
        return FeedState(name=name, state="new")
    paused_at = as_utc(getattr(row, "paused_at", None))
    state = "ok"
    if not row.enabled or not configured:
        state = "disabled"
    elif paused_at is not None:
        state = "paused"
    elif row.consecutive_errors:
        state = "failing"
    elif row.health != "ok":
        state = "unhealthy"
    elif row.last_polled_at is None:
        state = "new"
    polled, due = as_utc(row.last_polled_at), as_utc(row.next_poll_at)
    backoff = (due - polled).total_seconds() if state == "failing" and polled and due else None
    return FeedState(name=row.name, state=state, last_status=row.last_status, last_http_status=row.last_http_status,
                     last_error=row.last_error, consecutive_errors=row.consecutive_errors, last_polled_at=polled,
                     next_poll_at=due, since=as_utc(row.health_since) if row.health != "ok" else None,
                     backoff=backoff, items=row.items_total, health=row.health, paused_at=paused_at)


def feed_states(engine: Engine, configured: list[str]) -> list[FeedState]:
    """Every configured feed (and every feed row no longer configured), failing first."""
    with Session(engine) as session:
        rows = {r.name: r for r in session.scalars(sa.select(FeedRow))}
        for r in rows.values():
            session.expunge(r)
    states = [_feed_state(rows.get(name), name, True) for name in configured]
    states += [_feed_state(row, name, False) for name, row in rows.items() if name not in set(configured)]
    return sorted(states, key=lambda s: (s.rank, s.name))


def feed_row(engine: Engine, name: str) -> FeedRow | None:
    """The stored row of one feed (detached), or None."""
    with Session(engine) as session:
        row = session.get(FeedRow, name)
        if row is not None:
            session.expunge(row)
        return row


def recent_polls(engine: Engine, feed: str) -> list[PollLogRow]:
    """The feed's recorded polls (`poll_log`, the newest 50), newest first."""
    return feedstore.recent_polls(engine, feed)


def failing_since(engine: Engine, feeds: list[str]) -> dict[str, datetime]:
    """When each failing feed's current run of errors began, from the recorded polls."""
    return feedstore.failing_since(engine, feeds)


@dataclass(slots=True)
class Outbox:
    """Outbox depth, oldest pending delivery and dead deliveries."""

    depth: int
    oldest_pending: datetime | None
    dead: int


def outbox_summary(engine: Engine) -> Outbox:
    """Deliveries not yet delivered or dead, the oldest of them, and how many are dead."""
    d = DELIVERIES.c
    with engine.connect() as conn:
        depth, oldest = conn.execute(sa.select(sa.func.count(), sa.func.min(d.created_at))
                                     .where(d.state.in_(DeliveryState.OPEN))).one()
        dead = conn.execute(sa.select(sa.func.count()).where(d.state == DeliveryState.DEAD)).scalar_one()
    return Outbox(int(depth), as_utc(oldest) if isinstance(oldest, datetime) else _parse_ts(oldest), int(dead))


def _parse_ts(value: object) -> datetime | None:
    if isinstance(value, str):  # SQLite's min() of a typed column comes back as text
        return as_utc(datetime.fromisoformat(value))
    return None


def _hour(conn: Connection, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    if conn.dialect.name == "postgresql":
        return sa.func.to_char(sa.func.date_trunc("hour", column), "YYYY-MM-DD HH24")
    return sa.func.substr(column, 1, 13)


def per_hour(engine: Engine, hours: int = 24, now: datetime | None = None) -> list[tuple[str, int, int]]:
    """Items fetched and stories first seen in each of the last `hours` hours, oldest first."""
    now = now or utcnow()
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
    counts: dict[str, list[int]] = {(start + timedelta(hours=h)).strftime("%Y-%m-%d %H"): [0, 0] for h in range(hours)}
    with engine.connect() as conn:
        for i, (table, column) in enumerate(((ITEMS, ITEMS.c.fetched_at), (STORIES, STORIES.c.first_seen))):
            bucket = _hour(conn, column).label("h")
            for hour, n in conn.execute(sa.select(bucket, sa.func.count()).select_from(table)
                                        .where(column >= start).group_by(bucket)):
                key = str(hour).replace("T", " ")[:13]
                if key in counts:
                    counts[key][i] += int(n)
    return [(hour, c[0], c[1]) for hour, c in counts.items()]


# --- items, stories, matches ----------------------------------------------------------------


ITEM_COLUMNS = (ITEMS.c.id, ITEMS.c.feed, ITEMS.c.title, ITEMS.c.url, ITEMS.c.source, ITEMS.c.published_at,
                ITEMS.c.fetched_at, ITEMS.c.story_id)


def recent_items(engine: Engine, feed: str | None = None, before: int | None = None,
                 limit: int = 50) -> list[dict[str, Any]]:
    """Items newest first (by id), optionally of one feed and below an id (the next page)."""
    query = sa.select(*ITEM_COLUMNS).order_by(ITEMS.c.id.desc()).limit(limit)
    if feed is not None:
        query = query.where(ITEMS.c.feed == feed)
    if before is not None:
        query = query.where(ITEMS.c.id < before)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def learned_lines(engine: Engine, feed: str) -> list[dict[str, Any]]:
    """The learned boilerplate lines of a feed with their state."""
    r = RULES.c
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(
            sa.select(r.id, r.line, r.state, r.learned_at).where(r.feed == feed).order_by(r.id))]


def set_rule_state(engine: Engine, feed: str, rule_id: int, state: str) -> bool:
    """Pin, disable or restore one learned line of a feed (the state `wirewatch boilerplate` reads)."""
    if state not in RULE_STATES:
        raise ValueError(f"state must be one of {RULE_STATES}, got {state!r}")
    with engine.begin() as conn:
        return bool(conn.execute(RULES.update().where(RULES.c.id == rule_id, RULES.c.feed == feed)
                                 .values(state=state)).rowcount)


def language_of(text: str) -> str:
    """A rough language tag from the script: ja (kana), zh (Han), else en."""
    sample = text[:400]
    if any("\u3040" <= ch <= "\u30ff" for ch in sample):
        return "ja"
    if any("\u4e00" <= ch <= "\u9fff" for ch in sample):
        return "zh"
    return "en"


@dataclass(slots=True)
class StoryItem:
    """One copy of a story: the item, its language and outlet, why it joined, its matches."""

    id: int
    feed: str
    title: str
    url: str
    text: str
    outlet: str
    language: str
    fetched_at: datetime | None
    why: str
    matches: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class StoryView:
    """A story with its copies and alerts."""

    id: int
    title: str
    first_seen: datetime | None
    last_updated: datetime | None
    sources: list[str]
    updates: int
    items: list[StoryItem]
    alerts: list[dict[str, Any]]


def _why(item: dict[str, Any], first: dict[str, Any] | None, sigs: dict[int, bytes]) -> str:
    if first is None or item["id"] == first["id"]:
        return "first copy: the story started with it"
    if item["content_hash"] == first["content_hash"]:
        return f"same clean text as item {first['id']}"
    a, b = sigs.get(item["id"]), sigs.get(first["id"])
    if a is None or b is None:
        return "joined through a shared LSH band (signature no longer stored)"
    try:
        score = similarity(Signature.from_bytes(a), Signature.from_bytes(b))
    except ValueError:
        return "joined under an older dedupe scheme"
    return f"near-duplicate of item {first['id']}: estimated Jaccard similarity {score:.2f}"


def story_view(engine: Engine, story_id: int) -> StoryView | None:
    """A story, its items (with why each joined and their matches) and its alerts with deliveries."""
    with engine.connect() as conn:
        story = conn.execute(sa.select(STORIES).where(STORIES.c.id == story_id)).first()
        if story is None:
            return None
        rows = [dict(r._mapping) for r in conn.execute(
            sa.select(*ITEM_COLUMNS, ITEMS.c.text, ITEMS.c.content_hash).where(ITEMS.c.story_id == story_id)
            .order_by(ITEMS.c.id).limit(500))]
        ids = [r["id"] for r in rows]
        sigs = {i: bytes(s) for i, s in conn.execute(
            sa.select(SIGNATURES.c.item_id, SIGNATURES.c.signature).where(SIGNATURES.c.item_id.in_(ids)))}
        matches: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for m in conn.execute(sa.select(MATCHES).where(MATCHES.c.item_id.in_(ids))
                              .order_by(MATCHES.c.watchlist, MATCHES.c.entity)):
            matches[m.item_id].append(dict(m._mapping))
        alerts = alerts_of_story(conn, story_id)
    first = next((r for r in rows if r["id"] == story.first_item_id), rows[0] if rows else None)
    items = [StoryItem(id=r["id"], feed=r["feed"], title=r["title"], url=r["url"], text=r["text"],
                       outlet=r["source"] or r["feed"], language=language_of(r["title"] + r["text"]),
                       fetched_at=as_utc(r["fetched_at"]), why=_why(r, first, sigs), matches=matches[r["id"]])
             for r in rows]
    items.sort(key=lambda i: (i.language, i.outlet, i.id))
    return StoryView(id=story.id, title=story.title, first_seen=as_utc(story.first_seen),
                     last_updated=as_utc(story.last_updated), sources=list(story.sources or []),
                     updates=story.updates, items=items, alerts=alerts)


def alerts_of_story(conn: Connection, story_id: int) -> list[dict[str, Any]]:
    """The story's alerts, each with its deliveries."""
    a, d = ALERTS.c, DELIVERIES.c
    alerts = [dict(r._mapping) for r in conn.execute(
        sa.select(a.id, a.public_id, a.type, a.watchlist, a.title, a.created_at, a.throttled)
        .where(a.story_id == story_id).order_by(a.id))]
    by_alert: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if alerts:
        for r in conn.execute(sa.select(d.id, d.alert_id, d.channel, d.state, d.attempts, d.last_error)
                              .where(d.alert_id.in_([x["id"] for x in alerts])).order_by(d.id)):
            by_alert[r.alert_id].append(dict(r._mapping))
    for alert in alerts:
        alert["deliveries"] = by_alert[alert["id"]]
    return alerts


def item_story(engine: Engine, item_id: int) -> int | None:
    """The story id of one item."""
    with engine.connect() as conn:
        value = conn.execute(sa.select(ITEMS.c.story_id).where(ITEMS.c.id == item_id)).scalar()
    return int(value) if value is not None else None


# --- alerts and deliveries --------------------------------------------------------------------


def deliveries(engine: Engine, watchlist: str | None = None, channel: str | None = None, state: str | None = None,
               limit: int = 200) -> list[dict[str, Any]]:
    """Deliveries newest first with their alert, filtered by watchlist, channel and state."""
    a, d = ALERTS.c, DELIVERIES.c
    query = (sa.select(d.id, d.channel, d.state, d.attempts, d.next_attempt_at, d.last_error, d.created_at,
                       d.delivered_at, a.public_id, a.watchlist, a.title, a.story_id, a.type)
             .join(ALERTS, a.id == d.alert_id).order_by(d.id.desc()).limit(limit))
    if watchlist:
        query = query.where(a.watchlist == watchlist)
    if channel:
        query = query.where(d.channel == channel)
    if state:
        query = query.where(d.state == state)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def delivery_filters(engine: Engine) -> tuple[list[str], list[str]]:
    """The watchlists and channels that have alerts (for the filter menus)."""
    with engine.connect() as conn:
        watchlists = sorted(conn.execute(sa.select(ALERTS.c.watchlist).distinct()).scalars())
        channels = sorted(conn.execute(sa.select(DELIVERIES.c.channel).distinct()).scalars())
    return watchlists, channels


def delivery(engine: Engine, delivery_id: int) -> dict[str, Any] | None:
    """One delivery with every recorded fact about its attempts, and its alert."""
    a, d = ALERTS.c, DELIVERIES.c
    with engine.connect() as conn:
        row = conn.execute(sa.select(DELIVERIES, a.public_id, a.watchlist, a.title, a.story_id, a.type,
                                     a.created_at.label("alert_created_at"))
                           .join(ALERTS, a.id == d.alert_id).where(d.id == delivery_id)).first()
        if row is None:
            return None
        found = dict(row._mapping)
        found["attempt_rows"] = attempts_of(conn, delivery_id, found["digest_id"])
    return found


# --- search -----------------------------------------------------------------------------------


def entities(engine: Engine) -> list[str]:
    """Entity ids that have matched at least one stored item (the search filter menu)."""
    with engine.connect() as conn:
        return sorted(conn.execute(sa.select(MATCHES.c.entity).distinct()).scalars())


def history(engine: Engine, since: datetime, limit: int) -> list[dict[str, Any]]:
    """Items fetched since `since` with title and text, newest first, at most `limit` (the tester's backtest)."""
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            sa.select(ITEMS.c.id, ITEMS.c.feed, ITEMS.c.title, ITEMS.c.text, ITEMS.c.story_id)
            .where(ITEMS.c.fetched_at >= since).order_by(ITEMS.c.id.desc()).limit(limit))]


def set_feed_paused(engine: Engine, name: str, paused: bool) -> bool:
    """Pause or resume one feed (`wirewatch feeds pause|resume`); False if there is no such feed."""
    from sqlmodel import Session as ModelSession

    from wirewatch.ingest.feedstore import set_paused

    with ModelSession(engine) as session:
        found = set_paused(session, name, paused, utcnow())
        session.commit()
    return found
