"""Checks across fields and files that a single pydantic model cannot see.

Each check yields `(path, message)`; the loader turns the path into a file and line.
"""

from __future__ import annotations

import importlib
import ipaddress
from collections.abc import Iterator
from urllib.parse import urlsplit

from wirewatch.config.models import Config
from wirewatch.config.watchlist import WatchlistConfig

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
                from wirewatch.config.packs import load_packs

                packs = set(load_packs())
            for j, pack in enumerate(feed.clean.packs):
                if pack not in packs:
                    yield ("feeds", i, "clean", "packs", j), f"no rule pack {pack!r}; expected one of {sorted(packs)}"
    for i, name in enumerate(config.ops_channels):
        if name not in config.channels:
            yield ("ops_channels", i), f"{name!r} is not a channel; expected one of {sorted(config.channels)}"
    yield from _optional_dependencies(config)
    if not config.fetch.allow_private_networks:
        for i, feed in enumerate(config.feeds):
            reason = private_host(feed.url)
            if reason:
                yield ("feeds", i, "url"), (f"{reason}, and fetch.allow_private_networks is false, so every poll "
                                            "would be refused; set it to true to poll such feeds")


# (module to import, the extra that installs it)
FULLTEXT_MODULES = ("trafilatura", "lxml_html_clean")
POSTGRES_MODULES = ("psycopg",)


def missing_module(names: tuple[str, ...]) -> str | None:
    """The first of `names` that cannot be imported here, or None when all can."""
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            return name
    return None


def _optional_dependencies(config: Config) -> Iterator[tuple[Path, str]]:
    """Yield config values that need an extra which is not installed, with the command that installs it."""
    if config.database.startswith("postgresql") and (name := missing_module(POSTGRES_MODULES)):
        yield ("database",), (f"PostgreSQL needs the {name} package, which is not installed: "
                              "pip install 'wirewatch[postgres]'")
    full_text = [i for i, feed in enumerate(config.feeds) if feed.full_text and feed.enabled]
    if full_text and (name := missing_module(FULLTEXT_MODULES)):
        for i in full_text:
            yield ("feeds", i, "full_text"), (f"full_text: true needs the {name} package, which is not installed: "
                                              "pip install 'wirewatch[fulltext]'")


_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


def private_host(url: str) -> str | None:
    """Why `url`'s host is known not to be public without resolving it (a literal address or localhost), else None.

    Names that resolve to private addresses are refused when fetched; only what the URL itself shows is judged here.
    """
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        return f"{host} is this machine (loopback)"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_global and not ip.is_multicast:
        return None
    kind = ("loopback" if ip.is_loopback else "link-local" if ip.is_link_local else "multicast" if ip.is_multicast
            else "private" if ip.is_private else "not publicly routable")
    return f"{host} is a {kind} address"


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
