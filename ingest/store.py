"""Storage of feeds, items, stories and the story index (SQLModel over SQLite or PostgreSQL).

The tables here are the ingest side's; `alerts` keeps its own tables and `wirewatch.db`
creates both through Alembic migrations. Every write that must be atomic happens inside a
`Session` the caller owns, so the pipeline can store an item, its story and its alerts in
one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    LargeBinary,
    Text,
    UniqueConstraint,
    func,
    insert,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, col, delete, select

from ingest import dedupe
from ingest.item import Item, StoryRef

T = TypeVar("T")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """Normalise a datetime read back from the database to aware UTC (SQLite drops the zone)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


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
    published_at: datetime | None = _ts()
    fetched_at: datetime | None = _ts(index=True)
    updated_at: datetime | None = _ts()
    content_hash: str = Field(max_length=64, index=True)
    story_id: int | None = Field(default=None, index=True)


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


class ItemSignature(SQLModel, table=True):
    """An item's MinHash signature, kept to verify candidates before they join a story."""

    __tablename__ = "item_signature"

    item_id: int = Field(primary_key=True)
    story_id: int = Field(index=True)
    signature: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    text_len: int = 0
    created_at: datetime | None = _ts(index=True)


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


@dataclass(slots=True)
class Known:
    """What the store already holds for one (feed, identity)."""

    id: int
    raw_hash: str
    story_id: int | None


def known_items(session: Session, feed: str, identities: Iterable[str]) -> dict[str, Known]:
    """Stored items of `feed` among `identities`, keyed by identity."""
    wanted = list(set(identities))
    out: dict[str, Known] = {}
    for start in range(0, len(wanted), 500):
        rows = session.exec(
            select(col(ItemRow.identity), col(ItemRow.id), col(ItemRow.raw_hash), col(ItemRow.story_id)).where(
                ItemRow.feed == feed, col(ItemRow.identity).in_(wanted[start : start + 500])
            )
        ).all()
        for identity, item_id, raw_hash, story_id in rows:
            assert item_id is not None
            out[identity] = Known(item_id, raw_hash, story_id)
    return out


def _story_ref(story: StoryRow, created: bool, updated: bool) -> StoryRef:
    assert story.id is not None
    first_seen = as_utc(story.first_seen) or utcnow()
    return StoryRef(story.id, first_seen, list(story.sources), story.items, created=created, updated=updated)


def _outlets(item: Item) -> list[str]:
    return [item.feed] + ([item.source] if item.source and item.source != item.feed else [])


def _chunks(values: Sequence[T], size: int = 500) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def index_item(session: Session, item_id: int, story_id: int, sig: dedupe.Signature, text_len: int,
               now: datetime) -> None:
    """Write one item's signature and band rows (Core inserts: no ORM objects for 30-odd rows)."""
    conn = session.connection()
    conn.execute(ItemSignature.__table__.insert(), [{  # type: ignore[attr-defined]
        "item_id": item_id, "story_id": story_id, "signature": sig.to_bytes(), "text_len": text_len,
        "created_at": now}])
    conn.execute(StoryBand.__table__.insert(), [  # type: ignore[attr-defined]
        {"band": k, "item_id": item_id, "story_id": story_id, "created_at": now} for k in dedupe.band_keys(sig)])


def load_candidates(session: Session, keys: Sequence[str],
                    since: datetime) -> tuple[dict[str, list[int]], dict[int, dedupe.Candidate]]:
    """Band key → item ids, and item id → candidate, for items in the window sharing any of `keys`."""
    bands: dict[str, list[int]] = {}
    for chunk in _chunks(sorted(set(keys))):
        for band, item_id in session.execute(
            select(col(StoryBand.band), col(StoryBand.item_id))
            .where(col(StoryBand.band).in_(chunk), col(StoryBand.created_at) >= since)
        ).all():
            bands.setdefault(band, []).append(item_id)
    known: dict[int, dedupe.Candidate] = {}
    for id_chunk in _chunks(sorted({i for ids in bands.values() for i in ids})):
        for row in session.exec(select(ItemSignature).where(col(ItemSignature.item_id).in_(id_chunk))).all():
            known[row.item_id] = dedupe.Candidate(row.story_id, row.item_id,
                                                  dedupe.Signature.from_bytes(row.signature), row.text_len)
    return bands, known


