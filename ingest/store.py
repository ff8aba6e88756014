"""Storage of feeds, items, stories and the story index (SQLModel over SQLite or PostgreSQL).

The tables here are the ingest side's; `alerts` keeps its own tables and `wirewatch.db`
creates both through Alembic migrations. Every write that must be atomic happens inside a
`Session` the caller owns, so the pipeline can store an item, its story and its alerts in
one transaction. Writing new items into stories is `ingest.storystore`; this module holds the
tables and the small reads and writes around them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    LargeBinary,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    event,
    func,
    insert,
    inspect,
    union_all,
)
from sqlalchemy import literal as sa_literal
from sqlalchemy import select as sa_select
from sqlmodel import Field, Session, SQLModel, col, delete, select

from wirewatch.config.clock import utcnow
from wirewatch.ingest.shortwords import stored_tokens

T = TypeVar("T")


def _search_short_default(context: Any) -> str | None:
    """`item.search_short` of a row being inserted (Core or ORM) from its title and text."""
    params = context.get_current_parameters()
    title, text = params.get("title"), params.get("text")
    if title is None and text is None:
        return None
    return stored_tokens(title, text)


def _ts(**kw: Any) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), **kw))


class FeedRow(SQLModel, table=True):
    """A feed's polling state: validators, schedule, errors and lease."""

    __tablename__ = "feed"

    name: str = Field(primary_key=True, max_length=100)
    url: str = Field(sa_column=Column(Text, nullable=False))
    enabled: bool = True
    etag: str | None = Field(default=None, sa_column=Column(Text))
    last_modified: str | None = Field(default=None, max_length=100)
    last_status: str | None = Field(default=None, max_length=20)
    last_http_status: int | None = None
    last_polled_at: datetime | None = _ts()
    next_poll_at: datetime | None = _ts(index=True)
    consecutive_errors: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    last_new_item_at: datetime | None = _ts()
    items_total: int = 0
    claimed_by: str | None = Field(default=None, max_length=100)
    lease_until: datetime | None = _ts()
    new_item_gap: float | None = None
    health: str = Field(default="ok", max_length=20)
    health_since: datetime | None = _ts()
    paused_at: datetime | None = _ts()
    polled_by: str | None = Field(default=None, max_length=100)  # the daemon that recorded the last poll


class ItemRow(SQLModel, table=True):
    """One stored item: raw fields as fetched, clean text, identity and story."""

    __tablename__ = "item"
    __table_args__ = (UniqueConstraint("feed", "identity", name="uq_item_feed_identity"),)

    id: int | None = Field(default=None, primary_key=True)
    feed: str = Field(max_length=100, index=True)
    identity: str = Field(sa_column=Column(Text, nullable=False))
    guid: str | None = Field(default=None, sa_column=Column(Text))
    url: str = Field(sa_column=Column(Text, nullable=False, index=True))
    title: str = Field(sa_column=Column(Text, nullable=False))
    raw_summary: str = Field(sa_column=Column(Text, nullable=False))
    raw_content: str = Field(sa_column=Column(Text, nullable=False))
    raw_hash: str = Field(max_length=64)
    text: str = Field(sa_column=Column(Text, nullable=False))
    source: str | None = Field(default=None, sa_column=Column(Text))
    teaser: bool = False  # the body was only a placeholder or paywall line (issue #21)
    published_at: datetime | None = _ts()
    fetched_at: datetime | None = _ts(index=True)
    updated_at: datetime | None = _ts()
    content_hash: str = Field(max_length=64, index=True)
    story_id: int | None = Field(default=None, index=True)
    search_short: str | None = Field(default=None, sa_column=Column(Text, default=_search_short_default))
    """The short search tokens of title and text (`ingest.shortwords`), filled on insert and ORM edits."""


@event.listens_for(ItemRow, "before_update")
def _search_short_on_edit(_mapper: Any, _conn: Any, row: ItemRow) -> None:
    """An ORM edit of the title or text recomputes the short tokens (a Core UPDATE must set them itself)."""
    state = inspect(row)
    if state.attrs.title.history.has_changes() or state.attrs.text.history.has_changes():
        row.search_short = stored_tokens(row.title, row.text)


