"""`wirewatch why ITEM`: what became of one stored item, from match to delivery (read-only).

The report itself is `wirewatch.why`, imported when the command runs: the parser every command builds
stays free of the alert and matching modules.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from wirewatch.errors import UsageError

Add = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]


def cmd_why(args: argparse.Namespace) -> int:
    """Explain what became of one item: match, rules, story, alert, deliveries."""
    from sqlmodel import Session

    from wirewatch.cli_common import open_readonly
    from wirewatch.why import MAX_ITEMS, explain_item, find_items

    with open_readonly(args.config) as ro, Session(ro.engine) as session:
        rows = find_items(session, args.item)
        if not rows:
            raise UsageError(f"no stored item with id, guid or URL {args.item!r}; `wirewatch export` lists them")
        for n, row in enumerate(rows[:MAX_ITEMS]):
            if n:
                print()
            print("\n".join(explain_item(session, ro.loaded, row)))
        if len(rows) > MAX_ITEMS:
            print(f"\n(more items carry {args.item!r}; give the numeric id to pick one)")
    return 0


def register(add: Add) -> None:
    """Add `why` to the CLI."""
    add("why", cmd_why, "what became of one item: match, rules, story, alert, deliveries").add_argument(
        "item", metavar="ITEM", help="a stored item's numeric id, guid or URL")
