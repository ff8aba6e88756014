"""Copies inside one body: the lines to drop when a scraper delivered the article twice.

Lines are compared by key (folded, whitespace removed). A body is delivered twice in three ways, and
each is a line to drop: a line made mostly of two or more other lines (the body flattened into one
paragraph, looked for among the `FLAT_CANDIDATES` longest lines only, so thousands of lines stay
linear); a line whose key came before (at least `DUP_MIN` characters: short lines such as a lone date
may repeat on purpose); and a teaser, a line whose text (a trailing ellipsis aside) stands within the
`TEASER_WINDOW` lines around it.
"""

from __future__ import annotations

import re

__all__ = ["repeated_lines"]

FLAT_MIN = 60
FLAT_COVER = 0.8
DUP_MIN = 12
TEASER_MIN = 50
TEASER_WINDOW = 64
FLAT_CANDIDATES = 16
_ELLIPSIS = re.compile(r"(?:\.{2,}|\[\.+\])\Z")


def repeated_lines(keys: list[str]) -> set[int]:
    """The indexes of the lines (by key) that are copies of others: flattened bodies, repeats, teasers."""
    if not _anything_repeats(keys):
        return set()
    dropped = _flattened(keys)
    seen: set[str] = set()
    for i, key in enumerate(keys):
        if i in dropped or len(key) < DUP_MIN:
            continue
        if key in seen:
            dropped.add(i)
        seen.add(key)
    _drop_teasers(keys, dropped)
    return dropped


def _anything_repeats(keys: list[str]) -> bool:
    """Whether some line's first `DUP_MIN` characters occur elsewhere: needed for any copy to exist."""
    joined = "".join(keys)
    offset = 0
    for key in keys:
        if len(key) >= DUP_MIN:
            head = key[:DUP_MIN]
            if joined.find(head, 0, offset + DUP_MIN - 1) != -1 or joined.find(head, offset + 1) != -1:
                return True
        offset += len(key)
    return False


def _flattened(keys: list[str]) -> set[int]:
    """Lines made mostly of two or more other lines: a body flattened into one paragraph.

    Only the `FLAT_CANDIDATES` longest lines are candidates (a flattened copy is long), which keeps
    a text of thousands of lines linear.
    """
    longest = sorted((i for i, key in enumerate(keys) if len(key) >= FLAT_MIN), key=lambda i: -len(keys[i]))
    dropped: set[int] = set()
    for i in sorted(longest[:FLAT_CANDIDATES]):
        key = keys[i]
        parts = {keys[j] for j in range(len(keys))
                 if j != i and j not in dropped and DUP_MIN <= len(keys[j]) < len(key) and keys[j] in key}
        if len(parts) >= 2 and sum(map(len, parts)) >= FLAT_COVER * len(key):
            dropped.add(i)
    return dropped


def _drop_teasers(keys: list[str], dropped: set[int]) -> None:
    """Drop lines whose text (a trailing ellipsis aside) appears within the `TEASER_WINDOW` lines around them."""
    live = [i for i in range(len(keys)) if i not in dropped]
    joined = "".join(keys[i] for i in live)
    offsets = [0]
    for i in live:
        offsets.append(offsets[-1] + len(keys[i]))
    for n, i in enumerate(live):
        probe = _ELLIPSIS.sub("", keys[i])
        if len(probe) < TEASER_MIN:
            continue
        lo, hi = offsets[max(0, n - TEASER_WINDOW)], offsets[min(len(live), n + 1 + TEASER_WINDOW)]
        if joined.find(probe, lo, offsets[n]) != -1 or joined.find(probe, offsets[n + 1], hi) != -1:
            dropped.add(i)
