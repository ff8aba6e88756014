"""Scale-out benchmark: 1, 2 and 3 `wirewatch run` daemons sharing one PostgreSQL, 2,000 local feeds.

    python bench/scale.py [--feeds 2000] [--items 10] [--daemons 1 2 3] [--concurrency 16]

For each setup: a fresh PostgreSQL database on 127.0.0.1:5432, the feeds served from a separate
process, the daemons started as real processes. Two cycles are timed, each started by making every
feed due at once (the feeds' interval is 10 minutes, so no feed is polled twice in a cycle):

    all new   every feed has `--items` items never seen (fetch, parse, clean, group, store)
    all 304   every feed answers 304 Not Modified to the conditional GET (claim, fetch, record)

A cycle ends when every feed row records a poll after the cycle started. Reported per cycle:
feeds/s, the daemons' CPU use (% of one core, summed), and the scaling ratio against one daemon.
Also checked: every item stored once, no failed poll, every daemon exits 0 on SIGTERM.

The helpers here (start and stop daemons, read their RSS and CPU, a fresh database) are also used
by bench/latency.py and bench/soak.py.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.poll import feed_body  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


# --- daemons as processes ------------------------------------------------------------------------------


def start_daemon(config: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start `wirewatch run` on `config`; its output goes to `log`."""
    out = log.open("wb")
    try:
        return subprocess.Popen([sys.executable, "-m", "wirewatch.cli", "--config", str(config), "run"],
                                stdout=out, stderr=subprocess.STDOUT, cwd=config.parent)
    finally:
        out.close()  # the child holds its own copy


def wait_until(predicate: Callable[[], bool], timeout: float, every: float = 0.25) -> bool:
    """Poll `predicate` until it holds or `timeout` seconds pass; whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return predicate()


def wait_started(proc: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    """Wait for the daemon's start-up line; raise with its log if it died or took too long."""
    if not wait_until(lambda: proc.poll() is not None or "starting" in log.read_text(errors="replace"), timeout):
        raise RuntimeError(f"daemon did not start within {timeout:.0f}s:\n{log.read_text(errors='replace')[-3000:]}")
    if proc.poll() is not None:
        raise RuntimeError(f"daemon exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")


def stop_daemon(proc: subprocess.Popen[bytes], timeout: float = 60) -> int:
    """SIGTERM, then wait; the exit code (a daemon that hangs is killed and reported as -9)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
        return -9


def rss_mb(pid: int) -> float:
    """Resident set size of a process, in MB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


@contextmanager
def fresh_postgres(prefix: str = "wirewatch_bench") -> Iterator[str]:
    """A new PostgreSQL database on 127.0.0.1:5432 for one run; dropped afterwards."""
    from tests.conftest import create_pg_database, drop_pg_database

    url = create_pg_database(prefix)
    try:
        yield url
    finally:
        drop_pg_database(url)


def scalar(engine: sa.Engine, query: str, **params: Any) -> Any:
    """The single value a query returns."""
    with engine.connect() as conn:
        return conn.execute(sa.text(query), params).scalar_one()


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


# --- the feed server: a separate process, new items per generation ------------------------------------


def serve(port_queue: Any, generation: Synchronized[int], items: int) -> None:
    """Serve /feed/N: `items` items of the current generation, ETag per generation, 304 when it matches."""
    from tests.feedserver import FeedServer, Route

    cache: dict[tuple[int, int], bytes] = {}

    def feed(path: str) -> Route:
        n = int(path.rsplit("/", 1)[1])
        gen = generation.value
        body = cache.get((n, gen))
        if body is None:
            body = cache[(n, gen)] = feed_body(n + gen * 1_000_000, items)
        return Route(body=body, etag=f'"{n}-{gen}"', content_type="application/rss+xml")

    server = FeedServer(record=False)
    server.add_dynamic("/feed/", feed)
    server.serve_until_killed(port_queue)


# --- one setup -----------------------------------------------------------------------------------------


@dataclass
class Cycle:
    """One timed cycle of one setup."""

    daemons: int
    label: str
    feeds: int
    seconds: float
    cpu: float  # CPU seconds the daemons used during the cycle

    @property
    def rate(self) -> float:
        return self.feeds / self.seconds


