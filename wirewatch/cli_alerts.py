"""CLI commands about alerts: `alerts` (list, retry, enable), `test-alert`, `backtest`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from wirewatch.cli_common import open_readonly
from wirewatch.config.loader import Loaded
from wirewatch.errors import UsageError

Add = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]


def cmd_alerts(args: argparse.Namespace) -> int:
    """List deliveries as a table (or JSON lines); `retry` requeues, `enable` re-enables a channel."""
    if args.action == "retry":
        return _retry(args)
    if args.action == "enable":
        return _enable(args)
    if args.id is not None:
        raise UsageError(f"`alerts {args.id}`: give an action (list, retry ID, enable CHANNEL)")
    from wirewatch.reports import alert_rows, deliveries, format_table

    with open_readonly(args.config) as ro:
        _require_known(ro.engine, ro.loaded, args.watchlist, args.channel)
        limit = args.limit if args.limit is not None else (1000 if args.json else 50)
        rows = deliveries(ro.engine, args.state, watchlist=args.watchlist, channel=args.channel, limit=limit)
    if args.json:
        for row in rows:
            print(json.dumps(row.model_dump(), ensure_ascii=False, default=str))
        return 0
    print(format_table(alert_rows(rows)))
    if len(rows) == limit:
        print(f"(the newest {limit}; --limit N shows more)", file=sys.stderr)
    return 0


def _require_known(engine: Engine, loaded: Loaded, watchlist: str | None, channel: str | None) -> None:
    """Filters must name a watchlist or channel the config or the database knows."""
    from wirewatch.viewstore import known_channels, known_watchlists

    with engine.connect() as conn:
        if watchlist is not None:
            known = {wl.watchlist for _, wl in loaded.watchlists} | known_watchlists(conn)
            if watchlist not in known:
                raise UsageError(f"no watchlist named {watchlist!r} (known: {', '.join(sorted(known)) or 'none'})")
        if channel is not None:
            known = set(loaded.config.channels) | known_channels(conn)
            if channel not in known:
                raise UsageError(f"no channel named {channel!r} (known: {', '.join(sorted(known)) or 'none'})")


def _writable(args: argparse.Namespace) -> tuple[Loaded, Engine]:
    """The config and a read-write engine, without migrating or syncing feeds (the schema must be current)."""
    from wirewatch import db
    from wirewatch.cli_common import check_schema
    from wirewatch.config.loader import load_config
    from wirewatch.logs import redact

    loaded = load_config(args.config)
    engine = db.connect_with_retry(loaded.config.database, attempts=1, sqlite_cache=loaded.config.sqlite_cache)
    try:
        check_schema(engine, redact(loaded.config.database))
    except BaseException:
        engine.dispose()
        raise
    return loaded, engine


def resolve_deliveries(engine: Engine, ref: str, channel: str | None = None) -> list[tuple[int, str, str]]:
    """The deliveries `ref` names, as (id, channel, state): a delivery id, its `msg_…` id, or an alert's `alt_…` id."""
    from wirewatch.viewstore import deliveries_named

    ref = ref.strip()
    if ref.isdigit():
        which: dict[str, Any] = {"delivery_id": int(ref)}
    elif ref.startswith("msg_"):
        which = {"message_id": ref}
    elif ref.startswith("alt_"):
        which = {"alert_id": ref}
    else:
        raise UsageError(f"{ref!r} is not a delivery id (a number, msg_…) or an alert id (alt_…) "
                         "as `wirewatch alerts` shows them")
    with engine.connect() as conn:
        found = deliveries_named(conn, channel=channel, **which)
    if not found:
        extra = f" to channel {channel!r}" if channel else ""
        raise UsageError(f"no delivery {ref}{extra}; `wirewatch alerts` lists them")
    return found


def _retry(args: argparse.Namespace) -> int:
    from wirewatch.alerts.outbox import Outbox
    from wirewatch.alerts.tables import DeliveryState

    if not args.id and not args.all_dead:
        print("error: give a delivery ID (as `wirewatch alerts` shows: 12, msg_…, alt_…) or --all-dead",
              file=sys.stderr)
        return 2
    if args.id and args.all_dead:
        raise UsageError("give either an ID or --all-dead, not both")
    loaded, engine = _writable(args)
    try:
        cfg = loaded.config
        outbox = Outbox(engine, "cli", cfg.retry, lease_seconds=cfg.lease)
        if args.all_dead:
            print(f"requeued {outbox.retry(None, all_dead=True)} deliveries")
            return 0
        found = resolve_deliveries(engine, args.id, args.channel)
        retryable = [d for d in found if d[2] in (DeliveryState.DEAD, DeliveryState.RETRYING)]
        n = sum(outbox.retry(delivery_id) for delivery_id, _, _ in retryable)
    finally:
        engine.dispose()
    print(f"requeued {n} deliveries")
    if not retryable:
        states = ", ".join(f"{i} to {c} is {s}" for i, c, s in found)
        print(f"nothing to requeue: only dead or retrying deliveries are ({states})", file=sys.stderr)
        return 1
    return 0


