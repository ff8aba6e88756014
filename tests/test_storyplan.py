"""The pure story plan (`ingest.storyplan`): which story each item of a batch joins, and the rows it changes."""

from __future__ import annotations

import pytest

from tests.test_store_batch import EVENT, NOW, OTHER, item
from wirewatch.ingest import dedupe
from wirewatch.ingest.item import Item
from wirewatch.ingest.shortwords import stored_tokens
from wirewatch.ingest.storyplan import (
    PENDING,
    Candidates,
    StoryPlanner,
    StoryState,
    item_row,
    place,
    prepare,
    walk,
)


def stored(story_id: int, item_id: int, text: str) -> Candidates:
    """The window as the index would load it for a batch: one stored item of `story_id`."""
    sig = dedupe.signature(text)
    found = Candidates()
    found.known[item_id] = dedupe.Candidate(story_id, item_id, sig, len(text), None)
    for key in dedupe.band_keys(sig):
        found.bands[key] = [item_id]
    return found


def plan_of(items: list[Item], window: Candidates, stories: dict[int, StoryState]) -> list[tuple[int, bool, str]]:
    """Per item: its story key as planned (batch keys counted from 0 as -1, -2, …), created?, via."""
    sigs, events = prepare(items)
    planner = StoryPlanner(window, items, 0.5, 200, sigs, events)
    placed = place(planner, [(n, it, f"raw-{n}") for n, it in enumerate(items)])
    plan = walk(placed, stories, NOW)
    return [(p.story if p.story < PENDING else -(p.story - PENDING + 1), first, p.decision.via
             if p.decision.story_id is not None else "new")
            for p, (_, _, first) in zip(plan.placed, plan.snapshots, strict=True)]


STORY = StoryState("stored story", NOW, ["wire"], 1)


@pytest.mark.parametrize(("batch", "window", "stories", "expected"), [
    # nothing stored: the first item makes a story, its copy later in the batch joins it, another event its own
    ([("a", EVENT), ("b", EVENT + " Shares rose."), ("c", OTHER)], Candidates(), {},
     [(-1, True, "new"), (-1, False, "text"), (-2, True, "new")]),
    # a copy of a stored item joins the stored story
    ([("a", EVENT + " Shares rose.")], stored(7, 70, EVENT), {7: STORY}, [(7, False, "text")]),
    # the stored story was pruned meanwhile: the copy starts a story afresh
    ([("a", EVENT), ("b", EVENT + " Shares rose.")], stored(7, 70, EVENT), {},
     [(-1, True, "text"), (-1, False, "text")]),
    # a different event does not join
    ([("a", OTHER)], stored(7, 70, EVENT), {7: STORY}, [(-1, True, "new")]),
])
def test_placements(batch: list[tuple[str, str]], window: Candidates, stories: dict[int, StoryState],
                    expected: list[tuple[int, bool, str]]) -> None:
    items = [item(feed, f"g{n}", text) for n, (feed, text) in enumerate(batch)]
    assert plan_of(items, window, stories) == expected


def test_the_same_url_joins_the_stored_story_without_reading_the_text() -> None:
    window = Candidates(by_url={"http://x.invalid/1": 9})
    assert plan_of([item("a", "g", OTHER, url="http://x.invalid/1")], window, {9: STORY}) == [(9, False, "exact")]


def test_the_plan_counts_stories_and_leaves_the_stored_state_as_given() -> None:
    items = [item("a", "g1", EVENT + " Shares rose."), item("b", "g2", EVENT + " Shares fell.")]
    sigs, events = prepare(items)
    before = StoryState("stored story", NOW, ["wire"], 1)
    placed = place(StoryPlanner(stored(7, 70, EVENT), items, 0.5, 200, sigs, events),
                   [(n, it, "raw") for n, it in enumerate(items)])
    plan = walk(placed, {7: before}, NOW)
    assert before.items == 1 and before.sources == ["wire"]
    assert plan.fresh == [] and plan.joined == [7]
    assert plan.story_updates() == [{"sid": 7, "count": 3, "ups": 0, "outlets": ["wire", "a", "b"], "at": NOW}]
    assert [s[:2] for s in plan.snapshots] == [(["wire", "a"], 2), (["wire", "a", "b"], 3)]
    assert [r["story_id"] for r in plan.item_rows({7: 7})] == [7, 7]


def test_item_rows_keep_the_parse_workers_short_tokens_else_compute_them() -> None:
    kept = item("a", "g1", EVENT)
    kept.search_short = "precomputed"
    fresh = item("a", "g2", "Li Ka-shing 李嘉诚 at 5 pm")
    assert item_row(kept, "raw", 3)["search_short"] == "precomputed"
    assert item_row(fresh, "raw", 3)["search_short"] == stored_tokens(fresh.title, fresh.text)
