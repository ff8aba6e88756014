"""Compile watchlists into one matcher: every alias, ticker, exclude phrase and keyword in one automaton.

The config loader has already checked each file (ids, aliases, channels). The compiler re-checks what
it relies on, because watchlists can also be built in code, and raises `WatchlistError` naming the
watchlist, the entity and the value when something cannot be compiled.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import ahocorasick_rs

from wirewatch.alerts import vocabulary as vocab
from wirewatch.alerts.errors import WatchlistError
from wirewatch.alerts.match import Matcher
from wirewatch.alerts.normalise import fold, native_folder
from wirewatch.alerts.tickers import ANCHORS, parse_ticker
from wirewatch.alerts.vocabulary import Plan, Rules, Target, char_class
from wirewatch.config.watchlist import EntityConfig, WatchlistConfig

__all__ = ["compile_watchlists"]

_SURROGATE = re.compile("[\ud800-\udfff]")


class _Builder:
    """Collects folded patterns and what each one stands for."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.targets: list[list[Target]] = []
        self.symbols: dict[str, list[Target]] = {}

    def add(self, folded: str, target: Target) -> None:
        pid = self.index.get(folded)
        if pid is None:
            pid = self.index[folded] = len(self.targets)
            self.targets.append([])
        key = _identity(target)
        if all(_identity(t) != key for t in self.targets[pid]):  # 微软 and 微軟 fold alike: one is enough
            self.targets[pid].append(target)

    def plan(self, watchlists: list[Rules], native: bool | None) -> Plan:
        if self.symbols:
            for anchor in ANCHORS:
                self.add(anchor, Target(vocab.ANCHOR, -1, alias=anchor))
        patterns = list(self.index)
        edges = [(char_class(p[0]), char_class(p[-1])) for p in patterns]
        targets = [tuple(t) for t in self.targets]
        # the fold table takes ~0.5 s to build: not for a matcher with nothing to find (unless native is insisted on)
        folder = native_folder() if native is not False and (patterns or native) else None
        if native and folder is None:
            raise WatchlistError("the native matcher (alerts/_scan.c) was not built in this installation")
        automaton = scanner = None
        if folder is not None and patterns:
            flags = bytes(left | right << 2 | (16 if all(t.kind < vocab.TICKER for t in ts) else 0)
                          for (left, right), ts in zip(edges, targets, strict=True))
            from wirewatch.alerts._scan import Scanner

            scanner = Scanner(folder, patterns, flags)
        elif patterns:
            automaton = ahocorasick_rs.AhoCorasick(patterns)
        return Plan(automaton, scanner, targets, edges, self.symbols, watchlists)


def _identity(target: Target) -> tuple[object, ...]:
    """Targets with the same identity behave the same on the same folded pattern."""
    written = target.written if target.case != vocab.ANY else ""
    return target.kind, target.watchlist, target.entity, target.case, written, target.ticker


def _phrase(value: str, where: str, what: str) -> str:
    folded = fold(value.strip())
    if len(folded) < 2:
        raise WatchlistError(f"{where}: {what} {value!r} is shorter than 2 characters; it would match almost anywhere")
    if _SURROGATE.search(folded):  # stored text never holds one, and ahocorasick_rs drops such patterns silently
        raise WatchlistError(f"{where}: {what} {value!r} holds a lone surrogate (U+D800-U+DFFF); no text can match it")
    return folded


def _case_rule(entity: EntityConfig, alias: str) -> int:
    if entity.case == "sensitive":
        return vocab.EXACT
    if entity.case == "insensitive" or alias == alias.lower():
        return vocab.ANY
    return vocab.CAPS


def _entity(builder: _Builder, wi: int, ei: int, entity: EntityConfig, where: str) -> None:
    for alias in entity.aliases:
        written = unicodedata.normalize("NFKC", alias.strip())
        target = Target(vocab.ALIAS, wi, ei, alias.strip(), _case_rule(entity, written), written)
        builder.add(_phrase(alias, where, "alias"), target)
    for phrase in entity.exclude:
        builder.add(_phrase(phrase, where, "exclude phrase"), Target(vocab.EXCLUDE, wi, ei, phrase.strip()))
    for raw in entity.tickers:
        try:
            ticker = parse_ticker(raw)
        except ValueError as exc:
            raise WatchlistError(f"{where}: {exc}") from None
        target = Target(vocab.TICKER, wi, ei, raw.strip(), ticker=ticker)
        builder.symbols.setdefault(ticker.key, []).append(target)
        for core in ticker.cores():
            builder.add(core, target)


def _rules(builder: _Builder, wi: int, watchlist: WatchlistConfig) -> Rules:
    name = watchlist.watchlist
    ids: dict[str, int] = {}
    for ei, entity in enumerate(watchlist.entities):
        where = f"watchlist {name!r}, entity {entity.id!r}"
        if entity.id in ids:
            raise WatchlistError(f"{where}: the id is used twice; ids must be unique within a watchlist")
        ids[entity.id] = ei
        _entity(builder, wi, ei, entity, where)
    refs: dict[str, frozenset[int]] = {}
    for rule in ("all_of", "any_of"):
        unknown = [ref for ref in getattr(watchlist, rule) if ref not in ids]
        if unknown:
            raise WatchlistError(f"watchlist {name!r}: {rule} names {unknown}, which are not entity ids here")
        refs[rule] = frozenset(ids[ref] for ref in getattr(watchlist, rule))
    for kind, phrases in ((vocab.KEYWORD, watchlist.keywords), (vocab.NOT_KEYWORD, watchlist.exclude_keywords)):
        for phrase in phrases:
            builder.add(_phrase(phrase, f"watchlist {name!r}", "keyword"), Target(kind, wi, alias=phrase.strip()))
    return Rules(
        name=name,
        ids=tuple(e.id for e in watchlist.entities),
        names=tuple(e.name for e in watchlist.entities),
        min_mentions=watchlist.min_mentions,
        title_only=watchlist.in_ == "title",
        all_of=refs["all_of"],
        any_of=refs["any_of"],
        keywords=bool(watchlist.keywords),
    )


def compile_watchlists(watchlists: Sequence[WatchlistConfig], native: bool | None = None) -> Matcher:
    """Build one matcher (one automaton) for all watchlists; raise WatchlistError if one cannot compile.

    `native`: None takes the native scanner where it was built, False the OpenCC + ahocorasick_rs path,
    True insists on the native one (tests and benchmarks compare the two).
    """
    ordered = sorted(watchlists, key=lambda w: w.watchlist)
    for first, second in zip(ordered, ordered[1:], strict=False):
        if first.watchlist == second.watchlist:
            raise WatchlistError(f"two watchlists are named {first.watchlist!r}; rename one so alerts can tell them apart")
    builder = _Builder()
    rules = [_rules(builder, wi, watchlist) for wi, watchlist in enumerate(ordered)]
    return Matcher(builder.plan(rules, native))
