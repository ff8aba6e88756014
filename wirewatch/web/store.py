"""Every SQL statement the web console runs: reads for its pages, and the few writes its forms make.

Route handlers call these with an engine and get plain values back; they hold no SQL. Reads
reuse the ingest and alerts tables (`ingest.store`, `alerts.models`, `alerts.matchstore`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from wirewatch.alerts.attempts import attempts_of
from wirewatch.alerts.matchstore import ItemMatch
from wirewatch.alerts.models import ALERTS, DELIVERIES, DeliveryState
from wirewatch.ingest import feedstore, shortwords
from wirewatch.ingest.dedupe import Signature, similarity
from wirewatch.ingest.store import (
    FeedRow,
    ItemRow,
    ItemSignature,
    LearnedRule,
    PollLogRow,
    StoryRow,
    as_utc,
    utcnow,
)

FEEDS: sa.Table = FeedRow.__table__  # type: ignore[attr-defined]
ITEMS: sa.Table = ItemRow.__table__  # type: ignore[attr-defined]
STORIES: sa.Table = StoryRow.__table__  # type: ignore[attr-defined]
SIGNATURES: sa.Table = ItemSignature.__table__  # type: ignore[attr-defined]
RULES: sa.Table = LearnedRule.__table__  # type: ignore[attr-defined]
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


def _fts_available(conn: Connection, table: str = "item_fts") -> bool:
    if conn.dialect.name != "sqlite":
        return False
    return conn.execute(sa.text("SELECT 1 FROM sqlite_master WHERE name = :t"), {"t": table}).first() is not None


def _literal(q: str) -> str:
    return '"' + q.replace('"', '""') + '"'


RECENT_SCAN = 5_000
"""PostgreSQL: how many of the newest items a search scans before it turns to the indexes."""

_SHORT_ARRAY: sa.ColumnElement[Any] = sa.literal_column("string_to_array(item.search_short, ' ')")
"""PostgreSQL: the expression `ix_item_search_short` (migration 0005h) indexes, written as it is there."""


def _scan_contains(word: str) -> sa.ColumnElement[bool]:
    """Title or text contains `word`, ignoring case; no index can serve it (a scan, newest first)."""
    if word.lower() == word.upper():  # nothing to fold (Chinese, Japanese, digits): skip lower() on every row
        return sa.or_(sa.func.strpos(ITEMS.c.title, word) > 0, sa.func.strpos(ITEMS.c.text, word) > 0)
    needle = sa.func.lower(sa.literal(word))
    return sa.or_(sa.func.strpos(sa.func.lower(ITEMS.c.title), needle) > 0,
                  sa.func.strpos(sa.func.lower(ITEMS.c.text), needle) > 0)


def _like_contains(word: str) -> sa.ColumnElement[bool]:
    """Title or text ILIKE `%word%`: what pg_trgm's GIN indexes serve (three characters or more)."""
    pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return sa.or_(ITEMS.c.title.ilike(pattern, escape="\\"), ITEMS.c.text.ilike(pattern, escape="\\"))


@dataclass(slots=True)
class Words:
    """A query cut by how it is searched: trigram words, short tokens, words only a substring scan answers."""

    long: list[str]
    short: list[str]
    scan: list[str]


def split_query(q: str) -> Words:
    """Words of three characters or more, the short tokens of shorter words (`ingest.shortwords`), the rest."""
    words = Words([], [], [])
    for word in q.split():
        tokens = shortwords.query_tokens(word) if len(word) < 3 else None
        if len(word) >= 3:
            words.long.append(word)
        elif tokens is None:
            words.scan.append(word)
        else:
            words.short += [t for t in tokens if t not in words.short]
    return words


def _has_tokens(tokens: list[str]) -> sa.ColumnElement[bool]:
    """PostgreSQL: the item's short tokens hold all of `tokens` (served by `ix_item_search_short`)."""
    return _SHORT_ARRAY.op("@>")(sa.cast(sa.literal(tokens, ARRAY(sa.Text)), ARRAY(sa.Text)))


def search_items(engine: Engine, q: str, feed: str | None = None, entity: str | None = None,
                 since: datetime | None = None, until: datetime | None = None,
                 limit: int = 50) -> list[dict[str, Any]]:
    """Stored items whose title or text holds every word of `q` (any script), newest first, filtered.

    A word of three characters or more is a substring, ignoring case. A shorter word, normalised
    (NFKC, case folded), is a whole word of the title or text, or a substring if it holds a Han,
    kana or hangul character (`ingest.shortwords` gives the rules; `ai` finds `AI`, `ＡＩ`, `AI-led`,
    not `said`; `微` finds `微软`). A short word without a letter or digit (`$`) is a substring, scanned.
    SQLite: the FTS5 trigram table (`item_fts`) and the short-token table (`item_short`).
    PostgreSQL: the newest `RECENT_SCAN` items are scanned first (a common word fills the page
    there at once, where an index would fetch and sort every item holding it); if the page is
    not full, the older items through the trigram and short-token indexes (a rare word: few hits).
    """
    words = split_query(q)
    query = sa.select(*ITEM_COLUMNS).order_by(ITEMS.c.id.desc()).limit(limit)
    if feed:
        query = query.where(ITEMS.c.feed == feed)
    if entity:
        query = query.where(ITEMS.c.id.in_(sa.select(MATCHES.c.item_id).where(MATCHES.c.entity == entity)))
    if since is not None:
        query = query.where(ITEMS.c.fetched_at >= since)
    if until is not None:
        query = query.where(ITEMS.c.fetched_at < until)
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql" and (words.long or words.short or words.scan):
            return _search_postgres(conn, query, words, limit)
        return [dict(r._mapping) for r in conn.execute(_search_sqlite(conn, query, words))]


def _search_sqlite(conn: Connection, query: sa.Select[Any], words: Words) -> sa.Select[Any]:
    scan, lists, params = list(words.scan), [], {}
    if words.long and _fts_available(conn):
        lists.append("SELECT rowid FROM item_fts WHERE item_fts MATCH :m")
        params["m"] = " AND ".join(_literal(w) for w in words.long)
    else:
        scan += words.long
    if words.short and _fts_available(conn, "item_short"):
        lists.append("SELECT rowid FROM item_short WHERE item_short MATCH :s")
        params["s"] = " AND ".join(_literal(t) for t in words.short)
    elif words.short:  # not migrated to 0005h: the tokens as substrings (a superset of their matches)
        scan += words.short
    if lists:  # one list of ids: with two, SQLite would fetch every item of the first and probe the second
        query = query.where(ITEMS.c.id.in_(sa.text(" INTERSECT ".join(lists)).bindparams(**params)))
    return query.where(*(_like_contains(w) for w in scan))


def _search_postgres(conn: Connection, query: sa.Select[Any], words: Words, limit: int) -> list[dict[str, Any]]:
    top = conn.execute(sa.select(sa.func.max(ITEMS.c.id))).scalar() or 0
    border = top - RECENT_SCAN
    short = [_has_tokens(words.short)] if words.short else []
    recent = query.where(ITEMS.c.id > border, *short, *(_scan_contains(w) for w in words.long + words.scan))
    rows = [dict(r._mapping) for r in conn.execute(recent)]
    if len(rows) < limit and border > 0:
        # a word without a trigram or short token (`$`) has no index: through it the search reads everything
        older = query.where(ITEMS.c.id <= border, *short, *(_like_contains(w) for w in words.long),
                            *(_scan_contains(w) for w in words.scan)).limit(limit - len(rows))
        rows += [dict(r._mapping) for r in conn.execute(older)]
    return rows


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
