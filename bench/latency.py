"""Latency benchmark: from an item's publication to its alert arriving at a webhook, through `wirewatch run`.

    python bench/latency.py [--items 40] [--every 3] [--interval 10] [--database sqlite|postgres]

One local feed (127.0.0.1) gains a new item every `--every` seconds; every item names a watched
company, so each one is a story that must be alerted. The daemon runs as a real process, polls the
feed every `--interval` seconds (no jitter) and sends each alert to a local webhook receiver, which
notes when it arrived. Latency is arrival minus the moment the item appeared in the feed; publication
times fall evenly over the poll cycle, so the mean wait for the next poll is half the interval.
Target: p95 ≤ interval + 2 s. Every item must be alerted exactly once (by alert id) for the run to count.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scale import fresh_postgres, percentile, start_daemon, stop_daemon, wait_started, wait_until  # noqa: E402
from tests.feedserver import FeedServer  # noqa: E402
from tests.helpers import rss  # noqa: E402
from tests.receivers import Receiver  # noqa: E402

ALIAS = "Globex Corporation"


class TimedReceiver(Receiver):
    """The test webhook receiver, also noting when each request arrived."""

    def record(self, request: dict[str, Any]) -> None:
        request["arrived"] = time.time()
        super().record(request)


def item(n: int) -> dict[str, str]:
    """Item number n: its own story (distinct words), naming the watched company."""
    words = " ".join(f"w{(n * 7919 + k * 104729) % 99991}" for k in range(60))
    return {"title": f"{ALIAS} note {n}", "link": f"http://latency.invalid/{n}", "guid": f"lat-{n}",
            "body": f"<p>{ALIAS} said today {words}.</p>"}


def write_config(work: Path, db: str, feed_url: str, hook: str, interval: float) -> Path:
    (work / "watch.yaml").write_text(
        f"watchlist: latency\nchannels: [hook]\nentities:\n  - {{id: GLOBEX, name: Globex, aliases: ['{ALIAS}']}}\n",
        encoding="utf-8")
    config = work / "wirewatch.yaml"
    config.write_text(
        f"database: '{db}'\n"
        f"defaults: {{interval: {interval:g}s, jitter: 0}}\n"
        "fetch: {allow_private_networks: true}\n"
        f"feeds:\n  - {{name: wire, url: '{feed_url}'}}\n"
        "watchlists: [watch.yaml]\n"
        f"channels:\n  hook: {{type: webhook, url: '{hook}', secret: 'whsec_bGF0ZW5jeS1iZW5jaC1zZWNyZXQ='}}\n",
        encoding="utf-8")
    return config


def main() -> int:
    """Publish, collect arrivals, print the figures; exit 1 if an alert is missing or repeated."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=40, help="items published during the run")
    ap.add_argument("--every", type=float, default=3.0, help="seconds between new items")
    ap.add_argument("--interval", type=float, default=10.0, help="the feed's poll interval, seconds")
    ap.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    args = ap.parse_args()

    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        db = (stack.enter_context(fresh_postgres()) if args.database == "postgres"
              else f"sqlite:///{work / 'wirewatch.db'}")
        server = stack.enter_context(FeedServer())
        receiver = stack.enter_context(TimedReceiver())
        items: list[dict[str, str]] = []
        server.add("/wire.xml", rss(items), etag='"0"')
        config = write_config(work, db, server.url("/wire.xml"), receiver.url, args.interval)
        log = work / "daemon.log"
        proc = start_daemon(config, log)
        try:
            wait_started(proc, log)
            if not wait_until(lambda: server.hits("/wire.xml") > 0, 60):
                raise RuntimeError("the daemon never polled the feed")
            published: dict[str, float] = {}
            for n in range(args.items):
                items.insert(0, item(n))
                server.add("/wire.xml", rss(items[:50]), etag=f'"{n + 1}"')
                published[f"lat-{n}"] = time.time()
                time.sleep(args.every)
            wait_until(lambda: len(receiver.delivered()) >= args.items, args.interval + 30)
        finally:
            code = stop_daemon(proc)
        arrivals: dict[str, list[float]] = {}
        alert_ids: dict[str, set[str]] = {}
        for request in receiver.delivered():
            body = json.loads(request["body"])
            guid = body["item"]["guid"]
            arrivals.setdefault(guid, []).append(request["arrived"])
            alert_ids.setdefault(guid, set()).add(body["id"])
        text = log.read_text(errors="replace")

    latencies = [min(arrivals[g]) - t for g, t in published.items() if g in arrivals]
    missing = sorted(set(published) - set(arrivals))
    repeated = sorted(g for g, ids in alert_ids.items() if len(ids) > 1)
    p50, p95, worst = percentile(latencies, 50), percentile(latencies, 95), max(latencies, default=float("nan"))
    print(f"{args.database}: {len(latencies)}/{len(published)} items alerted, one new item every {args.every:g}s, "
          f"poll interval {args.interval:g}s")
    print(f"publish → webhook: p50 {p50:.2f}s  p95 {p95:.2f}s  max {worst:.2f}s  "
          f"(target p95 ≤ {args.interval + 2:g}s: {'met' if p95 <= args.interval + 2 else 'MISSED'})")
    problems = []
    if missing:
        problems.append(f"never alerted: {missing[:5]}")
    if repeated:
        problems.append(f"alerted twice: {repeated[:5]}")
    if code != 0:
        problems.append(f"daemon exit code {code}")
    if "Traceback" in text or " ERROR " in text:
        problems.append("the daemon logged errors")
    for problem in problems:
        print(f"problem: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