def write_config(work: Path, db: str, port: int, feeds: int, concurrency: int) -> Path:
    lines = [f"  - {{name: f{n}, url: 'http://127.0.0.1:{port}/feed/{n}'}}" for n in range(feeds)]
    config = work / "wirewatch.yaml"
    config.write_text(
        f"database: '{db}'\n"
        "defaults: {interval: 10m, jitter: 0}\n"
        f"fetch: {{allow_private_networks: true, concurrency: {concurrency}, per_host: {concurrency}}}\n"
        "feeds:\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return config


def timed_cycle(engine: sa.Engine, procs: list[subprocess.Popen[bytes]], feeds: int, label: str,
                timeout: float) -> Cycle:
    """Make every feed due now; wait until each has recorded a poll since; time it and the daemons' CPU."""
    cpu0 = sum(cpu_seconds(p.pid) for p in procs)
    started = time.monotonic()
    with engine.begin() as conn:
        since = conn.execute(sa.text("update feed set next_poll_at = now() returning now()")).first()
    assert since is not None
    mark = since[0]

    def done() -> bool:
        return int(scalar(engine, "select count(*) from feed where last_polled_at >= :t", t=mark)) >= feeds

    if not wait_until(done, timeout, every=0.2):
        raise RuntimeError(f"{label}: cycle did not finish within {timeout:.0f}s")
    seconds = time.monotonic() - started
    return Cycle(len(procs), label, feeds, seconds, sum(cpu_seconds(p.pid) for p in procs) - cpu0)


def run_setup(daemons: int, port: int, generation: Synchronized[int], args: argparse.Namespace) -> list[Cycle]:
    """Start `daemons` daemons on a fresh database, time an all-new and an all-304 cycle, stop them."""
    with fresh_postgres() as db, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = write_config(work, db, port, args.feeds, args.concurrency)
        # schema, index scheme and feed rows first, with every feed parked far in the future
        # (`status` is read-only: App.open migrates and syncs the feed table)
        prep = subprocess.run([sys.executable, "-c", "import sys; from wirewatch.app import App; "
                               "App.open(sys.argv[1]).close()", str(config)],
                              capture_output=True, text=True, timeout=120)
        if prep.returncode != 0:
            raise RuntimeError(prep.stderr)
        engine = sa.create_engine(db)
        with engine.begin() as conn:
            conn.execute(sa.text("update feed set next_poll_at = now() + interval '1 hour'"))
        procs = [start_daemon(config, work / f"daemon-{i}.log") for i in range(daemons)]
        cycles: list[Cycle] = []
        try:
            for i, proc in enumerate(procs):
                wait_started(proc, work / f"daemon-{i}.log")
            time.sleep(1)
            generation.value += 1
            cycles.append(timed_cycle(engine, procs, args.feeds, "all new", args.timeout))
            stored = int(scalar(engine, "select count(*) from item"))
            distinct = int(scalar(engine, "select count(distinct (feed, guid)) from item"))
            cycles.append(timed_cycle(engine, procs, args.feeds, "all 304", args.timeout))
            errors = int(scalar(engine, "select count(*) from feed where consecutive_errors > 0"))
        finally:
            codes = [stop_daemon(p) for p in procs]
            engine.dispose()
        expected = args.feeds * args.items
        problems = []
        if stored != expected or distinct != expected:
            problems.append(f"items stored {stored} ({distinct} distinct), expected {expected}")
        if errors:
            problems.append(f"{errors} feeds failed")
        if codes != [0] * daemons:
            problems.append(f"exit codes {codes}")
        for i in range(daemons):
            text = (work / f"daemon-{i}.log").read_text(errors="replace")
            if "Traceback" in text or " ERROR " in text:
                problems.append(f"daemon {i} logged errors")
        if args.logs:
            args.logs.mkdir(parents=True, exist_ok=True)
            for i in range(daemons):
                shutil.copy(work / f"daemon-{i}.log", args.logs / f"setup{daemons}-daemon{i}.log")
        if problems:
            raise RuntimeError(f"{daemons} daemon(s): " + "; ".join(problems))
        return cycles


def main() -> int:
    """Run every setup and print one table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--feeds", type=int, default=2000)
    ap.add_argument("--items", type=int, default=10, help="items per feed in the all-new cycle")
    ap.add_argument("--daemons", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--concurrency", type=int, default=16, help="fetch.concurrency (and per_host) per daemon")
    ap.add_argument("--timeout", type=float, default=900, help="give up on a cycle after this many seconds")
    ap.add_argument("--logs", type=Path, help="keep the daemons' logs in this folder")
    args = ap.parse_args()

    ctx = multiprocessing.get_context("fork")
    generation: Synchronized[int] = ctx.Value("i", 0)
    queue = ctx.Queue()
    server = ctx.Process(target=serve, args=(queue, generation, args.items), daemon=True)
    server.start()
    port = int(queue.get(timeout=10))
    results: list[Cycle] = []
    try:
        for daemons in args.daemons:
            cycles = run_setup(daemons, port, generation, args)
            for c in cycles:
                print(f"{c.daemons} daemon(s) {c.label:8}: {c.feeds} feeds in {c.seconds:6.1f}s = "
                      f"{c.rate:6.1f} feeds/s, daemons' CPU {100 * c.cpu / c.seconds:4.0f}% of one core",
                      flush=True)
            results += cycles
    finally:
        server.terminate()
        server.join(timeout=10)
    base = {c.label: c.rate for c in results if c.daemons == args.daemons[0]}
    print(f"\nCPUs: {os.cpu_count()}; scaling against {args.daemons[0]} daemon(s):")
    for c in results:
        print(f"  {c.daemons} daemon(s) {c.label:8}: {c.rate / base[c.label]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
