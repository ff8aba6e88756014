"""Feed HTML fragments to plain text, and the one normal form every cleaning rule matches against.

Parser: selectolax's Lexbor backend (`selectolax.lexbor.LexborHTMLParser`). It is an HTML5 parser
(a fragment is parsed as browsers parse it: unclosed `<p>`s, stray `</div>`s, entities without `;`),
it is actively maintained, and it is the fastest of the installed options. `bench/clean.py` times
it against lxml on the same ~3 KB items: on one core Lexbor parses and walks an item in roughly half
lxml's time (see the Cleaning section of `bench/RESULTS.md`), and lxml's libxml2 HTML parser is an
HTML4-era parser that mangles some fragments (it needs a wrapper element, and text before the first
tag lands in a separate node). Modest (`selectolax.parser`) is deprecated upstream.

A fragment without any tag is treated as plain text (entities are still decoded): its newlines are
kept, a blank line separates paragraphs and, when there is none, each line is a paragraph. That is
how a scraper hands over text like the seed article, and how the stored text reads back.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from collections.abc import Iterator

from selectolax.lexbor import LexborHTMLParser, LexborNode

__all__ = ["html_to_text", "nfkc", "normalise", "paragraphs"]

# Elements whose content is never article text.
_DROP = frozenset({
    "script", "style", "iframe", "noscript", "template", "object", "embed", "applet", "svg", "math",
    "head", "title", "meta", "link", "base", "form", "button", "select", "option", "input", "textarea",
    "audio", "video", "source", "track", "canvas", "map", "area", "img", "picture", "frame", "frameset",
})
# Elements that start and end a paragraph.
_BLOCK = frozenset({
    "p", "div", "section", "article", "aside", "header", "footer", "main", "nav", "blockquote", "pre",
    "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd", "table", "thead", "tbody",
    "tfoot", "tr", "td", "th", "caption", "figure", "figcaption", "address", "hr", "details", "summary",
    "fieldset", "legend", "center", "body", "html",
})
# Ad and tracking blocks that feeds splice into item HTML (FeedBurner flares, Feedsportal, ad servers).
_AD_CLASSES = ("feedflare", "mf-viral", "feedsportal", "advertisement")
_AD_HOSTS = ("feeds.feedburner.com/~", "feedproxy.google.com/~", "feedsportal.com", "doubleclick.net",
             "pheedo.com", "feedads.g.doubleclick")

_TAG = re.compile(r"<(?:[A-Za-z][^\s/>]*|/[A-Za-z]|!--)")
_SPACE = re.compile(r"\s+")
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
    if not fragment:
        return ""
    if _TAG.search(fragment) is None:
        return _plain_to_text(html.unescape(fragment))
    body = LexborHTMLParser(fragment).body
    if body is None:
        return ""
    return _tidy("".join(_pieces(body)))


def _pieces(root: LexborNode) -> Iterator[str]:
    """Walk the tree without recursion, yielding text, line breaks and paragraph breaks."""
    stack: list[tuple[Iterator[LexborNode], str]] = [(root.iter(include_text=True), "")]
    in_pre = 0
    while stack:
        children, closing = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if closing:
                in_pre -= closing == "pre"
                yield _PARA
            continue
        tag = child.tag
        if tag == "-text":
            text = child.text_content or ""
            yield text.replace("\r\n", "\n") if in_pre else _SPACE.sub(" ", text)
        elif tag == "br":
            yield "\n"
        elif tag is None or tag[0] in "-_!" or tag in _DROP or _is_ad(child):
            continue
        elif tag in _BLOCK:
            in_pre += tag == "pre"
            yield _PARA
            stack.append((child.iter(include_text=True), tag))
        else:
            stack.append((child.iter(include_text=True), ""))


def _is_ad(node: LexborNode) -> bool:
    attrs = node.attributes
    if not attrs:
        return False
    cls = attrs.get("class") or ""
    if cls and any(name in cls for name in _AD_CLASSES):
        return True
    href = attrs.get("href") or ""
    return bool(href) and any(host in href for host in _AD_HOSTS)


def _tidy(text: str) -> str:
    """Strip lines, drop empty ones, and join paragraphs with one blank line."""
    out: list[str] = []
    for block in text.split(_PARA):
        lines = [line.strip() for line in block.split("\n")]
        para = "\n".join(line for line in lines if line)
        if para:
            out.append(para)
    return _PARA.join(out)


def _plain_to_text(text: str) -> str:
    for mark, replacement in _LINE_BREAKS.items():
        if mark in text:
            text = text.replace(mark, replacement)
    if _BLANK_LINE.search(text) is None:
        text = text.replace("\n", _PARA)
    return _tidy(_BLANK_LINE.sub(_PARA, text))


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
    """NFKC, no zero-width or control characters, spaces collapsed inside lines, paragraphs kept."""
    if not text:
        return ""
    for mark, replacement in _LINE_BREAKS.items():
        if mark in text:
            text = text.replace(mark, replacement)
    for mark in _INVISIBLE:
        if mark in text:
            text = text.replace(mark, "")
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