class StoryRow(SQLModel, table=True):
    """One event: every copy of it across feeds points here."""

    __tablename__ = "story"

    id: int | None = Field(default=None, primary_key=True)
    first_item_id: int | None = None
    title: str = Field(sa_column=Column(Text, nullable=False))
    first_seen: datetime | None = _ts(index=True)
    last_updated: datetime | None = _ts()
    items: int = 1
    updates: int = 0
    sources: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class StoryBand(SQLModel, table=True):
    """The LSH band index: one row per (band key, item); candidates share a band key."""

    __tablename__ = "story_band"
    __table_args__ = (Index("ix_story_band_created", "created_at"),)

    band: str = Field(primary_key=True, max_length=64)
    item_id: int = Field(primary_key=True)
    story_id: int
    created_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


ALL_BANDS = (1 << 32) - 1
"""`item_signature.bands` of an item indexed under every band (`ingest.dedupe.BANDS` = 32)."""


class ItemSignature(SQLModel, table=True):
    """An item's MinHash signature, kept to verify candidates before they join a story."""

    __tablename__ = "item_signature"
    __table_args__ = (Index("ix_item_signature_story_code", "story_id", "code"),)

    item_id: int = Field(primary_key=True)
    story_id: int = Field(index=True)
    signature: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    text_len: int = 0
    created_at: datetime | None = _ts(index=True)
    event: str | None = Field(default=None, sa_column=Column(Text))
    """The item's `ingest.event.EventSignature` as JSON (None: stored before signatures existed)."""
    code: str | None = Field(default=None, max_length=40)
    """The principal security code (`c:CN:600519`), if the item names one: a story holds at most one."""
    joined: str | None = Field(default=None, sa_column=Column(Text))
    """Why the item joined its story (JSON, for `wirewatch stories --explain`); None for a new story."""
    bands: int = Field(default=ALL_BANDS, sa_column=Column(BigInteger, nullable=False,
                                                           server_default=str(ALL_BANDS)))
    """Which of the item's band keys have rows in `story_band` (bit i: band i; `ingest.indexstore.BAND_COPIES`)."""


class StoryFeature(SQLModel, table=True):
    """The event-feature index: one row per (headline figure, item), to find translations of an event."""

    __tablename__ = "story_feature"
    __table_args__ = (Index("ix_story_feature_created", "created_at"),)

    feature: str = Field(primary_key=True, max_length=64)
    item_id: int = Field(primary_key=True)
    story_id: int
    lang: str = Field(default="", max_length=8)
    created_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class IndexMeta(SQLModel, table=True):
    """Key/value facts about persisted indexes (the dedupe hashing scheme)."""

    __tablename__ = "index_meta"

    key: str = Field(primary_key=True, max_length=100)
    value: str = Field(sa_column=Column(Text, nullable=False))


class FeedHistory(SQLModel, table=True):
    """The normalised lines of a feed's recent items, for learning its boilerplate."""

    __tablename__ = "feed_history"

    id: int | None = Field(default=None, primary_key=True)
    feed: str = Field(max_length=100, index=True)
    item_id: int | None = None
    lines: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime | None = _ts()


