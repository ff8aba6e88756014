"""Small value types shared by the config models: durations and byte sizes."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2, "gb": 1000**3, "gib": 1024**3}


def parse_duration(value: object, allow_zero: bool = False) -> float:
    """Turn `30s`, `5m`, `1h`, `1d` (or a number of seconds) into seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 5m, 1h or 1d")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    else:
        raise ValueError(f"expected a duration like 30s, 5m, 1h or 1d, got {value!r}")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError(f"expected a positive duration, got {value!r}")
    return seconds


def parse_size(value: object) -> int:
    """Turn `15MiB`, `500KB` (or a number of bytes) into bytes."""
    if isinstance(value, bool):
        raise ValueError("expected a size like 15MiB")
    if isinstance(value, int):
        size = value
    elif isinstance(value, str) and (m := _SIZE.match(value)):
        size = int(float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "b").lower()])
    else:
        raise ValueError(f"expected a size like 512KiB or 15MiB, got {value!r}")
    if size <= 0:
        raise ValueError(f"expected a positive size, got {value!r}")
    return size


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds, written in YAML as `30s`, `5m`, `1h`, `1d`."""

Delay = Annotated[float, BeforeValidator(lambda v: parse_duration(v, allow_zero=True))]
"""Seconds ≥ 0 (a retry delay may be `0`, meaning at once)."""

ByteSize = Annotated[int, BeforeValidator(parse_size)]
"""Bytes, written in YAML as `512KiB`, `15MiB`."""


def format_duration(seconds: float) -> str:
    """Render seconds back as the shortest exact unit (`300` → `5m`)."""
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
