"""Short search tokens: what lets a search for a word of one or two characters use an index (pure).

Trigram indexes (migration 0005f) serve words of three characters or more. For shorter words every
stored item carries the set of its *short tokens* (`item.search_short`, computed here when the item
is written), indexed by FTS5 on SQLite and by a GIN index on PostgreSQL (migration 0005h).

Both sides are normalised alike: NFKC, then case folding (`ＡＩ`, `Ai` and `ai` are one word; half-width
`ｶﾌﾞ` is `カブ`). A *word character* is a letter or a digit (`str.isalnum`); a *CJK character* is a word
character of Han, kana, hangul or bopomofo. The tokens of a text are:

- every maximal run of word characters that holds no CJK character and has one or two characters
  (`ai`, `5`, `ε`): a short word, matched as a whole word;
- every CJK character (`微`);
- every pair of adjacent word characters at least one of which is CJK (`微软`, `a股`, `3月`).

So a search word of one or two characters matches an item when, once normalised, it is a whole word
of the title or text (no CJK in it), or a substring of the title or text (a CJK character in it). A
search word is first cut into pieces at characters that are neither letters nor digits (`a.` is `a`);
every piece must match. `query_tokens` returns None for a word the tokens cannot answer (no word
character at all, or a piece of three characters or more once normalised, as `ﬃ`): the caller searches
such a word as a substring of the title or text, as before this index.
"""

from __future__ import annotations

import re
import unicodedata

SCHEME = 1
"""The token rules above; a change of them needs a migration that recomputes `item.search_short`."""

_CJK_RANGES = (
    (0x1100, 0x11FF),  # hangul jamo
    (0x3005, 0x3007),  # 々 〆 〇
    (0x3040, 0x30FF),  # hiragana, katakana
    (0x3100, 0x312F),  # bopomofo
    (0x3130, 0x318F),  # hangul compatibility jamo
    (0x31A0, 0x31BF),  # bopomofo extended
    (0x31F0, 0x31FF),  # katakana phonetic extensions
    (0x3400, 0x4DBF),  # Han extension A
    (0x4E00, 0x9FFF),  # Han
    (0xA960, 0xA97F),  # hangul jamo extended A
    (0xAC00, 0xD7FF),  # hangul syllables, jamo extended B
    (0xF900, 0xFAFF),  # Han compatibility
    (0x20000, 0x3FFFF),  # Han extensions B and later
)


def normalise(text: str) -> str:
    """NFKC, then case folding: the form both the tokens and the search words are compared in."""
    return unicodedata.normalize("NFKC", text).casefold()


def is_cjk(ch: str) -> bool:
    """A letter of Han, kana, hangul or bopomofo (the scripts searched by substring)."""
    if not ch.isalnum():
        return False
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in _CJK_RANGES)


_IN_RANGES = re.compile("[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _CJK_RANGES) + "]")
_CJK_RUN = re.compile(_IN_RANGES.pattern + "+")
_WORD_RUN = re.compile(r"[^\W_]+")  # letters and digits: `\w` is `str.isalnum` and the underscore


def _tokens_of(text: str, out: set[str]) -> None:
    for run in _WORD_RUN.findall(text):  # inside a run every character is a word character
        cjk = _CJK_RUN.search(run)
        if cjk is None:
            if len(run) <= 2:
                out.add(run)
            continue
        while cjk is not None:  # each CJK stretch with one neighbour either side: its characters and pairs
            start, end = cjk.span()
            out.update(cjk.group())
            edge = run[max(start - 1, 0):end + 1]
            out.update(map(str.__add__, edge, edge[1:]))
            cjk = _CJK_RUN.search(run, end)
        for piece in _CJK_RUN.split(run):  # the non-CJK stretches: short ones are words
            if 0 < len(piece) <= 2:
                out.add(piece)


def short_tokens(*texts: str) -> list[str]:
    """The distinct short tokens of the texts (title and text apart: no pair spans two), sorted."""
    out: set[str] = set()
    for text in texts:
        _tokens_of(normalise(text), out)
    return sorted(out)


def stored_tokens(title: str | None, text: str | None) -> str:
    """`item.search_short` of an item: the short tokens of its title and text, encoded."""
    return encode(short_tokens(title or "", text or ""))


def encode(tokens: list[str]) -> str:
    """The tokens as stored in `item.search_short`: separated by one space (a token never holds one)."""
    return " ".join(tokens)


def query_tokens(word: str) -> list[str] | None:
    """The tokens an item needs to match a search word of one or two characters; None if they cannot tell."""
    pieces = _WORD_RUN.findall(normalise(word))
    if not pieces or any(len(piece) > 2 for piece in pieces):
        return None
    return pieces
