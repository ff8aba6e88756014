"""Cleaning: a feed item's raw title, summary and content (HTML) in, the article alone out.

Pure functions, no I/O. `clean_item` does, in order:
1. takes the content, or the summary when the content is empty (never both glued together), and turns
   it into tidy text (`html_to_text_explained`: non-article blocks left out by structure, each recorded
   as `html.<reason>`; then `tidy`: paragraphs kept, characters as written);
2. per line, on a folded view (NFKC: `，` is `,`) whose matches are cut from the line as written:
   a source line (`（来源：X）`, `转自：X`, WeChat repost credits, `X 3/9(木) 18:45配信`, …) becomes
   `source` and leaves the text; boilerplate rules (packs, feed rules, learned lines and sentences)
   remove whole lines, prefixes, suffixes or pieces, each removal recorded with its rule id;
3. a body delivered twice is kept once: a line made of other lines (a flattened copy) is dropped in
   favour of the structured copy, then repeated lines and teasers contained in other lines (`copies`);
4. the title repeated at the top of the body is removed;
5. with no source line, the source is a wire dateline (`MOSCOW (Reuters) -`, kept in the text), else
   the title's provider suffix (`…(Impress Watch)`, stripped from `Cleaned.title`), else the entry's
   own source field; `Cleaned.teaser` tells a placeholder or paywall body from an article.

The stored text separates paragraphs with a blank line; lines broken by `<br>` stay on their own line.
Cleaning only removes: every output character comes, in order, from the tidied input, and cleaning
the text again (escaped as a feed would carry it) gives the same text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from wirewatch.ingest.boilerplate import (
    LEARNED,
    ActiveRules,
    Rule,
    Ruleset,
    compile_ruleset,
    item_lines,
    learn_boilerplate,
    sentence_spans,
)
from wirewatch.ingest.copies import repeated_lines
from wirewatch.ingest.html import (
    fold,
    fold_in_place,
    html_to_text,
    html_to_text_explained,
    nfkc,
    normalise,
    paragraphs,
    tidy,
)
from wirewatch.ingest.item import Cleaned, Removal
from wirewatch.ingest.outlet import (
    DATELINE,
    SOURCE_END,
    SOURCE_LINE,
    SOURCE_START,
    named_source,
    source_name,
    title_provider,
)

__all__ = [
    "Ruleset",
    "is_teaser",
    "title_provider",
    "clean_item",
    "clean_text",
    "compile_ruleset",
    "html_to_text",
    "item_lines",
    "learn_boilerplate",
    "normalise",
    "tidy",
]

SOURCE = "source-line"
TITLE = "title-repeat"
DOUBLE = "double-body"
TAIL = 200

_SPACES = re.compile(r"\s+")
_CLOSERS = frozenset(")]】〕")
_NON_WORD = re.compile(r"[\W_]+")
_TITLE_PREFIX = re.compile(r"^(?:update\s*\d*\s*[-:]|exclusive\s*[-:]|breaking\s*[-:])\s*", re.IGNORECASE)


@dataclass(slots=True)
class _Work:
    """What one body's cleaning has found so far."""

    rules: ActiveRules
    source: str | None = None
    removed: list[Removal] = field(default_factory=list)
    folds: dict[str, str] = field(default_factory=dict)  # kept line → its folded form (worked out once)

    def folded(self, line: str) -> str:
        """The folded (NFKC) form of a kept line."""
        got = self.folds.get(line)
        return got if got is not None else nfkc(line)

    def remove(self, rule: str, text: str) -> None:
        self.removed.append(Removal(rule, text))

    def found_source(self, m: re.Match[str], view: _View) -> None:
        self.remove(SOURCE, view.text(m.start(), m.end()).strip())
        if self.source is None:
            self.source = source_name(m, view.text)


class _View:
    """One line as written and its folded form (NFKC): rules match the fold, cuts apply to the line."""

    __slots__ = ("ends", "folded", "line", "starts")
    starts: list[int]
    ends: list[int]

    def __init__(self, line: str, folded: str | None = None) -> None:
        self.line = line
        if folded is not None:  # a fold that kept every character's place
            self.folded, self.starts, self.ends = folded, [], []
        else:
            self.folded, self.starts, self.ends = fold(line)

    def span(self, a: int, b: int) -> tuple[int, int]:
        """The span of the written line that folds to `folded[a:b]`."""
        if not self.ends:  # the fold kept every offset
            return a, max(a, b)
        return (self.starts[a], self.ends[b - 1]) if b > a else (self.starts[a], self.starts[a])

    def text(self, a: int, b: int) -> str:
        """The written text that folds to `folded[a:b]`."""
        x, y = self.span(a, b)
        return self.line[x:y]


