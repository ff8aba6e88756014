"""Pure helpers of the console's pages: highlighted segments, the per-hour chart, ages and durations."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from wirewatch.config.clock import as_utc, utcnow


def segments(text: str, spans: Iterable[tuple[int, int]]) -> list[tuple[str, bool]]:
    """Cut `text` into (piece, highlighted) runs; overlapping or out-of-range spans are merged or clipped."""
    merged: list[list[int]] = []
    for start, end in sorted((max(0, s), min(len(text), e)) for s, e in spans):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out: list[tuple[str, bool]] = []
    pos = 0
    for start, end in merged:
        if start > pos:
            out.append((text[pos:start], False))
        out.append((text[start:end], True))
        pos = end
    if pos < len(text):
        out.append((text[pos:], False))
    return out


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of the per-hour chart, in SVG user units."""

    x: float
    y: float
    width: float
    height: float
    label: str
    value: int


def bars(series: Sequence[tuple[str, int]], width: float = 480, height: float = 80, offset: float = 0.0,
         top: int | None = None) -> list[Bar]:
    """Bars of `(label, value)` points scaled to `height` (by `top`, default the largest value)."""
    if not series:
        return []
    peak = max(top if top is not None else max(v for _, v in series), 1)
    slot = width / len(series)
    out = []
    for i, (label, value) in enumerate(series):
        h = height * value / peak
        out.append(Bar(x=round(i * slot + offset, 1), y=round(height - h, 1), width=round(max(slot / 2 - 1, 1), 1),
                       height=round(h, 1), label=label, value=value))
    return out


def duration(seconds: float | None) -> str:
    """`90` → `1m 30s`; None → `-`."""
    if seconds is None:
        return "-"
    seconds = int(round(abs(seconds)))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    if seconds or not parts:
        parts.append(f"{seconds}s")
    return " ".join(parts[:2])


def age(when: datetime | None, now: datetime | None = None) -> str:
    """`5m ago`, `in 2h`, or `-`."""
    when = as_utc(when)
    if when is None:
        return "-"
    delta = ((now or utcnow()) - when).total_seconds()
    return f"in {duration(delta)}" if delta < 0 else f"{duration(delta)} ago"


def iso(when: datetime | None) -> str:
    """UTC time to the second, like `2026-12-07 11:55:00Z`; None → `-`."""
    when = as_utc(when)
    return when.strftime("%Y-%m-%d %H:%M:%SZ") if when else "-"
