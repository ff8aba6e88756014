"""Find watchlist entities in an item's clean title and text (pure: no I/O).

One Aho–Corasick automaton holds every alias, ticker core, exclude phrase and keyword of every
watchlist, folded (see `alerts.normalise`). Matching an item is:

1. fold `title + "\\n" + text` (same length, so offsets carry over) and scan in overlapping mode, with
   the native scanner (`alerts/_scan.c`: fold, scan and edge classes in one pass) where it was built,
   else with OpenCC and ahocorasick_rs (the same hits, found more slowly);
2. keep a place only if it passes its boundary (Latin/digit aliases not inside a longer word or number,
   katakana aliases not inside a longer katakana word, Han anywhere), its case rule and, for tickers,
   a valid form (`alerts.tickers`);
3. per watchlist: drop mentions an `exclude` phrase of the same entity covers, then drop mentions
   contained in a longer one (the longest valid match wins at each place);
4. per watchlist: apply `in`, `min_mentions` (per entity), `all_of`, `any_of`, `keywords`,
   `exclude_keywords`, and report the entities with capped mentions and a salience.
"""

from __future__ import annotations

import math
import re
import unicodedata

from wirewatch.alerts.normalise import NO_EDGE, fold, fold_without_native
from wirewatch.alerts.tickers import anchor_symbol, core_end
from wirewatch.alerts.types import (
    Candidate,
    CandidateKind,
    EntityMatch,
    Field,
    Mention,
    Verdict,
    WatchlistMatch,
)
from wirewatch.alerts.vocabulary import (
    ALIAS,
    ANY,
    CAPS,
    CHAR_CLASSES,
    EXCLUDE,
    KEYWORD,
    NOT_KEYWORD,
    TICKER,
    Plan,
    Rules,
    Target,
    char_class,
)

__all__ = ["Matcher", "fold"]

_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_MENTIONS = 20
SNIPPET = 60
_KINDS: dict[int, CandidateKind] = {ALIAS: "alias", TICKER: "ticker", EXCLUDE: "exclude",
                                    KEYWORD: "keyword", NOT_KEYWORD: "exclude_keyword"}
_MENTIONS = frozenset((ALIAS, TICKER))  # kinds that name an entity (the others weigh on the mentions)


Hit = tuple[int, int, Target]  # start, end (in `title + "\n" + text`), what matched
Raw = tuple[int, int, int, bool]  # pattern id, start, end, whether the pattern's edges hold
Rejected = list[tuple[Hit, Verdict]]  # what the explain output lists besides the kept mentions

def _simple(targets: tuple[Target, ...]) -> tuple[Target, ...] | None:
    """The targets if all are aliases, excludes or keywords (edge and case checks only), else None."""
    return targets if all(t.kind < TICKER for t in targets) else None


