"""Boilerplate rules compiled for one feed, and boilerplate learned from a feed's own history.

Rules match the normal form of the text (`normalise`: NFKC, so `，` is `,` and `（` is `(`), and a
rule's pattern is brought to that form too, so one pattern covers full- and half-width punctuation:
- a literal pattern is NFKC-normalised, matched case-insensitively, and tolerates whitespace around
  any character that is not an ASCII letter or digit (`炒股就看 金麒麟分析师研报 ，` where links were);
- a regex pattern has its full-width characters replaced by their half-width forms, escaped when they
  become regex syntax (`（` means a literal `(`).

Where a rule applies: `line` (the whole line), `start` (a prefix of a line, removed as a string and
repeatedly), `end` (a suffix of a line, looked for in its last `END_WINDOW` characters), `anywhere`.
Each rule has a needle (a string every match contains); one Aho-Corasick pass over an item's text
picks the few rules worth trying, so the number of rules barely affects the cost of an item.

Learning: a feed's boilerplate is a whole line or whole sentence that repeats across its distinct items
(2 of the first 2, 2 of 3, then 3 or more; copies of one article count once), and it is unlearned when
none of the newest `UNLEARN_WINDOW` items carries it. Fragments shorter than a sentence (a company
name, a market term) are never candidates.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ahocorasick_rs import AhoCorasick

from wirewatch.config.models import CleanRuleConfig, FeedCleanConfig
from wirewatch.config.patterns import halfwidth_regex, literal_regex, regex_source
from wirewatch.ingest.html import normalise, paragraphs
from wirewatch.ingest.needles import literal_needle, regex_needles

__all__ = [
    "LEARNED", "ActiveRules", "Rule", "Ruleset", "compile_rule", "compile_ruleset", "item_lines",
    "learn_boilerplate", "sentence_spans", "unlearn_boilerplate",
]

LEARNED = "learned"
END_WINDOW = 600
MIN_LINE = 4
MIN_SENTENCE = 8
MIN_WORDS = 3
SETTLE = 5  # learning asks for `ratio` of at most this many items: a new footer is learned after 3 repeats
UNLEARN_WINDOW = 10  # a learned line none of the newest this many items carries is unlearned
WHERE = ("line", "start", "end", "anywhere")

_SENTENCE_END = re.compile(r"(?:。|[!?]+|\.(?=\s))[\"')\]”’」』]*")
_LATIN_WORD = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True, slots=True)
class Rule:
    """One compiled rule: its id, where it applies, its pattern and a string any match contains."""

    id: str
    where: str
    pattern: re.Pattern[str]
    needle: str = ""
    needles: tuple[str, ...] = ()
    """Strings one of which every match contains (`needle` alone when there is one); () means always try."""

    def hit(self, low: str) -> bool:
        """Whether a lower-cased line may match: it holds the needle (with many needles, the regex decides)."""
        return self.needle in low if self.needle else True

    def find(self, line: str, pos: int = 0, endpos: int | None = None) -> re.Match[str] | None:
        """The rule's match in `line[pos:endpos]` where it applies (whole, prefix, suffix, anywhere), or None."""
        end = len(line) if endpos is None else endpos
        if self.where == "line":
            m = self.pattern.fullmatch(line, pos, end)
        elif self.where == "start":
            m = self.pattern.match(line, pos, end)
        elif self.where == "end":
            m = self.pattern.search(line, max(pos, end - END_WINDOW), end)
        else:
            m = self.pattern.search(line, pos, end)
        return m if m is not None and m.end() > m.start() else None


@dataclass(frozen=True, slots=True)
class ActiveRules:
    """The rules of a ruleset that can match somewhere in one text, by where they apply."""

    line: tuple[Rule, ...]
    start: tuple[Rule, ...]
    end: tuple[Rule, ...]
    anywhere: tuple[Rule, ...]
    learned: frozenset[str]


@dataclass(frozen=True, slots=True)
class Ruleset:
    """The compiled boilerplate rules of one feed: its own rules, its packs, then learned lines.

    Each rule carries a needle, a lower-case string every match contains; one Aho-Corasick pass
    over a text tells which rules can match in it at all, so most rules cost nothing per line.
    """

    rules: tuple[Rule, ...]
    learned: frozenset[str] = frozenset()
    _needles: Any = None
    _needle_rule: tuple[int, ...] = ()
    _always: frozenset[int] = frozenset()

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """Ids of the compiled rules, in the order they are tried."""
        return tuple(rule.id for rule in self.rules)

    def active(self, text: str) -> ActiveRules:
        """The rules that may match somewhere in `text` (a normalised item text)."""
        hit = set(self._always)
        if self._needles is not None:
            hit.update(self._needle_rule[i] for i, _, _ in self._needles.find_matches_as_indexes(
                text.lower(), overlapping=True))
        chosen = [rule for i, rule in enumerate(self.rules) if i in hit]
        by_where = {where: tuple(r for r in chosen if r.where == where) for where in WHERE}
        return ActiveRules(by_where["line"], by_where["start"], by_where["end"], by_where["anywhere"],
                           self.learned)


def _source(pattern: str, regex: bool, where: str) -> str:
    source = regex_source(pattern) if regex else literal_regex(pattern)
    return f"(?:{source})\\s*\\Z" if where == "end" else source


def compile_rule(rule: CleanRuleConfig) -> Rule:
    """Compile one rule config (raises re.error when the pattern does not compile)."""
    return _compile_rule(rule.id, rule.where, rule.pattern, rule.regex)


