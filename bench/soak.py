"""Soak run: `wirewatch run` for N minutes on 500 local feeds with churn and injected failures; RSS over time.

    python bench/soak.py [--minutes 10] [--feeds 500] [--interval 15] [--database sqlite|postgres]

The feeds are served from a separate process and change with the clock alone, so the run needs no
coordination and the expected result is known:

    churn feeds     every 4th feed gains an item every 20-80 s (newest 20 shown); every 5th new item
                    names a watched company, so alerts flow to a local webhook receiver
    static feeds    3 items, the same ETag throughout: 304 Not Modified
    failing feeds   every 50th feed (from the 8th) takes turns: 90 s healthy, 90 s failing, the failure
                    one of HTTP 500, HTTP 404, a body that is not a feed, an answer slower than the timeout
    dead feed       one URL where nothing listens

Publishing stops 30 s before the end so the last items can be fetched. Checked at the end: every
item of the healthy feeds stored once, every alert delivered, no failed poll and no logged error
except on the injected feeds, exit code 0 on SIGTERM. Reported: RSS at start, after the warm-up
(`--warmup`, default 60 s: caches, connection pools and the first full cycle), at the end and its
maximum, with growth from warm-up to end (target ≤ 10 %) and the post-warm-up trend in MB/min.
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.scale import fresh_postgres, rss_mb, scalar, start_daemon, stop_daemon, wait_started  # noqa: E402
from tests.receivers import Receiver  # noqa: E402

ALIAS = "Globex Corporation"
WINDOW = 20  # items a feed shows
FAIL_KINDS = ("500", "404", "not-a-feed", "slow")
FAIL_PHASE = 90.0


def churns(n: int) -> bool:
    return n % 4 == 0


def fails(n: int) -> bool:
    return n % 50 == 7


def period(n: int) -> float:
    return 20.0 + (n % 7) * 10.0


def published(n: int, t0: float, until: float) -> int:
    """How many items feed n has published by `until` (3 to start with)."""
    return 3 + (int((until - t0) // period(n)) if churns(n) else 0)


def failing(n: int, t0: float, now: float) -> str | None:
    """The failure feed n shows now, if any (the first phase is healthy)."""
    if not fails(n) or int((now - t0) // FAIL_PHASE) % 2 == 0:
        return None
    return FAIL_KINDS[(n // 50) % len(FAIL_KINDS)]


def feed_body(n: int, count: int) -> bytes:
    items = []
    for k in range(count - 1, max(count - WINDOW, 0) - 1, -1):
        words = " ".join(f"s{(n * 131 + k * 977 + j * 7919) % 50021}" for j in range(50))
        lead = f"{ALIAS} said " if k % 5 == 4 else "Traders said "
        items.append(f"<item><title>Soak {n}.{k}</title><link>http://soak.invalid/{n}/{k}</link>"
                     f"<guid isPermaLink=\"false\">soak-{n}-{k}</guid><pubDate>Fri, 27 Nov 2026 09:30:00 +0000</pubDate>"
                     f"<description><![CDATA[<p>{lead}{words}.</p>]]></description></item>")
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>soak {n}</title>'
            f"<link>http://soak.invalid/</link><description>s</description>{''.join(items)}</channel></rss>").encode()


def serve(port_queue: Any, t0: float, stop_publishing: float) -> None:
    """Serve /feed/N as the module docstring describes, from the clock alone (`tests/feedserver.py`)."""
    from tests.feedserver import FeedServer, Route

    def feed(path: str) -> Route:
        n = int(path.rsplit("/", 1)[1])
        now = time.time()
        kind = failing(n, t0, now)
        delay = 6.0 if kind == "slow" else 0.0
        if kind in ("500", "404"):
            return Route(body=b"failing on purpose", status=int(kind), content_type="text/plain", delay=delay)
        if kind == "not-a-feed":
            return Route(body=b"<html><body>maintenance</body></html>", content_type="text/html", delay=delay)
        count = published(n, t0, min(now, stop_publishing))
        return Route(body=feed_body(n, count), etag=f'"{n}-{count}"', content_type="application/rss+xml",
                     delay=delay)

    server = FeedServer(record=False)
    server.add_dynamic("/feed/", feed)
    server.serve_until_killed(port_queue)


def write_config(work: Path, db: str, port: int, feeds: int, interval: float, hook: str) -> Path:
    (work / "watch.yaml").write_text(
        f"watchlist: soak\nchannels: [hook]\nentities:\n  - {{id: GLOBEX, name: Globex, aliases: ['{ALIAS}']}}\n",
        encoding="utf-8")
    lines = [f"  - {{name: f{n}, url: 'http://127.0.0.1:{port}/feed/{n}'}}" for n in range(feeds)]
    lines.append("  - {name: dead, url: 'http://127.0.0.1:9/feed'}")
    config = work / "wirewatch.yaml"
    config.write_text(
        f"database: '{db}'\n"
        f"defaults: {{interval: {interval:g}s, jitter: 0.1}}\n"
        "fetch: {allow_private_networks: true, per_host: 16, timeout: 3s, connect_timeout: 2s, deadline: 5s, "
        "max_backoff: 1m}\n"
        "feeds:\n" + "\n".join(lines) + "\n"
        "watchlists: [watch.yaml]\n"
        f"channels:\n  hook: {{type: webhook, url: '{hook}', secret: 'whsec_c29hay1iZW5jaC1zZWNyZXQtMDEyMw=='}}\n",
        encoding="utf-8")
    return config


def trend(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of RSS over time, MB per minute."""
    if len(samples) < 2:
        return 0.0
    mean_t = sum(t for t, _ in samples) / len(samples)
    mean_r = sum(r for _, r in samples) / len(samples)
    num = sum((t - mean_t) * (r - mean_r) for t, r in samples)
    den = sum((t - mean_t) ** 2 for t, _ in samples) or 1.0
    return num / den * 60


