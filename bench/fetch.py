"""Fetch throughput against local servers for several global caps, to choose `fetch.concurrency`.

Run: `python -m bench.fetch [--hosts 40] [--feeds 400] [--latency 0.1] [--size 20000]`.
Each of `--hosts` FeedServers on 127.0.0.1 answers after `--latency` seconds (a stand-in for
a remote server's think time plus network round trips) with a `--size`-byte gzip-able body;
`--feeds` fetches are spread over the hosts, per_host stays at its default of 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import time

from tests.feedserver import FeedServer
from wirewatch.config.models import FetchConfig
from wirewatch.ingest.fetch import Fetcher


async def run_once(urls: list[str], concurrency: int) -> tuple[float, int]:
    """Fetch every URL with one Fetcher; return seconds taken and bytes read."""
    config = FetchConfig(allow_private_networks=True, concurrency=concurrency)
    async with Fetcher(config) as fetcher:
        started = time.perf_counter()
        results = await asyncio.gather(*(fetcher.fetch(u) for u in urls))
        return time.perf_counter() - started, sum(r.bytes_read for r in results)


def main() -> None:
    """Print one line per global cap: feeds/s, MB/s read, peak RSS."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=40)
    parser.add_argument("--feeds", type=int, default=400)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--caps", default="8,16,32,64")
    args = parser.parse_args()
    body = (b"<item><title>benchmark item</title><description>" + b"x" * 200 + b"</description></item>") * (
        args.size // 250
    )
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(FeedServer()) for _ in range(args.hosts)]
        for server in servers:
            server.add("/feed.xml", body, delay=args.latency, gzip=True)
        urls = [servers[i % args.hosts].url("/feed.xml") for i in range(args.feeds)]
        print(f"{args.feeds} fetches over {args.hosts} hosts, {args.latency * 1000:.0f} ms latency, per_host=2")
        for cap in (int(c) for c in args.caps.split(",")):
            seconds, read = asyncio.run(run_once(urls, cap))
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"concurrency={cap:3d}: {args.feeds / seconds:7.1f} feeds/s, "
                  f"{read / seconds / 1e6:6.2f} MB/s on the wire, {seconds:5.2f} s, peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