@functools.lru_cache(maxsize=4096)
def _compile_rule(rule_id: str, where: str, pattern: str, regex: bool) -> Rule:
    """Compiled once per distinct rule: every feed shares its packs' rules, so a ruleset costs little."""
    compiled = re.compile(_source(pattern, regex, where))
    needles = regex_needles(halfwidth_regex(pattern)) if regex else (literal_needle(pattern),)
    needles = tuple(dict.fromkeys(n.lower() for n in needles if n))
    return Rule(rule_id, where, compiled, needles[0] if len(needles) == 1 else "", needles)


@functools.lru_cache(maxsize=256)
def _needle_automaton(needles: tuple[str, ...]) -> AhoCorasick:
    """One automaton per distinct set of needles (feeds with the same packs share it; it is read-only)."""
    return AhoCorasick(list(needles))


def _applies(rule: CleanRuleConfig, feed: str | None, host: str | None) -> bool:
    if rule.feeds and feed not in rule.feeds:
        return False
    if rule.hosts:
        if not host:
            return False
        host = host.lower().rstrip(".")
        return any(host == h.lower() or host.endswith("." + h.lower().lstrip(".")) for h in rule.hosts)
    return True


def compile_ruleset(
    packs: Mapping[str, Sequence[CleanRuleConfig]],
    feed_clean: FeedCleanConfig | None = None,
    feed: str | None = None,
    host: str | None = None,
    learned: Iterable[str] = (),
) -> Ruleset:
    """Compile the rules in force for one feed: its own rules first, then its packs, then learned lines."""
    chosen = list(packs) if feed_clean is None or feed_clean.packs is None else feed_clean.packs
    unknown = [name for name in chosen if name not in packs]
    if unknown:
        raise ValueError(f"feed {feed or '?'}: unknown boilerplate pack(s) {unknown}; shipped packs: {sorted(packs)}")
    configs = [*(feed_clean.rules if feed_clean is not None else []), *(r for name in chosen for r in packs[name])]
    rules = tuple(compile_rule(r) for r in configs if _applies(r, feed, host))
    lines = set(learned)
    if feed_clean is not None:
        lines = (lines | set(feed_clean.learned.pin)) - set(feed_clean.learned.disable)
    needles = [(i, needle) for i, rule in enumerate(rules) for needle in rule.needles]
    return Ruleset(
        rules=rules,
        learned=frozenset(n for n in (normalise(line) for line in lines) if n),
        _needles=_needle_automaton(tuple(needle for _, needle in needles)) if needles else None,
        _needle_rule=tuple(i for i, _ in needles),
        _always=frozenset(i for i, rule in enumerate(rules) if not rule.needles),
    )


def sentence_spans(line: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of a line, surrounding spaces excluded."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(line):
        spans.append((start, m.end()))
        start = m.end()
    spans.append((start, len(line)))
    out: list[tuple[int, int]] = []
    for a, b in spans:
        while a < b and line[a].isspace():
            a += 1
        while b > a and line[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
    return out


def is_sentence(text: str) -> bool:
    """Whether a piece of text is long enough to be a learnable sentence (not a name or a term)."""
    if len("".join(text.split())) < MIN_SENTENCE:
        return False
    letters = sum(ch.isalpha() for ch in text)
    latin = sum(ch.isascii() and ch.isalpha() for ch in text)
    return latin * 2 < letters or len(_LATIN_WORD.findall(text)) >= MIN_WORDS


def item_lines(text: str) -> list[str]:
    """The normalised lines of an item, and the sentences of its multi-sentence lines, that learning counts."""
    out: dict[str, None] = {}
    for lines in paragraphs(normalise(text)):
        for line in lines:
            if len("".join(line.split())) >= MIN_LINE:
                out[line] = None
            spans = sentence_spans(line)
            if len(spans) > 1:
                for a, b in spans:
                    sentence = line[a:b]
                    if is_sentence(sentence):
                        out[sentence] = None
    return list(out)


def learn_boilerplate(histories: Sequence[Sequence[str]], min_items: int = 2, ratio: float = 0.6,
                      settle: int = SETTLE) -> set[str]:
    """Lines or sentences that repeat across a feed's distinct items: learned from the second or third item.

    Copies of one article (an item re-published under a new id, sharing most of its lines) count once.
    A line is learned when at least `min_items` distinct items carry it and, of the items, at least
    `ratio` of them, counted over at most `settle` items: 2 of 2, 2 of 3, then 3 whatever the history.
    """
    distinct = _distinct(histories)
    if len(distinct) < max(min_items, 1):
        return set()
    counts: Counter[str] = Counter()
    for lines in distinct:
        counts.update(lines)
    need = max(min_items, ratio * min(len(distinct), settle))
    return {line for line, n in counts.items() if n >= need and _learnable(line)}


def unlearn_boilerplate(newest_first: Sequence[Sequence[str]], learned: Iterable[str],
                        window: int = UNLEARN_WINDOW) -> set[str]:
    """Learned lines that none of the feed's newest `window` items carries any more (the site dropped them)."""
    if len(newest_first) < window:
        return set()
    recent = set().union(*(set(lines) for lines in newest_first[:window]))
    return {line for line in learned if line not in recent}


def _distinct(histories: Sequence[Sequence[str]]) -> list[set[str]]:
    """Each item's set of lines, leaving out items that mostly repeat an earlier one (copies of one article)."""
    kept: list[set[str]] = []
    for lines in histories:
        current = set(lines)
        if not current:
            continue
        if any(len(current & other) * 2 > min(len(current), len(other)) for other in kept
               if len(current) > 1 or len(other) > 1):
            continue
        kept.append(current)
    return kept


def _learnable(line: str) -> bool:
    return len("".join(line.split())) >= MIN_LINE and (len(sentence_spans(line)) <= 1 or is_sentence(line))
