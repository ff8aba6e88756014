"""What storing look-alike items costs against distinct ones: the story writer alone, stories of 1,000+ copies.

    python bench/lookalike.py [--items 20000] [--copies 1000] [--batch 20] [--db sqlite|URL] [--cases ...]

Stores `--items` new items through `ingest.storystore.store_new_items` (the daemon's writer: story
lock, band tail, candidates, plan, rows), `--batch` items a call and a commit each, as feed
batches are, on a fresh database (`sqlite`: a temporary file with the daemon's pragmas; or a
PostgreSQL URL of a server the bench may create a database on):

  distinct    every text its own (each item makes a story)
  look-alike  items/copies texts, each repeated `--copies` times with other figures at fixed
              places and its own URL (so they join by text, not by URL or hash), interleaved
              round robin: every story grows to `--copies` items over the run

MinHash and event signatures are worked out before the clock starts, as the parse worker does.
Reports microseconds per item for each case, over the whole run and its last fifth (the biggest
stories), and the ratio look-alike / distinct. Figures go to bench/RESULTS.md. Not a test.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlmodel import Session

from wirewatch import db
from wirewatch.ingest import dedupe
from wirewatch.ingest.event import event_signature
from wirewatch.ingest.item import Item
from wirewatch.ingest.storystore import BandTail, ensure_index_scheme, store_new_items

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
WORDS = [f"{a}{b}{c}" for a in ("br", "cl", "dr", "fl", "gr", "pl", "st", "tr") for b in "aeiou"
         for c in ("n", "m", "st", "rk", "ll", "ve", "nd", "x", "p", "t")]


def texts(case: str, items: int, copies: int, seed: int = 1207) -> list[str]:
    """The bench's texts in storing order: every one its own, or items/copies texts repeated round robin."""
    rng = random.Random(seed)

    def article() -> list[str]:
        return [rng.choice(WORDS) for _ in range(90)]

    if case == "distinct":
        return [" ".join(article()) + f" Revenue rose {n} percent." for n in range(items)]
    bases = [article() for _ in range(max(1, items // copies))]
    out = []
    for n in range(items):
        words = list(bases[n % len(bases)])
        for place in (15, 45, 75):  # other figures at fixed places, like a look-alike feed's items
            words[place] = f"{rng.randrange(10_000)}"
        out.append(" ".join(words) + f" Shares closed at {n % 997}.")
    return out


def make_items(case: str, bodies: list[str], batch: int) -> list[Item]:
    """One item a text, each from its own URL; a batch is one feed's (50 feeds in turn, as a poll stores them)."""
    made = []
    for n, body in enumerate(bodies):
        feed = f"feed{n // batch % 50}"
        item = Item(feed=feed, identity=f"{case}-{n}", guid=f"{case}-{n}", url=f"http://{feed}.invalid/{case}/{n}",
                    title=body[:60], raw_summary=body, raw_content="", published_at=NOW, fetched_at=NOW)
        item.text, item.content_hash, item.search_short = body, dedupe.text_hash(body), ""
        made.append(item)
    return made


def run(url: str, case: str, items: int, copies: int, batch: int) -> tuple[float, float, int]:
    """Seconds to store every item, seconds for the last fifth, and the number of stories made."""
    bodies = texts(case, items, copies)
    all_items = make_items(case, bodies, batch)
    sigs = [dedupe.signature(b) for b in bodies]
    events = [event_signature(i.title, i.text) for i in all_items]
    engine = db.make_engine(url)
    db.upgrade(engine)
    ensure_index_scheme(engine)
    tail = BandTail()
    stories: set[int] = set()
    started = time.perf_counter()
    last_fifth = started
    for first in range(0, items, batch):
        if first >= items - items // 5 and last_fifth == started:
            last_fifth = time.perf_counter()
        chunk = slice(first, first + batch)
        now = NOW + timedelta(seconds=first)
        with Session(engine) as session:
            refs = store_new_items(session, [(i, f"raw-{i.identity}") for i in all_items[chunk]], 7 * 86400.0, 0.5,
                                   50, now, tail, sigs[chunk], events[chunk], 0.5)
            session.commit()
        stories |= {r.id for r in refs if r is not None}
    ended = time.perf_counter()
    engine.dispose()
    return ended - started, ended - last_fifth, len(stories)


def database(kind: str, folder: Path, name: str) -> tuple[str, str | None]:
    """A fresh database URL for one run, and the server URL to drop it from afterwards (PostgreSQL)."""
    if kind == "sqlite":
        return f"sqlite:///{folder / name}.db", None
    dbname = f"bench_lookalike_{uuid.uuid4().hex[:8]}"
    admin = create_engine(kind, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {dbname}"))
    admin.dispose()
    return kind.rsplit("/", 1)[0] + "/" + dbname, kind


def drop(server: str | None, url: str) -> None:
    """Drop a bench database made by `database`."""
    if server is None:
        return
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)"))
    admin.dispose()


def main() -> int:
    """Run the cases and print µs per item, whole run and last fifth, with the look-alike / distinct ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--copies", type=int, default=1_000)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--db", default="sqlite", help="sqlite, or a PostgreSQL server URL (…/postgres)")
    parser.add_argument("--cases", nargs="+", default=["distinct", "look-alike"])
    args = parser.parse_args()
    per_item: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases:
            url, server = database(args.db, Path(tmp), case)
            try:
                total, tail, made = run(url, case, args.items, args.copies, args.batch)
            finally:
                drop(server, url)
            per_item[case] = total / args.items * 1e6
            print(f"{case:>10}: {per_item[case]:8.0f} µs/item over {args.items} items "
                  f"(last fifth {tail / (args.items // 5) * 1e6:.0f} µs/item), {made} stories, {total:.1f} s",
                  flush=True)
    if "distinct" in per_item and "look-alike" in per_item:
        print(f"look-alike / distinct: {per_item['look-alike'] / per_item['distinct']:.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
