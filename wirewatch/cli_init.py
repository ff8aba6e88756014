"""`wirewatch init [DIR]`: a commented starter config and watchlist that pass `wirewatch check`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

Add = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]

STARTER_CONFIG = """\
# wirewatch configuration (written by `wirewatch init`). Every key is described in the README,
# "Configuration". Check it with `wirewatch check`, run with `wirewatch run` (or `wirewatch poll` once).
# Durations: 30s, 5m, 1h, 1d, 1w. Secrets: write ${VAR} and set VAR in the environment.

# Where stories, alerts and feed state are kept: without this key, $WIREWATCH_DATABASE, else
# wirewatch.db beside this file. A relative SQLite path is relative to this file. For several daemons
# or a large feed list: postgresql+psycopg://user@host/db (pip install 'wirewatch[postgres]').
# database: sqlite:///wirewatch.db

defaults:
  interval: 5m          # time between polls of a feed (each feed may set its own `interval:`)
  jitter: 0.1           # ± this fraction of the interval, so feeds do not all poll at once

feeds:                  # or import a list from Miniflux, FreshRSS, Inoreader: wirewatch feeds import FILE.opml
  - name: bbc-business  # unique, lower-case letters, digits and '-'
    url: https://feeds.bbci.co.uk/news/business/rss.xml
    # interval: 2m
    # enabled: false    # keep the feed here without polling it (or: wirewatch feeds pause NAME)
    # full_text: true   # fetch the article page for summary-only feeds (pip install 'wirewatch[fulltext]')

# feeds_files: [feeds.yaml]   # more feeds from other files (`wirewatch feeds import` writes one)

watchlists: [watchlists/*.yaml]   # what to look for: one watchlist per file

channels:               # where alerts go; watchlists name these
  screen: {type: console}   # print alerts to standard output
  # desk:               # a signed JSON webhook (Standard Webhooks)
  #   type: webhook
  #   url: https://hooks.example.com/wirewatch
  #   secret: ${WIREWATCH_WEBHOOK_SECRET}    # whsec_ followed by base64
  # chat: {type: apprise, urls: ["tgram://${TG_TOKEN}/${TG_CHAT}"]}

# metrics: {listen: 127.0.0.1:9464}   # Prometheus /metrics, /healthz for `wirewatch health`
"""

STARTER_WATCHLIST = """\
# A watchlist (written by `wirewatch init`): which companies to look for, when an item counts, where
# its alert goes. Every key is shown, commented, in config/examples/watchlists/ev-batteries.yaml of the
# wirewatch repository. Try it: echo "Microsoft raises its dividend" | wirewatch match --watchlist THIS_FILE
watchlist: my-companies
channels: [screen]                  # channel names from wirewatch.yaml
entities:
  - id: MSFT
    name: Microsoft
    aliases: [Microsoft, 微软, 微軟, マイクロソフト]   # any language; matched whole-word, case and script folded
    tickers: [MSFT]                 # also found as $MSFT, NASDAQ: MSFT, MSFT.O
  - id: TSLA
    name: Tesla
    aliases: [Tesla, 特斯拉, テスラ]
    tickers: [TSLA]
    exclude: [Nikola Tesla]         # phrases in which the alias is not this company
# min_mentions: 1                   # mentions an entity needs to count
# in: any                           # any | title
# keywords: [dividend, earnings]    # when set, one of these must appear too
# exclude_keywords: [sponsored]     # any one of these cancels the match
"""


def starter_files(directory: Path) -> dict[Path, str]:
    """The files `init` writes into `directory`, with their text."""
    return {directory / "wirewatch.yaml": STARTER_CONFIG,
            directory / "watchlists" / "my-companies.yaml": STARTER_WATCHLIST}


def cmd_init(args: argparse.Namespace) -> int:
    """Write a starter config and watchlist into DIR (default: here); refuse to overwrite without --force."""
    files = starter_files(Path(args.directory))
    existing = [p for p in files if p.exists()]
    if existing and not args.force:
        names = ", ".join(str(p) for p in existing)
        print(f"error: {names} already exist{'s' if len(existing) == 1 else ''}; nothing written "
              "(--force overwrites)", file=sys.stderr)
        return 1
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    config = next(iter(files))
    print(f"next: wirewatch --config {config} check, then wirewatch --config {config} poll", file=sys.stderr)
    return 0


def register(add: Add) -> None:
    """Add the `init` command to the parser."""
    sp = add("init", cmd_init, "write a commented starter wirewatch.yaml and watchlist")
    sp.add_argument("directory", nargs="?", default=".", metavar="DIR", help="where to write (default: here)")
    sp.add_argument("--force", action="store_true", help="overwrite existing files")
