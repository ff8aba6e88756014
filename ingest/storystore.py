"""Storing new items in stories: the batch writer (the store half of dedupe), edits, index upkeep.

A feed's batch of new items is stored in a handful of statements, whatever its size: under the
story lock the band tail is brought up to date (one statement), the items already stored and the
window's items with the same URL or text are read together (one), the band candidates with their
signatures (one on PostgreSQL), the batch is planned in memory (`ingest.storyplan`: every item
placed in feed order, a copy later in the batch can join a story created earlier in it), then
stories, items and index rows are written: on PostgreSQL ids drawn from the sequences and every
row in one statement (each statement is a round trip while the lock is held), on SQLite one
executemany a table.

The names other modules import from here (the index, the tail, the lock) are re-exported from
`ingest.indexstore` and `ingest.storyplan`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import bindparam, insert, update
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select

from wirewatch.config.clock import as_utc, utcnow
from wirewatch.ingest import dedupe
from wirewatch.ingest.event import EVENT_SCHEME, EventSignature, event_signature
from wirewatch.ingest.indexstore import (
    FEATURE_LIMIT,
    MARK,
    TAIL_FLUSH,
    BandTail,
    _mark,
    feature_rows,
    index_item,
    index_rows,
    load_batch_candidates,
    load_candidates,
    load_event_candidates,
    load_story_codes,
    lock_story_assignment,
    set_mark,
    write_index,
)
from wirewatch.ingest.item import Item, StoryRef
from wirewatch.ingest.store import (
    FEATURES,
    ITEMS,
    SIGNATURES,
    STORIES,
    Exact,
    IndexMeta,
    ItemRow,
    ItemSignature,
    StoryBand,
    StoryFeature,
    StoryRow,
    chunks,
    exact_matches,
    reserve_ids,
    write_batch,
)
from wirewatch.ingest.storyplan import (
    BAND_COPIES,
    PENDING,
    Plan,
    StoryPlanner,
    StoryState,
    joined_reason,
    place,
    prepare,
    walk,
)

__all__ = [
    "BAND_COPIES", "FEATURE_LIMIT", "MARK", "PENDING", "TAIL_FLUSH", "BandTail", "StoryAssigner", "StoryIndex", "ensure_index_scheme",
    "feature_rows", "index_item", "index_rows", "joined_reason", "load_candidates", "load_event_candidates",
    "load_story_codes", "lock_story_assignment", "refresh_event_signatures", "set_mark", "store_new_items",
    "update_item", "write_index",
]


class StoryAssigner(StoryPlanner):
    """A `StoryPlanner` over the window's candidates, loaded once for the batch from the database and `tail`.

    Call it under `lock_story_assignment`, so a copy another daemon stored a moment ago is among
    the candidates.
    """

    def __init__(self, session: Session, items: Sequence[Item], window: float, threshold: float,
                 short_text: int, now: datetime | None = None, tail: BandTail | None = None,
                 signatures: Sequence[dedupe.Signature | None] = (),
                 events: Sequence[EventSignature | None] = (), cross_language: float | None = None,
                 exact: Exact | None = None) -> None:
        sigs, evs = prepare(items, signatures, events)
        at = now or utcnow()
        since = at - timedelta(seconds=window)
        keys = [k for _, item_keys in sigs for k in item_keys]
        if exact is None:
            exact = exact_matches(session, (), [i.url for i in items if i.url],
                                  [i.content_hash for i in items if i.content_hash], since)
        super().__init__(load_batch_candidates(session, exact, keys, evs, since, tail, cross_language), items,
                         threshold, short_text, sigs, evs, cross_language, recent=at - timedelta(seconds=window / 2))


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
            event: str | None = None, now: datetime | None = None) -> None:
        """Index one item's signature, bands and event features under its story."""
        index_item(self.session, item_id, story_id, sig, text_len, now or self.now, EventSignature.from_json(event))


