"""The composition root: one `App` holds the config, database, ingest pipeline and alerts wiring.

This is the only module that knows both `ingest` and `alerts`: the pipeline's sink (`AlertSink`)
matches an item against the watchlists before the story transaction, then saves the matches and
creates the alerts inside the transaction that stored the item.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from wirewatch import db, metrics
from wirewatch.alerts.create import create_alerts
from wirewatch.alerts.deliver import build_each
from wirewatch.alerts.errors import WatchlistError
from wirewatch.alerts.match import Matcher
from wirewatch.alerts.matchstore import save_matches
from wirewatch.alerts.route import Channel, Route, channel_problems, close_channels, routes_from
from wirewatch.alerts.types import WatchlistMatch
from wirewatch.alerts.watchlist import compile_watchlists
from wirewatch.config.errors import ConfigError, Problem
from wirewatch.config.loader import Loaded, load_config, problem_in
from wirewatch.config.packs import load_packs
from wirewatch.gateway import Gateway
from wirewatch.ingest.event import AliasTable
from wirewatch.ingest.feedstore import FeedSpec, sync_feeds
from wirewatch.ingest.item import Item, StoryRef
from wirewatch.ingest.pipeline import Cleaner, Pipeline, Rematch
from wirewatch.ingest.prepare import ParsePool, default_workers
from wirewatch.ingest.storystore import ensure_index_scheme

log = logging.getLogger("wirewatch")


def worker_id() -> str:
    """A name for this daemon process that is unique across hosts sharing one database."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Wiring:
    """What changes on a config reload: the config itself, the matcher and the routes."""

    loaded: Loaded
    matcher: Matcher
    routes: dict[str, Route]
    cleaner: Cleaner
    aliases: AliasTable | None = None
    """The watchlists' entities as an alias table, for event signatures (stories)."""


def build_wiring(config_path: Path | str | None) -> Wiring:
    """Load and validate everything a reload needs; raises ConfigError without touching running state."""
    loaded = load_config(config_path)
    problems = [loaded.problem(loc, message) for loc, message in channel_problems(loaded.config.channels)]
    if problems:  # built here, so a channel that cannot work fails `check` and a reload, not every delivery
        raise ConfigError(problems)
    watchlists = [wl for _, wl in loaded.watchlists]
    try:
        matcher = compile_watchlists(watchlists)
    except WatchlistError as exc:
        raise ConfigError([_watchlist_problem(loaded, exc)]) from None
    routes = routes_from(watchlists)
    aliases = AliasTable.build((e.id, e.aliases, e.tickers) for wl in watchlists for e in wl.entities)
    return Wiring(loaded=loaded, matcher=matcher, routes=routes, cleaner=Cleaner(load_packs()), aliases=aliases)


@dataclass(frozen=True, slots=True)
class AlertSink:
    """The pipeline's sink: an item's watchlist matches, decided before the story lock, recorded with its alerts."""

    matcher: Matcher
    routes: dict[str, Route]

    def match(self, item: Item) -> list[WatchlistMatch]:
        """The item's watchlist matches (pure: its cleaned title and text only)."""
        return self.matcher.match(item.title, item.text)

    def record(self, session: Session, item: Item, story: StoryRef, matched: list[WatchlistMatch]) -> None:
        """Save the matches and create the alerts they cause, in the transaction that stored the item."""
        assert item.id is not None
        save_matches(session, item.id, story.id, matched, new_item=story.new_item)
        for wm in matched:
            metrics.MATCHES.labels(wm.watchlist).inc()
        if matched and not (item.teaser and not item.text.strip()):  # a placeholder body is no news to send
            metrics.ALERTS.inc(len(create_alerts(session, item, story, matched, self.routes)))


_WHAT = {"ticker": "tickers", "alias": "aliases", "exclude phrase": "exclude", "keyword": "keywords"}


def _watchlist_problem(loaded: Loaded, exc: WatchlistError) -> Problem:
    """The file, line and field of a watchlist that validates but does not compile (a bad ticker, a 1-letter alias)."""
    text = str(exc)
    found = re.match(r"watchlist '([^']*)'(?:, entity '([^']*)')?: (.*)", text, re.DOTALL)
    by_name = {wl.watchlist: (path, wl) for path, wl in loaded.watchlists}
    if found is None or found.group(1) not in by_name:
        return loaded.problem(("watchlists",), text)
    path, watchlist = by_name[found.group(1)]
    message = found.group(3)
    loc: tuple[str | int, ...] = ()
    if found.group(2) is not None:
        index = next((i for i, e in enumerate(watchlist.entities) if e.id == found.group(2)), None)
        if index is not None:
            loc = ("entities", index)
            what = next((field for word, field in _WHAT.items() if message.startswith(word + " ")), None)
            loc += (what,) if what else ()
    elif (rule := re.match(r"(all_of|any_of) ", message)) is not None:
        loc = (rule.group(1),)
    elif message.startswith("keyword "):
        loc = next((((key, i)) for key in ("keywords", "exclude_keywords")
                    for i, phrase in enumerate(getattr(watchlist, key)) if f"keyword {phrase!r} " in message), ())
    return problem_in(path, loc, message)