def _enable(args: argparse.Namespace) -> int:
    from wirewatch.alerts.outbox import Outbox

    if not args.id:
        raise UsageError("give the channel to re-enable: `wirewatch alerts enable CHANNEL`")
    loaded, engine = _writable(args)
    try:
        outbox = Outbox(engine, "cli", loaded.config.retry, lease_seconds=loaded.config.lease)
        recorded = {row["name"]: row for row in outbox.channel_states()}
        if args.id not in loaded.config.channels and args.id not in recorded:
            known = sorted(set(loaded.config.channels) | set(recorded))
            raise UsageError(f"no channel named {args.id!r} (known: {', '.join(known) or 'none'})")
        enabled = outbox.enable_channel(args.id) if recorded.get(args.id, {}).get("disabled") else False
    finally:
        engine.dispose()
    if not enabled:
        print(f"channel {args.id} is not disabled; nothing to do")
        return 0
    print(f"channel {args.id} re-enabled: its pending deliveries go out at the daemon's next pass "
          "(`wirewatch alerts retry --all-dead` requeues dead ones)")
    return 0


def cmd_test_alert(args: argparse.Namespace) -> int:
    """Send a sample alert through one channel, directly (not through the outbox)."""
    from wirewatch.alerts.errors import DeliveryError
    from wirewatch.alerts.render import sample_payload
    from wirewatch.alerts.route import build_channels, close_channels
    from wirewatch.config.loader import load_config

    loaded = load_config(args.config)
    if args.channel not in loaded.config.channels:
        print(f"error: no channel named {args.channel!r}; have {sorted(loaded.config.channels)}", file=sys.stderr)
        return 2
    channels = build_channels({args.channel: loaded.config.channels[args.channel]})

    async def send_and_close() -> None:
        # one event loop for both: a kept-alive HTTP/1.1 connection belongs to the loop that opened it
        try:
            await channels[args.channel].send(sample_payload(), f"msg_test_{uuid.uuid4().hex}")
        finally:
            await close_channels(channels)

    try:
        asyncio.run(send_and_close())
    except DeliveryError as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    print(f"sent a test alert to {args.channel}")
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    """Show what a watchlist would have matched in stored history, story by story."""
    from sqlmodel import Session

    from wirewatch.alerts.watchlist import compile_watchlists
    from wirewatch.config.clock import utcnow
    from wirewatch.config.loader import load_watchlist
    from wirewatch.viewstore import items_since

    matcher = compile_watchlists([load_watchlist(Path(args.watchlist))])
    since = utcnow() - timedelta(seconds=args.since)
    stories: dict[int | None, dict[str, Any]] = {}
    with open_readonly(args.config) as ro:
        with Session(ro.engine) as session:
            for row in items_since(session, since):
                found = matcher.match(row.title, row.text)
                if not found:
                    continue
                entry = stories.setdefault(row.story_id, {"story": row.story_id, "title": row.title, "items": 0,
                                                          "feeds": [], "entities": set()})
                entry["items"] += 1
                if row.feed not in entry["feeds"]:
                    entry["feeds"].append(row.feed)
                for wm in found:
                    entry["entities"] |= {e.id for e in wm.entities}
    for entry in stories.values():
        entry["entities"] = sorted(entry["entities"])
        print(json.dumps(entry, ensure_ascii=False))
    print(f"{len(stories)} stories would have alerted", file=sys.stderr)
    return 0


def register(add: Add) -> None:
    """Add the alert commands to the CLI."""
    from wirewatch.cli_common import duration

    sp = add("alerts", cmd_alerts, "list deliveries; `alerts retry ID|--all-dead` requeues; "
             "`alerts enable CHANNEL` re-enables a channel disabled after HTTP 410")
    sp.add_argument("action", nargs="?", choices=["list", "retry", "enable"], default="list")
    sp.add_argument("id", nargs="?", metavar="ID|CHANNEL",
                    help="retry: a delivery id (12 or msg_…) or an alert id (alt_…, all its deliveries); "
                         "enable: a channel name")
    sp.add_argument("--state", choices=["pending", "retrying", "delivered", "dead"])
    sp.add_argument("--watchlist", help="only alerts of this watchlist")
    sp.add_argument("--channel", help="only deliveries to this channel (also narrows `retry alt_…`)")
    sp.add_argument("--limit", type=int, help="at most this many, newest first (default 50; 1000 with --json)")
    sp.add_argument("--json", action="store_true", help="one JSON object per delivery (the former default output)")
    sp.add_argument("--all-dead", action="store_true")
    add("test-alert", cmd_test_alert, "send a sample alert through one channel").add_argument(
        "--channel", required=True)
    sp = add("backtest", cmd_backtest, "what a watchlist would have matched in stored history")
    sp.add_argument("--watchlist", required=True)
    sp.add_argument("--since", type=duration, default="7d")
