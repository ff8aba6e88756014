"""Which story each item of a batch joins, and which rows that changes: a pure plan for the writer.

Values in, values out: the batch's items with their MinHash and event signatures, the window's
candidates as `ingest.indexstore` loaded them (`Candidates`), the stored state of the stories
the items join, and the clock (`now`) are given; `place` decides, item by item in feed order,
the story each joins (a copy later in the batch can join a story created earlier in it), and
`walk` turns the placements into a `Plan`: the stories as the batch leaves them, each item's
snapshot of its story, and the story and item rows to write. `ingest.storystore` applies it.

Stories and items not inserted yet are named by batch keys (`PENDING` and up); the writer maps
them to the ids the database gives.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from wirewatch.ingest import dedupe
from wirewatch.ingest.event import EventSignature, event_signature, index_features
from wirewatch.ingest.item import Item
from wirewatch.ingest.shortwords import stored_tokens
from wirewatch.ingest.store import ALL_BANDS  # the band mask of an item with a row under every band key

PENDING = 1 << 62
"""Keys at or above this stand for stories and items of the current batch not yet inserted; being larger
than any real id, they sort as the newest (dedupe breaks ties towards the older story)."""

BAND_COPIES = 2
"""Items of one story that get a row under one band key (among those stored in the last half window).

A further copy sharing that key adds no row for it: its story's candidate lists stay this long
however many copies it has. See `StoryPlanner.remember` for why a copy that only that key would
have found still finds the story."""

_BATCH_KEY = re.compile(rf"\b{PENDING // 10**15}\d{{15}}\b")


@dataclass
class Candidates:
    """What the window holds for a batch: band and feature look-ups, exact matches, story codes."""

    bands: dict[str, list[int]] = field(default_factory=dict)
    """band key → ids of items in the window with that key"""
    known: dict[int, dedupe.Candidate] = field(default_factory=dict)
    by_url: dict[str, int] = field(default_factory=dict)
    """URL → story of an item in the window with that URL (the first found)"""
    by_hash: dict[str, int] = field(default_factory=dict)
    by_feature: dict[str, list[int]] = field(default_factory=dict)
    across: dict[int, dedupe.EventCandidate] = field(default_factory=dict)
    story_codes: dict[int, set[str]] = field(default_factory=dict)
    stored_at: dict[int, datetime] = field(default_factory=dict)
    """item id → when it was stored, for the items in `known`"""


def prepare(items: Sequence[Item], signatures: Sequence[dedupe.Signature | None] = (),
            events: Sequence[EventSignature | None] = ()) -> tuple[list[tuple[dedupe.Signature, list[str]]],
                                                                    list[EventSignature]]:
    """Each item's signature with its band keys, and its event signature (given ones kept, the rest worked out)."""
    given = list(signatures) or [None] * len(items)
    given_events = list(events) or [None] * len(items)
    sigs, evs = [], []
    for item, known, event in zip(items, given, given_events, strict=True):
        sig = known if known is not None else dedupe.signature(item.text)
        sigs.append((sig, dedupe.band_keys(sig)))
        evs.append(event if event is not None else event_signature(item.title, item.text))
    return sigs, evs


class StoryPlanner:
    """Places items in stories, in memory, among loaded candidates; placed items become candidates too.

    Same language: MinHash/LSH candidates verified by text similarity, refused when their event
    signatures conflict or their story holds another principal security code. Other languages
    (when `cross_language` is a threshold, None = off): items sharing a headline figure, joined when
    their event signatures agree (`ingest.event.agreement`).
    """

    def __init__(self, candidates: Candidates, items: Sequence[Item], threshold: float, short_text: int,
                 signatures: Sequence[tuple[dedupe.Signature, list[str]]] = (),
                 events: Sequence[EventSignature] = (), cross_language: float | None = None,
                 recent: datetime | None = None, band_copies: int = BAND_COPIES) -> None:
        self.threshold, self.short_text, self.cross_language = threshold, short_text, cross_language
        self.recent, self.band_copies = recent, band_copies
        self.masks: dict[int, int] = {}
        """placed item → which of its band keys get a row (bit i: band i)"""
        self.sigs: dict[int, tuple[dedupe.Signature, list[str]]] = {
            id(item): found for item, found in zip(items, signatures, strict=False)}
        self.events: dict[int, EventSignature] = {id(item): e for item, e in zip(items, events, strict=False)}
        self.use(candidates)

    def use(self, candidates: Candidates) -> None:
        """Take `candidates` as the window's (the planner adds the items it places to them)."""
        self.candidates = candidates
        self.bands, self.known = candidates.bands, candidates.known
        self.by_url, self.by_hash = candidates.by_url, candidates.by_hash
        self.by_feature, self.across = candidates.by_feature, candidates.across
        self.story_codes = candidates.story_codes
        self.stored_at = candidates.stored_at

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

    def _represented(self, held: list[int], story_id: int) -> bool:
        """Whether `band_copies` recent items of `held` (one band key's items) are in the story already."""
        found = 0
        for item_id in held:
            cand = self.known.get(item_id)
            if cand is None or cand.story_id != story_id:
                continue
            at = self.stored_at.get(item_id)
            if item_id >= PENDING or (self.recent is not None and at is not None and at >= self.recent):
                found += 1
                if found >= self.band_copies:
                    return True
        return False

    def remember(self, item: Item, item_id: int, story_id: int) -> None:
        """Make a placed item a candidate for the rest of the batch (ids may still be batch keys).

        Its band keys get rows (`masks`) except those under which its story already has
        `band_copies` items stored since `recent` (None: no cap). Why a later copy still finds the
        story: say it shares key k with this item only. Under k the story has representatives with
        that very key, stored at most half a window (the `recent` the writer passes) before this
        item, so the copy shares k with them and finds the story while they are in the window — for
        at least half a window after this item; later, only if a copy since refreshed them (a copy
        finding none recent stores its own row). It is then verified against those
        representatives' signatures, not this item's.
        """
        sig, keys = self.signature(item)
        event = self.event(item)
        self.known[item_id] = dedupe.Candidate(story_id, item_id, sig, len(item.text), event.to_json())
        mask = 0
        for band, key in enumerate(keys):
            held = self.bands.setdefault(key, [])
            if self.band_copies and self.recent is not None and self._represented(held, story_id):
                continue
            mask |= 1 << band
            held.append(item_id)
        self.masks[item_id] = mask
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
class StoryState:
    """A story as the batch leaves it; the snapshot after each item becomes that item's StoryRef."""

    title: str
    first_seen: datetime
    sources: list[str]
    items: int
    updates: int = 0
    first_item: int = -1  # batch index of the item that created it


