"""Result types of matching, shared by the matcher, the outbox and the renderers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Field = Literal["title", "body"]


@dataclass(slots=True)
class Mention:
    """One place an entity is named: the alias as written, the field, offsets and a snippet."""

    alias: str
    field: Field
    start: int
    end: int
    snippet: str


@dataclass(slots=True)
class EntityMatch:
    """One watched entity found in an item, with its mentions and a salience score."""

    id: str
    name: str
    mentions: list[Mention] = field(default_factory=list)
    salience: float = 0.0


@dataclass(slots=True)
class WatchlistMatch:
    """The entities one watchlist found in one item (only when its rules are satisfied)."""

    watchlist: str
    entities: list[EntityMatch] = field(default_factory=list)
    salience: float = 0.0