def store_new_items(session: Session, batch: Sequence[tuple[Item, str]], window: float, threshold: float,
                    short_text: int, now: datetime, tail: BandTail | None = None,
                    signatures: Sequence[dedupe.Signature | None] = (),
                    events: Sequence[EventSignature | None] = (),
                    cross_language: float | None = None) -> list[StoryRef | None]:
    """Store new items (with their raw hashes) in their stories; per item its StoryRef, None if already stored.

    An item is None when another daemon stored the same (feed, identity) after this poll read the
    known items; the look-up here runs under the story lock, so the insert cannot collide. `tail`
    is the process's copy of the band tail (a fresh one, read whole, when None); `signatures`, if
    given, are the items' MinHash signatures worked out beforehand (None: work it out here), and
    `events` their event signatures (None: worked out here, without watchlist entities);
    `cross_language` is the agreement threshold for joining items in other languages (None: off).
    """
    tail = tail if tail is not None else BandTail()
    lock_story_assignment(session)
    with tail.lock:
        tail.refresh(session)
        return _store_new(session, batch, window, threshold, short_text, now, tail,
                          list(signatures) or [None] * len(batch), list(events) or [None] * len(batch),
                          cross_language)


def _store_new(session: Session, batch: Sequence[tuple[Item, str]], window: float, threshold: float,
               short_text: int, now: datetime, tail: BandTail,
               signatures: Sequence[dedupe.Signature | None], events: Sequence[EventSignature | None],
               cross_language: float | None) -> list[StoryRef | None]:
    items = [item for item, _ in batch]  # one statement: stored already, and stories by URL and by text
    exact = exact_matches(session, [(i.feed, i.identity) for i in items], [i.url for i in items if i.url],
                          [i.content_hash for i in items if i.content_hash], now - timedelta(seconds=window))
    todo = [(n, item, digest) for n, (item, digest) in enumerate(batch) if (item.feed, item.identity) not in exact.taken]
    if not todo:
        return [None] * len(batch)
    assigner = StoryAssigner(session, [item for _, item, _ in todo], window, threshold, short_text, now, tail,
                             [signatures[n] for n, _, _ in todo], [events[n] for n, _, _ in todo], cross_language,
                             exact)
    placed = place(assigner, todo)
    plan = walk(placed, load_stories(session, [p.story for p in placed if p.story < PENDING]), now)
    ids = _write(session, plan, assigner, tail)
    out: list[StoryRef | None] = [None] * len(batch)
    for p, (sources, count, first) in zip(plan.placed, plan.snapshots, strict=True):
        out[p.n] = StoryRef(ids[p.story], plan.stories[p.story].first_seen, sources, count, created=first,
                            updated=p.is_update, new_item=True)
    return out


