"""The story index bounded per story (issue #22): a few copies per band key get band rows, on SQLite and PostgreSQL.

An item joining a story that already has `BAND_COPIES` recent items under one of its band keys
adds no row for that key (`item_signature.bands` says which it has). The tests craft signatures,
so which band keys items share is exact rather than left to the hash.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from wirewatch import db
from wirewatch.ingest import dedupe
from wirewatch.ingest.item import Item, StoryRef
from wirewatch.ingest.store import ALL_BANDS, ItemRow, ItemSignature, StoryBand
from wirewatch.ingest.storyplan import Candidates, StoryPlanner, prepare
from wirewatch.ingest.storystore import (
    BAND_COPIES,
    BandTail,
    ensure_index_scheme,
    load_story_codes,
    store_new_items,
    update_item,
)

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
TEXT = ("Contemporary Amperex said on Wednesday that the first phase of its battery plant in Debrecen, Hungary, "
        "has started production with a planned annual capacity of 40 gigawatt hours.")
BASE = tuple(range(1000, 1000 + dedupe.NUM_PERM))
WINDOW = 86400.0


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = db.make_engine(db_url)
    db.upgrade(eng)
    ensure_index_scheme(eng)
    yield eng
    eng.dispose()


def changed(values: tuple[int, ...], bands: range, offset: int, positions: range = range(dedupe.ROWS)) -> tuple[int, ...]:
    """`values` with the given positions of the given bands moved by `offset` (those bands' keys change)."""
    out = list(values)
    for band in bands:
        for row in positions:
            out[band * dedupe.ROWS + row] += offset
    return tuple(out)


def item(guid: str) -> Item:
    made = Item(feed=f"feed-{guid}", identity=guid, guid=guid, url=f"http://x.invalid/{guid}", title=TEXT[:40],
                raw_summary=TEXT, raw_content="", published_at=NOW, fetched_at=NOW)
    made.text, made.content_hash = TEXT + f" ({guid})", dedupe.text_hash(TEXT + guid)
    return made


def store(engine: Engine, guid: str, values: tuple[int, ...], tail: BandTail, at: datetime = NOW) -> StoryRef:
    with Session(engine) as session:
        (ref,) = store_new_items(session, [(item(guid), "raw")], WINDOW, 0.5, 50, at, tail,
                                 [dedupe.Signature(values)])
        session.commit()
    assert ref is not None
    return ref


def signature_rows(engine: Engine) -> dict[str, ItemSignature]:
    with Session(engine) as session:
        guids = {r.id: r.guid for r in session.exec(select(ItemRow)).all()}
        return {guids[r.item_id] or "": r for r in session.exec(select(ItemSignature)).all()}


def test_the_column_default_is_every_band() -> None:
    assert ALL_BANDS == (1 << dedupe.BANDS) - 1  # one bit per band of the MinHash scheme


@pytest.mark.parametrize("flush_at", [1, 10_000], ids=["flushed", "tail"])
def test_copies_past_the_first_few_add_no_band_rows_and_still_join(engine: Engine, flush_at: int) -> None:
    tail = BandTail(flush_at=flush_at)
    refs = [store(engine, f"c{n}", BASE, tail) for n in range(10)]  # ten copies, every band key the same
    assert len({r.id for r in refs}) == 1 and refs[-1].items == 10
    rows = signature_rows(engine)
    assert [rows[f"c{n}"].bands for n in range(10)] == [ALL_BANDS] * BAND_COPIES + [0] * (10 - BAND_COPIES)
    if flush_at == 1:
        with Session(engine) as session:
            per_key: dict[str, int] = {}
            for band in session.exec(select(StoryBand)).all():
                per_key[band.band] = per_key.get(band.band, 0) + 1
        assert per_key == dict.fromkeys(dedupe.band_keys(dedupe.Signature(BASE)), BAND_COPIES)
    # another process reading the index back (its own tail) sees the same few and joins the story
    late = store(engine, "late", changed(BASE, range(16, 32), 7), BandTail(flush_at=flush_at))
    assert late.id == refs[0].id


@pytest.mark.parametrize("flush_at", [1, 10_000], ids=["flushed", "tail"])
def test_an_item_that_only_a_band_not_stored_leads_to_finds_the_story_through_its_representatives(
        engine: Engine, flush_at: int) -> None:
    """Y joins the story of R1, R2 and keeps no row for the bands it shares with them (0–23). X shares, of
    all 32 band keys, only band 0 with Y: without the cap it would find the story through Y's band 0 row,
    which is not there; R1 and R2 have that very key, so X finds the story through theirs."""
    tail = BandTail(flush_at=flush_at)
    r1, r2 = store(engine, "r1", BASE, tail), store(engine, "r2", BASE, tail)
    y_values = changed(BASE, range(24, 32), 50_000)
    y = store(engine, "y", y_values, tail)
    assert r1.id == r2.id == y.id
    rows = signature_rows(engine)
    assert rows["y"].bands == sum(1 << b for b in range(24, 32))  # only the keys the story had no copy of
    x_values = changed(y_values, range(1, 32), 900_000, range(1))  # one value off in every band but band 0
    x_keys = dedupe.band_keys(dedupe.Signature(x_values))
    y_keys = dedupe.band_keys(dedupe.Signature(y_values))
    assert [a == b for a, b in zip(x_keys, y_keys, strict=True)] == [True] + [False] * 31
    x = store(engine, "x", x_values, BandTail(flush_at=flush_at))
    assert x.id == y.id and not x.created
    joined = json.loads(signature_rows(engine)["x"].joined or "{}")
    assert joined["item"] in {rows["r1"].item_id, rows["r2"].item_id}  # matched through a representative


def test_representatives_older_than_half_the_window_do_not_count(engine: Engine) -> None:
    tail = BandTail(flush_at=10_000)
    store(engine, "r1", BASE, tail, NOW)
    store(engine, "r2", BASE, tail, NOW)
    later = NOW + timedelta(seconds=WINDOW * 0.6)  # both copies still in the window, but not recent
    store(engine, "c", BASE, tail, later)
    store(engine, "d", BASE, tail, later)
    store(engine, "e", BASE, tail, later)
    rows = signature_rows(engine)
    assert (rows["c"].bands, rows["d"].bands, rows["e"].bands) == (ALL_BANDS, ALL_BANDS, 0)


def test_an_edit_indexes_every_band_again(engine: Engine) -> None:
    tail = BandTail(flush_at=1)
    for n in range(3):
        store(engine, f"c{n}", BASE, tail)
    store(engine, "other", changed(BASE, range(32), 10**6), tail)  # c2's batch is flushed with this one
    rows = signature_rows(engine)
    assert rows["c2"].bands == 0
    with Session(engine) as session:
        edited = item("c2")
        edited.text = TEXT + " The plant will employ 1,000 people by next year, the company said."
        assert update_item(session, rows["c2"].item_id, edited, "raw-edit") is not None
        session.commit()
        bands = session.exec(select(StoryBand).where(StoryBand.item_id == rows["c2"].item_id)).all()
    assert signature_rows(engine)["c2"].bands == ALL_BANDS and len(bands) == dedupe.BANDS


def test_story_codes_are_the_two_smallest_a_story_holds(engine: Engine) -> None:
    with Session(engine) as session:
        for n, code in enumerate(["c:US:MSFT", "c:CN:600519", "c:US:AAPL", "c:CN:600519"]):
            session.add(ItemSignature(item_id=n + 1, story_id=5, signature=b"\0" * 512, code=code, created_at=NOW))
        session.add(ItemSignature(item_id=9, story_id=6, signature=b"\0" * 512, created_at=NOW))
        session.commit()
        assert load_story_codes(session, [5, 6, 7]) == {5: {"c:CN:600519", "c:US:AAPL"}}
    # all the planner asks: another code than the item's, the smallest such — as with every code of the story
    planner = StoryPlanner(Candidates(story_codes={5: {"c:CN:600519", "c:US:AAPL"}}), [], 0.5, 50)
    full = StoryPlanner(Candidates(story_codes={5: {"c:CN:600519", "c:US:AAPL", "c:US:MSFT"}}), [], 0.5, 50)
    for code in ("c:CN:600519", "c:US:AAPL", "c:US:MSFT", "c:HK:00700", None):
        assert planner._other_code(5, code) == full._other_code(5, code)


@pytest.mark.parametrize(("held", "recent", "expected"), [
    ([], True, ALL_BANDS),  # a story's first item: every band
    ([11], True, ALL_BANDS),  # one representative: still under BAND_COPIES
    ([11, 12], True, 0),  # two recent ones under every key: none
    ([11, 12], False, ALL_BANDS),  # two, but stored before `recent`: every band
    ([11, 21], True, ALL_BANDS),  # one of them is another story's
])
def test_which_bands_a_placed_item_gets(held: list[int], recent: bool, expected: int) -> None:
    sig = dedupe.Signature(BASE)
    keys = dedupe.band_keys(sig)
    window = Candidates(bands={k: list(held) for k in keys})
    for item_id in held:
        window.known[item_id] = dedupe.Candidate(item_id // 10, item_id, sig, len(TEXT), None)
        window.stored_at[item_id] = NOW if recent else NOW - timedelta(days=1)
    new = item("n")
    sigs, events = prepare([new], [sig])
    planner = StoryPlanner(window, [new], 0.5, 50, sigs, events, recent=NOW - timedelta(hours=1))
    planner.remember(new, 1 << 62, 1)
    assert planner.masks[1 << 62] == expected
    assert all((1 << 62 in window.bands[k]) == bool(expected >> b & 1) for b, k in enumerate(keys))
