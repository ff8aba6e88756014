"""CLI commands about alerts: `alerts`, `alerts retry`, `test-alert`, `backtest`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from config.types import parse_duration

Add = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]


def cmd_alerts(args: argparse.Namespace) -> int:
    """List deliveries (optionally by state), or requeue dead ones with `retry`."""
    from alerts.outbox import Outbox
    from wirewatch.app import App

    app = App.open(args.config)
    try:
        cfg = app.wiring.loaded.config
        outbox = Outbox(app.engine, app.worker, cfg.retry, lease_seconds=cfg.lease)
        if args.action == "retry":
            if not args.id and not args.all_dead:
                print("error: give a delivery ID or --all-dead", file=sys.stderr)
                return 2
            n = outbox.retry(int(args.id) if args.id else None, all_dead=args.all_dead)
            print(f"requeued {n} deliveries")
            return 0
        rows = outbox.list_deliveries(args.state)
        for row in rows:
            print(json.dumps(_row_json(row), ensure_ascii=False, default=str))
    finally:
        app.close()
    return 0


def _row_json(row: Any) -> dict[str, Any]:
    if hasattr(row, "model_dump"):
        data: dict[str, Any] = row.model_dump()
        return data
    return dict(row) if isinstance(row, dict) else {"delivery": str(row)}


def cmd_test_alert(args: argparse.Namespace) -> int:
    """Send a sample alert through one channel, directly (not through the outbox)."""
    from alerts.errors import DeliveryError
    from alerts.outbox import build_channels, sample_payload
    from config.loader import load_config

    loaded = load_config(args.config)
    if args.channel not in loaded.config.channels:
        print(f"error: no channel named {args.channel!r}; have {sorted(loaded.config.channels)}", file=sys.stderr)
        return 2
    channels = build_channels({args.channel: loaded.config.channels[args.channel]})
    channel = channels[args.channel]
    import uuid

    try:
        asyncio.run(channel.send(sample_payload(), f"msg_test_{uuid.uuid4().hex}"))
    except DeliveryError as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    finally:
        close = getattr(channel, "aclose", None)
        if close is not None:
            asyncio.run(close())
    print(f"sent a test alert to {args.channel}")
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    """Show what a watchlist would have matched in stored history, story by story."""
    from sqlmodel import Session, col, select

    from alerts.watchlist import compile_watchlists
    from config.loader import load_watchlist
    from ingest.store import ItemRow, utcnow
    from wirewatch.app import App

    matcher = compile_watchlists([load_watchlist(Path(args.watchlist))])
    app = App.open(args.config)
    since = utcnow() - timedelta(seconds=parse_duration(args.since))
    stories: dict[int | None, dict[str, Any]] = {}
    try:
        with Session(app.engine) as session:
            rows = session.exec(select(ItemRow).where(col(ItemRow.fetched_at) >= since).order_by(col(ItemRow.id)))
            for row in rows:
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
    finally:
        app.close()
    for entry in stories.values():
        entry["entities"] = sorted(entry["entities"])
        print(json.dumps(entry, ensure_ascii=False))
    print(f"{len(stories)} stories would have alerted", file=sys.stderr)
    return 0


def register(add: Add) -> None:
    """Add the alert commands to the CLI."""
    sp = add("alerts", cmd_alerts, "list deliveries; `alerts retry ID|--all-dead` requeues")
    sp.add_argument("action", nargs="?", choices=["list", "retry"], default="list")
    sp.add_argument("id", nargs="?")
    sp.add_argument("--state", choices=["pending", "retrying", "delivered", "dead"])
    sp.add_argument("--all-dead", action="store_true")
    add("test-alert", cmd_test_alert, "send a sample alert through one channel").add_argument(
        "--channel", required=True)
    sp = add("backtest", cmd_backtest, "what a watchlist would have matched in stored history")
    sp.add_argument("--watchlist", required=True)
    sp.add_argument("--since", default="7d")
