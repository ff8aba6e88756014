"""The `wirewatch` command line (a public contract). Exit codes: 0 ok, 2 configuration error, 1 anything else."""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from wirewatch import __version__, logs
from wirewatch.cli_common import LOG_LEVELS, duration, feed_names, log_level, open_readonly, require_feed
from wirewatch.config.errors import ConfigError
from wirewatch.config.loader import default_config_path, load_config
from wirewatch.errors import WirewatchError

log = logging.getLogger("wirewatch.cli")
Handler = Callable[[argparse.Namespace], int]


def _open(args: argparse.Namespace, migrate: bool = True, retries: int = 1):  # type: ignore[no-untyped-def]
    from wirewatch.app import App

    return App.open(args.config, migrate=migrate, retries=retries)


def cmd_check(args: argparse.Namespace) -> int:
    """Validate the config and every watchlist it names, and build every channel (sending nothing)."""
    from wirewatch.app import build_wiring

    loaded = build_wiring(args.config).loaded
    cfg = loaded.config
    print(f"ok: {loaded.path}: {len(cfg.feeds)} feeds, {len(loaded.watchlists)} watchlists, "
          f"{len(cfg.channels)} channels")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run the daemon until SIGTERM/SIGINT."""
    from wirewatch import runstate
    from wirewatch.daemon import Daemon

    app = _open(args, retries=30)
    try:
        listen = app.wiring.loaded.config.metrics.listen
        if listen:
            runstate.ensure_free(listen)
        runstate.write_state(args.config, listen)
        try:
            return asyncio.run(Daemon(app, args.config).run())
        except OSError as exc:
            if listen and exc.errno == errno.EADDRINUSE:  # taken between the check and the bind
                runstate.ensure_free(listen)
            raise
        finally:
            runstate.remove_state(args.config)
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
        deliveries: dict[str, int] = {}
        reports = asyncio.run(poll_once(app, names, deliveries))
    finally:
        app.close()
    from wirewatch.alerts.deliver import summary

    # Printed whatever the log level; with --log-format json each is one JSON event like the log lines.
    for r in reports:
        text = f"{r.feed}: {r.status} new={r.new} updated={r.updated} duplicate={r.duplicate}" + (
            f" error={r.error}" if r.error else "")
        print(logs.line(args.log_format, "wirewatch.poll", text, event="poll.result", feed=r.feed, status=r.status,
                        new=r.new, updated=r.updated, duplicate=r.duplicate, error=r.error), file=sys.stderr)
    print(logs.line(args.log_format, "wirewatch.poll", summary(deliveries), event="poll.deliveries",
                    **{k: v for k, v in deliveries.items() if k != "claimed"}),
          file=sys.stderr)  # the last line: what became of the deliveries
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Print a table of feeds (and disabled channels)."""
    from wirewatch.alerts.channelstate import channel_states
    from wirewatch.reports import format_table, status_rows
    from wirewatch.runstate import daemon_line

    with open_readonly(args.config) as ro:
        print(format_table(status_rows(ro.engine, wide=args.wide)))
        for name, reason in channel_states(ro.engine).items():
            print(f"channel {name}: disabled ({reason}); `wirewatch alerts enable {name}` re-enables it")
    print(daemon_line(args.config), file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Print stored items as JSON lines."""
    from wirewatch.reports import export_lines

    with open_readonly(args.config) as ro:
        if args.feed is not None:
            require_feed(args.feed, feed_names(ro.engine, ro.loaded))
        out = sys.stdout
        for line in export_lines(ro.engine, args.feed, args.since):
            out.write(line + "\n")
    return 0


def cmd_reprocess(args: argparse.Namespace) -> int:
    """Re-run cleaning and matching over stored items after a rule change; `--alert` also creates new alerts."""
    from wirewatch.cli_reprocess import Rematch
    from wirewatch.ingest.pipeline import reprocess

    app = _open(args)
    try:
        if args.feed is not None:
            require_feed(args.feed, feed_names(app.engine, app.wiring.loaded))
        rematch = Rematch(app.wiring, alert=args.alert)
        n = reprocess(app.engine, app.wiring.loaded.config, app.wiring.cleaner, rematch, args.feed)
    finally:
        app.close()
    print(f"reprocessed {n} items: {rematch.summary()}", file=sys.stderr)
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    """`db upgrade`: apply migrations; `db prune`: run the daemon's retention job once (for `poll` from cron)."""
    from wirewatch import db

    loaded = load_config(args.config)
    engine = db.connect_with_retry(loaded.config.database, attempts=args.retries,
                                   sqlite_cache=loaded.config.sqlite_cache)
    try:
        db.upgrade(engine)
        if args.action == "prune":
            from wirewatch import upkeep

            counts = upkeep.prune(engine, loaded.config)
            print("pruned: " + ", ".join(f"{count} {what}" for what, count in counts.items()))
        else:
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
    from wirewatch.config.packs import load_packs
    from wirewatch.ingest.clean import clean_item, compile_ruleset

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
        if result.title is not None:
            print(f"--- title: {result.title!r} (provider suffix moved to the source)", file=sys.stderr)
        if result.teaser:
            print("--- teaser: the body is only a placeholder or paywall line, or a cut-off lead above one",
                  file=sys.stderr)
        for removal in result.removed:
            print(f"--- removed by {removal.rule}: {removal.text[:120]!r}", file=sys.stderr)
    return 0


def cmd_boilerplate(args: argparse.Namespace) -> int:
    """List learned boilerplate lines."""
    from wirewatch.reports import boilerplate_rows, format_table

    with open_readonly(args.config) as ro:
        if args.feed is not None:
            require_feed(args.feed, feed_names(ro.engine, ro.loaded))
        print(format_table(boilerplate_rows(ro.engine, args.feed)))
    return 0


def cmd_stories(args: argparse.Namespace) -> int:
    """List stories with copies, sources and first/last seen."""
    from wirewatch.reports import format_table, story_rows

    if args.explain is not None:
        from wirewatch.cli_stories import cmd_explain

        return cmd_explain(args)
    with open_readonly(args.config) as ro:
        print(format_table(story_rows(ro.engine, args.since)))
    return 0


def cmd_match(args: argparse.Namespace) -> int:
    """Match text from standard input against one watchlist file; print JSON."""
    from wirewatch.alerts.types import candidates_to_json, matches_to_json
    from wirewatch.alerts.watchlist import compile_watchlists
    from wirewatch.config.loader import load_watchlist

    watchlist = load_watchlist(Path(args.watchlist))
    matcher = compile_watchlists([watchlist])
    text = sys.stdin.read()
    title = args.title or ""
    matches = matcher.match(title, text)
    if not args.explain:
        print(json.dumps(matches_to_json(matches), ensure_ascii=False, indent=1, default=str))
        return 0
    from wirewatch.explain import render, verdicts

    candidates = matcher.mentions(title, text)
    print(json.dumps(candidates_to_json(candidates), ensure_ascii=False, indent=1, default=str))
    for verdict in verdicts([watchlist], candidates, {m.watchlist for m in matches}):
        print("\n".join(f"--- {line}" for line in render(verdict)), file=sys.stderr)
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    """Exit 0 when the daemon's /healthz answers ok, 1 otherwise (for container health checks)."""
    from wirewatch.cli_health import health

    return health(args.metrics, args.config)


def global_options(parser: argparse.ArgumentParser, defaults: bool) -> None:
    """`--config`, `--log-format`, `--log-level`: on the main parser with defaults, on each subcommand without.

    A subcommand's copies default to SUPPRESS, so `wirewatch --log-level debug run` keeps the level
    given before the subcommand, and `wirewatch run --log-format json` (the compose file) works too.
    """
    def default(value: str | None) -> str | None:
        return value if defaults else argparse.SUPPRESS

    group = parser.add_argument_group("global options (before or after the command)")
    group.add_argument("--config", default=default(None),
                       help=f"config file (default $WIREWATCH_CONFIG or ./{default_config_path().name})")
    group.add_argument("--log-format", choices=["text", "json"], default=default("text"),
                       help="log lines as text or one JSON object each (default text)")
    group.add_argument("--log-level", type=log_level, default=default("INFO"), metavar="LEVEL",
                       help=f"{'|'.join(LOG_LEVELS).lower()} (default info)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    p = argparse.ArgumentParser(prog="wirewatch", description="Financial-news ingestion and alerting daemon.")
    p.add_argument("--version", action="version", version=f"wirewatch {__version__}")
    global_options(p, defaults=True)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_text, description=help_text)
        global_options(sp, defaults=False)
        sp.set_defaults(handler=handler)
        return sp

    add("run", cmd_run, "run the daemon until SIGTERM/SIGINT (SIGHUP reloads)")
    add("poll", cmd_poll, "poll all feeds once, deliver what is due, exit").add_argument("--feed")
    add("check", cmd_check, "validate the config and watchlists")
    add("status", cmd_status, "show a table of feeds").add_argument(
        "--wide", action="store_true", help="every column, nothing cut short")
    sp = add("export", cmd_export, "print stored items as JSON lines")
    sp.add_argument("--format", choices=["jsonl"], default="jsonl")
    sp.add_argument("--feed")
    sp.add_argument("--since", type=duration, help="only items fetched within this duration (e.g. 1d)")
    sp = add("reprocess", cmd_reprocess, "re-clean and re-match stored items (alerts only with --alert)")
    sp.add_argument("--feed")
    sp.add_argument("--alert", action="store_true",
                    help="also create the alerts new matches imply, once per story and watchlist")
    sp = add("db", cmd_db, "database maintenance")
    sp.add_argument("action", choices=["upgrade", "prune"],
                    help="upgrade: apply migrations; prune: delete what retention allows now, as the daemon does daily")
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
    sp.add_argument("--since", type=duration)
    sp.add_argument("--explain", type=int, metavar="ID", help="the items of story ID and why each joined")
    sp = add("match", cmd_match, "match standard input against a watchlist file")
    sp.add_argument("--watchlist", required=True)
    sp.add_argument("--title")
    sp.add_argument("--explain", action="store_true")
    add("health", cmd_health, "exit 0 if the running daemon is healthy").add_argument(
        "--metrics", metavar="ADDR", help="the daemon's metrics.listen (default $WIREWATCH_METRICS, else the "
        "address the running daemon recorded, else the config's)")
    from wirewatch.cli_alerts import register
    from wirewatch.cli_try import register as register_try

    register(add)
    register_try(add)
    from wirewatch import cli_feeds, cli_init

    cli_feeds.register(add)
    cli_init.register(add)
    from wirewatch.web.run import register as register_web

    register_web(add)
    from wirewatch.cli_why import register as register_why

    register_why(add)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `wirewatch` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.setup(args.log_format, args.log_level)
    try:
        code: int = args.handler(args)
        return code
    except ConfigError as exc:
        print(f"configuration error:\n{logs.redact(str(exc))}", file=sys.stderr)
        return 2
    except WirewatchError as exc:
        print(f"error: {logs.redact(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # the CLI reports, it does not dump a traceback by default
        log.debug("failed", exc_info=True)
        print(f"error: {logs.redact(f'{type(exc).__name__}: {exc}')}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
