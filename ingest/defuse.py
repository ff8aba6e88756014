"""Make hostile input safe: compression bombs while fetching, entity bombs before parsing.

`BoundedDecoder` undoes a gzip/deflate Content-Encoding chunk by chunk and never produces
more than the body cap, so a bomb is stopped while streaming, not after inflating.

The rest makes a decoded XML document safe and cheap for feedparser before it sees it.

feedparser 6.0.14 re-expands internal entities without limit when expat rejects a document,
so every DTD is removed here: `<!DOCTYPE …>` (with or without an internal subset) and any
stray `<!ENTITY …>`. Nothing is ever fetched or read for an entity. References that then
have no definition are made literal text (`&lol9;` → `&amp;lol9;`), and the HTML named
entities feeds use without declaring them (`&nbsp;`, `&eacute;`) become character
references, so expat can parse the document strictly. CDATA sections and comments are
left exactly as they are.

`truncate_entries` and `too_deep` bound the work on huge or hostile feeds: the first cuts a
document after its Nth `item`/`entry` and closes the elements still open; the second finds
nesting deeper than any real feed uses.
"""

from __future__ import annotations

import html.entities
import re
import zlib
from typing import Any

from wirewatch.ingest.errors import BodyTooLargeError, IncompleteBodyError

__all__ = ["BoundedDecoder", "defuse", "too_deep", "truncate_entries"]

_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})
_HTML_ENTITIES = {
    name: cp for name, cp in html.entities.name2codepoint.items() if name not in _XML_ENTITIES
}
_TOKENS = re.compile(
    r"<!\[CDATA\[.*?(?:\]\]>|\Z)"  # CDATA: keep verbatim
    r"|<!--.*?(?:-->|\Z)"  # comment: keep verbatim
    r"|(?P<decl><!(?:DOCTYPE|ENTITY)\b)"  # a DTD or entity declaration starts here
    r"|&(?P<ref>[A-Za-z_][\w.-]{0,63});",  # a named entity reference
    re.DOTALL | re.IGNORECASE,
)
_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")


def _declaration_end(text: str, start: int) -> int:
    """Index just past the `>` closing the markup declaration at `start` (brackets and quotes respected)."""
    depth = 0
    i = start + 2
    n = len(text)
    while i < n:
        char = text[i]
        if char in "\"'":
            close = text.find(char, i + 1)
            i = n if close < 0 else close + 1
            continue
        if text.startswith("<!--", i):
            close = text.find("-->", i + 4)
            i = n if close < 0 else close + 3
            continue
        if char == "[":
            depth += 1
        elif char == "]":
            depth = max(0, depth - 1)
        elif char == ">" and depth == 0:
            return i + 1
        i += 1
    return n


def defuse(text: str) -> tuple[str, list[str]]:
    """Remove DTDs and entity declarations, neutralise undefined entities; return text and notes."""
    out: list[str] = []
    notes: list[str] = []
    pos = 0
    undefined = 0
    while True:
        match = _TOKENS.search(text, pos)
        if match is None:
            break
        if match.group("decl"):
            end = _declaration_end(text, match.start())
            out.append(text[pos:match.start()])
            declared = text[match.start():end]
            notes.append(f"removed {declared[:9].upper()} declaration ({len(declared)} chars)")
            pos = end
            continue
        name = match.group("ref")
        if name is not None and name not in _XML_ENTITIES:
            out.append(text[pos:match.start()])
            codepoint = _HTML_ENTITIES.get(name)
            if codepoint is not None:
                out.append(f"&#{codepoint};")
            else:
                undefined += 1
                out.append(f"&amp;{name};")
            pos = match.end()
            continue
        out.append(text[pos:match.end()])
        pos = match.end()
    out.append(text[pos:])
    if undefined:
        notes.append(f"{undefined} undefined entity references kept as text")
    return "".join(out), notes


_ENTRY_CLOSE = re.compile(r"</(?:[\w.-]+:)?(?:item|entry)\s*>", re.IGNORECASE)
_TAG = re.compile(
    r"<!\[CDATA\[.*?(?:\]\]>|\Z)|<!--.*?(?:-->|\Z)|<[?!][^>]*>"
    r"|<(?P<close>/)?(?P<name>[\w.:-]+)(?:\s(?:[^>\"']|\"[^\"]*\"|'[^']*')*)?(?P<empty>/)?>",
    re.DOTALL,
)


def truncate_entries(text: str, limit: int) -> tuple[str, int] | None:
    """Cut `text` after its `limit`-th item/entry and close open elements; None if it has no more."""
    closes = 0
    for closes, _ in enumerate(_ENTRY_CLOSE.finditer(text), start=1):
        if closes > limit:
            break
    if closes <= limit:
        return None
    stack: list[str] = []
    seen = 0
    for match in _TAG.finditer(text):
        name = match.group("name")
        if name is None or match.group("empty"):
            continue
        if not match.group("close"):
            stack.append(name)
            continue
        if name in stack:
            while stack and stack.pop() != name:
                pass
        local = name.rsplit(":", 1)[-1].lower()
        if local in ("item", "entry"):
            seen += 1
            if seen == limit:
                closing = "".join(f"</{open_name}>" for open_name in reversed(stack))
                total = seen + len(_ENTRY_CLOSE.findall(text, match.end()))
                return text[:match.end()] + closing, total
    return None


_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "meta", "param", "source", "track", "wbr"})


def too_deep(text: str, limit: int) -> bool:
    """True when elements nest deeper than `limit` (feedparser's memory grows with depth).

    Lenient like the parsers after it: a close tag closes everything opened since its start
    tag, stray close tags are ignored, and unclosed HTML void elements (`<br>`) do not count.
    """
    stack: list[str] = []
    for match in _TAG.finditer(text):
        name = match.group("name")
        if name is None or match.group("empty") or name.lower() in _VOID:
            continue
        if not match.group("close"):
            stack.append(name)
            if len(stack) > limit:
                return True
        elif name in stack:
            while stack.pop() != name:
                pass
    return False


class BoundedDecoder:
    """Incremental Content-Encoding decoder that never produces more than the cap."""

    def __init__(self, encoding: str, cap: int, url: str) -> None:
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            self._zlib: Any = None
        elif encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS)
        else:
            raise IncompleteBodyError(f"{url}: unsupported Content-Encoding {encoding!r}")
        self._encoding = encoding
        self._cap = cap
        self._url = url
        self._first = True
        self.size = 0

    def _too_large(self) -> BodyTooLargeError:
        return BodyTooLargeError(f"{self._url}: body passed the {self._cap}-byte cap (fetch.max_bytes)")

    def feed(self, data: bytes) -> bytes:
        """Decode one raw chunk; raise once the decoded size passes the cap."""
        if self._zlib is None:
            out = data
        else:
            out = self._inflate(data)
        self.size += len(out)
        if self.size > self._cap:
            raise self._too_large()
        return out

    def _inflate(self, data: bytes) -> bytes:
        if self._first and self._encoding == "deflate" and data and (data[0] & 0x0F) != 8:
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as some servers send
        self._first = False
        parts: list[bytes] = []
        budget = self._cap - self.size + 1
        try:
            while data and budget > 0:
                chunk = self._zlib.decompress(data, budget)
                parts.append(chunk)
                budget -= len(chunk)
                data = self._zlib.unconsumed_tail
                if self._zlib.eof:
                    break
        except zlib.error as exc:
            raise IncompleteBodyError(f"{self._url}: corrupt {self._encoding} body: {exc}") from exc
        if budget <= 0:
            raise self._too_large()
        return b"".join(parts)
