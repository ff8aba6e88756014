"""Non-article blocks inside item HTML, decided by structure (issue #21): which elements are what.

Readability and trafilatura decide by the shape of a page, not by its wording, and so does this:
- elements that never hold article text (`DROP`: scripts, embeds, forms, media) and feed ads
  (FeedBurner flares, Feedsportal, ad servers);
- figures and captions, `nav`, hidden elements (`hidden`, `aria-hidden`, `display:none`,
  `visually-hidden`);
- blocks whose class or id names a non-article role (`_CLASS_REASONS`: share, related, video, ad,
  paywall, comments, byline, …), unless they hold more than half of the text (the article's own
  container) — an inline element inside a sentence is never removed for its class;
- lists made mostly of links, short blocks made only of links, `javascript:` links (controls);
- the short heading just before a removed section (`Related Coverage`, `【関連記事】`).

`drop_blocks` takes them out of a parsed tree and records each with its reason (`html.<reason>`).
Lexbor's selector engine finds the few candidates; the rest of the tree is never visited in Python.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborNode

__all__ = ["AD_MARKERS", "BLOCK", "DROP", "DROP_TEXT", "drop_blocks", "has_structure", "is_ad"]

# Elements whose content is never article text.
DROP = frozenset({
    "script", "style", "iframe", "noscript", "template", "object", "embed", "applet", "svg", "math",
    "head", "title", "meta", "link", "base", "form", "button", "select", "option", "textarea", "audio",
    "video", "canvas", "map", "img", "picture", "frameset", "frame",
})
# Of those, the ones that can hold text (an <img> cannot, so it need not be cut out before walking).
DROP_TEXT = DROP - {"img", "meta", "link", "base", "canvas", "picture", "frame"}
# Ad and tracking blocks that feeds splice into item HTML (FeedBurner flares, Feedsportal, ad servers).
_AD_CLASSES = ("feedflare", "mf-viral", "feedsportal")
_AD_HOSTS = ("feeds.feedburner.com/~", "feedproxy.google.com/~", "feedsportal.com", "doubleclick.net", "pheedo.com")
AD_MARKERS = _AD_CLASSES + ("feedburner", "feedproxy", "doubleclick", "pheedo")
# Elements that start and end a paragraph.
BLOCK = frozenset({
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
                     "follow", "addtoany", "a2a"), "share-widget"),
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
    **dict.fromkeys(("byline", "author", "authors", "attribution", "editor", "dateline-byline", "read-time",
                     "meta", "entry-meta", "post-meta"), "byline"),
    **dict.fromkeys(("trust", "badge", "disclosure", "disclaimer", "copyright"), "disclosure"),
    **dict.fromkeys(("breadcrumb", "breadcrumbs", "toolbar", "pagination", "pager", "category", "menu", "ft",
                     "footer", "buy", "print", "nocontent"), "navigation"),
    **dict.fromkeys(("ticker", "tickers", "stock-fundamentals", "fundamentals", "quote-table"), "quote-table"),
}
# Compound class words (`sharedaddy`, `relatedposts`, `videoplayer`) go by their first word; not
# `comment` (`commentary` is article text) nor short words.
_PREFIX_REASONS = (("share", "share-widget"), ("social", "share-widget"), ("related", "related-links"),
                   ("caption", "caption"), ("gallery", "media-card"), ("slideshow", "media-card"),
                   ("video", "media-card"), ("sponsor", "advert"), ("advert", "advert"), ("promo", "advert"),
                   ("newsletter", "paywall"), ("subscribe", "paywall"), ("paywall", "paywall"),
                   ("breadcrumb", "navigation"), ("byline", "byline"))
# Sections whose heading ("Related Coverage", "【関連記事】", "精彩视频推荐") goes with them.
_SECTIONS = frozenset({"related-links", "media-card", "comments", "link-list"})
_HIDDEN_NAMES = frozenset({"visually-hidden", "visuallyhidden", "sr-only", "screen-reader-text", "hidden-text"})
_NAME_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+")
_SENTENCE_PUNCT = re.compile(r"[。．.!?！？,，;；]\s*\S|…|\.\.\.")
_CANDIDATES = ", ".join(["figure", "figcaption", "nav", *sorted({"ul", "ol", "dl", "menu", "table"}), "[class]", "[id]",
                         "[hidden]", "[aria-hidden]", "[style]", "a[href^='javascript' i]", *sorted(DROP_TEXT)])
# Markup that may hold non-article blocks; a fragment of plain `<p>`, `<br>`, `<b>` skips the look.
_STRUCTURE_TAGS = frozenset({"figure", "figcaption", "nav", "ul", "ol", "dl", "menu", "table", "a"}) | DROP
_STRUCTURE_ATTRS = ("class", "id", "style", "hidden")
_TAG_NAME = re.compile(r"<([A-Za-z][A-Za-z0-9]*)")


def has_structure(fragment: str) -> bool:
    """Whether a fragment has elements or attributes that can mark non-article blocks (or feed ads)."""
    if {t.lower() for t in _TAG_NAME.findall(fragment)} & _STRUCTURE_TAGS:
        return True
    if "=" in fragment:
        low = fragment.lower()
        if any(attr in low for attr in _STRUCTURE_ATTRS):
            return True
    return any(marker in fragment for marker in AD_MARKERS)


def drop_blocks(body: LexborNode, dropped: list[tuple[str, str]]) -> None:
    """Take non-article blocks out of the tree (`_block_reason`), recording each with its reason.

    Only elements that can be such blocks are looked at (those with a class, id or style, lists, figures,
    code and embeds, and short blocks holding links), found by Lexbor's selector engine in tree order.
    """
    total = _weight(body.text(deep=True) or "")
    candidates = list(body.css(_CANDIDATES))
    seen = {node.mem_id for node in candidates}
    for link in body.css("a"):
        if is_ad(link):
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
        if tag in DROP:
            if tag in DROP_TEXT:
                node.remove()
            continue
        reason = "feed-ad" if is_ad(node) else _block_reason(node, tag, total)
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
            if prev.tag not in BLOCK:
                return None  # inline text runs into the section: not a heading of its own
            text = " ".join((prev.text(deep=True) or "").split())
            if _weight(text) > HEADING_MAX * 2 or _SENTENCE_PUNCT.search(text):
                return None
            return prev
        current = current.parent
    return None


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


def _prefix_reason(tokens: set[str]) -> str | None:
    """A reason for compound names that start with a telling word (`sharedaddy`, `relatedposts`)."""
    for token in tokens:
        for prefix, reason in _PREFIX_REASONS:
            if token.startswith(prefix) and token.isalpha():
                return reason
    return None


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
        if tag not in BLOCK:  # an inline element with a telling class is part of a sentence
            return None
        reason = next((_CLASS_REASONS[t] for t in tokens if t in _CLASS_REASONS), None) or _prefix_reason(tokens)
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


def is_ad(node: LexborNode) -> bool:
    """Whether an element is a feed ad or tracker (FeedBurner flare, Feedsportal, an ad server's link)."""
    attrs = node.attributes
    if not attrs:
        return False
    cls = attrs.get("class") or ""
    if cls and any(name in cls for name in _AD_CLASSES):
        return True
    href = attrs.get("href") or ""
    return bool(href) and any(host in href for host in _AD_HOSTS)
