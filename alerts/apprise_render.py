"""Chat messages of an alert or a digest, rendered for a format (text, markdown, html) and cut to limits.

    render_chat          (title, body) of one alert
    render_chat_digest   (title, body) of a digest: one line per alert, as many as fit
    ChatTemplate         a user's Jinja2 body template (sandboxed), every value escaped for the format

Feed text is data: it is escaped for the target format and never evaluated as a template.
Messages are cut to the service's limits here, with an ellipsis, so Apprise never splits them.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any
from urllib.parse import quote, urlsplit

from wirewatch.alerts.render import ELLIPSIS, cut, strip_controls
from wirewatch.alerts.templates import SandboxedTemplate

__all__ = ["ELLIPSIS", "FORMATS", "ChatTemplate", "excerpt_lines", "render_chat", "render_chat_digest",
           "title_line"]

EXCERPT_LINES = 3
EXCERPT_CHARS = 600
FORMATS = ("text", "markdown", "html")

_MD_ALWAYS = frozenset("\\`*_[]<>|~")
_MD_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]{1,32};)")  # `&amp;` would be decoded; `AT&T` is left alone
_MD_LINE_START = re.compile(r"(?m)^[ \t]*(?:[#>+=-]|\d{1,9}[.)])")
_MENTION = re.compile(r"(?<=@)(?=(?:everyone|here|channel|all)\b)|(?<=<)(?=[@!#]|at\b)", re.IGNORECASE)
_LINE_SEP = {"text": "\n", "markdown": "\n\n", "html": "<br/>\n"}
_PART_SEP = {"text": "\n\n", "markdown": "\n\n", "html": "<br/><br/>\n"}
_BOLD = {"text": ("", ""), "markdown": ("**", "**"), "html": ("<b>", "</b>")}
_DANGLING = re.compile(r"(?:&[#a-zA-Z0-9]{0,10}|<[^>]{0,200})$")



def _units(text: str, fmt: str) -> list[str]:
    """`text` escaped for `fmt`, one string per source character (so a cut never splits an escape)."""
    text = _MENTION.sub("\u200b", strip_controls(text))
    if fmt == "html":
        return [html.escape(c) for c in text]
    if fmt != "markdown":
        return list(text)
    marked = {m.end() - 1 for m in _MD_LINE_START.finditer(text)} | {m.start() for m in _MD_ENTITY.finditer(text)}
    return ["\\" + c if c in _MD_ALWAYS or i in marked else c for i, c in enumerate(text)]


def _fit(lines: Sequence[str], fmt: str, limit: int) -> str:
    """Escape lines for `fmt` and join them; cut to `limit` characters with an ellipsis."""
    units: list[str] = []
    for i, line in enumerate(lines):
        if i:
            units.append(_LINE_SEP[fmt])
        units += _units(line, fmt)
    if sum(map(len, units)) <= limit:
        return "".join(units)
    kept: list[str] = []
    used = len(ELLIPSIS)
    for unit in units:
        if used + len(unit) > limit:
            break
        kept.append(unit)
        used += len(unit)
    while kept and kept[-1] == _LINE_SEP[fmt]:
        kept.pop()
    return "".join(kept).rstrip() + ELLIPSIS if limit > len(ELLIPSIS) else ""


def _whole_escapes(kept: str) -> str:
    """The start of rendered text (a template's output) cut back so it ends outside any escape or tag."""
    kept = _DANGLING.sub("", kept).rstrip()
    if (len(kept) - len(kept.rstrip("\\"))) % 2:
        kept = kept[:-1]
    return kept


def title_line(payload: Mapping[str, Any]) -> str:
    """The headline of an alert: watchlist · entities · title (an update says so), on one line."""
    item = payload.get("item") or {}
    names = ", ".join(str(e.get("name", "")) for e in payload.get("entities") or [] if e.get("name"))
    headline = str(item.get("title") or item.get("url") or "(untitled)")
    parts = [str(payload.get("watchlist") or ""), names, headline]
    line = " · ".join(p for p in parts if p).replace("\r", " ").replace("\n", " ")
    return ("Update: " if payload.get("type") == "alert.updated" else "") + line


def excerpt_lines(payload: Mapping[str, Any]) -> list[str]:
    """The first few lines of the item's text, at most EXCERPT_CHARS in all."""
    text = str((payload.get("item") or {}).get("text") or "")
    lines = [line.strip() for line in text[: EXCERPT_CHARS * 2].splitlines() if line.strip()][:EXCERPT_LINES]
    kept: list[str] = []
    room = EXCERPT_CHARS
    for line in lines:
        if room <= 0:
            break
        kept.append(line if len(line) <= room else line[: room - 1].rstrip() + ELLIPSIS)
        room -= len(line)
    return kept


def _sources(payload: Mapping[str, Any]) -> str:
    story = payload.get("story") or {}
    names = [str(s) for s in story.get("sources") or []]
    if len(names) <= 1:
        return f"Source: {names[0] if names else (payload.get('item') or {}).get('source') or '-'}"
    shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
    return f"Sources: {len(names)} ({shown})"


def _link(url: Any, fmt: str, label: str | None = None) -> str:
    """A link to an http(s) URL in `fmt`, or "" for anything else; the URL is quoted, never interpreted."""
    url = str(url or "")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    safe = quote(url, safe="/:?#@!$&'()*+,;=%-._~[]")
    text = label if label is not None else f"Read on {parts.hostname or parts.netloc}"
    if fmt == "markdown":
        return f"[{''.join(_units(text, fmt))}]({safe.replace('(', '%28').replace(')', '%29')})"
    if fmt == "html":
        return f'<a href="{html.escape(safe)}">{html.escape(text)}</a>'
    return safe if label is None else f"{text}\n{safe}"


def _compose(head: list[str], middle: Callable[[int], str], tail: list[str], fmt: str, max_body: int) -> str:
    """Join head, a middle that fills the room left, and tail; a body still too long is cut."""
    sep = _PART_SEP[fmt]
    fixed = [p for p in head + tail if p]
    room = max_body - sum(map(len, fixed)) - len(sep) * len(fixed)
    body = sep.join([p for p in [*head, middle(room) if room > 8 else "", *tail] if p])
    return cut(body, max_body, _whole_escapes)


def _titles(raw: str, fmt: str, max_body: int, max_title: int) -> tuple[str, list[str]]:
    """The title field, or (when the service has none) a bold first line of the body."""
    if max_title > 0:
        return _fit([raw], fmt, max_title), []
    left, right = _BOLD[fmt]
    return "", [f"{left}{_fit([raw], fmt, max_body - len(left) - len(right))}{right}"]


def render_chat(payload: Mapping[str, Any], fmt: str, max_body: int, max_title: int) -> tuple[str, str]:
    """(title, body) of one alert; `max_title` 0 puts the title in the body; both fit their limits."""
    fmt = fmt if fmt in FORMATS else "text"
    title, head = _titles(title_line(payload), fmt, max_body, max_title)
    tail = [_fit([_sources(payload)], fmt, max_body), _link((payload.get("item") or {}).get("url"), fmt)]
    body = _compose(head, lambda room: _fit(excerpt_lines(payload), fmt, room), tail, fmt, max_body)
    return title, body


def _digest_entry(payload: Mapping[str, Any], fmt: str) -> str:
    raw = title_line(payload)[:300]
    url = (payload.get("item") or {}).get("url")
    linked = _link(url, fmt, label=raw) if fmt != "text" else ""
    bare = "" if linked else _link(url, "text")
    return "• " + (linked or _fit([raw], fmt, 300) + (f" {bare}" if bare else ""))


def _digest_lines(payloads: Sequence[Mapping[str, Any]], fmt: str, room: int) -> str:
    sep, entries = _LINE_SEP[fmt], list[str]()
    for n, payload in enumerate(payloads):
        entry, left = _digest_entry(payload, fmt), len(payloads) - n - 1
        if len(sep.join([*entries, entry, f"{ELLIPSIS} and {left} more" if left else ""])) > room:
            entries.append(f"{ELLIPSIS} and {left + 1} more")
            break
        entries.append(entry)
    return sep.join(entries)


def render_chat_digest(payloads: Sequence[Mapping[str, Any]], fmt: str, max_body: int,
                       max_title: int) -> tuple[str, str]:
    """(title, body) of a digest: one line per alert with its link, as many as fit, then "… and N more"."""
    fmt = fmt if fmt in FORMATS else "text"
    watchlists = sorted({str(p.get("watchlist") or "") for p in payloads} - {""})
    raw = f"wirewatch digest: {len(payloads)} alerts" + (f" ({', '.join(watchlists)})" if watchlists else "")
    title, head = _titles(raw, fmt, max_body, max_title)
    return title, _compose(head, lambda room: _digest_lines(payloads, fmt, room), [], fmt, max_body)


class ChatTemplate:
    """A user template (Jinja2, sandboxed) for the message body; every `{{ value }}` is escaped for the format."""

    def __init__(self, source: str, channel: str) -> None:
        self.channel = channel
        self._compiled = {fmt: SandboxedTemplate(source, channel, partial(_escape_value, fmt=fmt))
                          for fmt in FORMATS}

    def render(self, fmt: str, context: Mapping[str, Any], max_body: int) -> str:
        """Render for `fmt` and cut to `max_body` with an ellipsis."""
        body = self._compiled[fmt if fmt in FORMATS else "text"].render(context)
        return cut(body.strip(), max_body, _whole_escapes) or ELLIPSIS


def _escape_value(value: Any, fmt: str) -> str:
    return "" if value is None else "".join(_units(str(value), fmt))
