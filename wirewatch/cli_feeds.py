"""CLI commands about feeds: `feeds pause NAME`, `feeds resume NAME`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

Add = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]


def cmd_feeds_pause(args: argparse.Namespace) -> int:
    """Pause or resume one feed: the state lives in the database and survives restarts and reloads."""
    from sqlmodel import Session

    from ingest.feedstore import set_paused
    from ingest.store import utcnow
    from wirewatch.app import App

    paused = args.feeds_action == "pause"
    app = App.open(args.config)
    try:
        with Session(app.engine) as session:
            found = set_paused(session, args.name, paused, utcnow())
            session.commit()
    finally:
        app.close()
    if not found:
        print(f"error: no feed named {args.name!r} (see `wirewatch status`)", file=sys.stderr)
        return 2
    print(f"{args.name}: {'paused' if paused else 'resumed'}")
    return 0


def register(add: Add) -> None:
    """Add the `feeds` command and its actions to the parser."""
    sp = add("feeds", _no_action, "manage feeds: pause, resume")
    actions = sp.add_subparsers(dest="feeds_action", required=True, metavar="ACTION")
    for action, text in (("pause", "stop polling a feed until `feeds resume` (kept in the database)"),
                         ("resume", "poll a paused feed again")):
        ap = actions.add_parser(action, help=text, description=text)
        ap.add_argument("name", metavar="NAME")
        ap.set_defaults(handler=cmd_feeds_pause)


def _no_action(args: argparse.Namespace) -> int:
    print("error: give an action: wirewatch feeds pause|resume NAME", file=sys.stderr)
    return 2
