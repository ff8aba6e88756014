"""Story-lock cost of a feed's batch: time and SQL statements per batch of `store_new_items`, one thread.

    python bench/storebatch.py [--batches 60] [--items 20] [--copies 0.0] [--database URL]

Stores `--batches` batches of `--items` new items (the words of `bench/poll.py`'s feeds; with
`--copies` that share of each batch copies an item stored earlier, so it joins a stored story)
through `ingest.storystore.store_new_items` and a commit, and prints the median and mean time per
batch from taking the story lock to the commit (the longest: a batch that flushed the band tail,
`--batches` over 103), and the statements run per batch (counted with a
SQLAlchemy `before_cursor_execute` listener). One thread and no other work: what a batch holds the
story lock for when nothing competes for the interpreter (signatures, event signatures and search
tokens are worked out beforehand, as a daemon's parse workers do). The default database is a SQLite file
in a temporary folder; a PostgreSQL database is emptied first.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.poll import WORDS, empty_postgres  # noqa: E402


def main() -> int:
    """Store the batches and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batches", type=int, default=60)
    ap.add_argument("--items", type=int, default=20)
    ap.add_argument("--copies", type=float, default=0.0, help="share of each batch that copies a stored item")
    ap.add_argument("--database", default=None)
    args = ap.parse_args()

    from sqlalchemy import event
    from sqlmodel import Session

    from wirewatch import db
    from wirewatch.config.clock import utcnow
    from wirewatch.ingest import dedupe
    from wirewatch.ingest.event import event_signature
    from wirewatch.ingest.item import Item
    from wirewatch.ingest.shortwords import stored_tokens
    from wirewatch.ingest.storystore import BandTail, ensure_index_scheme, store_new_items

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{tmp}/bench.db"
        if url.startswith("postgresql"):
            empty_postgres(url)
        engine = db.make_engine(url)
        db.upgrade(engine)
        ensure_index_scheme(engine)
        statements = [0]
        event.listen(engine, "before_cursor_execute", lambda *_: statements.__setitem__(0, statements[0] + 1))
        tail, texts, took, counts = BandTail(), [], [], []
        for b in range(args.batches):
            batch = []
            for i in range(args.items):
                h = int(hashlib.sha1(f"{b}:{i}".encode()).hexdigest(), 16)
                if texts and i < args.items * args.copies:
                    text = texts[h % len(texts)] + f" Shares moved {i}."
                else:
                    text = " ".join(WORDS[(h >> k) % len(WORDS)] for k in range(0, 150, 3)) + f" {b} {i}."
                    texts.append(text)
                now = utcnow()
                item = Item(feed=f"f{b}", identity=f"b-{b}-{i}", guid=f"b-{b}-{i}", url=f"http://bench.invalid/{b}/{i}",
                            title=text[:60], raw_summary=text, raw_content="", published_at=now, fetched_at=now)
                item.text, item.content_hash = text, dedupe.text_hash(text)
                batch.append((item, f"raw-{b}-{i}"))
            for item, _ in batch:  # worked out in a parse worker, in a daemon: not timed
                item.search_short = stored_tokens(item.title, item.text)
            sigs = [dedupe.signature(item.text) for item, _ in batch]
            events = [event_signature(item.title, item.text) for item, _ in batch]
            with Session(engine) as session:
                statements[0] = 0
                started = time.perf_counter()
                store_new_items(session, batch, timedelta(hours=24).total_seconds(), 0.5, 200, utcnow(), tail, sigs,
                                events)
                session.commit()
                took.append(time.perf_counter() - started)
                counts.append(statements[0])
        engine.dispose()
    print(f"{args.batches} batches of {args.items} ({args.copies:.0%} copies), {url.split(':')[0]}: "
          f"median {statistics.median(took) * 1000:.2f} ms a batch, mean {statistics.mean(took) * 1000:.2f} ms, "
          f"longest {max(took) * 1000:.0f} ms, "
          f"{statistics.mean(counts):.1f} statements a batch ({statistics.mean(counts) / args.items:.2f} an item)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