@dataclass(slots=True)
class Placement:
    """Where one item of the batch goes: `n` its index in the batch, `story` a story id or batch key."""

    n: int
    item: Item
    digest: str
    story: int
    is_update: bool
    decision: dedupe.Decision
    bands: int = ALL_BANDS
    """which of the item's band keys get a row in `story_band` (bit i: band i)"""


def outlets(item: Item) -> list[str]:
    """The outlets an item adds to its story's sources: its feed, and the source it names if another."""
    return [item.feed] + ([item.source] if item.source and item.source != item.feed else [])


def place(planner: StoryPlanner, todo: Sequence[tuple[int, Item, str]]) -> list[Placement]:
    """Decide, in feed order, the story each `(batch index, item, raw hash)` joins (new ones get batch keys)."""
    placed: list[Placement] = []
    created = 0
    for n, item, digest in todo:
        decision = planner.assign(item)
        story = decision.story_id
        if story is None:
            story, created = PENDING + created, created + 1
        planner.remember(item, PENDING + n, story)
        placed.append(Placement(n, item, digest, story, decision.is_update, decision,
                                planner.masks.get(PENDING + n, ALL_BANDS)))
    return placed


@dataclass
class Plan:
    """A batch's placements and the stories as it leaves them: what the writer stores and the sink sees."""

    placed: list[Placement]
    stories: dict[int, StoryState]
    snapshots: list[tuple[list[str], int, bool]]
    """per placement: the story's sources and item count after the item, and whether the item created it"""
    now: datetime

    @property
    def fresh(self) -> list[int]:
        """Batch keys of the stories to insert, in creation order."""
        return [k for k in self.stories if k >= PENDING]

    @property
    def joined(self) -> list[int]:
        """Ids of the stored stories the batch adds to."""
        return [k for k in self.stories if k < PENDING]

    def new_story_rows(self) -> list[dict[str, Any]]:
        """The `story` rows to insert (first_item_id set once the items have ids)."""
        now = self.now
        return [{"first_item_id": None, "title": s.title, "first_seen": now, "last_updated": now, "items": s.items,
                 "updates": s.updates, "sources": s.sources} for s in (self.stories[k] for k in self.fresh)]

    def story_updates(self) -> list[dict[str, Any]]:
        """The counters of stored stories the batch joins (bind names of the writer's UPDATE)."""
        return [{"sid": k, "count": self.stories[k].items, "ups": self.stories[k].updates,
                 "outlets": self.stories[k].sources, "at": self.now} for k in self.joined]

    def item_rows(self, ids: dict[int, int]) -> list[dict[str, Any]]:
        """The `item` rows to insert, in placement order (`ids`: story key → story id)."""
        return [item_row(p.item, p.digest, ids[p.story]) for p in self.placed]


def item_row(item: Item, digest: str, story_id: int) -> dict[str, Any]:
    """The `item` row of a new item in story `story_id` (short search tokens kept from the parse worker if set)."""
    return {
        "feed": item.feed, "identity": item.identity, "guid": item.guid, "url": item.url, "title": item.title,
        "raw_summary": item.raw_summary, "raw_content": item.raw_content, "raw_hash": digest, "text": item.text,
        "source": item.source, "teaser": item.teaser, "published_at": item.published_at, "fetched_at": item.fetched_at,
        "updated_at": item.fetched_at, "content_hash": item.content_hash, "story_id": story_id,
        "search_short": stored_tokens(item.title, item.text) if item.search_short is None else item.search_short,
    }


def walk(placed: list[Placement], stored: dict[int, StoryState], now: datetime) -> Plan:
    """Each story's state after each item, and at the end; `stored`: the stored stories placements name.

    A placement naming a story that is not in `stored` (pruned since its items were indexed) starts it
    afresh, with all of its band rows (the representatives it counted on are the pruned story's).
    """
    stories = {k: replace(s, sources=list(s.sources)) for k, s in stored.items()}
    created = max((p.story - PENDING + 1 for p in placed if p.story >= PENDING), default=0)
    gone: dict[int, int] = {}
    snapshots: list[tuple[list[str], int, bool]] = []
    for p in placed:
        if p.story < PENDING and p.story not in stories:
            if p.story not in gone:
                gone[p.story], created = PENDING + created, created + 1
            p.story, p.bands = gone[p.story], ALL_BANDS
        state = stories.get(p.story)
        if state is None:
            state = stories[p.story] = StoryState(p.item.title, now, outlets(p.item), 1, first_item=p.n)
        else:
            state.items += 1
            state.updates += int(p.is_update)
            state.sources = list(dict.fromkeys([*state.sources, *outlets(p.item)]))
        snapshots.append((list(state.sources), state.items, state.first_item == p.n))
    return Plan(placed, stories, snapshots, now)
