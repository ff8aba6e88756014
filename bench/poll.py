"""Poll benchmark: 1,000 feeds × 20 items on a local server; a cycle where all is new, then one of 304s.

    python bench/poll.py [--feeds 1000] [--items 20] [--concurrency 16] [--entities 0] [--breakdown]

Reports feeds/s, items/s and peak RSS for both cycles, and with --breakdown where the database
thread's time goes (parse, clean, story assignment, inserts, index, match, matches and alerts
recorded), per item. `--entities N` adds one watchlist of N entities, each named by one of the
feeds' words (20 entities: about one item in five matches and alerts), so matching and alert
creation cost what they cost in a daemon. The feed server runs in a separate process so it does
not share the benchmark's interpreter lock.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SYLLABLES = ("ka ri to ne mo sa lu vi pe da zo ha ki ru fe no mi ta so be gu la xe po yu ci".split())
WORDS = [a + b + c for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES[:8]]  # 5,000 distinct words


def feed_body(n: int, items: int) -> bytes:
    """A deterministic RSS feed for feed number n."""
    parts = []
    for i in range(items):
        h = int(hashlib.sha1(f"{n}:{i}".encode()).hexdigest(), 16)
        words = " ".join(WORDS[(h >> k) % len(WORDS)] for k in range(0, 150, 3))
        parts.append(f"<item><title>Feed {n} item {i} {WORDS[h % len(WORDS)]}</title>"
                     f"<link>http://bench.invalid/{n}/{i}</link><guid>b-{n}-{i}</guid>"
                     f"<pubDate>Fri, 27 Nov 2026 09:30:00 +0000</pubDate>"
                     f"<description><![CDATA[<p>Company {n}-{i} said {words}.</p><p>{words[::-1]} {n} {i}.</p>]]>"
                     f"</description></item>")
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>bench {n}</title>'
            f"<link>http://bench.invalid/</link><description>b</description>{''.join(parts)}</channel></rss>"
            ).encode()


def serve(port_queue: multiprocessing.Queue, items: int) -> None:  # type: ignore[type-arg]
    """Serve /feed/N with an ETag (`tests/feedserver.py`); 304 on a matching If-None-Match."""
    from tests.feedserver import FeedServer, Route

    cache: dict[int, bytes] = {}

    def feed(path: str) -> Route:
        n = int(path.rsplit("/", 1)[1])
        return Route(body=cache.setdefault(n, feed_body(n, items)), etag=f'"{n}"', content_type="application/rss+xml")

    server = FeedServer(record=False)
    server.add_dynamic("/feed/", feed)
    server.serve_until_killed(port_queue)


class MemorySampler:
    """Samples this process's anonymous and file-backed resident memory (/proc) five times a second.

    `ru_maxrss` counts pages of the SQLite file mapped in (`mmap_size`) as resident; the kernel can drop
    those at will, so the split says how much is the daemon's own memory.
    """

    def __init__(self) -> None:
        import threading

        self.peak = {"RssAnon": 0, "RssFile": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            for line in Path("/proc/self/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in self.peak:
                    self.peak[key] = max(self.peak[key], int(value.split()[0]) // 1024)

    def stop(self) -> dict[str, int]:
        """Stop sampling; the peaks in MB."""
        self._stop.set()
        self._thread.join()
        return self.peak


def empty_postgres(url: str) -> None:
    """Drop every table of the benchmark's PostgreSQL database, so the cycle starts with nothing stored."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def worker_peaks(app: object) -> list[int]:
    """Peak RSS (MB, from /proc) of each parse worker process of the app."""
    pool = getattr(app.pipeline.parse_pool, "_pool", None)  # type: ignore[attr-defined]
    peaks = []
    for pid in list(getattr(pool, "_processes", None) or {}):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        peaks += [int(line.split()[1]) // 1024 for line in status.splitlines() if line.startswith("VmHWM:")]
    return peaks


def instrument(app: object) -> dict[str, float]:
    """Wrap the pipeline's steps to add up the time each takes (on the database thread)."""
    import wirewatch.ingest.pipeline as pipeline
    import wirewatch.ingest.prepare as prepare
    import wirewatch.ingest.storystore as stories
    from wirewatch.alerts.match import Matcher
    from wirewatch.app import AlertSink

    spent: dict[str, float] = {}

    def wrap(owner: object, name: str, label: str) -> None:
        original = getattr(owner, name)

        def timed(*args: object, **kwargs: object) -> object:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - started

        setattr(owner, name, timed)

    wrap(prepare, "parse_document", "parse (here only without workers)")
    wrap(pipeline.Cleaner, "clean_batch", "clean: learning (+ second pass)")
    wrap(stories.StoryAssigner, "__init__", "story candidates (look-ups, signatures)")
    wrap(stories.StoryAssigner, "assign", "story assignment (in memory)")
    wrap(stories, "write_index", "story index rows (signature, bands)")
    wrap(pipeline, "store_new_items", "store new items (all of the story lines)")
    wrap(Matcher, "match", "match (before the story lock)")
    wrap(AlertSink, "record", "stored matches + alerts")
    wrap(pipeline.Pipeline, "store_document", "whole batch on the database thread")
    return spent


def alerts_made(app: object) -> int:
    """How many alerts the database holds (the cycles' matches that made one)."""
    import sqlalchemy as sa

    with app.engine.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(sa.text("SELECT count(*) FROM alerts")).scalar_one())


