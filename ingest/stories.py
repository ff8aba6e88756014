"""Storing new items in stories: the persisted story index and the batch writer (the store half of dedupe).

`ingest.dedupe` decides, purely, whether a text is a copy of a candidate. This module finds the
candidates in the database (the MinHash band index, exact URL and content-hash look-ups), and
stores a feed's batch of new items with their stories and index rows in a handful of
statements: every item is first placed in memory, in feed order (a copy later in the batch can
join a story created earlier in it), then stories, items and index rows are written with one
executemany each.

On PostgreSQL an advisory lock serialises this across daemons for the transaction; under it the
batch looks again for items another daemon stored since the poll began, so two daemons ingesting
the same copies at once still make one item and one story.

Band rows are the expensive part of storing an item: 32 inserts at random places in a large
B-tree, each dirtying its own page. So the newest items' bands are kept out of `story_band`:
their signatures (one row per item, appended in id order) are the "tail", which every process
reads back into memory under the lock, and once the tail holds `TAIL_FLUSH` items its band rows
are written in one sorted pass that touches each index page once. `index_meta` holds the mark:
`story_band` covers the items up to it, the tail everything after.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, insert, text, update
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select

from wirewatch.ingest import dedupe
from wirewatch.ingest.event import EVENT_SCHEME, EventSignature, event_signature, index_features
from wirewatch.ingest.item import Item, StoryRef
from wirewatch.ingest.shortwords import stored_tokens
from wirewatch.ingest.store import (
    IndexMeta,
    ItemRow,
    ItemSignature,
    StoryBand,
    StoryFeature,
    StoryRow,
    as_utc,
    chunks,
    known_items,
    utcnow,
)

TAIL_FLUSH = 2048
"""Items in the tail (signatures stored, band rows not yet) at which their band rows are written."""
MARK = "dedupe.flushed"
"""The `index_meta` key of the mark: the highest item id whose band rows are in `story_band`."""

PENDING = 1 << 62
"""Keys at or above this stand for stories and items of the current batch not yet inserted; being larger
than any real id, they sort as the newest (dedupe breaks ties towards the older story)."""

_STORY = StoryRow.__table__  # type: ignore[attr-defined]
_ITEM = ItemRow.__table__  # type: ignore[attr-defined]
_SIGNATURE = ItemSignature.__table__  # type: ignore[attr-defined]
_BAND = StoryBand.__table__  # type: ignore[attr-defined]
_FEATURE = StoryFeature.__table__  # type: ignore[attr-defined]
FEATURE_LIMIT = 32
"""Most items read per feature (the newest): a figure many items of the window repeat cannot make the look-up grow."""


def lock_story_assignment(session: Session) -> None:
    """Serialise story assignment across daemons for this transaction (PostgreSQL advisory lock)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(727274)"))


