"""Benchmark of the alert outbox: create N alerts, then deliver them as signed webhooks to a local receiver.

    python bench/deliver.py [--alerts 2000] [--limit 200] [--concurrency 32 64] [--latency 0 0.05]

SQLite outbox (the daemon's engine: WAL, BEGIN IMMEDIATE) in a temporary folder, one webhook
channel with a secret, the threaded test receiver on 127.0.0.1 (optionally answering after
`--latency` seconds). Each row of the output is one run: alerts created per second (one
`create_alerts` call per item in one transaction each) and deliveries per second (worker passes
of `deliver_due` until nothing is due). Every delivery is checked: one request per alert, a
unique webhook-id each, signatures verified with the `standardwebhooks` package.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlmodel import Session, SQLModel  # noqa: E402
from standardwebhooks import Webhook  # noqa: E402

from tests.receivers import Receiver, Reply  # noqa: E402
from tests.test_outbox_helpers import make_item, make_match, make_story  # noqa: E402
from wirewatch.alerts.create import create_alerts  # noqa: E402
from wirewatch.alerts.deliver import deliver_due  # noqa: E402
from wirewatch.alerts.outbox import Outbox  # noqa: E402
from wirewatch.alerts.route import build_channels, close_channels  # noqa: E402
from wirewatch.alerts.tables import ALERTS, ATTEMPTS, CHANNEL_STATES, DELIVERIES, DIGESTS  # noqa: E402
from wirewatch.config.models import RetryConfig, WebhookChannel  # noqa: E402
from wirewatch.db import make_engine  # noqa: E402
from wirewatch.gateway import Gateway  # noqa: E402

SECRET = "whsec_" + base64.b64encode(b"wirewatch-bench-secret-0123456789").decode()


def _serve(latency: float, pipe: Connection) -> None:
    with Receiver(Reply(200, delay=latency)) as receiver:
        pipe.send(receiver.url)
        pipe.recv()  # until told to stop
        pipe.send(receiver.delivered())


@contextmanager
def remote_receiver(latency: float) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The test receiver in its own process (as a real receiver would be); fills the list on exit."""
    ours, theirs = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_serve, args=(latency, theirs), daemon=True)
    process.start()
    received: list[dict[str, Any]] = []
    try:
        yield ours.recv(), received
    finally:
        ours.send("stop")
        received.extend(ours.recv())
        process.join(timeout=10)


def run(alerts: int, limit: int, concurrency: int, latency: float) -> dict[str, float]:
    """One run on a fresh database; returns rates and checks."""
    with tempfile.TemporaryDirectory() as folder, remote_receiver(latency) as (url, requests):
        engine = make_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        SQLModel.metadata.create_all(engine, tables=[ALERTS, DIGESTS, DELIVERIES, CHANNEL_STATES, ATTEMPTS])
        routes = {"acme": ["hook"]}
        start = time.perf_counter()
        for n in range(alerts):
            with Session(engine) as session:
                create_alerts(session, make_item(n, text="Acme Corp beat estimates. " * 40), make_story(n),
                              [make_match(mentions=3)], routes)
                session.commit()
        created = time.perf_counter() - start
        configs = {"hook": WebhookChannel(type="webhook", url=url, secret=SECRET)}
        outbox = Outbox(engine, "bench", RetryConfig(), channels=configs)

        async def drain() -> int:
            channels = build_channels(configs)
            gateway = Gateway(engine)
            passes = 0
            try:
                while (await deliver_due(outbox, channels, limit=limit, concurrency=concurrency, db=gateway))["claimed"]:
                    passes += 1
            finally:
                await close_channels(channels)
                gateway.close()
            return passes

        start = time.perf_counter()
        passes = asyncio.run(drain())
        delivered = time.perf_counter() - start
        states = {d.state for d in outbox.list_deliveries(limit=alerts + 1)}
        engine.dispose()
    ids = {r["headers"]["webhook-id"] for r in requests}
    verifier = Webhook(SECRET)
    for r in requests:
        verifier.verify(r["body"], r["headers"])
    assert len(requests) == alerts == len(ids), (len(requests), len(ids))
    assert states == {"delivered"}, states
    return {"created_per_s": alerts / created, "delivered_per_s": alerts / delivered, "passes": passes}


def main() -> int:
    """Run the grid of settings and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=int, default=2000)
    parser.add_argument("--limit", type=int, default=200, help="deliveries claimed per worker pass")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16])
    parser.add_argument("--latency", type=float, nargs="+", default=[0.0], help="receiver answer delay, seconds")
    args = parser.parse_args()
    print("| receiver latency | concurrency | alerts | created/s | delivered/s | passes |")
    print("| --- | --- | --- | --- | --- | --- |")
    for latency in args.latency:
        for concurrency in args.concurrency:
            r = run(args.alerts, args.limit, concurrency, latency)
            print(f"| {latency * 1000:.0f} ms | {concurrency} | {args.alerts} | {r['created_per_s']:.0f} "
                  f"| {r['delivered_per_s']:.0f} | {r['passes']:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
