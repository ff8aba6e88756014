"""The compiled watchlist vocabulary: what `alerts.watchlist` produces and `alerts.match` reads.

A `Plan` holds one automaton over every folded pattern of every watchlist, and for each pattern id the
`Target`s it stands for (an entity's alias, ticker or exclude phrase, or a watchlist keyword); each
watchlist's `Rules` say what an item must pass. Kinds and case rules are small ints so the hot loop of
the matcher compares ints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wirewatch.alerts.normalise import edge_class
from wirewatch.alerts.tickers import Ticker

if TYPE_CHECKING:
    from wirewatch.alerts import _scan

__all__ = [
    "ALIAS", "ANCHOR", "ANY", "CAPS", "EXACT", "EXCLUDE", "KEYWORD", "NOT_KEYWORD", "TICKER",
    "CHAR_CLASSES", "Plan", "Rules", "Target", "char_class",
]

ALIAS, EXCLUDE, KEYWORD, NOT_KEYWORD, TICKER, ANCHOR = range(6)  # kinds below TICKER obey edges
ANY, CAPS, EXACT = range(3)  # case rules: any case; as written unless the line is in capitals; as written


@dataclass(frozen=True, slots=True)
class Target:
    """What a folded pattern stands for in one watchlist: an entity's alias, ticker or exclude, or a keyword."""

    kind: int
    watchlist: int
    entity: int = -1
    alias: str = ""
    case: int = ANY
    written: str = ""  # NFKC of the alias, for the case check
    ticker: Ticker | None = None


@dataclass(frozen=True, slots=True)
class Rules:
    """A compiled watchlist: entity ids and names, and the rules an item must pass."""

    name: str
    ids: tuple[str, ...]
    names: tuple[str, ...]
    min_mentions: int = 1
    title_only: bool = False
    all_of: frozenset[int] = frozenset()
    any_of: frozenset[int] = frozenset()
    keywords: bool = False


@dataclass(slots=True)
class Plan:
    """Everything `compile_watchlists` produces: the automaton, what each pattern means, the rules."""

    automaton: Any  # ahocorasick_rs over the folded patterns, or None when `scanner` is set or nothing is watched
    scanner: _scan.Scanner | None  # the native automaton over the same patterns (pattern ids alike)
    targets: list[tuple[Target, ...]]
    edges: list[tuple[int, int]]
    symbols: dict[str, list[Target]]
    watchlists: list[Rules]


CHAR_CLASSES: dict[str, int] = {}  # char → edge class, filled by `char_class` (the matcher reads it inline)


def char_class(ch: str) -> int:
    """WORD_EDGE for a Latin-like letter or digit, KATAKANA_EDGE for katakana, else NO_EDGE (cached)."""
    cls = CHAR_CLASSES.get(ch)
    if cls is None:
        cls = edge_class(ch)
        if len(CHAR_CLASSES) < 100_000:
            CHAR_CLASSES[ch] = cls
    return cls
