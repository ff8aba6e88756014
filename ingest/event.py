"""Event signatures, pure: who an item is about and which figures it reports, in any language.

Text similarity cannot tell a template filled in for two companies from one event, nor find a
translation. An `EventSignature` holds what survives both: the item's entities and its key figures,
each written as a language-independent feature string.

    entities   e:<id>        a watchlist entity (alias or ticker from the configured watchlists)
               c:CN:600519   a security code in any written form (600519.SH, （600519）, sh600519,
               c:JP:7203       7203.T, <7203>, 【7203】, NASDAQ: NVDA, $NVDA, NVDA.O, 0700.HK)
               c:US:NVDA       (a code that a watchlist lists resolves to that entity's e: id)
               n:openai      a Latin-script name (a word with a capital: OpenAI, AWS, Azure, Frontier),
                             which translations keep as written
    figures    m:USD:5e+10   money, currency and value (`500億ドル` = `500亿美元` = `$50 billion`)
               p:1.2         a percentage (`1.2%`, `1.2％`, `1.2 percent`)
               q:452318      a count with a scale word or of five digits (`45万2318台` = `452,318`)
               d:11-24       a day of a month (`11月24日` = `Nov. 24` = `24 November`)
               y:2019        a year (`2019年`, `in 2019`), weak: never a conflict or a look-up key

**Principal subject.** The first entity (watchlist entity, else security code, else Latin name)
named in the title with any update marker stripped; if the title names none, the first in the
lead (the opening `LEAD_CJK` characters of CJK text, `LEAD_LATIN` of other text). The *subjects*
are every entity of the title and lead; a Latin name counts as a subject only if the body also
writes it (a Title Case headline capitalises every word). The *headline figures* are the figures
of the title and lead.

**Conflict** (`conflicts`): two items are different events when
  - each has a subject the other never mentions (Moutai's flash does not name 五粮液, and the
    other way round: two companies, two events), or
  - for one role (money in one currency, percentage, count, date) both have headline figures, the
    sets are disjoint and neither item mentions any of the other's — unless the items are a
    *revision*: the same principal subject and either an update marker (`UPDATE 1-`, `（更新）`,
    `訂正`…) on one of them or at least two shared figures besides.

**Agreement** (`agreement`): for items in different languages, the share of the smaller item's
strong features (entities and non-year figures) that the other has, when they share at least one
entity, at least two non-year figures, and have no conflict; else 0. One shared big company is
not enough.
"""

from __future__ import annotations

import hashlib
import json
import operator
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import ahocorasick_rs

from wirewatch.ingest.figures import MONTHS, capital_marks, letter_codes, parse_code, scan_numbers

__all__ = [
    "EVENT_SCHEME",
    "LEAD_CJK",
    "LEAD_LATIN",
    "AliasTable",
    "EventSignature",
    "agreement",
    "conflicts",
    "event_signature",
    "index_features",
    "language",
]

LEAD_CJK = 300
LEAD_LATIN = 700
EVENT_SCHEME = "event-1"
"""Version of the extraction rules; stored signatures made under another version are recomputed."""

_KANA = re.compile("[\u3040-\u30ff]")
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile("[A-Za-z]")
_SCRIPT_RUNS = re.compile("([\u3040-\u30ff]+)|([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)|([A-Za-z]+)")
_KANA_RUN, _HAN_RUN, _LATIN_RUN = (operator.itemgetter(k) for k in range(3))

# --- names and aliases -------------------------------------------------------------------------

_CALENDAR = set(MONTHS) | {d + "day" for d in ("mon", "tues", "wednes", "thurs", "fri", "satur", "sun")}
_NAME = re.compile(r"[A-Z][A-Za-z0-9]*(?:[&'-][A-Za-z0-9]+)*")
_UPDATE = re.compile(
    r"^\s*(?:(?:UPDATE|REFILE|CORRECTED|CORRECTION|UPDATED)\s*\d*\s*[-:–]\s*"
    r"|[(\[【]\s*(?:更新|訂正|修正|更正|続報|续报|update[d]?\s*\d*)\s*[)\]】]\s*"
    r"|(?:更新|訂正|続報|续报)\s*[:]\s*)"
    r"|[(\[【]\s*(?:更新|訂正|修正|更正|続報|续报|update[d]?\s*\d*)\s*[)\]】]\s*$", re.I)


