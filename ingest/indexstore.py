"""The persisted story index: signature, band and feature rows, candidate look-ups, the band tail.

`ingest.dedupe` decides, purely, whether a text is a copy of a candidate; `ingest.storyplan`
decides, purely, which story each item of a batch joins. This module holds the SQL between them:
the rows that index an item under its story, the MinHash band and event-feature look-ups that
find a batch's candidates (each one statement for the whole batch), and the story lock.

On PostgreSQL an advisory lock serialises story assignment across daemons for the transaction;
under it the batch looks again for items another daemon stored since the poll began, so two
daemons ingesting the same copies at once still make one item and one story.

Band rows are the expensive part of storing an item: 32 inserts at random places in a large
B-tree, each dirtying its own page. So the newest items' bands are kept out of `story_band`:
their signatures (one row per item, appended in id order) are the "tail", which every process
reads back into memory under the lock, and once the tail holds `TAIL_FLUSH` items its band rows
are written in one sorted pass that touches each index page once. `index_meta` holds the mark:
`story_band` covers the items up to it, the tail everything after.

A story's band rows are bounded: an item gets rows only under the band keys its story has fewer
than `storyplan.BAND_COPIES` recent items under (`item_signature.bands`, a bit an item's band),
so a candidate list never holds more than a few copies of one story. The tail and the flush read
the mask; an edit and an index rebuild write every band.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, cast, func, insert, literal, null, text, union_all
from sqlalchemy import select as sa_select
from sqlmodel import Session

from wirewatch.config.clock import as_utc, utcnow
from wirewatch.ingest import dedupe
from wirewatch.ingest.event import EventSignature, index_features
from wirewatch.ingest.store import (
    ALL_BANDS,
    FEATURES,
    META,
    SIGNATURES,
    STORY_BANDS,
    Exact,
    IndexMeta,
    chunks,
)
from wirewatch.ingest.storyplan import Candidates

TAIL_FLUSH = 2048
"""Items in the tail (signatures stored, band rows not yet) at which their band rows are written."""
MARK = "dedupe.flushed"
"""The `index_meta` key of the mark: the highest item id whose band rows are in `story_band`."""

FEATURE_LIMIT = 32
"""Most items read per feature (the newest): a figure many items of the window repeat cannot make the look-up grow."""


def lock_story_assignment(session: Session) -> None:
    """Serialise story assignment across daemons for this transaction (PostgreSQL advisory lock)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(727274)"))


def stored_keys(keys: Sequence[str], mask: int) -> list[str]:
    """The band keys of `keys` whose bit is set in `mask` (`item_signature.bands`)."""
    return list(keys) if mask == ALL_BANDS else [k for i, k in enumerate(keys) if mask >> i & 1]


def index_rows(item_id: int, story_id: int, sig: dedupe.Signature, keys: Sequence[str], text_len: int,
               now: datetime, event: EventSignature | None = None, joined: str | None = None,
               bands: int = ALL_BANDS) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The signature row and band rows that index one item under its story (`bands`: which keys get a row)."""
    signature = {"item_id": item_id, "story_id": story_id, "signature": sig.to_bytes(), "text_len": text_len,
                 "created_at": now, "event": event.to_json() if event is not None else None,
                 "code": event.code if event is not None else None, "joined": joined, "bands": bands}
    return signature, [{"band": k, "item_id": item_id, "story_id": story_id, "created_at": now}
                       for k in stored_keys(keys, bands)]


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
        conn.execute(insert(SIGNATURES), list(signatures))
    if bands:
        conn.execute(insert(STORY_BANDS), list(bands))
    if features:
        conn.execute(insert(FEATURES), list(features))


def index_item(session: Session, item_id: int, story_id: int, sig: dedupe.Signature, text_len: int,
               now: datetime, event: EventSignature | None = None) -> None:
    """Write one item's signature, band and feature rows."""
    signature, bands = index_rows(item_id, story_id, sig, dedupe.band_keys(sig), text_len, now, event)
    write_index(session, [signature], bands, feature_rows(item_id, story_id, event, now))


