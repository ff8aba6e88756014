"""Needles: a string every match of a rule's pattern contains, so one automaton pass picks the rules to try.

A literal pattern's needle is its most selective piece (a CJK character counts as three ASCII letters).
A regex's needles are found without running it: the longest run of literal characters outside groups,
classes and optional parts, else one needle per alternative of a top-level alternation or of its
first mandatory group. When nothing is certain the answer is empty and the rule is tried on every line:
a needle may only ever be too weak, never wrong.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from wirewatch.config.patterns import GLOBAL_FLAGS, ascii_alnum

__all__ = ["literal_needle", "regex_needle", "regex_needles"]

_QUANTIFIER = re.compile(r"\?|\*|\+|\{(\d*)(?:,\d*)?\}")


def literal_needle(pattern: str) -> str:
    """The longest piece of a literal pattern that every match contains verbatim."""
    pieces: list[str] = [""]
    for ch in " ".join(unicodedata.normalize("NFKC", pattern).split()):
        if ch == " ":
            pieces.append("")
        elif pieces[-1] and ascii_alnum(ch) and ascii_alnum(pieces[-1][-1]):
            pieces[-1] += ch
        else:
            pieces.append(ch)
    return max(pieces, key=_selectivity)


def _selectivity(piece: str) -> tuple[int, bool]:
    """How rare a needle is likely to be: a CJK character counts as much as three ASCII letters."""
    return sum(1 if ch.isascii() else 3 for ch in piece), not piece.isascii()


def regex_needle(source: str) -> str:
    """The longest run of literal characters outside any group that every match of a regex contains.

    Conservative: an alternation at the top level, or nothing certain, gives "" (always try the rule).
    """
    flags = GLOBAL_FLAGS.match(source)
    if flags and "x" in flags.group(1):
        return ""  # verbose: whitespace and comments are not literal; try the rule on every item
    if flags:
        source = source[flags.end():]
    runs: list[str] = [""]
    depth = 0
    i = 0
    n = len(source)
    while i < n:
        ch = source[i]
        if ch == "\\" and i + 1 < n:
            nxt = source[i + 1]
            i += 2
            if depth == 0 and not nxt.isalnum():
                runs[-1] += nxt
                i = _after_quantifier(source, i, runs)
            elif depth == 0 and nxt in "nt":
                runs[-1] += "\n" if nxt == "n" else "\t"
                i = _after_quantifier(source, i, runs)
            else:
                runs.append("")
            continue
        if ch == "[":
            i = _skip_class(source, i)
            runs.append("")
            continue
        quant = _QUANTIFIER.match(source, i) if ch == "{" else None
        if quant is not None:
            runs.append("")
            i = quant.end()
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(depth - 1, 0)
        elif ch == "|" and depth == 0:
            return ""
        elif depth == 0 and ch not in ".^$*+?{":
            runs[-1] += ch
            i = _after_quantifier(source, i + 1, runs)
            continue
        runs.append("")
        i += 1
    return max(runs, key=_selectivity)


def regex_needles(source: str) -> tuple[str, ...]:
    """Strings one of which every match of a regex contains: its `regex_needle`, else one per alternative
    of a top-level alternation or of its first mandatory group (`(?:文字|图片|编辑)：…` → 文字, 图片, 编辑).

    () when nothing is certain (the rule is tried on every line).
    """
    flags = GLOBAL_FLAGS.match(source)
    if flags and "x" in flags.group(1):
        return ()
    if flags:
        source = source[flags.end():]
    one = regex_needle(source)
    if len(one) > 1 or one.isalnum():
        return (one,)
    alternatives = _split_top(source)
    if len(alternatives) > 1:
        found = [regex_needles(alt) for alt in alternatives]
        return tuple(n for got in found for n in got) if all(found) else ()
    for inner in _mandatory_groups(source):
        got = regex_needles(inner)
        if got and (len(got) > 1 or len(got[0]) > 1 or got[0].isalnum()):
            return got
    return (one,) if one else ()


def _structural(source: str) -> Iterator[tuple[int, str, int]]:
    """The characters of a regex source outside escapes and classes: (index, character, group depth before it)."""
    depth, i = 0, 0
    while i < len(source):
        ch = source[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            i = _skip_class(source, i)
            continue
        yield i, ch, depth
        if ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        i += 1


def _split_top(source: str) -> list[str]:
    """A regex split at its top-level `|` (not inside groups or classes)."""
    parts, start = [], 0
    for i, ch, depth in _structural(source):
        if ch == "|" and depth == 0:
            parts.append(source[start:i])
            start = i + 1
    parts.append(source[start:])
    return parts


_GROUP_OPEN = re.compile(r"\((?:\?(?:[aiLmsux-]*:|P<\w+>))?")


def _mandatory_groups(source: str) -> list[str]:
    """The inner sources of top-level groups that every match goes through (no `?`, `*`, `{0,…}` after)."""
    out: list[str] = []
    start = 0
    for i, ch, depth in _structural(source):
        if ch == "(" and depth == 0:
            start = i
        elif ch == ")" and depth == 1:
            head = _GROUP_OPEN.match(source, start)
            quant = _QUANTIFIER.match(source, i + 1)
            optional = quant is not None and (quant.group(0) in ("?", "*") or (
                quant.group(0).startswith("{") and quant.group(1) in ("", "0")))
            lookaround = source.startswith(("(?=", "(?!", "(?<=", "(?<!"), start)
            if head is not None and not optional and not lookaround:
                out.append(source[head.end():i])
    return out


def _after_quantifier(source: str, i: int, runs: list[str]) -> int:
    """After a literal: drop it if a quantifier makes it optional; end the run after any quantifier."""
    if i >= len(source) or source[i] not in "?*+{":
        return i
    quant = _QUANTIFIER.match(source, i)
    if quant is None:
        return i
    if quant.group(0) in ("?", "*") or (quant.group(0).startswith("{") and quant.group(1) in ("", "0")):
        runs[-1] = runs[-1][:-1]
    runs.append("")
    return quant.end()


def _skip_class(source: str, i: int) -> int:
    """Index just after the character class that starts at `i`."""
    j = i + 1
    if j < len(source) and source[j] == "^":
        j += 1
    if j < len(source) and source[j] == "]":
        j += 1
    while j < len(source) and source[j] != "]":
        j += 2 if source[j] == "\\" else 1
    return j + 1