def check(engine: sa.Engine, args: argparse.Namespace, t0: float, stop_publishing: float,
          log_text: str, code: int, receiver: Receiver) -> list[str]:
    """What went wrong, compared with what the feeds published and what was injected."""
    injected = {f"f{n}" for n in range(args.feeds) if fails(n)} | {"dead"}
    problems = []
    stored = {(f, g) for f, g in engine.connect().execute(sa.text("select feed, guid from item"))}
    expected = {(f"f{n}", f"soak-{n}-{k}") for n in range(args.feeds) if not fails(n)
                for k in range(published(n, t0, stop_publishing))}
    if not expected <= stored:
        problems.append(f"{len(expected - stored)} published items never stored")
    if int(scalar(engine, "select count(*) - (select count(*) from (select distinct feed, guid from item) d) from item")):
        problems.append("items stored twice")
    undelivered = int(scalar(engine, "select count(*) from alert_deliveries where state <> 'delivered'"))
    if undelivered:
        problems.append(f"{undelivered} alerts not delivered")
    alerts = int(scalar(engine, "select count(*) from alerts"))
    if len({r["headers"].get("webhook-id") for r in receiver.delivered()}) < alerts:
        problems.append("alerts missing at the receiver")
    failed = {m.group(1) for m in re.finditer(r"poll (\S+) error", log_text)}
    if failed - injected:
        problems.append(f"polls failed on feeds without injected failures: {sorted(failed - injected)[:5]}")
    if " ERROR " in log_text or "Traceback" in log_text:
        problems.append("errors logged: " + next(line for line in log_text.splitlines()
                                                 if " ERROR " in line or "Traceback" in line)[:300])
    if code != 0:
        problems.append(f"exit code {code}")
    return problems


def main() -> int:
    """Run the soak, sample RSS, print the figures; exit 1 on any problem."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--feeds", type=int, default=500)
    ap.add_argument("--interval", type=float, default=15.0, help="poll interval of every feed, seconds")
    ap.add_argument("--warmup", type=float, default=60.0, help="seconds before the baseline RSS sample")
    ap.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    args = ap.parse_args()

    duration = args.minutes * 60
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        db = (stack.enter_context(fresh_postgres()) if args.database == "postgres"
              else f"sqlite:///{work / 'wirewatch.db'}")
        receiver = stack.enter_context(Receiver())
        t0 = time.time()
        stop_publishing = t0 + duration - 30
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        server = ctx.Process(target=serve, args=(queue, t0, stop_publishing), daemon=True)
        server.start()
        stack.callback(server.join, 10)
        stack.callback(server.terminate)
        config = write_config(work, db, int(queue.get(timeout=10)), args.feeds, args.interval, receiver.url)
        log = work / "daemon.log"
        proc = start_daemon(config, log)
        samples: list[tuple[float, float]] = []
        try:
            wait_started(proc, log)
            while time.time() < t0 + duration and proc.poll() is None:
                samples.append((time.time() - t0, rss_mb(proc.pid)))
                time.sleep(5)
            samples.append((time.time() - t0, rss_mb(proc.pid)))
        finally:
            code = stop_daemon(proc)
        log_text = log.read_text(errors="replace")
        engine = sa.create_engine(db)
        try:
            problems = check(engine, args, t0, stop_publishing, log_text, code, receiver)
            items = int(scalar(engine, "select count(*) from item"))
            alerts = int(scalar(engine, "select count(*) from alerts"))
        finally:
            engine.dispose()

    warm = [s for s in samples if s[0] >= args.warmup]
    base = warm[0][1] if warm else samples[0][1]
    end = samples[-1][1]
    growth = (end - base) / base * 100
    polls = len(re.findall(r" poll \S+ (?:ok|not-modified|error) ", log_text))
    errors = len(re.findall(r" poll \S+ error ", log_text))
    print(f"{args.database}: {args.minutes:g} min, {args.feeds} feeds + 1 dead, interval {args.interval:g}s: "
          f"{polls} polls ({errors} failed, all on injected feeds unless listed below), {items} items, "
          f"{alerts} alerts, {len(receiver.delivered())} webhook requests")
    print(f"RSS: start {samples[0][1]:.0f} MB, after warm-up ({args.warmup:.0f}s) {base:.0f} MB, "
          f"end {end:.0f} MB, max {max(r for _, r in samples):.0f} MB; growth {growth:+.1f}% "
          f"(target ≤ 10%: {'met' if growth <= 10 else 'MISSED'}), trend {trend(warm):+.2f} MB/min")
    for problem in problems:
        print(f"problem: {problem}")
    return 1 if problems or growth > 10 else 0


if __name__ == "__main__":
    sys.exit(main())
