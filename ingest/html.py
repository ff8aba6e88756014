"""Feed HTML fragments to plain text, and the one normal form every cleaning rule matches against.

Parser: selectolax's Lexbor backend (`selectolax.lexbor.LexborHTMLParser`), chosen after measuring
(`bench/clean.py`, figures in the Cleaning section of `bench/RESULTS.md`):
- it implements the HTML5 parsing algorithm, so a fragment becomes the tree a browser builds
  (unclosed `<p>`, stray end tags, entities without `;`); lxml uses libxml2's older HTML parser,
  which for example silently drops text nested deeper than 255 elements;
- it is maintained (selectolax 1.0 removed its older Modest backend in its favour) and parses a
  ~3 KB item in ~20 µs; lxml parses about as fast, and a plain lxml walk was quicker than a
  per-node Python walk over Lexbor, so the common case here uses Lexbor's C-level `traverse()`
  (about 60 µs per item all told, a fifth of the cleaning cost); fragments with `<pre>` take a
  careful walk that keeps its newlines.

Non-article blocks (figures, share widgets, related links, video cards, paywall boxes, …) are taken
out of the tree by structure first (`ingest.blocks`, issue #21), each returned with its reason.

Two forms of text: `tidy` keeps characters as written (what is stored and sent); `normalise` and
`fold` give the NFKC form rules, learning and comparisons use (`fold` with offsets back to the line).

A fragment without any tag is plain text (entities are still decoded): a blank line separates
paragraphs and, when there is none, each line is a paragraph. That is how a scraper hands over text
like the seed article, and how the stored text reads back.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from collections.abc import Iterator

from selectolax.lexbor import LexborHTMLParser, LexborNode

from wirewatch.ingest.blocks import BLOCK, DROP, DROP_TEXT, drop_blocks, has_structure, is_ad

__all__ = ["fold", "fold_in_place", "html_to_text", "html_to_text_explained", "nfkc", "normalise", "paragraphs", "tidy"]

_CDATA = re.compile(r"<!\[CDATA\[|\]\]>")
# Non-characters marking paragraph and line breaks while the text is assembled.
_PARA_MARK = "\ufdd0"
_LINE_MARK = "\ufdd1"

_TAG = re.compile(r"<(?:[A-Za-z][^\s/>]*|/[A-Za-z]|!--)")
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")
_PARA = "\n\n"
# Characters that end a line, and invisible ones (zero-width, format, C0/C1 controls but tab and newline).
_LINE_BREAKS = {"\r\n": "\n", "\r": "\n", "\x0b": "\n", "\x0c": "\n", "\x1c": "\n", "\x1d": "\n",
                "\x1e": "\n", "\x85": "\n", "\u2028": "\n", "\u2029": "\n\n"}
_INVISIBLE = tuple(chr(c) for c in (
    *range(0x00, 0x09), *range(0x0E, 0x1C), 0x1F, *range(0x7F, 0x85), *range(0x86, 0xA0), 0xAD, 0x034F,
    0x061C, 0x180E, *range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2060, 0x2070), 0xFEFF,
))
# The full-width forms most common in CJK text, replaced before the (slower) general NFKC path.
_COMMON_WIDE = tuple((ch, unicodedata.normalize("NFKC", ch)) for ch in "，（）：；！？\u3000％＂＇［］／＋－＝＜＞＆＊～｜＠＃＄")


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment: blocks become paragraphs ("\\n\\n"), `<br>` a line break."""
    return html_to_text_explained(fragment)[0]