def main() -> int:
    """Run both cycles and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--items", type=int, default=20)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--breakdown", action="store_true")
    ap.add_argument("--entities", type=int, default=0, help="entities of one watchlist (default: no watchlist)")
    ap.add_argument("--parse-workers", type=int, default=None, help="config parse_workers (default: automatic)")
    ap.add_argument("--database", default=None, help="database URL (default: a SQLite file in a temporary folder; "
                                                      "a PostgreSQL database is emptied first)")
    args = ap.parse_args()

    from wirewatch.app import App
    from wirewatch.daemon import poll_once

    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    proc = multiprocessing.Process(target=serve, args=(queue, args.items), daemon=True)
    proc.start()
    port = queue.get(timeout=10)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            feeds = "\n".join(f"  - {{name: f{n}, url: 'http://127.0.0.1:{port}/feed/{n}'}}"
                              for n in range(args.feeds))
            cfg = Path(tmp) / "wirewatch.yaml"
            watchlists = ""
            if args.entities:
                entities = "".join(f"  - {{id: E{n}, name: {word}, aliases: [{word}]}}\n"
                                   for n, word in enumerate(WORDS[7 :: len(WORDS) // args.entities][: args.entities]))
                (Path(tmp) / "bench-watchlist.yaml").write_text(f"watchlist: bench\nchannels: []\nentities:\n{entities}",
                                                                 encoding="utf-8")
                watchlists = f"watchlists: ['{tmp}/bench-watchlist.yaml']\n"
            database = args.database or f"sqlite:///{tmp}/bench.db"
            if database.startswith("postgresql"):
                empty_postgres(database)
            cfg.write_text(f"database: '{database}'\n"
                           f"fetch: {{allow_private_networks: true, concurrency: {args.concurrency}, per_host: "
                           f"{args.concurrency}}}\n"
                           + (f"parse_workers: {args.parse_workers}\n" if args.parse_workers is not None else "")
                           + watchlists + f"feeds:\n{feeds}\n", encoding="utf-8")
            app = App.open(cfg)
            spent = instrument(app) if args.breakdown else {}
            rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            for label in ("all new", "all 304"):
                sampler = MemorySampler()
                started = time.perf_counter()
                reports = asyncio.run(poll_once(app))
                elapsed = time.perf_counter() - started
                new = sum(r.new for r in reports)
                errors = [r for r in reports if r.status == "error"]
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                workers = worker_peaks(app)
                split = sampler.stop()
                print(f"{label:8}: {len(reports)} feeds in {elapsed:.2f}s = {len(reports) / elapsed:.0f} feeds/s, "
                      f"{alerts_made(app)} alerts stored, "
                      f"{new / elapsed:.0f} new items/s, errors {len(errors)}, peak RSS {peak:.0f} MB "
                      f"(start {rss_start:.0f} MB; peak anonymous {split['RssAnon']} MB, file-backed {split['RssFile']} MB), "
                      f"parse workers' peak RSS {workers or 'none'} MB")
                if spent and new:
                    for step, seconds in spent.items():
                        print(f"    {step:34} {seconds / new * 1000:6.2f} ms/item")
                    spent.clear()
            app.close()
    finally:
        proc.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
