"""Storing a feed's batch of new items in one go (`ingest.storystore.store_new_items`), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from wirewatch import db
from wirewatch.ingest import dedupe
from wirewatch.ingest.item import Item, StoryRef
from wirewatch.ingest.store import (
    IndexMeta,
    ItemRow,
    ItemSignature,
    StoryBand,
    StoryRow,
    exact_matches,
    reserve_ids,
    write_batch,
)
from wirewatch.ingest.storystore import MARK, BandTail, ensure_index_scheme, store_new_items, update_item

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
EVENT = ("Contemporary Amperex said on Wednesday that the first phase of its battery plant in Debrecen, Hungary, "
         "has started production with a planned annual capacity of 40 gigawatt hours, and that its first cells "
         "will go to several European carmakers.")
OTHER = ("The central bank left its benchmark lending rate unchanged for a fifth month in a row, in line with the "
         "expectations of every economist polled, and said it would keep liquidity reasonably ample.")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = db.make_engine(db_url)
    db.upgrade(eng)
    ensure_index_scheme(eng)  # as `App.open` does
    yield eng
    eng.dispose()


def item(feed: str, guid: str, text: str, source: str | None = None, url: str | None = None) -> Item:
    made = Item(feed=feed, identity=guid, guid=guid, url=url or f"http://{feed}.invalid/{guid}", title=text[:40],
                raw_summary=text, raw_content="", published_at=NOW, fetched_at=NOW)
    made.text, made.source, made.content_hash = text, source, dedupe.text_hash(text)
    return made


def store(engine: Engine, items: list[Item], tail: BandTail | None = None) -> list[StoryRef | None]:
    with Session(engine) as session:
        refs = store_new_items(session, [(i, f"raw-{i.identity}") for i in items], 86400.0, 0.5, 200, NOW, tail)
        session.commit()
    return list(refs)


def events(n: int) -> list[str]:
    """`n` texts about different events (no two share enough words to be copies)."""
    words = [f"w{k}" for k in range(4000)]
    return [" ".join(words[i * 60:(i + 1) * 60]) + f" event {i}." for i in range(n)]


def band_rows(engine: Engine) -> dict[int, int]:
    with Session(engine) as session:
        counts: dict[int, int] = {}
        for row in session.exec(select(StoryBand)).all():
            counts[row.item_id] = counts.get(row.item_id, 0) + 1
        return counts


def mark(engine: Engine) -> int:
    with Session(engine) as session:
        meta = session.get(IndexMeta, MARK)
        return -1 if meta is None else int(meta.value)


def test_a_copy_later_in_the_batch_joins_the_story_made_earlier_in_it(engine: Engine) -> None:
    first, other, copy = item("home", "a1", EVENT), item("home", "b1", OTHER), item("portal", "a2", EVENT + " ", "证券时报")
    refs = store(engine, [first, other, copy])
    a, b, c = refs
    assert a is not None and b is not None and c is not None
    assert (a.created, a.items, c.created, c.items) == (True, 1, False, 2)
    assert a.id == c.id != b.id
    assert c.sources == ["home", "portal", "证券时报"]
    with Session(engine) as session:
        rows = {r.guid: r for r in session.exec(select(ItemRow)).all()}
        story = session.get(StoryRow, a.id)
        assert story is not None
        assert (story.items, story.first_item_id, story.sources) == (2, rows["a1"].id, ["home", "portal", "证券时报"])
        assert {r.guid: r.story_id for r in rows.values()} == {"a1": a.id, "b1": b.id, "a2": a.id}
        assert first.id == rows["a1"].id and copy.story_id == a.id
        assert len(session.exec(select(ItemSignature)).all()) == 3
        assert session.exec(select(StoryBand)).all() == []  # in the tail until TAIL_FLUSH items gather


def test_a_copy_in_a_later_batch_joins_and_counts_on_the_stored_story(engine: Engine) -> None:
    (a,) = store(engine, [item("home", "a1", EVENT)])
    (b,) = store(engine, [item("portal", "a2", EVENT + " Shares rose.", "Reuters")])
    assert a is not None and b is not None
    assert b.id == a.id and (b.created, b.items) == (False, 2)
    with Session(engine) as session:
        story = session.get(StoryRow, a.id)
        assert story is not None and story.items == 2 and story.sources == ["home", "portal", "Reuters"]


def test_an_item_stored_meanwhile_by_another_daemon_is_skipped_and_the_rest_stored(engine: Engine) -> None:
    store(engine, [item("home", "a1", EVENT)])  # "another daemon" stored a1 after this poll read what it knew
    refs = store(engine, [item("home", "a1", EVENT), item("home", "b1", OTHER)])
    assert refs[0] is None and refs[1] is not None
    with Session(engine) as session:
        assert sorted(r.guid or "" for r in session.exec(select(ItemRow)).all()) == ["a1", "b1"]


def test_a_copy_of_a_story_pruned_meanwhile_starts_a_new_story(engine: Engine) -> None:
    (a,) = store(engine, [item("home", "a1", EVENT)])
    assert a is not None
    with Session(engine) as session:  # the story row is gone, its item and index rows are not (yet)
        story = session.get(StoryRow, a.id)
        session.delete(story)
        session.commit()
    (b,) = store(engine, [item("portal", "a2", EVENT)])
    assert b is not None and b.created
    with Session(engine) as session:  # (SQLite may hand out the freed id again: that is fine)
        made = session.get(StoryRow, b.id)
        assert made is not None and (made.items, made.sources) == (1, ["portal"])
        assert session.exec(select(ItemRow.story_id).where(ItemRow.guid == "a2")).one() == b.id


def test_the_tail_is_flushed_in_one_sorted_pass_and_copies_join_before_and_after(engine: Engine) -> None:
    texts = events(6)
    ours, theirs = BandTail(flush_at=4), BandTail(flush_at=4)  # two daemons (or a daemon and a restart)
    (a,) = store(engine, [item("home", "e0", texts[0])], ours)
    (b,) = store(engine, [item("portal", "c0", texts[0] + " More.")], theirs)  # finds e0 in the tail, read back
    assert a is not None and b is not None and b.id == a.id and not b.created
    assert band_rows(engine) == {} and mark(engine) == 0
    store(engine, [item("home", f"e{i}", texts[i]) for i in (1, 2)], ours)  # the tail now holds 4 items
    store(engine, [item("home", "e3", texts[3])], ours)  # full before this batch: its 4 items are flushed
    with Session(engine) as session:
        ids = {r.guid: r.id for r in session.exec(select(ItemRow)).all()}
    flushed = {ids[g] for g in ("e0", "c0", "e1", "e2")}
    assert band_rows(engine) == dict.fromkeys(flushed, dedupe.BANDS) and mark(engine) == max(flushed)
    (c,) = store(engine, [item("wire", "c1", texts[1] + " Shares rose.")], theirs)  # a copy of a flushed item
    (d,) = store(engine, [item("wire", "c3", texts[3] + " Shares fell.")], BandTail(flush_at=4))  # of a tail one
    with Session(engine) as session:
        story = {r.guid: r.story_id for r in session.exec(select(ItemRow)).all()}
    assert c is not None and d is not None and (c.id, d.id) == (story["e1"], story["e3"])
    assert len({story[g] for g in ("e0", "e1", "e2", "e3")}) == 4


def test_an_edit_rewrites_band_rows_only_for_flushed_items(engine: Engine) -> None:
    texts = events(4)
    tail = BandTail(flush_at=2)
    store(engine, [item("home", "e0", texts[0]), item("home", "e1", texts[1])], tail)
    store(engine, [item("home", "e2", texts[2])], tail)  # e0, e1 flushed; e2 in the tail
    with Session(engine) as session:
        ids = {r.guid: r.id for r in session.exec(select(ItemRow)).all()}
        for guid in ("e0", "e2"):
            edited = item("home", guid, texts[3])
            assert update_item(session, ids[guid] or 0, edited, "raw-edit") is not None
        session.commit()
        sigs = {r.item_id: r.signature for r in session.exec(select(ItemSignature)).all()}
    assert band_rows(engine) == {ids["e0"]: dedupe.BANDS, ids["e1"]: dedupe.BANDS}
    assert sigs[ids["e0"]] == sigs[ids["e2"]] == dedupe.signature(texts[3]).to_bytes()
    with Session(engine) as session:
        new_keys = set(dedupe.band_keys(dedupe.signature(texts[3])))
        assert {r.band for r in session.exec(select(StoryBand).where(StoryBand.item_id == ids["e0"])).all()} == new_keys


def test_rebuilding_the_index_writes_every_band_row_and_empties_the_tail(engine: Engine) -> None:
    texts = events(3)
    store(engine, [item("home", f"e{i}", t) for i, t in enumerate(texts)])
    assert band_rows(engine) == {}
    with Session(engine) as session:
        meta = session.get(IndexMeta, "dedupe.scheme")
        assert meta is not None
        meta.value = "an older scheme"
        session.add(meta)
        session.commit()
    assert ensure_index_scheme(engine)
    counts = band_rows(engine)
    assert sorted(counts.values()) == [dedupe.BANDS] * 3 and mark(engine) == max(counts)
    (copy,) = store(engine, [item("wire", "c2", texts[2] + " Shares rose.")])
    assert copy is not None and not copy.created


def test_one_read_finds_stored_identities_and_window_items_by_url_and_text_past_500_values(engine: Engine) -> None:
    (a,) = store(engine, [item("home", "a1", EVENT, url="http://x.invalid/a")])
    assert a is not None
    identities = [("home", f"n{i}") for i in range(600)] + [("home", "a1"), ("portal", "a1")]
    urls = [f"http://x.invalid/{i}" for i in range(600)] + ["http://x.invalid/a"]
    with Session(engine) as session:
        found = exact_matches(session, identities, urls, [dedupe.text_hash(EVENT), "0" * 64], NOW - timedelta(hours=1))
        late = exact_matches(session, [], ["http://x.invalid/a"], [], NOW + timedelta(hours=1))  # outside the window
    assert found.taken == {("home", "a1")}
    assert found.by_url == {"http://x.invalid/a": a.id} and found.by_hash == {dedupe.text_hash(EVENT): a.id}
    assert (late.taken, late.by_url) == (set(), {})


def test_rows_of_several_tables_and_story_counters_are_written_in_one_statement(pg_url: str) -> None:
    eng = db.make_engine(pg_url)
    db.upgrade(eng)
    with Session(eng) as session:
        story_ids, item_ids = reserve_ids(session, 5, 0)
        rows = [{"id": sid, "first_item_id": None, "title": f"s{sid}", "first_seen": NOW, "last_updated": NOW,
                 "items": 1, "updates": 0, "sources": ["home"]} for sid in story_ids]
        write_batch(session, [(StoryRow.__table__, rows)])
        write_batch(session, [], [{"sid": sid, "count": 3, "ups": 1, "outlets": ["home", "wire"], "at": NOW}
                                  for sid in story_ids[:3]])
        session.commit()
        stored = {s.id: (s.title, s.items, s.updates, s.sources) for s in session.exec(select(StoryRow)).all()}
    eng.dispose()
    assert item_ids == [] and story_ids == sorted(story_ids) and len(set(story_ids)) == 5
    assert stored == {sid: (f"s{sid}", 3 if n < 3 else 1, 1 if n < 3 else 0, ["home", "wire"] if n < 3 else ["home"])
                      for n, sid in enumerate(story_ids)}