class StoryIndex:
    """The persisted band index item by item, with dedupe's MemoryIndex methods (for bench/dedupe.py)."""

    def __init__(self, session: Session, window: float, now: datetime | None = None) -> None:
        self.session = session
        self.now = now or utcnow()
        self.since = self.now - timedelta(seconds=window)

    def candidates(self, sig: dedupe.Signature) -> list[dedupe.Candidate]:
        """Items in the window that share at least one band with `sig`."""
        _, known = load_candidates(self.session, dedupe.band_keys(sig), self.since)
        return list(known.values())

    def add(self, item_id: int, story_id: int, sig: dedupe.Signature, text_len: int,
            now: datetime | None = None) -> None:
        """Index one item's signature and bands under its story."""
        index_item(self.session, item_id, story_id, sig, text_len, now or self.now)


def lock_story_assignment(session: Session) -> None:
    """Serialise story assignment across daemons for this transaction (PostgreSQL advisory lock)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(727274)"))


class StoryAssigner:
    """Puts a batch of items into stories with a handful of queries, not a handful per item.

    Taking the advisory lock first (PostgreSQL) and loading the window's candidates after it
    means a copy that another daemon stored a moment ago is seen, so two daemons ingesting
    copies of one story at once still make one story. Items stored by this batch are
    remembered, so copies within one poll join too.
    """

    def __init__(self, session: Session, items: Sequence[Item], window: float, threshold: float,
                 short_text: int, now: datetime | None = None) -> None:
        self.session, self.threshold, self.short_text = session, threshold, short_text
        lock_story_assignment(session)
        self.since = (now or utcnow()) - timedelta(seconds=window)
        self.sigs = {id(i): dedupe.signature(i.text) for i in items}
        self.bands: dict[str, list[int]] = {}
        self.known: dict[int, dedupe.Candidate] = {}
        self.by_url: dict[str, int] = {}
        self.by_hash: dict[str, int] = {}
        self._load(items)

    def _load(self, items: Sequence[Item]) -> None:
        keys = [k for sig in self.sigs.values() for k in dedupe.band_keys(sig)]
        self.bands, self.known = load_candidates(self.session, keys, self.since)
        urls = sorted({i.url for i in items if i.url})
        hashes = sorted({i.content_hash for i in items if i.content_hash})
        for field, values, target in ((ItemRow.url, urls, self.by_url), (ItemRow.content_hash, hashes, self.by_hash)):
            for chunk in _chunks(values):
                for value, story_id in self.session.execute(
                    select(col(field), col(ItemRow.story_id)).where(
                        col(field).in_(chunk), col(ItemRow.fetched_at) >= self.since,
                        col(ItemRow.story_id).is_not(None))
                ).all():
                    target.setdefault(value, story_id)

    def signature(self, item: Item) -> dedupe.Signature:
        """The item's signature (computed once for the batch)."""
        return self.sigs.get(id(item)) or dedupe.signature(item.text)

    def assign(self, item: Item) -> tuple[int | None, bool]:
        """The story an item joins (None = a new story) and whether it is an update of it."""
        exact = self.by_url.get(item.url) if item.url else None
        if exact is None and item.content_hash:
            exact = self.by_hash.get(item.content_hash)
        if exact is not None:
            return exact, False
        sig = self.signature(item)
        seen: dict[int, dedupe.Candidate] = {}
        for key in dedupe.band_keys(sig):
            for item_id in self.bands.get(key, ()):
                if item_id in self.known and len(seen) < 200:
                    seen[item_id] = self.known[item_id]
        decision = dedupe.decide(item.text, sig, list(seen.values()), threshold=self.threshold,
                                 short_text=self.short_text)
        return decision.story_id, decision.is_update

    def remember(self, item: Item, item_id: int, story_id: int, now: datetime) -> None:
        """Index a stored item (database and this batch's view)."""
        sig = self.signature(item)
        keys = dedupe.band_keys(sig)
        index_item(self.session, item_id, story_id, sig, len(item.text), now)
        self.known[item_id] = dedupe.Candidate(story_id, item_id, sig, len(item.text))
        for key in keys:
            self.bands.setdefault(key, []).append(item_id)
        if item.url:
            self.by_url.setdefault(item.url, story_id)
        if item.content_hash:
            self.by_hash.setdefault(item.content_hash, story_id)


