"""Boilerplate patterns brought to the normal form of the text (NFKC), as regex sources.

Pure string functions shared by the pack loader (`config.packs` checks that a pack's patterns compile)
and the rule compiler (`ingest.boilerplate`): a literal pattern becomes a case-insensitive regex that
tolerates whitespace around any character that is not an ASCII letter or digit; a regex pattern has its
full-width characters replaced by their half-width forms, escaped when they become regex syntax.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["GLOBAL_FLAGS", "ascii_alnum", "halfwidth_regex", "literal_regex", "regex_source"]

GLOBAL_FLAGS = re.compile(r"^\(\?([aiLmsux]+)\)")
"""A regex's leading global flags, `(?i)`: scoped to the pattern (`(?i:…)`) so patterns can be joined."""
_REGEX_META = frozenset("()[]{}.*+?^$|\\")


def literal_regex(pattern: str) -> str:
    """Regex source for a literal pattern: NFKC, case-insensitive, spaces allowed around non-alphanumerics."""
    text = " ".join(unicodedata.normalize("NFKC", pattern).split())
    out: list[str] = []
    prev = ""
    for i, ch in enumerate(text):
        if ch == " ":
            continue
        if prev:
            gap = text[i - 1] == " "
            tight = ascii_alnum(prev) and ascii_alnum(ch)
            out.append(r"\s+" if gap and tight else ("" if tight else r"\s*"))
        out.append(re.escape(ch))
        prev = ch
    return "(?i:" + "".join(out) + ")"


def ascii_alnum(ch: str) -> bool:
    """An ASCII letter or digit: between two of these, a literal pattern needs its space (`10 pct`)."""
    return ch.isascii() and ch.isalnum()


def regex_source(pattern: str) -> str:
    """A regex written with full-width characters, rewritten to match the NFKC form of the text."""
    source = halfwidth_regex(pattern)
    flags = GLOBAL_FLAGS.match(source)
    if flags:
        source = f"(?{flags.group(1)}:{source[flags.end():]})"
    return source


def halfwidth_regex(pattern: str) -> str:
    """A regex with each full-width character replaced by its NFKC form, escaped if it is regex syntax."""
    out: list[str] = []
    for ch in pattern:
        half = unicodedata.normalize("NFKC", ch)
        if half == ch:
            out.append(ch)
        elif len(half) == 1 and half in _REGEX_META:
            out.append("\\" + half)
        else:
            out.append(re.escape(half))
    return "".join(out)