def load_candidates(session: Session, keys: Sequence[str], since: datetime,
                    stored_at: dict[int, datetime] | None = None
                    ) -> tuple[dict[str, list[int]], dict[int, dedupe.Candidate]]:
    """Band key → item ids, and item id → candidate, for items in the window sharing any of `keys`.

    `stored_at`, if given, gets each candidate's time of storing.

    Driver-level SQL: a batch looks up 32 keys an item, and SQLAlchemy's per-parameter work cost
    more than SQLite's index seeks.
    """
    conn = session.connection()
    slot = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    to_db = STORY_BANDS.c.created_at.type.bind_processor(conn.dialect)
    after = to_db(since) if to_db is not None else since
    wanted = sorted(set(keys))
    bands: dict[str, list[int]] = {}
    known: dict[int, dedupe.Candidate] = {}
    if conn.dialect.name == "postgresql":
        # one statement: a probe of the primary key per band key whatever the statistics say (while the table
        # grows faster than autovacuum analyses it, PostgreSQL plans `band IN (...)` as a scan of it), then
        # one probe of item_signature per item found
        rows = conn.exec_driver_sql(
            "WITH b AS MATERIALIZED (SELECT k.band, s.item_id FROM unnest(%s::text[]) AS k(band) CROSS JOIN LATERAL "
            "(SELECT item_id FROM story_band s WHERE s.band = k.band AND s.created_at >= %s OFFSET 0) AS s) "
            "SELECT band, item_id, NULL::integer, NULL::bytea, NULL::integer, NULL::text, NULL::timestamptz FROM b "
            "UNION ALL SELECT NULL, g.item_id, g.story_id, g.signature, g.text_len, g.event, g.created_at "
            "FROM (SELECT DISTINCT item_id FROM b) AS d CROSS JOIN LATERAL (SELECT * FROM item_signature g "
            "WHERE g.item_id = d.item_id OFFSET 0) AS g", (wanted, after)).fetchall() if wanted else []
        for band, item_id, story_id, raw, text_len, event, created in rows:
            if band is not None:
                bands.setdefault(band, []).append(item_id)
            else:
                _add_candidate(known, stored_at, since, item_id, story_id, raw, text_len, event, created)
        return bands, known
    for chunk in chunks(wanted):
        for band, item_id in conn.exec_driver_sql(
                f"SELECT band, item_id FROM story_band WHERE band IN ({', '.join([slot] * len(chunk))}) "
                f"AND created_at >= {slot}", (*chunk, after)).fetchall():
            bands.setdefault(band, []).append(item_id)
    for id_chunk in chunks(sorted({i for ids in bands.values() for i in ids})):
        for item_id, story_id, raw, text_len, event, created in conn.execute(
            sa_select(SIGNATURES.c.item_id, SIGNATURES.c.story_id, SIGNATURES.c.signature, SIGNATURES.c.text_len,
                      SIGNATURES.c.event, SIGNATURES.c.created_at)
            .where(SIGNATURES.c.item_id.in_(id_chunk))
        ).all():
            _add_candidate(known, stored_at, since, item_id, story_id, raw, text_len, event, created)
    return bands, known


def _add_candidate(known: dict[int, dedupe.Candidate], stored_at: dict[int, datetime] | None, since: datetime,
                   item_id: int, story_id: int, raw: bytes, text_len: int, event: str | None, created: datetime) -> None:
    known[item_id] = dedupe.Candidate(story_id, item_id, dedupe.Signature.from_bytes(raw), text_len, event)
    if stored_at is not None:
        stored_at[item_id] = as_utc(created) or since


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
    to_db = FEATURES.c.created_at.type.bind_processor(conn.dialect)
    after = to_db(since) if to_db is not None else since
    # per feature, the newest FEATURE_LIMIT items, read backwards along the primary key (feature, item_id)
    rows: list[tuple[str, int, str]] = []
    signatures: list[tuple[int, int, str | None]] = []
    if conn.dialect.name == "postgresql":  # one statement, the features' items and their event signatures
        for f, i, lang, story_id, raw in conn.exec_driver_sql(
            "WITH b AS MATERIALIZED (SELECT k.f, b.item_id, b.lang FROM unnest(%s::text[]) AS k(f) CROSS JOIN LATERAL "
            "(SELECT item_id, lang FROM story_feature s WHERE s.feature = k.f AND s.created_at >= %s "
            "ORDER BY s.item_id DESC LIMIT %s) AS b) SELECT f, item_id, lang, NULL::integer, NULL::text FROM b "
            "UNION ALL SELECT NULL, g.item_id, NULL, g.story_id, g.event FROM (SELECT DISTINCT item_id FROM b) AS d "
            "CROSS JOIN LATERAL (SELECT item_id, story_id, event FROM item_signature g WHERE g.item_id = d.item_id "
            "OFFSET 0) AS g", (wanted, after, FEATURE_LIMIT)).fetchall():
            if f is None:
                signatures.append((i, story_id, raw))
            else:
                rows.append((f, i, lang))
    else:
        sql = (f"SELECT item_id, lang FROM story_feature WHERE feature = {slot} AND created_at >= {slot} "
               f"ORDER BY item_id DESC LIMIT {slot}")
        rows = [(f, item_id, lang) for f in wanted
                for item_id, lang in conn.exec_driver_sql(sql, (f, after, FEATURE_LIMIT)).fetchall()]
    batch = set(langs)
    for feature, item_id, lang in rows:
        if not batch or batch - {lang}:
            by_feature.setdefault(feature, []).append(item_id)
    wanted_ids = sorted({i for ids in by_feature.values() for i in ids})
    if conn.dialect.name != "postgresql":
        for id_chunk in chunks(wanted_ids):
            signatures += conn.exec_driver_sql(
                f"SELECT item_id, story_id, event FROM item_signature WHERE item_id IN ({', '.join([slot] * len(id_chunk))})",
                tuple(id_chunk)).fetchall()
    events: dict[int, dedupe.EventCandidate] = {}
    chosen = set(wanted_ids)
    for item_id, story_id, raw in signatures:
        event = EventSignature.from_json(raw)
        if event is not None and item_id in chosen:  # (PostgreSQL read every feature item's: those of `langs` too)
            events[item_id] = dedupe.EventCandidate(story_id, item_id, event)
    return by_feature, events