def _write(session: Session, plan: Plan, planner: StoryPlanner, tail: BandTail) -> dict[int, int]:
    """Apply a plan: new stories, items, story counters and first items, index rows; story key → id.

    Each stored item gets its id and story id (`item.id`, `item.story_id`). On PostgreSQL the ids are
    drawn from the sequences first and every row goes in one statement (`write_batch`): two round
    trips under the story lock, whatever the batch holds.
    """
    conn = session.connection()
    fresh, pg = plan.fresh, conn.dialect.name == "postgresql"
    ids = {k: k for k in plan.joined}
    if pg:
        story_ids, item_ids = reserve_ids(session, len(fresh), len(plan.placed))
        ids.update(zip(fresh, story_ids, strict=True))
    else:
        if fresh:
            made = conn.execute(insert(STORIES).returning(STORIES.c.id, sort_by_parameter_order=True),
                                plan.new_story_rows()).scalars()
            ids.update(zip(fresh, made, strict=True))
        item_ids = list(conn.execute(insert(ITEMS).returning(ITEMS.c.id, sort_by_parameter_order=True),
                                     plan.item_rows(ids)).scalars())
    by_batch = {p.n: item_id for p, item_id in zip(plan.placed, item_ids, strict=True)}
    firsts = [{"sid": ids[k], "first": by_batch[plan.stories[k].first_item]} for k in fresh]
    rows, features = [], []
    keyed = {PENDING + n: item_id for n, item_id in by_batch.items()}
    for p, item_id in zip(plan.placed, item_ids, strict=True):
        sig, keys = planner.signature(p.item)
        event = planner.event(p.item)
        rows.append(index_rows(item_id, ids[p.story], sig, keys, len(p.item.text), plan.now, event,
                               joined_reason(p.decision, keyed, ids), p.bands)[0])
        features += feature_rows(item_id, ids[p.story], event, plan.now)
        tail.remember(sig, keys)
        p.item.id, p.item.story_id = item_id, ids[p.story]
    if pg:
        stories = [{"id": f["sid"], **row, "first_item_id": f["first"]} for f, row in zip(firsts, plan.new_story_rows(),
                                                                                         strict=True)]
        items = [{"id": item_id, **row} for item_id, row in zip(item_ids, plan.item_rows(ids), strict=True)]
        write_batch(session, [(STORIES, stories), (ITEMS, items), (SIGNATURES, rows), (FEATURES, features)],
                    plan.story_updates())
    else:
        if fresh:
            conn.execute(update(STORIES).where(STORIES.c.id == bindparam("sid")).values(first_item_id=bindparam("first")),
                         firsts)
        if plan.joined:
            conn.execute(update(STORIES).where(STORIES.c.id == bindparam("sid")).values(
                items=bindparam("count"), updates=bindparam("ups"), sources=bindparam("outlets"),
                last_updated=bindparam("at")), plan.story_updates())
        write_index(session, rows, [], features)  # band rows: later, with the rest of the tail
    tail.flush(session)
    return ids


def update_item(session: Session, known_id: int, item: Item, raw_hash: str,
                event: EventSignature | None = None) -> StoryRef | None:
    """An edit of a stored item (same feed and identity): update it in place, keep its story."""
    row = session.get(ItemRow, known_id)
    if row is None:
        return None
    material = dedupe.text_hash(row.text) != dedupe.text_hash(item.text)
    row.title, row.raw_summary, row.raw_content, row.raw_hash = item.title, item.raw_summary, item.raw_content, raw_hash
    row.text, row.source, row.content_hash, row.url = item.text, item.source, item.content_hash, item.url
    row.teaser = item.teaser
    row.updated_at = item.fetched_at
    session.add(row)
    item.id, item.story_id = row.id, row.story_id
    story = session.get(StoryRow, row.story_id) if row.story_id is not None else None
    if story is None:
        return None
    if material:
        story.updates += 1
        story.last_updated = item.fetched_at
        lock_story_assignment(session)  # the mark must not move while this item's index rows change
        session.exec(delete(ItemSignature).where(col(ItemSignature.item_id) == known_id))
        session.exec(delete(StoryBand).where(col(StoryBand.item_id) == known_id))
        session.exec(delete(StoryFeature).where(col(StoryFeature.item_id) == known_id))
        assert story.id is not None
        sig = dedupe.signature(item.text)
        event = event if event is not None else event_signature(item.title, item.text)
        signature, bands = index_rows(known_id, story.id, sig, dedupe.band_keys(sig), len(item.text),
                                      item.fetched_at, event, json.dumps({"via": "edit", "reason": "edited in place"}))
        write_index(session, [signature], bands if known_id <= _mark(session) else [],  # in the tail: no bands yet
                    feature_rows(known_id, story.id, event, item.fetched_at))
        session.add(story)
    session.flush()
    assert story.id is not None
    first_seen = as_utc(story.first_seen) or utcnow()
    return StoryRef(story.id, first_seen, list(story.sources), story.items, created=False, updated=material)


