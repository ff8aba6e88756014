"""`wirewatch try`: fetch a source once and print what it would yield, before it is added to the config.

    wirewatch try https://example.com/api/roll --kind json \\
        --select '{items: result.data, title: title, url: url, published: {path: ctime, format: unix}}'
    wirewatch try https://example.com/list.html --kind html --select 'items=table#list tr' \\
        --select 'title=td.title a' --select 'url=td.title a@href'
    wirewatch try --feed tdnet          # a feed of the config, as configured

Nothing is stored. The fetch uses the config's `fetch:` limits (and its private-network guard) when a
config file is there, the defaults otherwise. Exit codes: 0 ok, 2 a bad `--select`, 1 the fetch or the
selection failed (the message names the expression that matched nothing).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import ValidationError

from wirewatch.config.models import FeedConfig, FetchConfig

Add = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]


def parse_select(values: list[str]) -> dict[str, Any]:
    """`--select` values as one mapping: each a YAML mapping (`{items: x, title: y}`) or `key=value`."""
    out: dict[str, Any] = {}
    for value in values:
        text = value.strip()
        if text.startswith("{"):
            data = yaml.safe_load(text)
            if not isinstance(data, dict):
                raise ValueError(f"--select {value!r}: expected a mapping like {{items: result.data, title: title}}")
            out.update(data)
            continue
        key, sep, expr = text.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--select {value!r}: expected key=expression (like title=td.title a) or a mapping")
        out[key.strip()] = yaml.safe_load(expr) if expr.strip().startswith("{") else expr.strip()
    return out


def _describe(exc: ValidationError) -> str:
    """Pydantic errors as `field: message` lines, without the union tag."""
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if p not in ("json", "html")]
        msg = str(err["msg"]).removeprefix("Value error, ")
        lines.append(f"  {'.'.join(loc) or 'select'}: {msg}")
    return "\n".join(lines)


def _target(args: argparse.Namespace) -> tuple[FeedConfig, FetchConfig, Any]:
    """The feed to try, the fetch limits and the shipped packs (with the config's feed when `--feed`)."""
    from wirewatch.config.loader import default_config_path, load_config
    from wirewatch.config.packs import load_packs

    fetch_cfg = FetchConfig()
    configured: FeedConfig | None = None
    if args.feed or default_config_path(args.config).exists():
        cfg = load_config(args.config).config
        fetch_cfg = cfg.fetch
        if args.feed:
            configured = next((f for f in cfg.feeds if f.name == args.feed), None)
            if configured is None:
                raise LookupError(f"no feed named {args.feed!r} in the config")
    if configured is not None and not args.select and not args.kind and not args.url:
        return configured, fetch_cfg, load_packs()
    base = configured.model_dump(exclude={"select", "kind"}, by_alias=True) if configured else {"name": "try"}
    data: dict[str, Any] = {**base, "url": args.url or (configured.url if configured else "")}
    select = parse_select(args.select or [])
    if select and configured is not None and configured.select is not None:  # --select edits the feed's own
        select = {**configured.select.model_dump(exclude={"kind"}, exclude_none=True), **select}
    if select:
        data["select"] = select
        data["kind"] = args.kind or (configured.kind if configured and configured.kind != "feed" else None)
        if data["kind"] is None:
            raise ValueError("--select needs --kind json or --kind html")
    elif args.kind:
        data["kind"] = args.kind
    return FeedConfig.model_validate(data), fetch_cfg, load_packs()


async def _fetch(feed: FeedConfig, fetch_cfg: FetchConfig) -> Any:
    from wirewatch import USER_AGENT
    from wirewatch.ingest.fetch import Fetcher

    async with Fetcher(fetch_cfg, USER_AGENT) as fetcher:
        return await fetcher.fetch(feed.url, headers=feed.headers)


def cmd_try(args: argparse.Namespace) -> int:
    """Fetch a source once; print the entries it yields and its first item cleaned."""
    from wirewatch.config.clock import utcnow
    from wirewatch.ingest import clean as cleaning
    from wirewatch.ingest.errors import IngestError
    from wirewatch.ingest.prepare import prepare_document
    from wirewatch.ingest.sources import parse_document

    if not args.url and not args.feed:
        print("error: give a URL or --feed NAME", file=sys.stderr)
        return 2
    try:
        feed, fetch_cfg, packs = _target(args)
    except ValidationError as exc:
        print(f"configuration error in --select/--kind:\n{_describe(exc)}", file=sys.stderr)
        return 2
    except (ValueError, LookupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        result = asyncio.run(_fetch(feed, fetch_cfg))
        parsed = parse_document(feed, result.body, result.headers, result.url)
    except IngestError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    out = sys.stdout
    out.write(f"{result.url}: HTTP {result.status}, {result.bytes_read} bytes, {parsed.format}, "
              f"{len(parsed.entries)} entries, {parsed.skipped} skipped\n")
    if parsed.warning:
        out.write(f"warning: {parsed.warning}\n")
    for entry in parsed.entries[: args.limit]:
        when = entry.published.strftime("%Y-%m-%d %H:%MZ") if entry.published else "(no date)"
        out.write(f"\n{when}  {entry.title}\n")
        for label, value in (("url", entry.link), ("id", entry.guid), ("source", entry.source),
                             ("author", entry.author)):
            if value:
                out.write(f"  {label}: {value}\n")
    if len(parsed.entries) > args.limit:
        out.write(f"\n… and {len(parsed.entries) - args.limit} more (--limit)\n")
    if not parsed.entries:
        return 0
    ruleset = cleaning.compile_ruleset(packs, feed.clean, feed.name, urlsplit(feed.url).hostname or "")
    doc = prepare_document(feed, ruleset, result.body, result.headers, result.url, utcnow(), fetch_cfg.tracking_params)
    first = doc.entries[0]
    out.write(f"\n--- first item, cleaned: {first.item.title}\n")
    out.write(f"source: {first.item.source or first.cleaned.source or '-'}\n")
    out.write(first.cleaned.text + "\n")
    for removal in first.cleaned.removed:
        out.write(f"--- removed by {removal.rule}: {removal.text[:120]!r}\n")
    return 0


def register(add: Add) -> None:
    """Add `try` to the CLI."""
    sp = add("try", cmd_try, "fetch a source once and print the entries it would yield (nothing stored)")
    sp.add_argument("url", nargs="?", help="the URL to try (or --feed NAME)")
    sp.add_argument("--kind", choices=["feed", "json", "html"])
    sp.add_argument("--select", action="append", metavar="MAPPING|KEY=EXPR",
                    help="the select: mapping, as YAML ({items: …, title: …}) or key=expression; repeatable")
    sp.add_argument("--feed", help="try a feed of the config as configured (--select/--kind/URL override it)")
    sp.add_argument("--limit", type=int, default=10, help="entries to print (default 10)")