_ASCII_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


def _names(text: str) -> list[tuple[int, str]]:
    """(position, n: feature) of Latin words of 3+ characters written with a capital."""
    out: list[tuple[int, str]] = []
    marks = capital_marks(text)
    at = marks.find(b"A")
    match = _NAME.match
    while at >= 0:  # the matches `_NAME.finditer` gives: each starts at the next capital after the last one
        m = match(text, at)
        assert m is not None  # a capital starts a name
        end = m.end()
        if (at and text[at - 1] in _ASCII_ALNUM) or end - at < 3:  # inside a word (eBay, 3M), or short
            at = marks.find(b"A", end)
            continue
        folded = m.group().lower()  # ASCII: lower() is casefold()
        if folded not in _CALENDAR:
            out.append((at, "n:" + folded))
        at = marks.find(b"A", end)
    return out


@dataclass(frozen=True)
class AliasTable:
    """Watchlist aliases and tickers → entity id, as a value (built from config by the composition root)."""

    aliases: Mapping[str, str] = field(default_factory=dict)
    """folded alias → entity id"""
    codes: Mapping[str, str] = field(default_factory=dict)
    """c: feature → entity id"""

    @classmethod
    def build(cls, entities: Iterable[tuple[str, Iterable[str], Iterable[str]]]) -> AliasTable:
        """From (entity id, aliases, tickers) triples; the first entity to claim an alias keeps it."""
        aliases: dict[str, str] = {}
        codes: dict[str, str] = {}
        for entity, names, tickers in entities:
            for alias in names:
                folded = _fold(alias).strip()
                if len(folded) >= 2:
                    aliases.setdefault(folded, entity)
            for ticker in tickers:
                key = parse_code(ticker)
                if key:
                    codes.setdefault(key, entity)
        return cls(aliases, codes)

    def __post_init__(self) -> None:
        patterns = sorted(self.aliases)
        matcher = (ahocorasick_rs.AhoCorasick(patterns, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest)
                   if patterns else None)
        object.__setattr__(self, "_patterns", patterns)
        object.__setattr__(self, "_matcher", matcher)

    def __reduce__(self) -> tuple[Any, tuple[str, dict[str, str], dict[str, str]]]:
        return (_restore, (self.fingerprint, dict(self.aliases), dict(self.codes)))

    @property
    def fingerprint(self) -> str:
        """A digest of the table's content: a worker process that has it already reuses its matcher."""
        found: str | None = getattr(self, "_fingerprint", None)
        if found is None:
            digest = hashlib.sha256(json.dumps([sorted(self.aliases.items()), sorted(self.codes.items())],
                                               ensure_ascii=False).encode("utf-8", "surrogatepass"))
            found = digest.hexdigest()
            object.__setattr__(self, "_fingerprint", found)
        return found

    def find(self, folded: str) -> list[tuple[int, str]]:
        """(position, e: feature) of every alias in casefolded text; Latin-edged aliases need word edges."""
        matcher = getattr(self, "_matcher", None)
        if matcher is None:
            return []
        patterns: list[str] = self._patterns  # type: ignore[attr-defined]
        out = []
        for index, start, end in matcher.find_matches_as_indexes(folded):
            alias = patterns[index]
            if alias[0].isascii() and alias[0].isalnum() and start > 0 and folded[start - 1].isalnum() \
                    and folded[start - 1].isascii():
                continue
            if alias[-1].isascii() and alias[-1].isalnum() and end < len(folded) and folded[end].isalnum() \
                    and folded[end].isascii():
                continue
            out.append((start, "e:" + self.aliases[alias]))
        return out


_RESTORED: dict[str, AliasTable] = {}


def _restore(fingerprint: str, aliases: dict[str, str], codes: dict[str, str]) -> AliasTable:
    """Unpickle an alias table, reusing the one this process already built from the same content."""
    table = _RESTORED.get(fingerprint)
    if table is None:
        if len(_RESTORED) >= 4:
            _RESTORED.clear()
        table = _RESTORED[fingerprint] = AliasTable(aliases, codes)
        object.__setattr__(table, "_fingerprint", fingerprint)
    return table


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


_WIDE = [(w, unicodedata.normalize("NFKC", w)) for w in "，（）：；～？！％　"]
"""The characters NFKC changes in most CJK news (full-width punctuation, the ideographic space): each is one
ASCII character, its compatibility decomposition, so replacing it does not change the text's NFKC form."""


