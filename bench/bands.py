"""What band rows cost SQLite: 32 random-keyed rows an item, written per feed batch or in sorted passes.

    python bench/bands.py [--items 20000] [--batch 20] [--flush 2048]

Builds a `story_band`-shaped table (same columns, primary key and created_at index) in a temporary
WAL file with the daemon's pragmas, and inserts the band keys of `--items` items three ways:

  per batch, synchronous=NORMAL   what storing each feed batch's bands at once costs (the old way)
  per batch, synchronous=OFF      the same without fsyncs: how much of it is checkpoint I/O
  tail, sorted every --flush      signatures-first, bands written in one sorted pass (the way now)

Keys are random, like MinHash band keys. Reports milliseconds per item for each. Not a test.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

BANDS = 32
SCHEMA = ("CREATE TABLE story_band (band VARCHAR(64) NOT NULL, item_id INTEGER NOT NULL, story_id INTEGER NOT NULL, "
          "created_at DATETIME, PRIMARY KEY (band, item_id))", "CREATE INDEX ix_created ON story_band (created_at)")
INSERT = "INSERT INTO story_band VALUES (?, ?, ?, ?)"


def rows_for(item: int, rng: random.Random) -> list[tuple[str, int, int, str]]:
    """One item's band rows: 32 random keys shaped like `dedupe.band_keys`."""
    at = f"2026-11-28 09:{item // 60 % 60:02d}:{item % 60:02d}.000000"
    return [(f"{b:02d}:{rng.getrandbits(96):024x}", item, item, at) for b in range(BANDS)]


def connect(path: Path, synchronous: str) -> sqlite3.Connection:
    """A connection with the daemon's pragmas (`wirewatch.db.make_engine`)."""
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", f"synchronous={synchronous}", "cache_size=-65536",
                   "mmap_size=268435456"):
        conn.execute(f"PRAGMA {pragma}")
    for statement in SCHEMA:
        conn.execute(statement)
    return conn


def run(path: Path, items: int, batch: int, flush: int, synchronous: str) -> float:
    """Seconds to write every item's bands, a transaction per batch (`flush` 0) or sorted per `flush` items."""
    rng = random.Random(1128)
    conn = connect(path, synchronous)
    pending: list[tuple[str, int, int, str]] = []
    started = time.perf_counter()
    for first in range(0, items, batch):
        rows = [r for item in range(first, min(first + batch, items)) for r in rows_for(item, rng)]
        if flush:
            pending += rows
            if len(pending) < flush * BANDS:
                continue
            rows, pending = sorted(pending), []
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(INSERT, rows)
        conn.execute("COMMIT")
    if pending:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(INSERT, sorted(pending))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def main() -> int:
    """Run the three ways and print ms per item."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--flush", type=int, default=2048)
    args = ap.parse_args()
    ways = [("per batch, synchronous=NORMAL", 0, "NORMAL"), ("per batch, synchronous=OFF", 0, "OFF"),
            (f"tail, sorted every {args.flush} items", args.flush, "NORMAL")]
    with tempfile.TemporaryDirectory() as tmp:
        for n, (label, flush, sync) in enumerate(ways):
            seconds = run(Path(tmp) / f"bands{n}.db", args.items, args.batch, flush, sync)
            print(f"{label:34} {seconds / args.items * 1000:6.3f} ms/item ({seconds:.1f} s, {args.items} items)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
