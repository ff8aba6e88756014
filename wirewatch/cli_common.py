"""What the CLI's commands share: argument types, read-only database access, name checks."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine

from wirewatch.config.loader import Loaded, load_config
from wirewatch.config.types import parse_duration
from wirewatch.errors import SchemaError, UsageError
from wirewatch.logs import redact

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def log_level(value: str) -> str:
    """An argparse type: a logging level name in any case (a bad one is a usage error, exit 2)."""
    level = value.strip().upper()
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"{value!r} is not a log level; use one of {', '.join(LOG_LEVELS).lower()}")
    return level


def duration(value: str) -> float:
    """An argparse type: a duration such as 90s, 15m, 1h, 7d (a bad one is a usage error, exit 2)."""
    try:
        return float(parse_duration(value))
    except (ValueError, TypeError):
        raise argparse.ArgumentTypeError(f"{value!r} is not a duration (examples: 90s, 15m, 1h, 7d)") from None


@dataclass
class ReadOnly:
    """A loaded config and an engine that cannot write to its database."""

    loaded: Loaded
    engine: Engine


def check_schema(engine: Engine, where: str) -> None:
    """Raise SchemaError unless the database is at the schema this version ships."""
    from wirewatch import db

    current, head = db.current_revision(engine), db.head_revision()
    if current == head:
        return
    if current is None:
        raise SchemaError(f"the database {where} has no wirewatch schema yet; run `wirewatch db upgrade` "
                          "(or start `wirewatch run`, which migrates)")
    raise SchemaError(f"the database {where} is at schema revision {current}, this wirewatch needs {head}; "
                      "run `wirewatch db upgrade` (a newer wirewatch may have upgraded it: then upgrade wirewatch)")


@contextmanager
def open_readonly(config_path: str | Path | None) -> Iterator[ReadOnly]:
    """Load the config and open its database read-only (no migration, no feed sync); check the schema."""
    from wirewatch import db

    loaded = load_config(config_path)
    url = loaded.config.database
    where = redact(url)
    try:
        engine = db.make_readonly_engine(url)
    except FileNotFoundError as exc:
        raise SchemaError(f"no database at {exc}; start `wirewatch run` or run `wirewatch db upgrade` "
                          "to create it") from None
    try:
        check_schema(engine, where)
        yield ReadOnly(loaded, engine)
    finally:
        engine.dispose()


def feed_names(engine: Engine, loaded: Loaded) -> set[str]:
    """Feeds known to the config or to the database (a removed feed's items are still stored)."""
    from wirewatch.viewstore import stored_feed_names

    with engine.connect() as conn:
        return {f.name for f in loaded.config.feeds} | stored_feed_names(conn)


def require_feed(name: str | None, known: Iterable[str]) -> None:
    """Raise UsageError when `--feed NAME` names no known feed."""
    have = sorted(set(known))
    if name is not None and name not in have:
        shown = ", ".join(have[:20]) + (", …" if len(have) > 20 else "")
        raise UsageError(f"no feed named {name!r} (known: {shown or 'none'})")