@lru_cache(maxsize=16)
def nfkc(text: str) -> str:
    """`unicodedata.normalize("NFKC", text)`, faster for text that is ASCII, normalized already, or normalized
    once its full-width punctuation is replaced (what most CJK news is). Cached: the MinHash signature
    (`dedupe._fold`) and the event signature of one text ask for it in a row."""
    if text.isascii() or unicodedata.is_normalized("NFKC", text):
        return text
    quick = text
    for wide, narrow in _WIDE:
        if wide in quick:
            quick = quick.replace(wide, narrow)
    if quick is not text and unicodedata.is_normalized("NFKC", quick):
        return quick
    return unicodedata.normalize("NFKC", text)


# --- the signature -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventSignature:
    """An item's entities and figures as features (see the module docstring)."""

    lang: str = ""
    principal: str | None = None
    subjects: frozenset[str] = frozenset()
    entities: frozenset[str] = frozenset()
    headline: frozenset[str] = frozenset()
    figures: frozenset[str] = frozenset()
    update: bool = False
    code: str | None = None
    """The principal security code: the first code written in the title, else in the lead (as its watchlist
    entity, `e:<id>`, when a watchlist lists the ticker)."""

    def to_json(self) -> str:
        """Compact JSON for the `item_signature.event` column."""
        return json.dumps({"l": self.lang, "p": self.principal, "s": sorted(self.subjects),
                           "e": sorted(self.entities), "h": sorted(self.headline), "f": sorted(self.figures),
                           "u": self.update, "c": self.code}, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: str | None) -> EventSignature | None:
        """Read `to_json` output back (None for None or unreadable text)."""
        if not data:
            return None
        try:
            raw = json.loads(data)
            return cls(raw["l"], raw["p"], frozenset(raw["s"]), frozenset(raw["e"]), frozenset(raw["h"]),
                       frozenset(raw["f"]), bool(raw["u"]), raw.get("c"))
        except (ValueError, KeyError, TypeError):
            return None


def language(text: str) -> str:
    """`ja` (kana present), `zh` (Han without kana), `latin` (Latin letters only) or `""` (no letters)."""
    sample = text[:400]
    if sample.isascii():
        return "latin" if _LATIN.search(sample) else ""
    runs = _SCRIPT_RUNS.findall(sample)  # (kana, Han, Latin) per run, two of them empty: counted without a step per run
    kana, han, latin = (sum(map(len, map(script, runs))) for script in (_KANA_RUN, _HAN_RUN, _LATIN_RUN))
    if kana >= 3 and kana * 10 >= han:
        return "ja"
    if han >= 3 and han * 3 >= latin / 4:
        return "zh"
    return "latin" if latin else ""


@dataclass(slots=True)
class _Found:
    """What one piece of text names: entities with positions, figures with positions (codes masked out)."""

    entities: list[tuple[int, str]]
    names: list[tuple[int, str]]
    figures: list[tuple[int, str]]
    codes: list[tuple[int, str]]


def _scan(text: str, aliases: AliasTable | None, cjk: bool) -> _Found:
    """Entities (watchlist, codes resolved to entities where listed), Latin names and figures of `text`."""
    if not text:
        return _Found([], [], [], [])
    entities: list[tuple[int, str]] = aliases.find(text.casefold()) if aliases is not None else []
    digit_codes, figures = scan_numbers(text, cjk)
    codes = [(start, key) for start, _, key in digit_codes + letter_codes(text)]
    for start, key in codes:
        entity = aliases.codes.get(key) if aliases is not None else None
        entities.append((start, "e:" + entity if entity else key))
    return _Found(entities, _names(text), figures, codes)


_RANK = {"e": 0, "c": 1, "n": 2}


