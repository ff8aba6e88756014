"""Result types of matching, shared by the matcher, the outbox and the renderers, and their JSON form."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

Field = Literal["title", "body"]
MentionKind = Literal["alias", "ticker"]
CandidateKind = Literal["alias", "ticker", "exclude", "keyword", "exclude_keyword"]
Verdict = Literal["kept", "boundary", "case", "form", "excluded", "overlapped"]


@dataclass(slots=True)
class Mention:
    """One place an entity is named: the alias as written, the field, offsets and a snippet."""

    alias: str
    field: Field
    start: int
    end: int
    snippet: str
    text: str = ""  # the mention as written in the item (`微軟`, `NASDAQ: NVDA`); `alias` is the configured one
    kind: MentionKind = "alias"


@dataclass(slots=True)
class EntityMatch:
    """One watched entity found in an item, with its mentions and a salience score."""

    id: str
    name: str
    mentions: list[Mention] = field(default_factory=list)
    salience: float = 0.0
    count: int = 0  # mentions found; `mentions` keeps at most a capped number of them
    in_title: bool = False


@dataclass(slots=True)
class WatchlistMatch:
    """The entities one watchlist found in one item (only when its rules are satisfied)."""

    watchlist: str
    entities: list[EntityMatch] = field(default_factory=list)
    salience: float = 0.0


@dataclass(slots=True)
class Candidate:
    """One place a watchlist phrase matched the folded text, and what the matcher decided (explain output)."""

    watchlist: str
    entity: str | None  # None for keywords
    kind: CandidateKind
    alias: str
    field: Field
    start: int
    end: int
    text: str
    verdict: Verdict


def matches_to_json(matches: Sequence[WatchlistMatch]) -> list[dict[str, object]]:
    """A JSON-able form: watchlist, salience, entities[id, name, salience, count, mentions[...]]."""
    return [
        {
            "watchlist": m.watchlist,
            "salience": m.salience,
            "entities": [
                {
                    "id": e.id, "name": e.name, "salience": e.salience, "count": e.count,
                    "in_title": e.in_title,
                    "mentions": [
                        {"alias": x.alias, "text": x.text, "kind": x.kind, "field": x.field,
                         "start": x.start, "end": x.end, "snippet": x.snippet}
                        for x in e.mentions
                    ],
                }
                for e in m.entities
            ],
        }
        for m in matches
    ]


def candidates_to_json(rows: Sequence[Candidate]) -> list[dict[str, object]]:
    """A JSON-able form of `Matcher.mentions` (explain output): one dict per candidate."""
    return [asdict(row) for row in rows]