def html_to_text_explained(fragment: str) -> tuple[str, list[tuple[str, str]]]:
    """Plain text of an HTML fragment, and the (reason, text) of each non-article block left out.

    Blocks are left out by structure, never by their wording (see `_block_reason`): captions and
    figures, share/follow widgets, related-link and tag lists, video and gallery cards, polls,
    comment counters, paywall and sign-up boxes, hidden text, and blocks made only of links.
    """
    if not fragment:
        return "", []
    if "<![CDATA[" in fragment or "]]>" in fragment:  # a CDATA wrapper escaped once too often by the feed
        fragment = _CDATA.sub("", fragment)
    if _TAG.search(fragment) is None:
        return _plain_to_text(html.unescape(fragment)), []
    for mark in (_PARA_MARK, _LINE_MARK):
        if mark in fragment:
            fragment = fragment.replace(mark, "")
    body = LexborHTMLParser(fragment).body
    if body is None:
        return "", []
    dropped: list[tuple[str, str]] = []
    if has_structure(fragment):
        drop_blocks(body, dropped)
    pieces = _fast_pieces(body)
    if pieces is None:
        pieces = list(_careful_pieces(body))
    return _tidy("".join(pieces)), dropped


def _fast_pieces(body: LexborNode) -> list[str] | None:
    """Text and break marks from one C-level traversal; None if the fragment needs `_careful_pieces`.

    A traversal has no end-of-element event, so content that follows a block inside the same parent
    gets its paragraph break from its previous sibling being a block.
    """
    out: list[str] = []
    for node in body.traverse(include_text=True):
        tag = node.tag
        if tag in BLOCK:
            if tag == "pre":
                return None
            out.append(_PARA_MARK)
        elif tag == "br":
            out.append(_LINE_MARK)
        elif tag in DROP_TEXT:
            return None
        else:
            prev = node.prev
            if prev is not None and prev.tag in BLOCK:
                out.append(_PARA_MARK)
            if tag == "-text":
                out.append(node.text_content or "")
    return out


def _careful_pieces(root: LexborNode) -> Iterator[str]:
    """Walk the tree without recursion, skipping dropped elements and ads, keeping `<pre>` newlines."""
    stack: list[tuple[Iterator[LexborNode], str]] = [(root.iter(include_text=True), "")]
    in_pre = 0
    while stack:
        children, closing = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if closing:
                in_pre -= closing == "pre"
                yield _PARA_MARK
            continue
        tag = child.tag
        if tag == "-text":
            text = child.text_content or ""
            yield text.replace("\n", _LINE_MARK) if in_pre else text
        elif tag == "br":
            yield _LINE_MARK
        elif tag is None or tag[0] in "-_!" or tag in DROP or is_ad(child):
            continue
        elif tag in BLOCK:
            in_pre += tag == "pre"
            yield _PARA_MARK
            stack.append((child.iter(include_text=True), tag))
        else:
            stack.append((child.iter(include_text=True), ""))


def _tidy(text: str) -> str:
    """Collapse whitespace inside lines, drop empty lines, and join paragraphs with one blank line."""
    out: list[str] = []
    for block in text.split(_PARA_MARK):
        lines = [" ".join(line.split()) for line in block.split(_LINE_MARK)]
        para = "\n".join(line for line in lines if line)
        if para:
            out.append(para)
    return _PARA.join(out)


def _plain_to_text(text: str) -> str:
    for mark, replacement in _LINE_BREAKS.items():
        if mark in text:
            text = text.replace(mark, replacement)
    for mark in (_PARA_MARK, _LINE_MARK):
        if mark in text:
            text = text.replace(mark, "")
    if _BLANK_LINE.search(text) is None:
        return _tidy(text.replace("\n", _PARA_MARK))
    return _tidy(_BLANK_LINE.sub(_PARA_MARK, text).replace("\n", _LINE_MARK))


def paragraphs(text: str) -> list[list[str]]:
    """Paragraphs (lists of non-empty lines) of a text whose paragraphs are separated by blank lines."""
    out: list[list[str]] = []
    for block in _BLANK_LINE.split(text):
        lines = [line.strip() for line in block.split("\n")]
        lines = [line for line in lines if line]
        if lines:
            out.append(lines)
    return out


def normalise(text: str) -> str:
    """NFKC, no zero-width or control characters, spaces collapsed inside lines, paragraphs kept.

    The folded form rules, learning and comparisons use; stored text is `tidy` (as written).
    """
    return tidy(text, folded=True)


