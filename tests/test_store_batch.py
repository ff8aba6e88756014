"""Storing a feed's batch of new items in one go (`ingest.stories.store_new_items`), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from ingest import dedupe
from ingest.item import Item, StoryRef
from ingest.store import ItemRow, ItemSignature, StoryBand, StoryRow
from ingest.stories import store_new_items
from wirewatch import db

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
    yield eng
    eng.dispose()


def item(feed: str, guid: str, text: str, source: str | None = None) -> Item:
    made = Item(feed=feed, identity=guid, guid=guid, url=f"http://{feed}.invalid/{guid}", title=text[:40],
                raw_summary=text, raw_content="", published_at=NOW, fetched_at=NOW)
    made.text, made.source, made.content_hash = text, source, dedupe.text_hash(text)
    return made


def store(engine: Engine, items: list[Item]) -> list[StoryRef | None]:
    with Session(engine) as session:
        refs = store_new_items(session, [(i, f"raw-{i.identity}") for i in items], 86400.0, 0.5, 200, NOW)
        session.commit()
    return list(refs)


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
        bands = session.exec(select(StoryBand)).all()
        assert len(bands) == 3 * dedupe.BANDS and {b.item_id for b in bands} == {r.id for r in rows.values()}


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