class Matcher:
    """Matches items against compiled watchlists; build it with `alerts.watchlist.compile_watchlists`."""

    def __init__(self, plan: Plan) -> None:
        self._plan = plan
        self._simple = [_simple(targets) for targets in plan.targets]  # by pattern id
        # the fold that goes with the scanner: a matcher built without the native one folds without it too
        self._fold = fold if plan.scanner is not None else fold_without_native

    @property
    def watchlists(self) -> list[str]:
        """Names of the compiled watchlists, sorted."""
        return [rules.name for rules in self._plan.watchlists]

    def match(self, title: str, text: str) -> list[WatchlistMatch]:
        """The watchlists whose rules this item passes, sorted by watchlist name, with their entities."""
        joined = f"{title}\n{text}"
        try:
            found = self._hits(joined, len(title), None)
        except UnicodeEncodeError:  # a lone surrogate (text from outside the store): U+FFFD, same length
            joined = _SURROGATE.sub("\ufffd", joined)
            found = self._hits(joined, len(title), None)
        out = []
        for wi in sorted(found):
            result = self._evaluate(joined, len(title) + 1, found[wi], self._plan.watchlists[wi])
            if result is not None:
                out.append(result)
        return out

    def mentions(self, title: str, text: str) -> list[Candidate]:
        """Every place a watchlist phrase matched and the verdict on it, in text order (explain/debug)."""
        joined, body = _SURROGATE.sub("\ufffd", f"{title}\n{text}"), len(title) + 1
        rejected: Rejected = []
        verdicts: dict[Hit, Verdict] = {}
        for hits in self._hits(joined, len(title), rejected).values():
            dropped: Rejected = []
            self._select(hits, dropped)
            verdicts.update({hit: "kept" for hit in hits})
            verdicts.update(dropped)
        verdicts.update(rejected)
        rows = []
        for (start, end, target), verdict in sorted(
            verdicts.items(), key=lambda kv: (kv[0][0], -kv[0][1], kv[0][2].watchlist, kv[0][2].entity)
        ):
            rules = self._plan.watchlists[target.watchlist]
            fld: Field = "title" if start < body else "body"
            base = 0 if fld == "title" else body
            rows.append(Candidate(
                watchlist=rules.name,
                entity=rules.ids[target.entity] if target.entity >= 0 else None,
                kind=_KINDS[target.kind], alias=target.alias, field=fld, start=start - base, end=end - base,
                text=joined[start:end], verdict=verdict,
            ))
        return rows

    # -- scanning -------------------------------------------------------------------------------

    def _scan(self, joined: str, sep: int, explain: bool) -> tuple[list[Raw], str | None]:
        """Every place a pattern occurs, with its edge verdict, and the folded text if it was made.

        The native scanner folds as it reads, and (unless explaining) leaves out places where a pattern
        that needs only its edges fails them; the fallback folds, scans with ahocorasick_rs and checks
        edges here. Neither reports a place across the title/text seam.
        """
        plan = self._plan
        if plan.scanner is not None:
            return plan.scanner.scan(joined, sep, explain), None
        if plan.automaton is None:
            return [], None
        folded = self._fold(joined)
        size, edges, classes, simple_of = len(folded), plan.edges, CHAR_CLASSES, self._simple
        raw: list[Raw] = []
        for pid, start, end in plan.automaton.find_matches_as_indexes(folded, overlapping=True):
            if start <= sep < end:
                continue
            # an edge of class X must not touch a character of the same class (word in word, kana in kana)
            left, right = edges[pid]
            edges_ok = True
            if left != NO_EDGE and start:
                cls = classes.get(folded[start - 1], -1)
                edges_ok = (cls if cls >= 0 else char_class(folded[start - 1])) != left
            if right != NO_EDGE and edges_ok and end < size:
                cls = classes.get(folded[end], -1)
                edges_ok = (cls if cls >= 0 else char_class(folded[end])) != right
            if edges_ok or explain or simple_of[pid] is None:
                raw.append((pid, start, end, edges_ok))
        return raw, folded

    def _hits(self, joined: str, sep: int, rejected: Rejected | None) -> dict[int, list[Hit]]:
        """Scan, keep the places that pass their edge, case and ticker checks, and group them by watchlist.

        This loop runs once per automaton hit, so the common case (aliases, excludes and keywords: edge
        and case checks only) is handled inline and tickers go to `_check`; `rejected` collects the
        reasons only when explaining.
        """
        raw, folded = self._scan(joined, sep, rejected is not None)
        found: dict[int, list[Hit]] = {}
        simple_of = self._simple
        caps: dict[int, bool] = {}
        for pid, start, end, edges_ok in raw:
            simple = simple_of[pid]
            if simple is None:
                if folded is None:  # tickers read the folded text around them; most items never need it
                    folded = self._fold(joined)
                self._check(found, rejected, caps, joined, folded, pid, start, end, edges_ok)
            elif edges_ok:
                for target in simple:
                    # only aliases carry a case rule; most are met by the text as written
                    if target.case != ANY and target.kind == ALIAS and joined[start:end] != target.written \
                            and not self._case_ok(joined, caps, target, start, end):
                        if rejected is not None:
                            rejected.append(((start, end, target), "case"))
                        continue
                    bucket = found.get(target.watchlist)
                    if bucket is None:
                        found[target.watchlist] = [(start, end, target)]
                    else:
                        bucket.append((start, end, target))
            elif rejected is not None:
                rejected.extend(((start, end, target), "boundary") for target in simple)
        return found

    def _check(self, found: dict[int, list[Hit]], rejected: Rejected | None, caps: dict[int, bool],
               joined: str, folded: str, pid: int, start: int, end: int, edges_ok: bool) -> None:
        """The targets of one hit that need more than an edge check: case rules, tickers, anchors."""
        for target in self._plan.targets[pid]:
            kind = target.kind
            if kind < TICKER:
                if not edges_ok:
                    if rejected is not None:
                        rejected.append(((start, end, target), "boundary"))
                elif kind == ALIAS and target.case != ANY and not self._case_ok(joined, caps, target, start, end):
                    if rejected is not None:
                        rejected.append(((start, end, target), "case"))
                else:
                    _add(found, (start, end, target))
            elif kind == TICKER:
                assert target.ticker is not None
                stop = core_end(target.ticker, folded[start:end], folded, joined, start, end)
                if stop is not None:
                    _add(found, (start, stop, target))
                elif rejected is not None:
                    rejected.append(((start, end, target), "form"))
            elif edges_ok:  # a cashtag or an exchange name such as `nyse`, not the `she` in `shed`
                self._anchor(found, rejected, joined, folded, start, end, target.alias)

    def _anchor(self, found: dict[int, list[Hit]], rejected: Rejected | None, joined: str, folded: str,
                start: int, end: int, anchor: str) -> None:
        symbol = anchor_symbol(folded, joined, start, end, anchor)
        if symbol is None:
            return
        keys, market, stop = symbol
        for key in keys:
            targets = self._plan.symbols.get(key)
            if not targets:
                continue
            for target in targets:
                assert target.ticker is not None
                wanted = target.ticker.market or "CN"
                if market is None or market == wanted:
                    _add(found, (start, stop, target))
                elif rejected is not None:
                    rejected.append(((start, stop, target), "form"))
            return

    def _case_ok(self, joined: str, caps: dict[int, bool], target: Target, start: int, end: int) -> bool:
        alias = target.written
        written = joined[start:end]
        if written == alias:
            return True
        written = unicodedata.normalize("NFKC", written)
        if len(written) == len(alias):
            ok = True
            for i, (a, w) in enumerate(zip(alias, written, strict=True)):
                if (a.isupper() and not w.isupper()) or (
                    a.islower() and not w.islower() and not (i == 0 and target.case == CAPS)
                ):
                    ok = False
                    break
            if ok:
                return True
        return target.case == CAPS and written == written.upper() and self._capitals_line(joined, caps, start)

    @staticmethod
    def _capitals_line(joined: str, caps: dict[int, bool], pos: int) -> bool:
        """True when the line holding `pos` has capitals and no lowercase letters (a shouted headline)."""
        first = joined.rfind("\n", 0, pos) + 1
        cached = caps.get(first)
        if cached is None:
            last = joined.find("\n", pos)
            line = joined[first:last if last >= 0 else len(joined)]
            cached = caps[first] = line == line.upper() and line != line.lower()
        return cached

    # -- per watchlist --------------------------------------------------------------------------

    @staticmethod
    def _select(hits: list[Hit], dropped: Rejected | None = None) -> tuple[dict[int, list[Hit]], bool, bool]:
        """Apply excludes and longest-wins to one watchlist's hits: (mentions by entity, keyword, no-go)."""
        if len(hits) == 1 and hits[0][2].kind in _MENTIONS:  # the common case: one mention, nothing to weigh
            return {hits[0][2].entity: hits}, False, False
        excludes: dict[int, list[tuple[int, int]]] = {}
        keyword = negative = False
        mentions: list[Hit] = []
        for hit in hits:
            kind = hit[2].kind
            if kind == EXCLUDE:
                excludes.setdefault(hit[2].entity, []).append((hit[0], hit[1]))
            elif kind == KEYWORD:
                keyword = True
            elif kind == NOT_KEYWORD:
                negative = True
            else:
                mentions.append(hit)
        if excludes:
            kept = []
            for hit in mentions:
                spans = excludes.get(hit[2].entity)
                if spans and any(s <= hit[0] and hit[1] <= e for s, e in spans):
                    if dropped is not None:
                        dropped.append((hit, "excluded"))
                else:
                    kept.append(hit)
            mentions = kept
        mentions.sort(key=_order)
        by_entity: dict[int, list[Hit]] = {}
        reach = -1
        for hit in mentions:
            if hit[1] <= reach:  # inside a longer valid match that starts no later
                if dropped is not None:
                    dropped.append((hit, "overlapped"))
                continue
            reach = hit[1]
            bucket = by_entity.get(hit[2].entity)
            if bucket is None:
                by_entity[hit[2].entity] = [hit]
            else:
                bucket.append(hit)
        return by_entity, keyword, negative

    def _evaluate(self, joined: str, body: int, hits: list[Hit], rules: Rules) -> WatchlistMatch | None:
        by_entity, keyword, negative = self._select(hits)
        if not by_entity or negative or (rules.keywords and not keyword):
            return None
        counted = by_entity
        if rules.min_mentions > 1 or rules.title_only:
            counted = {}
            for ei, found in by_entity.items():
                usable = sum(1 for h in found if h[0] < body) if rules.title_only else len(found)
                if usable >= rules.min_mentions:
                    counted[ei] = found
            if not counted:
                return None
        if rules.all_of and not rules.all_of <= counted.keys():
            return None
        if rules.any_of and not rules.any_of & counted.keys():
            return None
        if len(counted) == 1:  # the usual case: one entity, nothing to rank
            entity = _entity(joined, body, rules, *next(iter(counted.items())))
            return WatchlistMatch(rules.name, [entity], entity.salience)
        entities = [_entity(joined, body, rules, ei, found) for ei, found in counted.items()]
        entities.sort(key=lambda e: (-e.salience, e.id))
        return WatchlistMatch(rules.name, entities, entities[0].salience)