def index_rows(item_id: int, story_id: int, sig: dedupe.Signature, keys: Sequence[str], text_len: int,
               now: datetime, event: EventSignature | None = None,
               joined: str | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The signature row and band rows that index one item under its story."""
    signature = {"item_id": item_id, "story_id": story_id, "signature": sig.to_bytes(), "text_len": text_len,
                 "created_at": now, "event": event.to_json() if event is not None else None,
                 "code": event.code if event is not None else None, "joined": joined}
    return signature, [{"band": k, "item_id": item_id, "story_id": story_id, "created_at": now} for k in keys]


def feature_rows(item_id: int, story_id: int, event: EventSignature | None, now: datetime) -> list[dict[str, Any]]:
    """The event-feature index rows of one item (its headline figures)."""
    if event is None:
        return []
    return [{"feature": f, "item_id": item_id, "story_id": story_id, "lang": event.lang, "created_at": now}
            for f in index_features(event)]


def write_index(session: Session, signatures: Sequence[dict[str, Any]], bands: Sequence[dict[str, Any]],
                features: Sequence[dict[str, Any]] = ()) -> None:
    """Insert signature, band and feature rows (Core executemany: no ORM objects for 30-odd rows an item)."""
    conn = session.connection()
    if signatures:
        conn.execute(insert(_SIGNATURE), list(signatures))
    if bands:
        conn.execute(insert(_BAND), list(bands))
    if features:
        conn.execute(insert(_FEATURE), list(features))


def index_item(session: Session, item_id: int, story_id: int, sig: dedupe.Signature, text_len: int,
               now: datetime, event: EventSignature | None = None) -> None:
    """Write one item's signature, band and feature rows."""
    signature, bands = index_rows(item_id, story_id, sig, dedupe.band_keys(sig), text_len, now, event)
    write_index(session, [signature], bands, feature_rows(item_id, story_id, event, now))


def load_candidates(session: Session, keys: Sequence[str],
                    since: datetime) -> tuple[dict[str, list[int]], dict[int, dedupe.Candidate]]:
    """Band key → item ids, and item id → candidate, for items in the window sharing any of `keys`.

    Driver-level SQL: a batch looks up 32 keys an item, and SQLAlchemy's per-parameter work cost
    more than SQLite's index seeks.
    """
    conn = session.connection()
    slot = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    to_db = _BAND.c.created_at.type.bind_processor(conn.dialect)
    after = to_db(since) if to_db is not None else since
    wanted = sorted(set(keys))
    queries: list[tuple[str, tuple[Any, ...]]]
    if conn.dialect.name == "postgresql":
        # one probe of the primary key per band key, whatever the statistics say: while the table
        # grows faster than autovacuum analyses it, PostgreSQL plans `band IN (...)` as a scan of it
        queries = [("SELECT k.band, b.item_id FROM unnest(%s::text[]) AS k(band) CROSS JOIN LATERAL (SELECT "
                    "item_id FROM story_band s WHERE s.band = k.band AND s.created_at >= %s OFFSET 0) AS b",
                    (wanted, after))] if wanted else []
    else:
        queries = [(f"SELECT band, item_id FROM story_band WHERE band IN ({', '.join([slot] * len(chunk))}) "
                    f"AND created_at >= {slot}", (*chunk, after)) for chunk in chunks(wanted)]
    bands: dict[str, list[int]] = {}
    for sql, params in queries:
        for band, item_id in conn.exec_driver_sql(sql, params).fetchall():
            bands.setdefault(band, []).append(item_id)
    known: dict[int, dedupe.Candidate] = {}
    for id_chunk in chunks(sorted({i for ids in bands.values() for i in ids})):
        for item_id, story_id, raw, text_len, event in conn.execute(
            sa_select(_SIGNATURE.c.item_id, _SIGNATURE.c.story_id, _SIGNATURE.c.signature, _SIGNATURE.c.text_len,
                      _SIGNATURE.c.event)
            .where(_SIGNATURE.c.item_id.in_(id_chunk))
        ).all():
            known[item_id] = dedupe.Candidate(story_id, item_id, dedupe.Signature.from_bytes(raw), text_len, event)
    return bands, known


def load_event_candidates(session: Session, features: Sequence[str], since: datetime,
                          langs: Collection[str] = ()) -> tuple[dict[str, list[int]], dict[int, dedupe.EventCandidate]]:
    """Feature → item ids, and item id → its event, for items in the window indexed under any of `features`.

    Only items in a language other than one of `langs` (the batch's; empty: any) are read further:
    a same-language copy is the text index's business.
    """
    wanted = sorted(set(features))
    by_feature: dict[str, list[int]] = {}
    if not wanted:
        return by_feature, {}
    conn = session.connection()
    slot = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    to_db = _FEATURE.c.created_at.type.bind_processor(conn.dialect)
    after = to_db(since) if to_db is not None else since
    # per feature, the newest FEATURE_LIMIT items, read backwards along the primary key (feature, item_id)
    rows: list[tuple[str, int, str]]
    if conn.dialect.name == "postgresql":
        rows = [(f, i, lang) for f, i, lang in conn.exec_driver_sql(
            "SELECT k.f, b.item_id, b.lang FROM unnest(%s::text[]) AS k(f) CROSS JOIN LATERAL (SELECT item_id, lang FROM "
            "story_feature s WHERE s.feature = k.f AND s.created_at >= %s ORDER BY s.item_id DESC LIMIT %s) AS b",
            (wanted, after, FEATURE_LIMIT)).fetchall()]
    else:
        sql = (f"SELECT item_id, lang FROM story_feature WHERE feature = {slot} AND created_at >= {slot} "
               f"ORDER BY item_id DESC LIMIT {slot}")
        rows = [(f, item_id, lang) for f in wanted
                for item_id, lang in conn.exec_driver_sql(sql, (f, after, FEATURE_LIMIT)).fetchall()]
    batch = set(langs)
    for feature, item_id, lang in rows:
        if not batch or batch - {lang}:
            by_feature.setdefault(feature, []).append(item_id)
    events: dict[int, dedupe.EventCandidate] = {}
    for id_chunk in chunks(sorted({i for ids in by_feature.values() for i in ids})):
        for item_id, story_id, raw in conn.exec_driver_sql(
            f"SELECT item_id, story_id, event FROM item_signature WHERE item_id IN ({', '.join([slot] * len(id_chunk))})",
            tuple(id_chunk)).fetchall():
            event = EventSignature.from_json(raw)
            if event is not None:
                events[item_id] = dedupe.EventCandidate(story_id, item_id, event)
    return by_feature, events


def load_story_codes(session: Session, story_ids: Sequence[int]) -> dict[int, set[str]]:
    """The principal security codes each of these stories holds (a story holds at most one)."""
    found: dict[int, set[str]] = {}
    conn = session.connection()
    for chunk in chunks(sorted(set(story_ids))):
        for story_id, code in conn.execute(
            sa_select(_SIGNATURE.c.story_id, _SIGNATURE.c.code)
            .where(_SIGNATURE.c.story_id.in_(chunk), _SIGNATURE.c.code.is_not(None))
        ).all():
            found.setdefault(story_id, set()).add(code)
    return found


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


def _mark(session: Session) -> int:
    """The flush mark; set on first use to the newest indexed item (an index from before the tail existed)."""
    meta = session.get(IndexMeta, MARK)
    if meta is not None:
        return int(meta.value)
    newest = session.execute(sa_select(func.max(_SIGNATURE.c.item_id))).scalar() or 0
    session.add(IndexMeta(key=MARK, value=str(newest)))
    session.flush()
    return int(newest)


def set_mark(session: Session, value: int) -> None:
    """Record that `story_band` holds the band rows of every item up to `value`."""
    meta = session.get(IndexMeta, MARK) or IndexMeta(key=MARK, value="0")
    meta.value = str(value)
    session.add(meta)
    session.flush()


@dataclass
class BandTail:
    """This process's copy of the tail: items stored after the mark, and their band keys.

    Kept lean (a tuple an item, one int or list a key): a tail of thousands of signatures as
    Python objects would make every full garbage collection of the daemon walk them.
    """

    flush_at: int = TAIL_FLUSH
    mark: int = -1
    seen: int = 0
    items: dict[int, tuple[int, bytes, int, datetime, str | None]] = field(default_factory=dict)
    """item id → (story id, signature bytes, text length, stored at, event signature JSON)"""
    bands: dict[str, int | list[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stored: dict[bytes, list[str]] = field(default_factory=dict)
    """Band keys of signatures this process just stored, so reading them back costs no hashing."""

    def remember(self, sig: dedupe.Signature, keys: list[str]) -> None:
        """Note a signature this process is storing (bounded: a rolled-back batch's entries are never read)."""
        if len(self.stored) > 4 * self.flush_at:
            self.stored.clear()
        self.stored[sig.to_bytes()] = keys

    def refresh(self, session: Session) -> None:
        """Catch up with the database (call under `lock_story_assignment`, inside the write transaction)."""
        mark = _mark(session)
        if mark < self.mark:  # the index was rebuilt: start over
            self.items.clear()
            self.seen = 0
        if mark != self.mark:
            self.items = {i: v for i, v in self.items.items() if i > mark}
            self.bands = {}
            for item_id, (_, raw, _, _, _) in self.items.items():
                dedupe.add_to_buckets(self.bands, dedupe.band_keys(dedupe.Signature.from_bytes(raw)), item_id)
            self.mark = mark
        for item_id, story_id, raw, text_len, created, event in session.execute(
            sa_select(_SIGNATURE.c.item_id, _SIGNATURE.c.story_id, _SIGNATURE.c.signature, _SIGNATURE.c.text_len,
                      _SIGNATURE.c.created_at, _SIGNATURE.c.event)
            .where(_SIGNATURE.c.item_id > max(self.seen, mark)).order_by(_SIGNATURE.c.item_id)
        ).all():
            raw = bytes(raw)
            keys = self.stored.pop(raw, None) or dedupe.band_keys(dedupe.Signature.from_bytes(raw))
            self.items[item_id] = (story_id, raw, text_len, as_utc(created) or utcnow(), event)
            dedupe.add_to_buckets(self.bands, keys, item_id)
            self.seen = item_id

    def candidates(self, keys: Sequence[str], since: datetime,
                   bands: dict[str, list[int]], known: dict[int, dedupe.Candidate]) -> None:
        """Add the tail's items in the window that share any of `keys` to `bands` and `known`."""
        for key in set(keys):
            held = self.bands.get(key)
            if held is None:
                continue
            for item_id in (held,) if isinstance(held, int) else held:
                story_id, raw, text_len, created, event = self.items[item_id]
                if created >= since:
                    bands.setdefault(key, []).append(item_id)
                    if item_id not in known:
                        known[item_id] = dedupe.Candidate(story_id, item_id, dedupe.Signature.from_bytes(raw),
                                                          text_len, event)

    def flush(self, session: Session) -> int:
        """If the tail is full, write its band rows (sorted by key) and move the mark; the rows written."""
        if len(self.items) < self.flush_at:
            return 0
        newest = max(self.items)
        conn = session.connection()
        to_db = _BAND.c.created_at.type.bind_processor(conn.dialect)  # converted once an item, not once a row
        rows: list[tuple[str, int, int, Any]] = []
        for item_id, story_id, raw, created in conn.execute(
            sa_select(_SIGNATURE.c.item_id, _SIGNATURE.c.story_id, _SIGNATURE.c.signature, _SIGNATURE.c.created_at)
            .where(_SIGNATURE.c.item_id > self.mark, _SIGNATURE.c.item_id <= newest)
        ).all():
            at = to_db(created) if to_db is not None else created
            rows.extend((key, item_id, story_id, at) for key in dedupe.band_keys(dedupe.Signature.from_bytes(raw)))
        rows.sort()  # by band key, then item: one pass along the index
        slot = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        conn.exec_driver_sql(f"INSERT INTO story_band (band, item_id, story_id, created_at) "
                             f"VALUES ({slot}, {slot}, {slot}, {slot})", rows)
        set_mark(session, newest)
        return len(rows)


class StoryAssigner:
    """Places a batch of items in stories, in memory, after loading the window's candidates once.

    Call it under `lock_story_assignment`, so a copy another daemon stored a moment ago is among
    the candidates. Placed items are remembered (under their batch keys until they are stored),
    so copies within one batch join each other.

    Same language: MinHash/LSH candidates verified by text similarity, refused when their event
    signatures conflict or their story holds another principal security code. Other languages
    (when `cross_language` is a threshold, None = off): items sharing a headline figure, joined when
    their event signatures agree (`ingest.event.agreement`).
    """

    def __init__(self, session: Session, items: Sequence[Item], window: float, threshold: float,
                 short_text: int, now: datetime | None = None, tail: BandTail | None = None,
                 signatures: Sequence[dedupe.Signature | None] = (),
                 events: Sequence[EventSignature | None] = (), cross_language: float | None = None) -> None:
        self.session, self.threshold, self.short_text, self.tail = session, threshold, short_text, tail
        self.cross_language = cross_language
        self.since = (now or utcnow()) - timedelta(seconds=window)
        self.sigs: dict[int, tuple[dedupe.Signature, list[str]]] = {}
        self.events: dict[int, EventSignature] = {}
        given = list(signatures) or [None] * len(items)
        given_events = list(events) or [None] * len(items)
        for item, known, event in zip(items, given, given_events, strict=True):
            sig = known if known is not None else dedupe.signature(item.text)
            self.sigs[id(item)] = (sig, dedupe.band_keys(sig))
            self.events[id(item)] = event if event is not None else event_signature(item.title, item.text)
        self.bands: dict[str, list[int]] = {}
        self.known: dict[int, dedupe.Candidate] = {}
        self.by_url: dict[str, int] = {}
        self.by_hash: dict[str, int] = {}
        self.by_feature: dict[str, list[int]] = {}
        self.across: dict[int, dedupe.EventCandidate] = {}
        self.story_codes: dict[int, set[str]] = {}
        self._load(items)

    def _load(self, items: Sequence[Item]) -> None:
        keys = [k for _, item_keys in self.sigs.values() for k in item_keys]
        self.bands, self.known = load_candidates(self.session, keys, self.since)
        if self.tail is not None:
            self.tail.candidates(keys, self.since, self.bands, self.known)
        if self.cross_language is not None:
            features = [f for e in self.events.values() for f in index_features(e)]
            # a marked update looks in its own language too (`dedupe.decide_update`)
            updates = any(e.update for e in self.events.values())
            self.by_feature, self.across = load_event_candidates(
                self.session, features, self.since, () if updates else {e.lang for e in self.events.values()})
        stories = {c.story_id for c in self.known.values()} | {c.story_id for c in self.across.values()}
        self.story_codes = load_story_codes(self.session, sorted(stories))
        urls = sorted({i.url for i in items if i.url})
        hashes = sorted({i.content_hash for i in items if i.content_hash})
        for column, values, target in ((ItemRow.url, urls, self.by_url),
                                       (ItemRow.content_hash, hashes, self.by_hash)):
            for chunk in chunks(values):
                for value, story_id in self.session.execute(
                    select(col(column), col(ItemRow.story_id)).where(
                        col(column).in_(chunk), col(ItemRow.fetched_at) >= self.since,
                        col(ItemRow.story_id).is_not(None))
                ).all():
                    target.setdefault(value, story_id)

    def signature(self, item: Item) -> tuple[dedupe.Signature, list[str]]:
        """The item's signature and band keys (computed once for the batch)."""
        found = self.sigs.get(id(item))
        if found is None:
            sig = dedupe.signature(item.text)
            found = self.sigs[id(item)] = (sig, dedupe.band_keys(sig))
        return found

    def event(self, item: Item) -> EventSignature:
        """The item's event signature (computed once for the batch)."""
        found = self.events.get(id(item))
        if found is None:
            found = self.events[id(item)] = event_signature(item.title, item.text)
        return found

    def _other_code(self, story_id: int, code: str | None) -> str | None:
        """A principal code the story holds that is not `code` (the new item may not join it then)."""
        if code is None:
            return None
        others = self.story_codes.get(story_id, set()) - {code}
        return min(others) if others else None

    def assign(self, item: Item) -> dedupe.Decision:
        """The story an item joins (story_id None = a new story), whether it is an update, and why."""
        exact = self.by_url.get(item.url) if item.url else None
        via = "same URL"
        if exact is None and item.content_hash:
            exact, via = self.by_hash.get(item.content_hash), "same text"
        if exact is not None:
            return dedupe.Decision(exact, 1.0, False, f"join: {via}", via="exact")
        sig, keys = self.signature(item)
        event = self.event(item)
        seen: dict[int, dedupe.Candidate] = {}
        for key in keys:
            for item_id in self.bands.get(key, ()):
                if item_id in self.known and len(seen) < 200:
                    seen[item_id] = self.known[item_id]
        conflict = dedupe.event_refusal(event)

        def refuse(cand: dedupe.Candidate) -> str | None:
            other = self._other_code(cand.story_id, event.code)
            return f"story {cand.story_id} is about {other}, this item about {event.code}" if other else conflict(cand)

        decision = dedupe.decide(item.text, sig, list(seen.values()), threshold=self.threshold,
                                 short_text=self.short_text, refuse=refuse)
        if decision.story_id is not None or self.cross_language is None:
            return decision
        across: dict[int, dedupe.EventCandidate] = {}
        for feature in index_features(event):
            for item_id in self.by_feature.get(feature, ()):
                cand = self.across.get(item_id)
                if cand is not None and len(across) < 200 and not self._other_code(cand.story_id, event.code):
                    across[item_id] = cand
        joined = dedupe.decide_across_languages(event, list(across.values()), self.cross_language)
        if joined.story_id is None:
            joined = dedupe.decide_update(event, list(across.values()))
        if joined.story_id is None:
            return decision
        joined.refused = decision.refused
        return joined

    def remember(self, item: Item, item_id: int, story_id: int) -> None:
        """Make a placed item a candidate for the rest of the batch (ids may still be batch keys)."""
        sig, keys = self.signature(item)
        event = self.event(item)
        self.known[item_id] = dedupe.Candidate(story_id, item_id, sig, len(item.text), event.to_json())
        for key in keys:
            self.bands.setdefault(key, []).append(item_id)
        if self.cross_language is not None:
            self.across[item_id] = dedupe.EventCandidate(story_id, item_id, event)
            for feature in index_features(event):
                self.by_feature.setdefault(feature, []).append(item_id)
        if event.code is not None:
            self.story_codes.setdefault(story_id, set()).add(event.code)
        if item.url:
            self.by_url.setdefault(item.url, story_id)
        if item.content_hash:
            self.by_hash.setdefault(item.content_hash, story_id)


_BATCH_KEY = re.compile(rf"\b{PENDING // 10**15}\d{{15}}\b")


def joined_reason(decision: dedupe.Decision, item_ids: dict[int, int], story_ids: dict[int, int]) -> str:
    """Why an item joined its story, as the JSON `wirewatch stories --explain` prints (batch keys → ids)."""
    matched = item_ids.get(decision.item_id, decision.item_id) if decision.item_id is not None else None

    def real(m: re.Match[str]) -> str:
        key = int(m.group())
        return str(item_ids.get(key, story_ids.get(key, key)))

    refused = [_BATCH_KEY.sub(real, r) for r in decision.refused]
    return json.dumps({"via": decision.via if decision.story_id is not None else "new", "item": matched,
                       "score": round(decision.score, 3), "update": decision.is_update, "reason": decision.reason,
                       "shared": list(decision.shared), "refused": refused}, ensure_ascii=False)


@dataclass(slots=True)
class _Story:
    """A story as the batch leaves it; the snapshot after each item becomes that item's StoryRef."""

    title: str
    first_seen: datetime
    sources: list[str]
    items: int
    updates: int = 0
    first_item: int = -1  # batch index of the item that created it


def _outlets(item: Item) -> list[str]:
    return [item.feed] + ([item.source] if item.source and item.source != item.feed else [])


def _load_stories(session: Session, ids: Sequence[int]) -> dict[int, _Story]:
    found: dict[int, _Story] = {}
    for chunk in chunks(sorted(ids)):
        for sid, title, first_seen, items, updates, sources in session.execute(
            sa_select(_STORY.c.id, _STORY.c.title, _STORY.c.first_seen, _STORY.c["items"], _STORY.c.updates,
                   _STORY.c.sources).where(_STORY.c.id.in_(chunk))
        ).all():
            found[sid] = _Story(title, as_utc(first_seen) or utcnow(), list(sources), items, updates)
    return found


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
    taken: set[tuple[str, str]] = set()
    for feed in {item.feed for item, _ in batch}:
        taken |= {(feed, i) for i in known_items(session, feed, [it.identity for it, _ in batch if it.feed == feed])}
    todo = [(n, item, digest) for n, (item, digest) in enumerate(batch) if (item.feed, item.identity) not in taken]
    if not todo:
        return [None] * len(batch)
    assigner = StoryAssigner(session, [item for _, item, _ in todo], window, threshold, short_text, now, tail,
                             [signatures[n] for n, _, _ in todo], [events[n] for n, _, _ in todo], cross_language)

    # 1. place every item, in feed order, in memory
    placed: list[tuple[int, Item, str, int, bool]] = []
    created = 0
    decisions: dict[int, dedupe.Decision] = {}
    for n, item, digest in todo:
        decision = decisions[n] = assigner.assign(item)
        story, is_update = decision.story_id, decision.is_update
        if story is None:
            story, created = PENDING + created, created + 1
        assigner.remember(item, PENDING + n, story)
        placed.append((n, item, digest, story, is_update))

    # 2. walk the placements: each story's state after each item (what the sink sees), and at the end
    stories = _load_stories(session, [s for *_, s, _ in placed if s < PENDING])
    gone: dict[int, int] = {}  # a story pruned since its items were indexed: start it afresh
    snapshots: list[tuple[list[str], int, bool]] = []  # sources, items, created: the story after each item
    for index, (n, item, digest, key, is_update) in enumerate(placed):
        if key < PENDING and key not in stories:
            if key not in gone:
                gone[key], created = PENDING + created, created + 1
            key = gone[key]
            placed[index] = (n, item, digest, key, is_update)
        state = stories.get(key)
        if state is None:
            state = stories[key] = _Story(item.title, now, _outlets(item), 1, first_item=n)
        else:
            state.items += 1
            state.updates += int(is_update)
            state.sources = list(dict.fromkeys([*state.sources, *_outlets(item)]))
        snapshots.append((list(state.sources), state.items, state.first_item == n))

    # 3. write: new stories, items, story counters and first items, index rows
    conn = session.connection()
    fresh = [k for k in stories if k >= PENDING]
    ids = {k: k for k in stories if k < PENDING}
    if fresh:
        rows = [{"first_item_id": None, "title": stories[k].title, "first_seen": now, "last_updated": now,
                 "items": stories[k].items, "updates": stories[k].updates, "sources": stories[k].sources}
                for k in fresh]
        made = conn.execute(insert(_STORY).returning(_STORY.c.id, sort_by_parameter_order=True), rows).scalars()
        ids.update(zip(fresh, made, strict=True))
    item_rows = [{
        "feed": item.feed, "identity": item.identity, "guid": item.guid, "url": item.url, "title": item.title,
        "raw_summary": item.raw_summary, "raw_content": item.raw_content, "raw_hash": digest, "text": item.text,
        "source": item.source, "teaser": item.teaser, "published_at": item.published_at, "fetched_at": item.fetched_at,
        "updated_at": item.fetched_at, "content_hash": item.content_hash, "story_id": ids[key],
        "search_short": stored_tokens(item.title, item.text) if item.search_short is None else item.search_short,
    } for _, item, digest, key, _ in placed]
    item_ids = list(conn.execute(insert(_ITEM).returning(_ITEM.c.id, sort_by_parameter_order=True),
                                 item_rows).scalars())
    by_batch = {n: item_id for (n, *_), item_id in zip(placed, item_ids, strict=True)}
    if fresh:
        conn.execute(update(_STORY).where(_STORY.c.id == bindparam("sid")).values(first_item_id=bindparam("first")),
                     [{"sid": ids[k], "first": by_batch[stories[k].first_item]} for k in fresh])
    joined = [k for k in stories if k < PENDING]
    if joined:
        conn.execute(update(_STORY).where(_STORY.c.id == bindparam("sid")).values(
            items=bindparam("count"), updates=bindparam("ups"), sources=bindparam("outlets"),
            last_updated=bindparam("at")), [{"sid": k, "count": stories[k].items, "ups": stories[k].updates,
                                             "outlets": stories[k].sources, "at": now} for k in joined])
    rows, features = [], []
    keyed = {PENDING + n: item_id for n, item_id in by_batch.items()}
    for (n, item, _, key, _), item_id in zip(placed, item_ids, strict=True):
        sig, keys = assigner.signature(item)
        event = assigner.event(item)
        rows.append(index_rows(item_id, ids[key], sig, keys, len(item.text), now, event,
                               joined_reason(decisions[n], keyed, ids))[0])
        features += feature_rows(item_id, ids[key], event, now)
        tail.remember(sig, keys)
    write_index(session, rows, [], features)  # band rows: later, with the rest of the tail
    tail.flush(session)

    out: list[StoryRef | None] = [None] * len(batch)
    for (n, item, _, key, is_update), item_id, (sources, count, first) in zip(placed, item_ids, snapshots,
                                                                             strict=True):
        item.id, item.story_id = item_id, ids[key]
        out[n] = StoryRef(ids[key], stories[key].first_seen, sources, count, created=first, updated=is_update,
                          new_item=True)
    return out


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
            sa_select(_SIGNATURE.c.item_id, _SIGNATURE.c.story_id, _SIGNATURE.c.created_at, _ITEM.c.title,
                      _ITEM.c.text).select_from(_SIGNATURE.join(_ITEM, _ITEM.c.id == _SIGNATURE.c.item_id))
            .where(_SIGNATURE.c.item_id > last).order_by(_SIGNATURE.c.item_id).limit(500)).all()
        if not rows:
            break
        updates, features = [], []
        for item_id, story_id, created_at, title, body in rows:
            event = event_signature(title, body)
            updates.append({"key": item_id, "event": event.to_json(), "code": event.code})
            features += feature_rows(item_id, story_id, event, created_at)
        conn.execute(update(_SIGNATURE).where(_SIGNATURE.c.item_id == bindparam("key"))
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
