"""Where a parse worker's time goes: each step of `prepare_document` timed on `bench/peer.py`'s items.

    python bench/prepare.py [--feeds 40] [--items 20] [--kind distinct|lookalike] [--rounds 3]

Generates the peer benchmark's feeds (2.5-5 KB of mixed zh/en/ja HTML an item) in this process and,
for each round, runs every step of preparing them with `time.process_time` around it: the parse
(`parse_document`), the entry made an item, cleaning, the learning lines, the text hash, the MinHash
signature, the event signature (no watchlist) and the short search tokens. It also times
`feedparser.parse` alone, with wirewatch's options and with feedparser's defaults (what
`lemon24/reader` runs). Prints CPU µs per item, the best round of each.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    """Time the steps and print µs per item."""
    import feedparser

    from bench.peer import build_feeds
    from wirewatch.config.models import FeedConfig
    from wirewatch.config.packs import load_packs
    from wirewatch.ingest import clean as cleaning
    from wirewatch.ingest import dedupe
    from wirewatch.ingest.event import event_signature
    from wirewatch.ingest.prepare import make_storable, to_item
    from wirewatch.ingest.shortwords import stored_tokens
    from wirewatch.ingest.sources import parse_document

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--feeds", type=int, default=40)
    ap.add_argument("--items", type=int, default=20)
    ap.add_argument("--kind", choices=["distinct", "lookalike"], default="distinct")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    feeds = build_feeds(args.kind, args.feeds, args.items)
    items = args.feeds * args.items
    packs, now = load_packs(), datetime(2026, 12, 8, tzinfo=UTC)
    best: dict[str, float] = {}

    def timed(step: str, spent: dict[str, float], fn, *a):  # type: ignore[no-untyped-def]
        t0 = time.process_time()
        out = fn(*a)
        spent[step] = spent.get(step, 0.0) + time.process_time() - t0
        return out

    for _ in range(args.rounds):
        spent: dict[str, float] = {}
        for n, body in feeds.items():
            feed = FeedConfig(name=f"f{n}", url=f"http://127.0.0.1/{n}")
            ruleset = cleaning.compile_ruleset(packs, feed.clean, feed.name, "127.0.0.1")
            parsed = timed("parse", spent, parse_document, feed, body, {"content-type": "application/rss+xml"},
                           feed.url)
            for entry in parsed.entries:
                timed("to item", spent, make_storable, entry)
                item = timed("to item", spent, to_item, feed.name, entry, now, ())
                cleaned = timed("clean", spent, cleaning.clean_item, item.title, item.raw_summary,
                                item.raw_content, ruleset)
                timed("learning lines", spent, cleaning.item_lines, cleaned.text)
                timed("text hash", spent, dedupe.text_hash, cleaned.text)
                timed("MinHash signature", spent, dedupe.signature, cleaned.text)
                timed("event signature", spent, event_signature, item.title, cleaned.text, None)
                timed("short search tokens", spent, stored_tokens, cleaned.title or item.title, cleaned.text)
            timed("feedparser alone, our options", spent,
                  lambda b: feedparser.parse(b, sanitize_html=False, resolve_relative_uris=False), body)
            timed("feedparser alone, its defaults", spent, feedparser.parse, body)
        for step, seconds in spent.items():
            best[step] = min(best.get(step, seconds), seconds)
    steps = [s for s in best if not s.startswith("feedparser")]
    print(f"{items} {args.kind} items, best of {args.rounds} rounds, CPU µs per item:")
    for step in [*steps, "feedparser alone, our options", "feedparser alone, its defaults"]:
        print(f"  {step:32} {best[step] / items * 1e6:7.0f}")
    print(f"  {'prepare, the steps above':32} {sum(best[s] for s in steps) / items * 1e6:7.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