def _insert_ignore(session: Session, values: dict[str, Any]) -> int | None:
    """Insert an item unless (feed, identity) exists (another daemon stored it first); its id or None."""
    dialect = session.get_bind().dialect.name
    builder = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = builder(ItemRow).values(**values).on_conflict_do_nothing(index_elements=["feed", "identity"])
    return session.execute(stmt.returning(col(ItemRow.id))).scalar_one_or_none()


def insert_item(session: Session, assigner: StoryAssigner, item: Item, raw_hash: str) -> StoryRef | None:
    """Store a new item in its story (an existing one if a copy is found); None if it was already stored."""
    now = item.fetched_at
    story_id, is_update = assigner.assign(item)
    item_id = _insert_ignore(session, {
        "feed": item.feed, "identity": item.identity, "guid": item.guid, "url": item.url, "title": item.title,
        "raw_summary": item.raw_summary, "raw_content": item.raw_content, "raw_hash": raw_hash, "text": item.text,
        "source": item.source, "published_at": item.published_at, "fetched_at": now, "updated_at": now,
        "content_hash": item.content_hash, "story_id": story_id,
    })
    if item_id is None:
        return None
    story = session.get(StoryRow, story_id) if story_id is not None else None
    created = story is None
    if story is None:
        story = StoryRow(first_item_id=item_id, title=item.title, first_seen=now, last_updated=now, items=1,
                         sources=_outlets(item))
    else:
        story.items += 1
        story.last_updated = now
        story.updates += int(is_update)
        story.sources = list(dict.fromkeys([*story.sources, *_outlets(item)]))
    session.add(story)
    session.flush()
    assert story.id is not None
    if created:
        session.execute(update(ItemRow).where(col(ItemRow.id) == item_id).values(story_id=story.id))
    item.id, item.story_id = item_id, story.id
    assigner.remember(item, item_id, story.id, now)
    return _story_ref(story, created, is_update)


def update_item(session: Session, known: Known, item: Item, raw_hash: str) -> StoryRef | None:
    """An edit of a stored item (same feed and identity): update it in place, keep its story."""
    row = session.get(ItemRow, known.id)
    if row is None:
        return None
    material = dedupe.text_hash(row.text) != dedupe.text_hash(item.text)
    row.title, row.raw_summary, row.raw_content, row.raw_hash = item.title, item.raw_summary, item.raw_content, raw_hash
    row.text, row.source, row.content_hash, row.url = item.text, item.source, item.content_hash, item.url
    row.updated_at = item.fetched_at
    session.add(row)
    item.id, item.story_id = row.id, row.story_id
    story = session.get(StoryRow, row.story_id) if row.story_id is not None else None
    if story is None:
        return None
    if material:
        story.updates += 1
        story.last_updated = item.fetched_at
        session.exec(delete(ItemSignature).where(col(ItemSignature.item_id) == known.id))
        session.exec(delete(StoryBand).where(col(StoryBand.item_id) == known.id))
        assert story.id is not None
        index_item(session, known.id, story.id, dedupe.signature(item.text), len(item.text), item.fetched_at)
        session.add(story)
    session.flush()
    return _story_ref(story, False, material)


def ensure_index_scheme(engine: Engine) -> bool:
    """Drop the persisted band index if it was built with another hashing scheme; True if rebuilt."""
    with Session(engine) as session:
        lock_story_assignment(session)  # daemons starting together: one rebuilds, the others then see it done
        meta = session.get(IndexMeta, "dedupe.scheme")
        if meta is not None and meta.value == dedupe.SCHEME:
            return False
        session.exec(delete(StoryBand))
        session.exec(delete(ItemSignature))
        if meta is None:
            meta = IndexMeta(key="dedupe.scheme", value=dedupe.SCHEME)
        meta.value = dedupe.SCHEME
        session.add(meta)
        for row in session.exec(select(ItemRow).where(col(ItemRow.story_id).is_not(None))).all():
            assert row.id is not None and row.story_id is not None
            index_item(session, row.id, row.story_id, dedupe.signature(row.text), len(row.text),
                       as_utc(row.fetched_at) or utcnow())
        session.commit()
        return True


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
