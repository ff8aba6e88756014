"""Why a watchlist did or did not match an item: its rules, one verdict each (pure, for `why` and `match --explain`).

The matcher's `mentions()` says, place by place, which phrases were kept or rejected; this module
applies the watchlist's rules to the kept ones the way the matcher does (`in`, `min_mentions`,
`all_of`, `any_of`, `keywords`, `exclude_keywords`) and says which rule decided.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from wirewatch.alerts.types import Candidate
from wirewatch.config.watchlist import WatchlistConfig


@dataclass(frozen=True, slots=True)
class RuleVerdict:
    """One rule of a watchlist on one item: passed or not, and what it saw."""

    rule: str
    ok: bool
    detail: str


@dataclass(slots=True)
class WatchlistVerdict:
    """A watchlist's rules on one item; `matched` is the matcher's own answer."""

    watchlist: str
    matched: bool
    rules: list[RuleVerdict] = field(default_factory=list)

    @property
    def decided_by(self) -> RuleVerdict | None:
        """The first rule that failed (None when every rule passed)."""
        return next((r for r in self.rules if not r.ok), None)


def _counts(mentions: Sequence[Candidate], title_only: bool) -> Counter[str]:
    return Counter(c.entity for c in mentions if c.entity is not None and (not title_only or c.field == "title"))


def _listing(counts: Counter[str], titles: Counter[str]) -> str:
    return ", ".join(f"{e} ×{n}" + (f" ({titles[e]} in title)" if titles[e] else "") for e, n in counts.items())


def watchlist_verdict(watchlist: WatchlistConfig, candidates: Sequence[Candidate], matched: bool) -> WatchlistVerdict:
    """Each rule of `watchlist` on the candidates `Matcher.mentions` found in one item."""
    mine = [c for c in candidates if c.watchlist == watchlist.watchlist]
    mentions = [c for c in mine if c.kind in ("alias", "ticker") and c.verdict == "kept"]
    rejected = Counter(c.verdict for c in mine if c.kind in ("alias", "ticker") and c.verdict != "kept")
    out = WatchlistVerdict(watchlist.watchlist, matched)
    everywhere, titles = _counts(mentions, False), _counts(mentions, True)
    why_not = f" (places rejected: {', '.join(f'{v} {n}' for v, n in rejected.items())})" if rejected else ""
    out.rules.append(RuleVerdict("mentions", bool(everywhere),
                                 _listing(everywhere, titles) if everywhere else f"no entity named{why_not}"))
    if watchlist.exclude_keywords:
        found = sorted({c.alias for c in mine if c.kind == "exclude_keyword" and c.verdict == "kept"})
        out.rules.append(RuleVerdict("exclude_keywords", not found,
                                     f"found {', '.join(map(repr, found))}" if found else "none found"))
    if watchlist.keywords:
        found = sorted({c.alias for c in mine if c.kind == "keyword" and c.verdict == "kept"})
        out.rules.append(RuleVerdict("keywords", bool(found),
                                     f"found {', '.join(map(repr, found))}" if found else "none of them found"))
    usable = titles if watchlist.in_ == "title" else everywhere
    if watchlist.in_ == "title":
        out.rules.append(RuleVerdict("in: title", bool(titles),
                                     _listing(titles, titles) if titles else "no entity named in the title"))
    counted = {e for e, n in usable.items() if n >= watchlist.min_mentions}
    if watchlist.min_mentions > 1:
        short = {e: n for e, n in usable.items() if n < watchlist.min_mentions}
        reach = ", ".join(f"{e} ×{n}" for e, n in usable.items() if e in counted)
        detail = f"{reach} reach {watchlist.min_mentions}" if reach else f"none reaches {watchlist.min_mentions}"
        if short:
            detail += "; short: " + ", ".join(f"{e} ×{n}" for e, n in short.items())
        out.rules.append(RuleVerdict(f"min_mentions: {watchlist.min_mentions}", bool(counted), detail))
    if watchlist.all_of:
        missing = [e for e in watchlist.all_of if e not in counted]
        out.rules.append(RuleVerdict("all_of", not missing, f"missing {', '.join(missing)}" if missing
                                     else f"all of {', '.join(watchlist.all_of)}"))
    if watchlist.any_of:
        present = [e for e in watchlist.any_of if e in counted]
        out.rules.append(RuleVerdict("any_of", bool(present), f"found {', '.join(present)}" if present
                                     else f"none of {', '.join(watchlist.any_of)}"))
    return out


def verdicts(watchlists: Sequence[WatchlistConfig], candidates: Sequence[Candidate],
             matched: Collection[str]) -> list[WatchlistVerdict]:
    """One verdict per watchlist, by name; `matched`: the watchlists `Matcher.match` reported."""
    return [watchlist_verdict(w, candidates, w.watchlist in matched)
            for w in sorted(watchlists, key=lambda w: w.watchlist)]


def render(verdict: WatchlistVerdict) -> list[str]:
    """Lines a person reads: the outcome, then each rule with ✓ or ✗."""
    head = f"watchlist {verdict.watchlist}: " + ("matched" if verdict.matched else "no match")
    decided = verdict.decided_by
    if not verdict.matched and decided is not None:
        head += f" (decided by {decided.rule})"
    return [head] + [f"  {'✓' if r.ok else '✗'} {r.rule}: {r.detail}" for r in verdict.rules]