def tidy(text: str, folded: bool = False) -> str:
    """No zero-width or control characters, spaces collapsed inside lines, paragraphs kept; NFKC if `folded`.

    Without `folded` the characters stay as written (`，` stays `，`): the form of stored text.
    """
    if not text:
        return ""
    if not text.replace("\n", "").isprintable() or "\u034f" in text:
        # Every line break but "\n" and every invisible character is non-printable: only then look.
        for mark, replacement in _LINE_BREAKS.items():
            if mark in text:
                text = text.replace(mark, replacement)
        for mark in _INVISIBLE:
            if mark in text:
                text = text.replace(mark, "")
    if folded:
        text = nfkc(text)
    out: list[str] = []
    lines: list[str] = []
    for raw in text.split("\n"):
        line = " ".join(raw.split())
        if line:
            lines.append(line)
        elif lines:
            out.append("\n".join(lines))
            lines = []
    if lines:
        out.append("\n".join(lines))
    return _PARA.join(out)


def nfkc(text: str) -> str:
    """`unicodedata.normalize("NFKC", text)`, several times faster on CJK text.

    Common full-width punctuation is replaced first; if the text is then not yet normal, only the
    runs of characters that NFKC could change are normalised, each with the character before it.
    """
    if text.isascii():
        return text
    for wide, narrow in _COMMON_WIDE:
        if wide in text:
            text = text.replace(wide, narrow)
    if unicodedata.is_normalized("NFKC", text):
        return text
    out: list[str] = []
    last = 0
    for m in _unstable().finditer(text):
        start = max(m.start() - 1, last)
        out.append(text[last:start])
        out.append(unicodedata.normalize("NFKC", text[start:m.end()]))
        last = m.end()
    out.append(text[last:])
    return "".join(out)


@functools.cache
def _unstable() -> re.Pattern[str]:
    """Characters NFKC may change or combine with a neighbour (marks, jamo, anything decomposable)."""
    ranges: list[tuple[int, int]] = []
    for cp in range(0x80, 0x10000):
        ch = chr(cp)
        if 0xD800 <= cp <= 0xDFFF:
            continue
        if (unicodedata.category(ch)[0] == "M" or unicodedata.combining(ch) or 0x1100 <= cp <= 0x11FF
                or 0xA960 <= cp <= 0xA97F or 0xD7B0 <= cp <= 0xD7FF or unicodedata.decomposition(ch)):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    parts = "".join(re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "") for a, b in ranges)
    return re.compile(f"[{parts}\U00010000-\U0010FFFF]+")


# Characters that NFKC would join to the one before them (combining marks, jamo, half-width sound marks).
_JOINS = re.compile(r"[\u1160-\u11ff\uff9e\uff9f]")


def fold_in_place(text: str) -> str | None:
    """The NFKC of a text when it changes characters one for one in place (ASCII, full-width punctuation);
    None when NFKC would move characters (see `fold`)."""
    if text.isascii():
        return text
    for wide, half in _COMMON_WIDE:
        if wide in text:
            text = text.replace(wide, half)
    return text if unicodedata.is_normalized("NFKC", text) else None


def fold(line: str) -> tuple[str, list[int], list[int]]:
    """NFKC of a line with, per folded character, where it starts and ends in `line`.

    Rules match the folded line; a span (a, b) of it is `line[starts[a]:ends[b - 1]]` as written.
    Each base character is folded with the marks that follow it, so offsets never split a character.
    Empty lists mean every character kept its offset (the common case: ASCII, full-width punctuation).
    """
    narrow = fold_in_place(line)
    if narrow is not None:
        return narrow, [], []
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i, n = 0, len(line)
    while i < n:
        j = i + 1
        while j < n and (unicodedata.combining(line[j]) or unicodedata.category(line[j])[0] == "M"
                         or _JOINS.match(line[j]) is not None):
            j += 1
        piece = unicodedata.normalize("NFKC", line[i:j])
        out.append(piece)
        starts.extend([i] * len(piece))
        ends.extend([j] * len(piece))
        i = j
    starts.append(n)
    return "".join(out), starts, ends