@dataclass
class App:
    """A running wirewatch: engine, current wiring, pipeline; swapped atomically on reload."""

    engine: Engine
    wiring: Wiring
    worker: str = field(default_factory=worker_id)
    db: Gateway = field(init=False)
    """The one database gateway: every database call of async code (pipeline, daemon, outbox, channels) runs on it."""
    pipeline: Pipeline = field(init=False)
    _channels: tuple[int, dict[str, Channel], asyncio.AbstractEventLoop] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        cfg = self.wiring.loaded.config
        workers = default_workers() if cfg.parse_workers is None else cfg.parse_workers
        pool = ParsePool(workers, self.wiring.cleaner.packs) if workers else None
        self.db = Gateway(self.engine)
        self.pipeline = Pipeline(engine=self.engine, config=cfg, cleaner=self.wiring.cleaner, db=self.db, sink=self.sink(),
                                 rematch=self.rematch(), parse_pool=pool, aliases=self.wiring.aliases)

    @classmethod
    def open(cls, config_path: Path | str | None, *, migrate: bool = True, retries: int = 1) -> App:
        """Load the config, connect to the database (with retries), migrate, and sync the feed table."""
        wiring = build_wiring(config_path)
        cfg = wiring.loaded.config
        engine = db.connect_with_retry(cfg.database, attempts=retries, sqlite_cache=cfg.sqlite_cache,
                                        busy_timeout_ms=round(cfg.sqlite_busy_timeout * 1000))
        if migrate:
            db.upgrade(engine)
            ensure_index_scheme(engine)
        app = cls(engine=engine, wiring=wiring)
        app.sync_feeds()
        return app

    def sync_feeds(self) -> None:
        """Bring the feed table in line with the config (new feeds added, removed ones disabled)."""
        cfg = self.wiring.loaded.config
        sync_feeds(self.engine, [FeedSpec(f.name, f.url, cfg.feed_interval(f), f.enabled) for f in cfg.feeds])

    def swap(self, wiring: Wiring, *, sync: bool = True) -> None:
        """Install a freshly validated wiring (reload); in-flight polls finish with the old one.

        `sync=False` leaves the feed table to the caller: the daemon syncs it on the database gateway.
        """
        self.wiring = wiring
        self.pipeline.config = wiring.loaded.config
        self.pipeline.cleaner = wiring.cleaner
        self.pipeline.aliases = wiring.aliases
        self.pipeline.sink = self.sink()
        self.pipeline.rematch = self.rematch()
        if sync:
            self.sync_feeds()

    def sink(self) -> AlertSink:
        """The pipeline's sink for the current wiring: match before the story lock, save matches and alerts in it."""
        return AlertSink(self.wiring.matcher, self.wiring.routes)

    def rematch(self) -> Rematch:
        """What `reprocess` runs on each item it cleaned again: redo its matches; never alert on history."""
        wiring = self.wiring

        def on_reprocessed(session: Session, item: Item, story: StoryRef) -> None:
            assert item.id is not None
            save_matches(session, item.id, story.id, wiring.matcher.match(item.title, item.text))

        return on_reprocessed

    async def channels(self) -> dict[str, Channel]:
        """The delivery channels of the current wiring, built once per config and event loop."""
        key = hash((id(self.wiring), id(asyncio.get_running_loop())))  # HTTP clients belong to one loop
        if self._channels is None or self._channels[0] != key:
            if self._channels is not None and self._channels[2] is asyncio.get_running_loop():
                await close_channels(self._channels[1])
            built = build_each(  # one broken channel never blocks the others
                self.wiring.loaded.config.channels, db=self.db)
            self._channels = (key, built, asyncio.get_running_loop())
        return self._channels[1]

    async def close_channels(self) -> None:
        """Close the channels' HTTP clients (at shutdown, on the loop that built them)."""
        if self._channels is not None and self._channels[2] is asyncio.get_running_loop():
            await close_channels(self._channels[1])
        self._channels = None

    def close(self) -> None:
        """Finish database work and release connections."""
        self.pipeline.close()
        self.db.close()
        self.engine.dispose()