def _entity(joined: str, body: int, rules: Rules, ei: int, hits: list[Hit]) -> EntityMatch:
    """The reported entity: its first MAX_MENTIONS mentions with snippets, its count and salience.

    A snippet is the mention and up to SNIPPET characters either side, within its field, with runs of
    whitespace collapsed. This runs once per reported entity, so bounds are plain comparisons.
    """
    mentions = []
    title_end = body - 1
    for start, end, target in hits if len(hits) <= MAX_MENTIONS else hits[:MAX_MENTIONS]:
        lo, hi = start - SNIPPET, end + SNIPPET
        if start < body:
            window = joined[lo if lo > 0 else 0:hi if hi < title_end else title_end]
            mention = Mention(target.alias, "title", start, end, " ".join(window.split()), joined[start:end],
                              "ticker" if target.kind == TICKER else "alias")
        else:
            window = joined[lo if lo > body else body:hi]
            mention = Mention(target.alias, "body", start - body, end - body, " ".join(window.split()),
                              joined[start:end], "ticker" if target.kind == TICKER else "alias")
        mentions.append(mention)
    in_title = hits[0][0] < body
    count = len(hits)
    table = _SALIENCE[in_title]
    score = table[count] if count < len(table) else salience(in_title, count)
    return EntityMatch(rules.ids[ei], rules.names[ei], mentions, score, count, in_title)


def _add(found: dict[int, list[Hit]], hit: Hit) -> None:
    bucket = found.get(hit[2].watchlist)
    if bucket is None:
        found[hit[2].watchlist] = [hit]
    else:
        bucket.append(hit)


def salience(in_title: bool, count: int) -> float:
    """How prominent an entity is in an item: 2 for a title mention plus log2(1 + mentions)."""
    if count < len(_SALIENCE[in_title]):
        return _SALIENCE[in_title][count]  # `round` to 3 places is slow (about 0.5 µs), so the usual counts are kept
    return round((2.0 if in_title else 0.0) + math.log2(1 + count), 3)


_SALIENCE = tuple(tuple(round(lead + math.log2(1 + n), 3) for n in range(64)) for lead in (0.0, 2.0))


def _order(hit: Hit) -> tuple[int, int]:
    return hit[0], -hit[1]