def event_signature(title: str, text: str, aliases: AliasTable | None = None) -> EventSignature:
    """The event signature of an item from its title and clean text (`aliases`: watchlist entities)."""
    title_n, text_n = nfkc(title), nfkc(text)
    update = _UPDATE.search(title_n) is not None
    bare_title = _UPDATE.sub("", title_n) if update else title_n
    lang = language(title_n[:400] + "\n" + text_n[:400])
    cjk = lang in ("ja", "zh")
    head = _scan(bare_title, aliases, cjk)
    body = _scan(text_n, aliases, cjk)
    lead_end = LEAD_CJK if cjk else LEAD_LATIN
    lead_entities = [(p, f) for p, f in body.entities if p < lead_end]
    body_names = {f for _, f in body.names}
    # a Title Case headline capitalises every word: a title name is a subject only if the body writes it too
    title_subjects = head.entities + [(p, f) for p, f in head.names if f in body_names or not text_n]
    principal = None
    for group in (title_subjects, lead_entities):
        if group:
            principal = min(group, key=lambda pf: (_RANK[pf[1][0]], pf[0]))[1]
            break
    entities = {f for _, f in head.entities + head.names + body.entities + body.names}
    subjects = {f for _, f in title_subjects + lead_entities}
    headline = {f for _, f in head.figures} | {f for p, f in body.figures if p < lead_end}
    figures = {f for _, f in head.figures + body.figures}
    lead_codes = [(p, c) for p, c in body.codes if p < lead_end]
    code = min(head.codes)[1] if head.codes else min(lead_codes)[1] if lead_codes else None
    if code is not None and aliases is not None and code in aliases.codes:
        code = "e:" + aliases.codes[code]  # a dual listing (002594.SZ, 1211.HK) is one company when configured
    return EventSignature(lang, principal, frozenset(subjects), frozenset(entities), frozenset(headline),
                          frozenset(figures), update, code)


# --- comparing two signatures ------------------------------------------------------------------


def _role(feature: str) -> str | None:
    """The role a figure plays, for conflicts: money per currency, percentage, count, date (years: none)."""
    kind = feature[0]
    if kind == "m":
        return feature.rsplit(":", 1)[0]
    return kind if kind in "pqd" else None


def revision(a: EventSignature, b: EventSignature) -> bool:
    """Same principal subject and either an update marker or two shared non-year figures: a revised figure may join."""
    if a.principal is None or a.principal != b.principal:
        return False
    shared = {f for f in a.figures & b.figures if not f.startswith("y:")}
    return a.update or b.update or len(shared) >= 2


def conflicts(a: EventSignature, b: EventSignature) -> list[str]:
    """Why `a` and `b` are different events (empty: no conflict found); see the module docstring."""
    out: list[str] = []
    only_a, only_b = a.subjects - b.entities, b.subjects - a.entities
    if only_a and only_b:
        out.append(f"subject {min(only_a)} vs {min(only_b)}")
    if revision(a, b):
        return out
    roles_a: dict[str, set[str]] = {}
    roles_b: dict[str, set[str]] = {}
    for features, roles in ((a.headline, roles_a), (b.headline, roles_b)):
        for f in features:
            role = _role(f)
            if role is not None:
                roles.setdefault(role, set()).add(f)
    for role in sorted(roles_a.keys() & roles_b.keys()):
        fa, fb = roles_a[role], roles_b[role]
        if not (fa & b.figures) and not (fb & a.figures):
            out.append(f"figures {min(fa)} vs {min(fb)}")
    return out


def _strong(sig: EventSignature) -> frozenset[str]:
    return frozenset(f for f in sig.entities | sig.figures if not f.startswith("y:"))


def agreement(a: EventSignature, b: EventSignature) -> tuple[float, list[str]]:
    """How strongly two items (in different languages) describe one event: (score in 0..1, shared features)."""
    if conflicts(a, b):
        return 0.0, []
    shared_entities = sorted(a.entities & b.entities)
    shared_figures = sorted(f for f in a.figures & b.figures if not f.startswith("y:"))
    if not shared_entities or len(shared_figures) < 2:
        return 0.0, shared_entities + shared_figures
    strong_a, strong_b = _strong(a), _strong(b)
    score = len(strong_a & strong_b) / max(1, min(len(strong_a), len(strong_b)))
    return score, shared_entities + shared_figures


def _distinctive(feature: str) -> bool:
    """Money and counts; percentages with decimals. Dates and round percentages (`p:10`) are shared by too
    many items of one window to be a look-up key: they would make the look-up grow with the window."""
    kind = feature[0]
    return kind in "mq" or (kind == "p" and "." in feature)


def index_features(sig: EventSignature, limit: int = 12) -> list[str]:
    """The features an item is found by across languages: its distinctive headline figures."""
    return sorted(f for f in sig.headline if _distinctive(f))[:limit]