def load_story_codes(session: Session, story_ids: Sequence[int]) -> dict[int, set[str]]:
    """The principal security codes each of these stories holds (a story should hold at most one).

    Per story its two smallest codes, two seeks along `ix_item_signature_story_code` however many
    items the story has: all `StoryPlanner` asks is whether a story holds a code other than the
    item's, and the smallest such (the smallest, or the second smallest if the item's is the smallest).
    """
    found: dict[int, set[str]] = {}
    conn = session.connection()
    slot = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    pg = conn.dialect.name == "postgresql"
    wanted = sorted(set(story_ids))
    for chunk in ([wanted] if wanted else []) if pg else chunks(wanted):  # one statement for the batch
        keys = "SELECT unnest(%s::bigint[])" if pg else "VALUES " + ", ".join([f"(CAST({slot} AS BIGINT))"] * len(chunk))
        for story_id, code, second in conn.exec_driver_sql(
            f"WITH k(id) AS ({keys}), f(id, code) AS (SELECT id, (SELECT code FROM item_signature "
            f"WHERE story_id = k.id AND code IS NOT NULL ORDER BY code LIMIT 1) FROM k) SELECT id, code, (SELECT "
            f"s.code FROM item_signature s WHERE s.story_id = f.id AND s.code > f.code ORDER BY s.code LIMIT 1) "
            f"FROM f WHERE code IS NOT NULL", (list(chunk),) if pg else tuple(chunk)).fetchall():
            found[story_id] = {code} if second is None else {code, second}
    return found


