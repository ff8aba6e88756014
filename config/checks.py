"""Checks across fields and files that a single pydantic model cannot see.

Each check yields `(path, message)`; the loader turns the path into a file and line.
"""

from __future__ import annotations

from collections.abc import Iterator

from config.models import Config
from config.watchlist import WatchlistConfig

Path = tuple[str | int, ...]


def config_problems(config: Config) -> Iterator[tuple[Path, str]]:
    """Yield duplicate feed names and references to channels that do not exist."""
    seen: set[str] = set()
    for i, feed in enumerate(config.feeds):
        if feed.name in seen:
            yield ("feeds", i, "name"), f"feed name {feed.name!r} is used twice; names must be unique"
        seen.add(feed.name)
    packs: set[str] | None = None
    for i, feed in enumerate(config.feeds):
        if feed.clean.packs:
            if packs is None:
                from config.packs import load_packs

                packs = set(load_packs())
            for j, pack in enumerate(feed.clean.packs):
                if pack not in packs:
                    yield ("feeds", i, "clean", "packs", j), f"no rule pack {pack!r}; expected one of {sorted(packs)}"
    for i, name in enumerate(config.ops_channels):
        if name not in config.channels:
            yield ("ops_channels", i), f"{name!r} is not a channel; expected one of {sorted(config.channels)}"


def watchlist_problems(watchlist: WatchlistConfig, channels: set[str] | None) -> Iterator[tuple[Path, str]]:
    """Yield duplicate entity ids, unknown ids in rules and unknown channels."""
    ids: set[str] = set()
    for i, entity in enumerate(watchlist.entities):
        if entity.id in ids:
            yield ("entities", i, "id"), f"entity id {entity.id!r} is used twice; ids must be unique"
        ids.add(entity.id)
    for rule in ("all_of", "any_of"):
        for i, ref in enumerate(getattr(watchlist, rule)):
            if ref not in ids:
                yield (rule, i), f"{ref!r} is not an entity id of this watchlist"
    if channels is not None:
        for i, name in enumerate(watchlist.channels):
            if name not in channels:
                yield ("channels", i), f"{name!r} is not a channel of the main config; expected one of {sorted(channels)}"
