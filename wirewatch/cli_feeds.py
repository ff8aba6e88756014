"""CLI commands about feeds: `feeds pause|resume NAME`, `feeds import FILE.opml`, `feeds export`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

Add = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]
FEEDS_FILE = "feeds.yaml"
FEEDS_FILE_HEADER = """\
# Feeds included from the main config through `feeds_files:`; `wirewatch feeds import FILE.opml`
# adds to this file (rewriting it: comments here are not kept). Same keys as `feeds:` in wirewatch.yaml.
"""


def cmd_feeds_pause(args: argparse.Namespace) -> int:
    """Pause or resume one feed: the state lives in the database and survives restarts and reloads."""
    from sqlmodel import Session

    from wirewatch.app import App
    from wirewatch.config.clock import utcnow
    from wirewatch.ingest.feedstore import set_paused

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


def cmd_feeds_export(args: argparse.Namespace) -> int:
    """Print the configured feeds (main file and feeds files) as OPML 2.0."""
    from wirewatch.config.loader import load_config
    from wirewatch.config.opml import to_opml

    loaded = load_config(args.config)
    sys.stdout.write(to_opml([(f.name, f.url) for f in loaded.config.feeds]))
    return 0


def _feed_entry(feed: Any) -> dict[str, Any]:
    """A feed as YAML data: name and url first, then only what differs from the defaults."""
    from wirewatch.config.types import format_duration

    data: dict[str, Any] = {"name": feed.name, "url": feed.url}
    rest = feed.model_dump(by_alias=True, exclude_defaults=True, exclude={"name", "url"})
    if "interval" in rest:
        rest["interval"] = format_duration(rest["interval"])
    data.update(rest)
    return data


def cmd_feeds_import(args: argparse.Namespace) -> int:
    """Add the feeds of an OPML file to a feeds file the config includes; report what was skipped and why."""
    from wirewatch.config.checks import private_host
    from wirewatch.config.errors import OpmlError
    from wirewatch.config.loader import load_config, load_feeds_file
    from wirewatch.config.opml import parse_opml, plan_import
    from wirewatch.logs import redact

    loaded = load_config(args.config)
    cfg = loaded.config
    try:
        outlines = parse_opml(Path(args.file).read_bytes())
    except (OSError, OpmlError) as exc:
        why = f"cannot read {args.file}: {exc.strerror or exc}" if isinstance(exc, OSError) else f"{args.file}: {exc}"
        print(f"error: {why}", file=sys.stderr)
        return 2
    target = Path(args.to) if Path(args.to).is_absolute() else loaded.base_dir / args.to
    included = target.resolve() in {p.resolve() for p in loaded.feeds_paths}
    existing = load_feeds_file(target).feeds if target.exists() else []
    configured = [(f.name, f.url) for f in cfg.feeds] + ([] if included else [(f.name, f.url) for f in existing])
    plan = plan_import(outlines, configured)
    if not cfg.fetch.allow_private_networks:
        private = [(n, u, private_host(u)) for n, u in plan.feeds]
        plan.feeds = [(n, u) for n, u, why in private if not why]
        plan.skipped += [(u, f"{why}, and fetch.allow_private_networks is false") for _, u, why in private if why]
    for url, why in plan.skipped:
        print(f"skipped {redact(url)}: {why}", file=sys.stderr)
    if not plan.feeds:
        print(f"nothing to import from {args.file} ({len(plan.skipped)} skipped)")
        return 0
    entries = [_feed_entry(f) for f in existing] + [{"name": n, "url": u} for n, u in plan.feeds]
    if args.dry_run:
        sys.stdout.write(yaml.safe_dump({"feeds": entries}, allow_unicode=True, sort_keys=False))
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(FEEDS_FILE_HEADER + yaml.safe_dump({"feeds": entries}, allow_unicode=True, sort_keys=False),
                      encoding="utf-8")
    print(f"imported {len(plan.feeds)} feeds into {target} ({len(plan.skipped)} skipped)")
    if not included:
        _include(loaded.path, loaded.lines, target, loaded.base_dir)
    load_config(args.config)  # the result must pass `check`; a ConfigError here exits 2 naming the line
    return 0


def _include(config_path: Path, lines: dict[Any, int], target: Path, base: Path) -> None:
    """Name `target` in the config's `feeds_files:`: appended when the key is absent, else the user is told."""
    try:
        shown = str(target.resolve().relative_to(base.resolve()))
    except ValueError:
        shown = str(target.resolve())
    if ("feeds_files",) in lines:
        print(f"note: add {shown} to feeds_files: in {config_path}; the imported feeds are not polled until then",
              file=sys.stderr)
        return
    text = config_path.read_text(encoding="utf-8")
    addition = ("\n# feeds imported from OPML by `wirewatch feeds import` (globs allowed)\n"
                f"feeds_files: [{json.dumps(shown, ensure_ascii=False)}]\n")
    config_path.write_text(text + ("" if text.endswith("\n") or not text else "\n") + addition, encoding="utf-8")
    print(f"added feeds_files: [{shown}] to {config_path}")


def register(add: Add) -> None:
    """Add the `feeds` command and its actions to the parser."""
    from wirewatch.cli import global_options

    sp = add("feeds", _no_action, "manage feeds: pause, resume, import OPML, export OPML")
    actions = sp.add_subparsers(dest="feeds_action", required=True, metavar="ACTION")
    for action, text in (("pause", "stop polling a feed until `feeds resume` (kept in the database)"),
                         ("resume", "poll a paused feed again")):
        ap = actions.add_parser(action, help=text, description=text)
        ap.add_argument("name", metavar="NAME")
        global_options(ap, defaults=False)
        ap.set_defaults(handler=cmd_feeds_pause)
    text = "add the feeds of an OPML file (Miniflux, FreshRSS, Inoreader, …) to a feeds file the config includes"
    ap = actions.add_parser("import", help=text, description=text)
    ap.add_argument("file", metavar="FILE.opml")
    ap.add_argument("--to", default=FEEDS_FILE, metavar="FILE",
                    help=f"the feeds file to add to, relative to the config (default {FEEDS_FILE})")
    ap.add_argument("--dry-run", action="store_true", help="print the feeds file instead of writing anything")
    global_options(ap, defaults=False)
    ap.set_defaults(handler=cmd_feeds_import)
    text = "print the configured feeds as OPML 2.0"
    ap = actions.add_parser("export", help=text, description=text)
    global_options(ap, defaults=False)
    ap.set_defaults(handler=cmd_feeds_export)


def _no_action(args: argparse.Namespace) -> int:
    print("error: give an action: wirewatch feeds pause|resume NAME, import FILE.opml, export", file=sys.stderr)
    return 2