def _mark(session: Session) -> int:
    """The flush mark; set on first use to the newest indexed item (an index from before the tail existed)."""
    meta = session.get(IndexMeta, MARK)
    if meta is not None:
        return int(meta.value)
    newest = session.execute(sa_select(func.max(SIGNATURES.c.item_id))).scalar() or 0
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
    items: dict[int, tuple[int, bytes, int, datetime, str | None, int]] = field(default_factory=dict)
    """item id → (story id, signature bytes, text length, stored at, event signature JSON, bands mask)"""
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
        """Catch up with the database (call under `lock_story_assignment`, inside the write transaction).

        One statement reads the mark and the signatures stored after it and after those already seen;
        when the mark is missing or went back (a rebuilt index) they are read again.
        """
        stored_mark = sa_select(cast(META.c.value, BigInteger)).where(META.c.key == MARK)
        rows = list(session.execute(union_all(
            sa_select(*self._columns, literal(0).label("head")).where(
                SIGNATURES.c.item_id > self.seen, SIGNATURES.c.item_id > stored_mark.scalar_subquery()),
            sa_select(stored_mark.subquery().c[0], *[null()] * (len(self._columns) - 1), literal(1)),
        ).order_by(text("head"), text("item_id"))).all())
        read: int | None = rows.pop()[0] if rows and rows[-1][-1] == 1 else None
        again = read is None or read < self.mark
        mark = _mark(session) if read is None or again else read
        if mark < self.mark:  # the index was rebuilt: start over
            self.items.clear()
            self.seen = 0
        if mark != self.mark:
            self.items = {i: v for i, v in self.items.items() if i > mark}
            self.bands = {}
            for item_id, (_, raw, _, _, _, mask) in self.items.items():
                keys = dedupe.band_keys(dedupe.Signature.from_bytes(raw))
                dedupe.add_to_buckets(self.bands, stored_keys(keys, mask), item_id)
            self.mark = mark
        if again:
            rows = list(session.execute(sa_select(*self._columns, literal(0)).where(
                SIGNATURES.c.item_id > max(self.seen, mark)).order_by(SIGNATURES.c.item_id)).all())
        self._add(rows)

    _columns = (SIGNATURES.c.item_id, SIGNATURES.c.story_id, SIGNATURES.c.signature, SIGNATURES.c.text_len,
                SIGNATURES.c.created_at, SIGNATURES.c.event, SIGNATURES.c.bands)

    def _add(self, rows: Sequence[Any]) -> None:
        """Take signature rows (in id order) into the tail."""
        for item_id, story_id, raw, text_len, created, event, mask, _ in rows:
            raw = bytes(raw)
            keys = self.stored.pop(raw, []) or dedupe.band_keys(dedupe.Signature.from_bytes(raw))
            self.items[item_id] = (story_id, raw, text_len, as_utc(created) or utcnow(), event, mask)
            dedupe.add_to_buckets(self.bands, stored_keys(keys, mask), item_id)
            self.seen = item_id

    def candidates(self, keys: Sequence[str], since: datetime, bands: dict[str, list[int]],
                   known: dict[int, dedupe.Candidate], stored_at: dict[int, datetime] | None = None) -> None:
        """Add the tail's items in the window that share any of `keys` to `bands` and `known` (and `stored_at`)."""
        for key in set(keys):
            held = self.bands.get(key)
            if held is None:
                continue
            for item_id in (held,) if isinstance(held, int) else held:
                story_id, raw, text_len, created, event, _ = self.items[item_id]
                if created >= since:
                    bands.setdefault(key, []).append(item_id)
                    if item_id not in known:
                        known[item_id] = dedupe.Candidate(story_id, item_id, dedupe.Signature.from_bytes(raw),
                                                          text_len, event)
                        if stored_at is not None:
                            stored_at[item_id] = created

    def flush(self, session: Session) -> int:
        """If the tail is full, write its band rows (sorted by key) and move the mark; the rows written."""
        if len(self.items) < self.flush_at:
            return 0
        newest = max(self.items)
        conn = session.connection()
        to_db = STORY_BANDS.c.created_at.type.bind_processor(conn.dialect)  # converted once an item, not once a row
        rows: list[tuple[str, int, int, Any]] = []
        for item_id, story_id, raw, created, mask in conn.execute(
            sa_select(SIGNATURES.c.item_id, SIGNATURES.c.story_id, SIGNATURES.c.signature, SIGNATURES.c.created_at,
                      SIGNATURES.c.bands)
            .where(SIGNATURES.c.item_id > self.mark, SIGNATURES.c.item_id <= newest)
        ).all():
            at = to_db(created) if to_db is not None else created
            keys = stored_keys(dedupe.band_keys(dedupe.Signature.from_bytes(raw)), mask)
            rows.extend((key, item_id, story_id, at) for key in keys)
        rows.sort()  # by band key, then item: one pass along the index
        slot = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        if rows and conn.dialect.name == "postgresql":  # a statement of four arrays (binary: quicker to read)
            for chunk in chunks(rows, 4096):  # a slice at a time: the arrays as sent cost memory
                conn.exec_driver_sql("INSERT INTO story_band (band, item_id, story_id, created_at) SELECT * FROM "
                                     "unnest(%b::text[], %b::integer[], %b::integer[], %b::timestamptz[])",
                                     tuple(list(column) for column in zip(*chunk, strict=True)))
        elif rows:  # (none when every item of the tail was a copy its story had enough rows for)
            conn.exec_driver_sql(f"INSERT INTO story_band (band, item_id, story_id, created_at) "
                                 f"VALUES ({slot}, {slot}, {slot}, {slot})", rows)
        set_mark(session, newest)
        return len(rows)


def load_batch_candidates(session: Session, exact: Exact, keys: Sequence[str], events: Sequence[EventSignature],
                          since: datetime, tail: BandTail | None = None, cross_language: float | None = None) -> Candidates:
    """The window's candidates for a batch: by band `keys` (database and `tail`), by headline figure
    (when `cross_language` is on), by URL and content hash (`exact`, read already), and the codes of the stories found."""
    found = Candidates(by_url=exact.by_url, by_hash=exact.by_hash)
    found.bands, found.known = load_candidates(session, keys, since, found.stored_at)
    if tail is not None:
        tail.candidates(keys, since, found.bands, found.known, found.stored_at)
    if cross_language is not None:
        features = [f for e in events for f in index_features(e)]
        # a marked update looks in its own language too (`dedupe.decide_update`)
        updates = any(e.update for e in events)
        found.by_feature, found.across = load_event_candidates(
            session, features, since, () if updates else {e.lang for e in events})
    if any(e.code is not None for e in events):  # an item without a code is refused over none (`_other_code`)
        stories = {c.story_id for c in found.known.values()} | {c.story_id for c in found.across.values()}
        found.story_codes = load_story_codes(session, sorted(stories))
    return found
