"""The `wirewatch` command line (a public contract). Exit codes: 0 ok, 2 configuration error, 1 anything else."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from config.errors import ConfigError
from config.loader import default_config_path, load_config
from config.types import parse_duration
from wirewatch import __version__, logs

log = logging.getLogger("wirewatch.cli")
Handler = Callable[[argparse.Namespace], int]


def _open(args: argparse.Namespace, migrate: bool = True, retries: int = 1):  # type: ignore[no-untyped-def]
    from wirewatch.app import App

    return App.open(args.config, migrate=migrate, retries=retries)


def cmd_check(args: argparse.Namespace) -> int:
    """Validate the config and every watchlist it names."""
    loaded = load_config(args.config)
    cfg = loaded.config
    print(f"ok: {loaded.path}: {len(cfg.feeds)} feeds, {len(loaded.watchlists)} watchlists, "
          f"{len(cfg.channels)} channels")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run the daemon until SIGTERM/SIGINT."""
    from wirewatch.daemon import Daemon

    app = _open(args, retries=30)
    try:
        return asyncio.run(Daemon(app, args.config).run())
    finally:
        app.close()


def cmd_poll(args: argparse.Namespace) -> int:
    """Poll every feed (or one) once, process, deliver what is due, exit."""
    from wirewatch.daemon import poll_once

    app = _open(args)
    try:
        names = [args.feed] if args.feed else None
        if args.feed and args.feed not in {f.name for f in app.wiring.loaded.config.feeds}:
            print(f"error: no feed named {args.feed!r} in the config", file=sys.stderr)
            return 2
        reports = asyncio.run(poll_once(app, names))
    finally:
        app.close()
    for r in reports:
        print(f"{r.feed}: {r.status} new={r.new} updated={r.updated} duplicate={r.duplicate}"
              + (f" error={r.error}" if r.error else ""), file=sys.stderr)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Print a table of feeds (and disabled channels)."""
    from wirewatch.reports import format_table, status_rows

    app = _open(args)
    try:
        print(format_table(status_rows(app.engine)))
        try:
            from alerts.outbox import channel_states
        except ImportError:
            return 0
        for name, reason in channel_states(app.engine).items():
            print(f"channel {name}: disabled ({reason})")
    finally:
        app.close()
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Print stored items as JSON lines."""
    from wirewatch.reports import export_lines

    app = _open(args)
    try:
        out = sys.stdout
        for line in export_lines(app.engine, args.feed, parse_duration(args.since) if args.since else None):
            out.write(line + "\n")
    finally:
        app.close()
    return 0


