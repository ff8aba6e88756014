"""How the console is started: inside the daemon (`web.listen`) or alone, read-only (`wirewatch web`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from wirewatch.config.errors import ConfigError, Problem
from wirewatch.config.models import LOOPBACK_HOSTS

if TYPE_CHECKING:
    from wirewatch.app import App
    from wirewatch.web.app import Running

DEFAULT_LISTEN = "127.0.0.1:8080"


async def start_in_daemon(app: App) -> Running | None:
    """Serve the console on the daemon's loop when `web.listen` is set; None when it is off."""
    from wirewatch.web.app import Console, start
    from wirewatch.web.store import read_engine, set_feed_paused

    cfg = app.wiring.loaded.config
    if not cfg.web.listen:
        return None
    console = Console(reads=read_engine(cfg.database, cfg.sqlite_cache), writes=app.engine,
                      config=lambda: app.wiring.loaded.config, matcher=lambda: app.wiring.matcher,
                      worker=app.worker,
                      pause=lambda name, paused: set_feed_paused(app.engine, name, paused), db=app.db)
    return await start(console, cfg.web.listen)


def cmd_web(args: argparse.Namespace) -> int:
    """`wirewatch web`: the console alone, read-only against the configured database."""
    from wirewatch import db
    from wirewatch.alerts.watchlist import compile_watchlists
    from wirewatch.config.loader import load_config
    from wirewatch.web.app import Console, run_alone
    from wirewatch.web.store import read_engine

    loaded = load_config(args.config)
    cfg = loaded.config
    listen = args.listen or cfg.web.listen or DEFAULT_LISTEN
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError([Problem(str(loaded.path), None, "--listen", f"expected host:port, got {listen!r}")])
    if host not in LOOPBACK_HOSTS and not cfg.web.token:
        raise ConfigError([Problem(str(loaded.path), None, "web.token",
                                   f"listening on {listen!r} (not loopback) needs web.token")])
    matcher = compile_watchlists([wl for _, wl in loaded.watchlists])
    reads = read_engine(cfg.database, cfg.sqlite_cache)
    if not db.is_current(reads):  # read-only: never migrates; the daemon (or `db upgrade`) does
        print(f"error: the database is at revision {db.current_revision(reads)}, this wirewatch needs "
              f"{db.head_revision()}: run `wirewatch db upgrade` (or start the daemon) first", file=sys.stderr)
        return 1
    console = Console(reads=reads, writes=None, config=lambda: cfg, matcher=lambda: matcher)
    print(f"wirewatch web console (read-only) on http://{listen}/", flush=True)
    return run_alone(console, listen)


def register(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Add `wirewatch web` to the CLI."""
    sp = add("web", cmd_web, "serve the web console alone, read-only, against the database")
    sp.add_argument("--listen", help=f"host:port (default web.listen, else {DEFAULT_LISTEN})")