EVENT_MARK = "event.scheme"
"""The `index_meta` key of the event-signature rules (`ingest.event.EVENT_SCHEME`) stored signatures follow."""


def refresh_event_signatures(session: Session) -> int:
    """Recompute stored event signatures and feature rows if made under other extraction rules; items redone."""
    meta = session.get(IndexMeta, EVENT_MARK)
    if meta is not None and meta.value == EVENT_SCHEME:
        return 0
    session.exec(delete(StoryFeature))
    conn = session.connection()
    done, last = 0, -1
    while True:
        rows = conn.execute(
            sa_select(SIGNATURES.c.item_id, SIGNATURES.c.story_id, SIGNATURES.c.created_at, ITEMS.c.title,
                      ITEMS.c.text).select_from(SIGNATURES.join(ITEMS, ITEMS.c.id == SIGNATURES.c.item_id))
            .where(SIGNATURES.c.item_id > last).order_by(SIGNATURES.c.item_id).limit(500)).all()
        if not rows:
            break
        updates, features = [], []
        for item_id, story_id, created_at, title, body in rows:
            event = event_signature(title, body)
            updates.append({"key": item_id, "event": event.to_json(), "code": event.code})
            features += feature_rows(item_id, story_id, event, created_at)
        conn.execute(update(SIGNATURES).where(SIGNATURES.c.item_id == bindparam("key"))
                     .values(event=bindparam("event"), code=bindparam("code")), updates)
        write_index(session, [], [], features)
        done, last = done + len(rows), rows[-1][0]
    meta = meta or IndexMeta(key=EVENT_MARK, value=EVENT_SCHEME)
    meta.value = EVENT_SCHEME
    session.add(meta)
    session.flush()
    return done


def ensure_index_scheme(engine: Engine) -> bool:
    """Drop the persisted band index if it was built with another hashing scheme; True if rebuilt.

    Stored event signatures made under other extraction rules are recomputed (`refresh_event_signatures`).
    """
    with Session(engine) as session:
        lock_story_assignment(session)  # daemons starting together: one rebuilds, the others then see it done
        meta = session.get(IndexMeta, "dedupe.scheme")
        if meta is not None and meta.value == dedupe.SCHEME:
            if refresh_event_signatures(session):
                session.commit()
            return False
        session.exec(delete(StoryBand))
        session.exec(delete(StoryFeature))
        session.exec(delete(ItemSignature))
        if meta is None:
            meta = IndexMeta(key="dedupe.scheme", value=dedupe.SCHEME)
        meta.value = dedupe.SCHEME
        session.add(meta)
        newest = 0
        for row in session.exec(select(ItemRow).where(col(ItemRow.story_id).is_not(None))).all():
            assert row.id is not None and row.story_id is not None
            index_item(session, row.id, row.story_id, dedupe.signature(row.text), len(row.text),
                       as_utc(row.fetched_at) or utcnow(), event_signature(row.title, row.text))
            newest = max(newest, row.id)
        set_mark(session, newest)  # every item's band rows are written: the tail is empty
        event_meta = session.get(IndexMeta, EVENT_MARK) or IndexMeta(key=EVENT_MARK, value=EVENT_SCHEME)
        event_meta.value = EVENT_SCHEME
        session.add(event_meta)
        session.commit()
        return True


def load_stories(session: Session, ids: Sequence[int]) -> dict[int, StoryState]:
    """The stored state of these stories (missing ids: pruned)."""
    found: dict[int, StoryState] = {}
    for chunk in chunks(sorted(ids)):
        for sid, title, first_seen, items, updates, sources in session.execute(
            sa_select(STORIES.c.id, STORIES.c.title, STORIES.c.first_seen, STORIES.c["items"], STORIES.c.updates,
                      STORIES.c.sources).where(STORIES.c.id.in_(chunk))
        ).all():
            found[sid] = StoryState(title, as_utc(first_seen) or utcnow(), list(sources), items, updates)
    return found
