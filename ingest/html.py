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

Non-article blocks (`_drop_blocks`, issue #21) are decided by structure, as Readability and
trafilatura do, never by their wording: figures and captions, hidden elements, blocks whose class
or id names a non-article role (share, related, video, ad, paywall, comments, byline, …) unless they
hold most of the text, lists made mostly of links, short blocks made only of links, script links,
and the short heading just before a removed section. Lexbor's selector engine finds the few
candidates; the rest of the tree is never visited in Python. Each removal is returned with its reason.

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

__all__ = ["fold", "fold_in_place", "html_to_text", "html_to_text_explained", "nfkc", "normalise", "paragraphs", "tidy"]

# Elements whose content is never article text.
_DROP = frozenset({
    "script", "style", "iframe", "noscript", "template", "object", "embed", "applet", "svg", "math",
    "head", "title", "meta", "link", "base", "form", "button", "select", "option", "textarea", "audio",
    "video", "canvas", "map", "img", "picture", "frameset", "frame",
})
# Of those, the ones that can hold text (an <img> cannot, so it need not be cut out before walking).
_DROP_TEXT = _DROP - {"img", "meta", "link", "base", "canvas", "picture", "frame"}
# Ad and tracking blocks that feeds splice into item HTML (FeedBurner flares, Feedsportal, ad servers).
_AD_CLASSES = ("feedflare", "mf-viral", "feedsportal")
_AD_HOSTS = ("feeds.feedburner.com/~", "feedproxy.google.com/~", "feedsportal.com", "doubleclick.net", "pheedo.com")
_AD_MARKERS = _AD_CLASSES + ("feedburner", "feedproxy", "doubleclick", "pheedo")
# Elements that start and end a paragraph.
_BLOCK = frozenset({
    "p", "div", "section", "article", "aside", "header", "footer", "main", "nav", "blockquote", "pre",
    "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd", "table", "thead", "tbody",
    "tfoot", "tr", "td", "th", "caption", "figure", "figcaption", "address", "hr", "details", "summary",
    "fieldset", "legend", "center",
})
# Elements whose text is a list of items, and blocks that hold only inline content in practice.
_LISTS = frozenset({"ul", "ol", "dl", "menu", "table"})
_LEAF_BLOCKS = frozenset({"p", "li", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "td"})
LINK_BLOCK_MAX = 80  # a block made only of links and at most this long (`_weight`) is navigation
WIDGET_MAX = 40  # a block with a telling class goes if it holds at most half the text, or this little
HEADING_MAX = 24  # a short line without sentence punctuation just before a removed section is its heading
# Words of class and id names that mark a block as not article text, and the reason recorded.
_CLASS_REASONS = {
    **dict.fromkeys(("caption", "captions", "credit", "credits", "imagecredit", "figcaption", "photo-credit"),
                    "caption"),
    **dict.fromkeys(("share", "sharing", "social", "sns", "snsbtn", "btn", "button", "buttons", "tweet",
                     "follow"), "share-widget"),
    **dict.fromkeys(("related", "rel", "relatedtags", "tags", "tag", "tagline-tags", "keywords", "correlation",
                     "recommend", "recommended", "recommendation", "more-stories", "readmore"), "related-links"),
    **dict.fromkeys(("video", "videos", "player", "playlist", "slideshow", "gallery", "autoplay", "loading",
                     "placeholder", "carousel"), "media-card"),
    **dict.fromkeys(("ad", "ads", "advert", "advertisement", "adv", "sponsor", "sponsored", "promo", "promotion",
                     "adsbygoogle", "interrupter"), "advert"),
    **dict.fromkeys(("newsletter", "subscribe", "subscription", "regist", "register", "registration", "signup",
                     "login", "paywall", "premium", "member", "members", "membership"), "paywall"),
    **dict.fromkeys(("comment", "comments", "cmt", "commt", "discuss", "disqus", "vote", "poll", "survey"),
                    "comments"),
    **dict.fromkeys(("byline", "author", "authors", "attribution", "editor", "dateline-byline", "read-time"),
                    "byline"),
    **dict.fromkeys(("trust", "badge", "disclosure", "disclaimer", "copyright"), "disclosure"),
    **dict.fromkeys(("breadcrumb", "breadcrumbs", "toolbar", "pagination", "pager", "category", "menu", "ft",
                     "footer", "buy", "print", "nocontent"), "navigation"),
    **dict.fromkeys(("ticker", "tickers", "stock-fundamentals", "fundamentals", "quote-table"), "quote-table"),
}
# Sections whose heading ("Related Coverage", "【関連記事】", "精彩视频推荐") goes with them.
_SECTIONS = frozenset({"related-links", "media-card", "comments", "link-list"})
_HIDDEN_NAMES = frozenset({"visually-hidden", "visuallyhidden", "sr-only", "screen-reader-text", "hidden-text"})
_NAME_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+")
_SENTENCE_PUNCT = re.compile(r"[。．.!?！？,，;；]\s*\S|…|\.\.\.")
_CANDIDATES = ", ".join(["figure", "figcaption", "nav", *sorted({"ul", "ol", "dl", "menu", "table"}), "[class]", "[id]",
                         "[hidden]", "[aria-hidden]", "[style]", "a[href^='javascript' i]", *sorted(_DROP_TEXT)])
# Markup that may hold non-article blocks; a fragment of plain `<p>`, `<br>`, `<b>` skips the look.
_STRUCTURE_TAGS = frozenset({"figure", "figcaption", "nav", "ul", "ol", "dl", "menu", "table", "a"}) | _DROP
_STRUCTURE_ATTRS = ("class", "id", "style", "hidden")
_TAG_NAME = re.compile(r"<([A-Za-z][A-Za-z0-9]*)")
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
    if _has_structure(fragment):
        _drop_blocks(body, dropped)
    pieces = _fast_pieces(body)
    if pieces is None:
        pieces = list(_careful_pieces(body))
    return _tidy("".join(pieces)), dropped


def _has_structure(fragment: str) -> bool:
    """Whether a fragment has elements or attributes that can mark non-article blocks (or feed ads)."""
    if {t.lower() for t in _TAG_NAME.findall(fragment)} & _STRUCTURE_TAGS:
        return True
    if "=" in fragment:
        low = fragment.lower()
        if any(attr in low for attr in _STRUCTURE_ATTRS):
            return True
    return any(marker in fragment for marker in _AD_MARKERS)


def _drop_blocks(body: LexborNode, dropped: list[tuple[str, str]]) -> None:
    """Take non-article blocks out of the tree (`_block_reason`), recording each with its reason.

    Only elements that can be such blocks are looked at (those with a class, id or style, lists, figures,
    code and embeds, and short blocks holding links), found by Lexbor's selector engine in tree order.
    """
    total = _weight(body.text(deep=True) or "")
    candidates = list(body.css(_CANDIDATES))
    seen = {node.mem_id for node in candidates}
    for link in body.css("a"):
        if _is_ad(link):
            candidates.append(link)
            continue
        block = link.parent
        while block is not None and block.tag not in _LEAF_BLOCKS and block.tag != "body":
            block = block.parent
        if block is not None and block.tag in _LEAF_BLOCKS and block.mem_id not in seen:
            seen.add(block.mem_id)
            candidates.append(block)
    for node in candidates:
        if not _attached(node, body):
            continue  # inside a block already taken out
        tag = node.tag or ""
        if tag in _DROP:
            if tag in _DROP_TEXT:
                node.remove()
            continue
        reason = "feed-ad" if _is_ad(node) else _block_reason(node, tag, total)
        if reason is None:
            continue
        _note(dropped, reason, node)
        if reason in _SECTIONS:
            heading = _heading_before(node, body)
            if heading is not None:
                _note(dropped, "section-heading", heading)
                heading.remove()
        node.remove()


def _attached(node: LexborNode, body: LexborNode) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.mem_id == body.mem_id:
            return True
        parent = parent.parent
    return False


def _heading_before(node: LexborNode, body: LexborNode) -> LexborNode | None:
    """The block just before a removed section, when it reads as the section's heading (short, no sentence)."""
    current: LexborNode | None = node
    while current is not None and current.mem_id != body.mem_id:
        prev = current.prev
        while prev is not None and not (prev.text(deep=True) or "").strip():
            prev = prev.prev
        if prev is not None:
            if prev.tag not in _BLOCK:
                return None  # inline text runs into the section: not a heading of its own
            text = " ".join((prev.text(deep=True) or "").split())
            if _weight(text) > HEADING_MAX * 2 or _SENTENCE_PUNCT.search(text):
                return None
            return prev
        current = current.parent
    return None


def _fast_pieces(body: LexborNode) -> list[str] | None:
    """Text and break marks from one C-level traversal; None if the fragment needs `_careful_pieces`.

    A traversal has no end-of-element event, so content that follows a block inside the same parent
    gets its paragraph break from its previous sibling being a block.
    """
    out: list[str] = []
    for node in body.traverse(include_text=True):
        tag = node.tag
        if tag in _BLOCK:
            if tag == "pre":
                return None
            out.append(_PARA_MARK)
        elif tag == "br":
            out.append(_LINE_MARK)
        elif tag in _DROP_TEXT:
            return None
        else:
            prev = node.prev
            if prev is not None and prev.tag in _BLOCK:
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
        elif tag is None or tag[0] in "-_!" or tag in _DROP or _is_ad(child):
            continue
        elif tag in _BLOCK:
            in_pre += tag == "pre"
            yield _PARA_MARK
            stack.append((child.iter(include_text=True), tag))
        else:
            stack.append((child.iter(include_text=True), ""))


def _note(dropped: list[tuple[str, str]], reason: str, node: LexborNode) -> None:
    text = " ".join((node.text(deep=True, separator=" ") or "").split())
    if text:
        dropped.append(("html." + reason, text))


def _weight(text: str) -> int:
    """Length of a text for density decisions: a CJK character (3 bytes in UTF-8) counts about as much as two
    Latin letters (1 byte); computed from the byte length, which is C-speed."""
    text = "".join(text.split())
    return (len(text) + len(text.encode("utf-8", "surrogatepass"))) // 2


def _tokens(node: LexborNode) -> set[str]:
    """The words of an element's class and id (`RelatedCoverage-container` → related, coverage, container)."""
    attrs = node.attributes
    names = " ".join(v for k, v in attrs.items() if k in ("class", "id") and v)
    if not names:
        return set()
    return {w.lower() for w in _NAME_WORD.findall(names)} | {w.lower() for w in names.split()}


def _block_reason(node: LexborNode, tag: str, total: int) -> str | None:
    """Why an element is not article text (a reason name), or None to keep walking into it."""
    if tag in ("figure", "figcaption"):
        return "caption"
    if tag == "nav":
        return "navigation"
    attrs = node.attributes
    if tag == "a" and (attrs.get("href") or "").strip().lower().startswith("javascript:"):
        return "widget"  # a link that runs a script is a control (a button), not text
    if not attrs and tag not in _LISTS and tag not in _LEAF_BLOCKS:
        return None
    if attrs:
        style = (attrs.get("style") or "").replace(" ", "").lower()
        tokens = _tokens(node)
        if ("hidden" in attrs or attrs.get("aria-hidden") == "true" or "display:none" in style
                or tokens & _HIDDEN_NAMES):
            return "hidden"
        if tag not in _BLOCK:  # an inline element with a telling class is part of a sentence
            return None
        reason = next((_CLASS_REASONS[t] for t in tokens if t in _CLASS_REASONS), None)
        if reason is not None:
            size = _weight(node.text(deep=True) or "")
            if size * 2 <= total or size <= WIDGET_MAX:  # never the article's own container
                return reason
    if tag in _LISTS or tag in _LEAF_BLOCKS:
        text = _weight(node.text(deep=True) or "")
        if not text or (tag in _LEAF_BLOCKS and text > LINK_BLOCK_MAX):
            return None
        links = sum(_weight(a.text(deep=True) or "") for a in node.css("a"))
        if tag in _LISTS and links * 2 >= text and text * 2 <= total:
            return "link-list"
        if tag in _LEAF_BLOCKS and links * 10 >= text * 9 and text <= LINK_BLOCK_MAX and text * 3 <= total:
            return "link-block"
    return None


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