def cmd_reprocess(args: argparse.Namespace) -> int:
    """Re-run cleaning and matching over stored items after a rule change."""
    from ingest.pipeline import reprocess

    app = _open(args)
    try:
        n = reprocess(app.engine, app.wiring.loaded.config, app.wiring.cleaner, app.rematch_sink(), args.feed)
    finally:
        app.close()
    print(f"reprocessed {n} items", file=sys.stderr)
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    """`db upgrade`: apply migrations."""
    from wirewatch import db

    loaded = load_config(args.config)
    engine = db.connect_with_retry(loaded.config.database, attempts=args.retries,
                                   sqlite_cache=loaded.config.sqlite_cache)
    try:
        db.upgrade(engine)
        print(f"database at revision {db.current_revision(engine)}")
    finally:
        engine.dispose()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the whole daemon on bundled sample feeds served on 127.0.0.1 (no network)."""
    from wirewatch.demo import run_demo

    return run_demo(seconds=args.seconds, keep=args.keep)


def cmd_clean(args: argparse.Namespace) -> int:
    """Clean an item read from standard input (HTML or text) and print the result."""
    from config.packs import load_packs
    from ingest.clean import clean_item, compile_ruleset

    feed_cfg = None
    if args.feed:
        loaded = load_config(args.config)
        feed_cfg = next((f for f in loaded.config.feeds if f.name == args.feed), None)
        if feed_cfg is None:
            print(f"error: no feed named {args.feed!r} in the config", file=sys.stderr)
            return 2
    rules = compile_ruleset(load_packs(), feed_cfg.clean if feed_cfg else None, args.feed)
    result = clean_item(args.title or "", "", sys.stdin.read(), rules)
    if args.source_only:
        print(result.source or "")
        return 0
    print(result.text)
    if args.explain:
        print(f"\n--- source: {result.source or '-'}", file=sys.stderr)
        for removal in result.removed:
            print(f"--- removed by {removal.rule}: {removal.text[:120]!r}", file=sys.stderr)
    return 0


def cmd_boilerplate(args: argparse.Namespace) -> int:
    """List learned boilerplate lines."""
    from wirewatch.reports import boilerplate_rows, format_table

    app = _open(args)
    try:
        print(format_table(boilerplate_rows(app.engine, args.feed)))
    finally:
        app.close()
    return 0


def cmd_stories(args: argparse.Namespace) -> int:
    """List stories with copies, sources and first/last seen."""
    from wirewatch.reports import format_table, story_rows

    if args.explain is not None:
        from wirewatch.cli_stories import cmd_explain

        return cmd_explain(args)

    app = _open(args)
    try:
        print(format_table(story_rows(app.engine, parse_duration(args.since) if args.since else None)))
    finally:
        app.close()
    return 0


def cmd_match(args: argparse.Namespace) -> int:
    """Match text from standard input against one watchlist file; print JSON."""
    from alerts.match import candidates_to_json, matches_to_json
    from alerts.watchlist import compile_watchlists
    from config.loader import load_watchlist

    matcher = compile_watchlists([load_watchlist(Path(args.watchlist))])
    text = sys.stdin.read()
    title = args.title or ""
    result = candidates_to_json(matcher.mentions(title, text)) if args.explain else matches_to_json(matcher.match(title, text))
    print(json.dumps(result, ensure_ascii=False, indent=1, default=str))
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    """Exit 0 when the daemon's /healthz answers ok, 1 otherwise (for container health checks)."""
    import urllib.request

    loaded = load_config(args.config)
    listen = loaded.config.metrics.listen
    if not listen:
        print("metrics.listen is not set; nothing to ask", file=sys.stderr)
        return 1
    host, _, port = listen.rpartition(":")
    host = "127.0.0.1" if host in ("0.0.0.0", "", "[::]") else host
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=5) as resp:  # noqa: S310
            ok = resp.status == 200
    except OSError as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    print("healthy" if ok else "unhealthy")
    return 0 if ok else 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    p = argparse.ArgumentParser(prog="wirewatch", description="Financial-news ingestion and alerting daemon.")
    p.add_argument("--version", action="version", version=f"wirewatch {__version__}")
    p.add_argument("--config", help=f"config file (default $WIREWATCH_CONFIG or ./{default_config_path().name})")
    p.add_argument("--log-format", choices=["text", "json"], default="text")
    p.add_argument("--log-level", default="INFO")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_text, description=help_text)
        sp.set_defaults(handler=handler)
        return sp

    add("run", cmd_run, "run the daemon until SIGTERM/SIGINT (SIGHUP reloads)")
    add("poll", cmd_poll, "poll all feeds once, deliver what is due, exit").add_argument("--feed")
    add("check", cmd_check, "validate the config and watchlists")
    add("status", cmd_status, "show a table of feeds")
    sp = add("export", cmd_export, "print stored items as JSON lines")
    sp.add_argument("--format", choices=["jsonl"], default="jsonl")
    sp.add_argument("--feed")
    sp.add_argument("--since", help="only items fetched within this duration (e.g. 1d)")
    add("reprocess", cmd_reprocess, "re-clean and re-match stored items").add_argument("--feed")
    sp = add("db", cmd_db, "database maintenance")
    sp.add_argument("action", choices=["upgrade"])
    sp.add_argument("--retries", type=int, default=1)
    sp = add("demo", cmd_demo, "run on bundled sample feeds, no network needed")
    sp.add_argument("--seconds", type=float, default=None, help="stop after this many seconds")
    sp.add_argument("--keep", action="store_true", help="keep the temporary folder")
    sp = add("clean", cmd_clean, "clean one item from standard input and print it")
    sp.add_argument("--feed")
    sp.add_argument("--title")
    sp.add_argument("--explain", action="store_true")
    sp.add_argument("--source-only", action="store_true")
    add("boilerplate", cmd_boilerplate, "list learned boilerplate").add_argument("--feed")
    sp = add("stories", cmd_stories, "list stories")
    sp.add_argument("--since")
    sp.add_argument("--explain", type=int, metavar="ID", help="the items of story ID and why each joined")
    sp = add("match", cmd_match, "match standard input against a watchlist file")
    sp.add_argument("--watchlist", required=True)
    sp.add_argument("--title")
    sp.add_argument("--explain", action="store_true")
    add("health", cmd_health, "exit 0 if the running daemon is healthy")
    from wirewatch.cli_alerts import register

    register(add)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `wirewatch` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.setup(args.log_format, args.log_level.upper())
    try:
        code: int = args.handler(args)
        return code
    except ConfigError as exc:
        print(f"configuration error:\n{logs.redact(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - the CLI reports, it does not dump a traceback by default
        log.debug("failed", exc_info=True)
        print(f"error: {logs.redact(f'{type(exc).__name__}: {exc}')}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