class PollLogRow(SQLModel, table=True):
    """One finished poll of a feed (the newest `POLL_LOG_KEEP` per feed are kept) for the console's feed page."""

    __tablename__ = "poll_log"
    __table_args__ = (Index("ix_poll_log_feed_id", "feed", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    feed: str = Field(max_length=100)
    at: datetime | None = _ts(nullable=False)
    status: str = Field(max_length=20)
    http_status: int | None = None
    new: int = 0
    updated: int = 0
    duplicate: int = 0
    duration: float = 0.0
    error: str | None = Field(default=None, sa_column=Column(Text))


class LearnedRule(SQLModel, table=True):
    """A line a feed repeats on most items: learned, pinned or disabled."""

    __tablename__ = "learned_rule"
    __table_args__ = (UniqueConstraint("feed", "line_hash", name="uq_learned_feed_line"),)

    id: int | None = Field(default=None, primary_key=True)
    feed: str = Field(max_length=100, index=True)
    line_hash: str = Field(max_length=64)
    line: str = Field(sa_column=Column(Text, nullable=False))
    state: str = Field(default="learned", max_length=20)
    learned_at: datetime | None = _ts()


FEEDS: Table = FeedRow.__table__  # type: ignore[attr-defined]
ITEMS: Table = ItemRow.__table__  # type: ignore[attr-defined]
STORIES: Table = StoryRow.__table__  # type: ignore[attr-defined]
STORY_BANDS: Table = StoryBand.__table__  # type: ignore[attr-defined]
SIGNATURES: Table = ItemSignature.__table__  # type: ignore[attr-defined]
FEATURES: Table = StoryFeature.__table__  # type: ignore[attr-defined]
META: Table = IndexMeta.__table__  # type: ignore[attr-defined]
RULES: Table = LearnedRule.__table__  # type: ignore[attr-defined]
"""The Core tables of the models above, for the stores' SQL (SQLModel leaves `__table__` untyped)."""


@dataclass(slots=True)
class Known:
    """What the store already holds for one (feed, identity)."""

    id: int
    raw_hash: str
    story_id: int | None


def known_items(session: Session, feed: str, identities: Iterable[str]) -> dict[str, Known]:
    """Stored items of `feed` among `identities`, keyed by identity."""
    wanted = list(set(identities))
    table = ITEMS
    query = sa_select(table.c.identity, table.c.id, table.c.raw_hash, table.c.story_id).where(
        table.c.feed == feed, table.c.identity.in_(bindparam("wanted", expanding=True)))
    out: dict[str, Known] = {}
    conn = session.connection()  # Core: this runs for every poll that brings a document
    for start in range(0, len(wanted), 500):
        for identity, item_id, raw_hash, story_id in conn.execute(query, {"wanted": wanted[start : start + 500]}):
            out[identity] = Known(item_id, raw_hash, story_id)
    return out


@dataclass
class Exact:
    """What the store holds for a batch, read in one statement: items already stored, stories by URL and by text."""

    taken: set[tuple[str, str]]
    """(feed, identity) of the batch's items already stored"""
    by_url: dict[str, int]
    """URL → story of an item in the window with that URL (the first found)"""
    by_hash: dict[str, int]


def exact_matches(session: Session, identities: Iterable[tuple[str, str]], urls: Iterable[str],
                  hashes: Iterable[str], since: datetime) -> Exact:
    """Which (feed, identity) pairs are stored, and the stories of window items with these URLs or content hashes."""
    conn = session.connection()
    rows: list[Any] = []
    if conn.dialect.name == "postgresql":  # arrays: one statement text whatever the batch, prepared by the driver
        pairs = sorted(set(identities))
        to_db = ItemRow.__table__.c.fetched_at.type.bind_processor(conn.dialect)  # type: ignore[attr-defined]
        after = to_db(since) if to_db is not None else since
        rows = list(conn.exec_driver_sql(
            "SELECT 'k', i.feed, i.identity, i.story_id FROM unnest(%s::text[], %s::text[]) AS k(feed, identity) "
            "JOIN item i ON i.feed = k.feed AND i.identity = k.identity UNION ALL "
            "SELECT 'u', NULL, url, story_id FROM item WHERE url = ANY(%s::text[]) AND fetched_at >= %s "
            "AND story_id IS NOT NULL UNION ALL SELECT 'h', NULL, content_hash, story_id FROM item "
            "WHERE content_hash = ANY(%s::text[]) AND fetched_at >= %s AND story_id IS NOT NULL",
            ([f for f, _ in pairs], [i for _, i in pairs], sorted(set(urls)), after, sorted(set(hashes)), after)))
    else:
        table = ITEMS
        by_feed: dict[str, list[str]] = {}
        for feed, identity in sorted(set(identities)):
            by_feed.setdefault(feed, []).append(identity)
        parts: list[tuple[str, tuple[Any, ...], Any, list[str]]] = [
            ("k", (table.c.feed == feed,), table.c.identity, values) for feed, values in by_feed.items()]
        window = (table.c.fetched_at >= since, table.c.story_id.is_not(None))
        parts += [("u", window, table.c.url, sorted(set(urls))), ("h", window, table.c.content_hash, sorted(set(hashes)))]
        for start in range(0, max((len(v) for *_, v in parts), default=0), 500):  # one statement unless a list is long
            union = [sa_select(sa_literal(tag), table.c.feed, column, table.c.story_id)
                     .where(*where, column.in_(values[start : start + 500]))
                     for tag, where, column, values in parts if values[start : start + 500]]
            rows += conn.execute(union_all(*union)).all() if union else []
    found = Exact(set(), {}, {})
    for tag, feed, value, story_id in rows:
        if tag == "k":
            found.taken.add((feed, value))
        else:
            (found.by_url if tag == "u" else found.by_hash).setdefault(value, story_id)
    return found


def reserve_ids(session: Session, stories: int, items: int) -> tuple[list[int], list[int]]:
    """Draw ids for new stories and items from their sequences in one statement (PostgreSQL, under the story lock).

    Under the lock, so item ids still grow in the order batches commit (the tail reads them so).
    """
    if not stories and not items:
        return [], []
    drawn: dict[str, list[int]] = {"s": [], "i": []}
    for kind, value in session.connection().exec_driver_sql(
            "SELECT 's', nextval(pg_get_serial_sequence('story', 'id')) FROM generate_series(1, %s) UNION ALL "
            "SELECT 'i', nextval(pg_get_serial_sequence('item', 'id')) FROM generate_series(1, %s)", (stories, items)):
        drawn[kind].append(value)
    return sorted(drawn["s"]), sorted(drawn["i"])


def write_batch(session: Session, inserts: Sequence[tuple[Any, Sequence[dict[str, Any]]]],
                story_updates: Sequence[dict[str, Any]] = ()) -> None:
    """Insert rows into several tables, and set stories' counters, in one statement (PostgreSQL).

    Each table's rows are one `INSERT … SELECT FROM unnest(…)` in a `WITH`, a column an array: a
    short statement whatever the batch's size (the driver caches its parsing; a `VALUES` list of
    hundreds of placeholders it parses anew every time). Values go through each column's own
    conversion, as Core's would.
    """
    conn = session.connection()
    quote = conn.dialect.identifier_preparer.quote
    parts: list[str] = []
    params: list[Any] = []
    for table, rows in inserts:
        if not rows:
            continue
        names = list(rows[0])
        columns = [table.c[n] for n in names]
        arrays = ", ".join(f"%s::{c.type.compile(conn.dialect)}[]" for c in columns)
        parts.append(f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) SELECT * FROM unnest({arrays})")
        for name, column in zip(names, columns, strict=True):
            # (on PostgreSQL the driver's own JSON adapter does what json.dumps does)
            convert = json.dumps if isinstance(column.type, JSON) else column.type.bind_processor(conn.dialect)
            params.append([row[name] if convert is None else convert(row[name]) for row in rows])
    if story_updates:
        parts.append("UPDATE story SET items = v.n, updates = v.ups, sources = v.outlets, last_updated = v.at FROM "
                     "unnest(%s::integer[], %s::integer[], %s::integer[], %s::json[], %s::timestamptz[]) "
                     "AS v(sid, n, ups, outlets, at) WHERE story.id = v.sid")
        params += [[u["sid"] for u in story_updates], [u["count"] for u in story_updates],
                   [u["ups"] for u in story_updates], [json.dumps(u["outlets"]) for u in story_updates],
                   [u["at"] for u in story_updates]]
    if parts:
        conn.exec_driver_sql("WITH " + ", ".join(f"w{n} AS ({sql})" for n, sql in enumerate(parts)) + " SELECT 1",
                             tuple(params))


def chunks(values: Sequence[T], size: int = 500) -> Iterator[Sequence[T]]:
    """`values` in slices of at most `size` (bounded `IN (...)` lists and executemany batches)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def feed_history(session: Session, feed: str, limit: int = 50) -> list[list[str]]:
    """The stored lines of the feed's most recent items (newest first)."""
    rows = session.exec(
        select(FeedHistory.lines).where(FeedHistory.feed == feed).order_by(col(FeedHistory.id).desc()).limit(limit)
    ).all()
    return [list(r) for r in rows]


def add_history(session: Session, feed: str, batch: Sequence[Sequence[str]], keep: int = 50) -> None:
    """Remember the lines of a batch of items for learning, keeping only the newest `keep` per feed."""
    if not batch:
        return
    now = utcnow()
    session.execute(insert(FeedHistory), [{"feed": feed, "item_id": None, "lines": list(lines), "created_at": now}
                                          for lines in batch])
    cutoff = session.exec(
        select(FeedHistory.id).where(FeedHistory.feed == feed).order_by(col(FeedHistory.id).desc())
        .offset(keep).limit(1)
    ).first()
    if cutoff is not None:
        session.exec(delete(FeedHistory).where(col(FeedHistory.feed) == feed, col(FeedHistory.id) <= cutoff))


def learned_rules(session: Session, feed: str | None = None) -> list[LearnedRule]:
    """Every learned, pinned or disabled rule of a feed (of every feed when `feed` is None)."""
    query = select(LearnedRule).order_by(LearnedRule.feed, col(LearnedRule.id))
    if feed is not None:
        query = query.where(LearnedRule.feed == feed)
    return list(session.exec(query).all())


def item_counts(session: Session) -> dict[str, int]:
    """Number of stored items per feed."""
    rows = session.exec(select(ItemRow.feed, func.count()).group_by(ItemRow.feed)).all()
    return {feed: int(n) for feed, n in rows}