def clean_item(title: str, summary: str, content: str, rules: Ruleset, source: str | None = None) -> Cleaned:
    """The article alone from an item's raw fields: content preferred, summary when content is empty.

    The outlet is, in order: a source line of the body, a wire dateline opening it (`MOSCOW (Reuters) -`,
    kept in the text), a provider suffix of the title (stripped from `title` of the result), `source`
    (the feed entry's own source field).
    """
    bare, provider = title_provider(title) if title else (title, None)
    result: Cleaned | None = None
    if content and content.strip():
        result = _clean_html(content, bare, rules)
    if (result is None or not result.text) and summary and summary.strip():
        fallback = _clean_html(summary, bare, rules)
        if result is None or fallback.text:
            result = fallback
    if result is None:
        result = Cleaned(text="")
    if result.source is None:
        m = DATELINE.match(result.text)
        result.source = m.group("src").strip() if m is not None else provider or (source or "").strip() or None
    if provider is not None:
        result.title = bare
    result.teaser = is_teaser(result)
    return result


# Rules whose removal means the body stood in for the article: placeholders, paywalls, "continue reading".
TEASER_KINDS = ("placeholder", "paywall", "continue-reading")
TEASER_SHORT = 200  # a lead shorter than this (CJK characters count double) above a placeholder is a teaser
_CUT_OFF = re.compile(r"(?:…|\.{3}|‥)\s*\Z")


def is_teaser(result: Cleaned) -> bool:
    """Whether the body was only a placeholder or paywall line, or a short or cut-off lead above one."""
    if not any(r.rule.rsplit(".", 1)[-1] in TEASER_KINDS for r in result.removed):
        return False
    text = result.text
    weight = sum(2 if ord(ch) >= 0x2E80 else 1 for ch in text if not ch.isspace())
    return not text or weight < TEASER_SHORT or _CUT_OFF.search(text) is not None


def _clean_html(fragment: str, title: str, rules: Ruleset) -> Cleaned:
    text, dropped = html_to_text_explained(fragment)
    result = clean_text(tidy(text), title, rules)
    if dropped:
        result.removed[:0] = [Removal(reason, piece) for reason, piece in dropped]
    return result


def clean_text(text: str, title: str, rules: Ruleset) -> Cleaned:
    """Clean a tidied text (paragraphs separated by blank lines) of one item; characters stay as written."""
    in_place = fold_in_place(text)
    work = _Work(rules.active(in_place if in_place is not None else nfkc(text)))
    written = paragraphs(text)
    # When folding kept every character in its place (the common case), the folded lines are the
    # written lines' folds, one for one, and need not be worked out again line by line.
    aligned = paragraphs(in_place) if in_place is not None else None
    if aligned is not None and [list(map(len, p)) for p in aligned] != [list(map(len, p)) for p in written]:
        aligned = None  # a text that was not tidied (a full-width space the fold turned into a space)
    kept: list[tuple[int, str]] = []
    for index, lines in enumerate(written):
        for n, line in enumerate(lines):
            line = _clean_line(line, work, aligned[index][n] if aligned is not None else None)
            if line:
                kept.append((index, line))
    kept = _collapse(kept, work)
    kept = _drop_title(kept, title, work)
    return Cleaned(text=_join(kept), source=work.source or None, removed=work.removed)


def _clean_line(line: str, work: _Work, folded_line: str | None = None) -> str:
    """Apply source and boilerplate rules to one line until nothing more matches; the rest stays as written.

    `folded_line`, when given, is the line's fold with every character in its place.
    """
    rules = work.rules
    while line:
        view = _View(line, folded_line)
        folded_line = None
        folded = view.folded
        m = SOURCE_LINE.fullmatch(folded)
        if m is not None:
            work.found_source(m, view)
            return ""
        named = named_source(folded)
        if named is not None:
            work.remove(SOURCE, line)
            work.source = work.source or named
            return ""
        low = folded.lower()
        found = _first(rules.line, folded, low)
        if found is not None:
            work.remove(found[0].id, line)
            return ""
        if folded in rules.learned:
            work.remove(LEARNED, line)
            return ""
        trimmed = _trim_ends(view, low, work)
        if trimmed != line:
            line = trimmed
            continue
        cut = _cut_anywhere(view, low, work)
        if cut == line and rules.learned:
            cut = _cut_learned_sentences(view, work)
        if cut == line:
            work.folds[line] = folded
            return line
        line = cut
    return line


def _first(rules: tuple[Rule, ...], line: str, low: str, pos: int = 0,
           endpos: int | None = None) -> tuple[Rule, re.Match[str]] | None:
    """The first rule (in order) whose needle is in the line and whose pattern matches it."""
    for rule in rules:
        if rule.hit(low):
            m = rule.find(line, pos, endpos)
            if m is not None:
                return rule, m
    return None


def _trim_ends(view: _View, low: str, work: _Work) -> str:
    """Remove source markers and matching prefixes and suffixes (as strings, never as character sets)."""
    rules = work.rules
    line = view.folded
    start, end = 0, len(line)
    while start < end:
        m = _take_end(SOURCE_START.match(line, start, end), rules.start, view, low, start, end, work)
        if m is None:
            break
        start = m.end()
        while start < end and line[start].isspace():
            start += 1
    while start < end:
        marker = SOURCE_END.search(line, max(start, end - TAIL), end) if line[end - 1] in _CLOSERS else None
        m = _take_end(marker, rules.end, view, low, start, end, work)
        if m is None:
            break
        end = m.start()
        while end > start and line[end - 1].isspace():
            end -= 1
    return view.text(start, end)


def _take_end(marker: re.Match[str] | None, rules: tuple[Rule, ...], view: _View, low: str,
              start: int, end: int, work: _Work) -> re.Match[str] | None:
    """At one end of the line: a source marker is kept as the source, else the first rule that matches is removed."""
    if marker is not None:
        work.found_source(marker, view)
        return marker
    found = _first(rules, view.folded, low, start, end)
    if found is None:
        return None
    rule, m = found
    work.remove(rule.id, view.text(m.start(), m.end()).strip())
    return m


def _cut_spans(view: _View, spans: list[tuple[int, int]]) -> str:
    """The written line without the folded spans, each cut leaving one space, spaces collapsed."""
    out: list[str] = []
    last = 0
    for a, b in spans:
        x, y = view.span(a, b)
        out.append(view.line[last:x])
        out.append(" ")
        last = y
    out.append(view.line[last:])
    return " ".join("".join(out).split())


def _cut_anywhere(view: _View, low: str, work: _Work) -> str:
    """Remove every match of the first `anywhere` rule whose needle occurs in the line and that matches."""
    for rule in work.rules.anywhere:
        if not rule.hit(low):
            continue
        spans = [m.span() for m in rule.pattern.finditer(view.folded) if m.end() > m.start()]
        if spans:
            for a, b in spans:
                work.remove(rule.id, view.text(a, b))
            return _cut_spans(view, spans)
    return view.line


def _cut_learned_sentences(view: _View, work: _Work) -> str:
    """Remove whole sentences of a line that are learned boilerplate."""
    spans = sentence_spans(view.folded)
    if len(spans) < 2:
        return view.line
    cut = [(a, b) for a, b in spans if view.folded[a:b] in work.rules.learned]
    if not cut:
        return view.line
    for a, b in cut:
        work.remove(LEARNED, view.text(a, b))
    return _cut_spans(view, cut)


def _key(folded: str) -> str:
    return "".join(folded.split()).casefold()


def _collapse(kept: list[tuple[int, str]], work: _Work) -> list[tuple[int, str]]:
    """Keep a body delivered twice once: drop flattened copies, repeated lines and contained teasers."""
    if len(kept) < 2:
        return kept
    dropped = repeated_lines([_key(work.folded(line)) for _, line in kept])
    out = []
    for i, item in enumerate(kept):
        if i in dropped:
            work.remove(DOUBLE, item[1])
        else:
            out.append(item)
    return out


def _title_keys(title: str) -> set[str]:
    text = normalise(title).casefold()
    variants = {text, _TITLE_PREFIX.sub("", text)}
    return {k for k in (_NON_WORD.sub("", v) for v in variants) if k}


def _drop_title(kept: list[tuple[int, str]], title: str, work: _Work) -> list[tuple[int, str]]:
    """Remove the title where the body repeats it at its top."""
    keys = _title_keys(title) if title else set()
    start = 0
    while start < len(kept) and keys and _NON_WORD.sub("", work.folded(kept[start][1]).casefold()) in keys:
        work.remove(TITLE, kept[start][1])
        start += 1
    return kept[start:]


def _join(kept: list[tuple[int, str]]) -> str:
    """Paragraphs separated by a blank line; a lone paragraph of several lines becomes paragraphs."""
    if not kept:
        return ""
    if len({index for index, _ in kept}) == 1:
        return "\n\n".join(line for _, line in kept)
    out: list[str] = []
    current = kept[0][0]
    for index, line in kept:
        if out and index == current:
            out.append("\n")
        elif out:
            out.append("\n\n")
        current = index
        out.append(line)
    return "".join(out)
