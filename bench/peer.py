"""wirewatch against the peer a Python user would pick (lemon24/reader), side by side on the same feeds.

    pip install -e '.[bench]'
    python bench/peer.py [--feeds 1000] [--items 20] [--rounds 1] [--cases distinct watchlist lookalike]
                         [--daemon] [--baseline CHECKOUT] [--keep DIR]

The feeds are generated here: `--feeds` feeds × `--items` items, each item 2.5–5 KB of HTML in 25
paragraphs that mix Chinese, English and Japanese sentences, and names one entity of the shared
corpus's watchlist (`../shared/corpus/entities.yaml`). Two sets are served:

    distinct    every item its own text (random words and characters)
    lookalike   item i of every feed is one of `--items` texts with other numbers in it, so each
                of those texts becomes a story of `--feeds` copies

They are served by `tests/feedserver.py` in a separate process on 127.0.0.1, speaking HTTP/1.0 like
`python -m http.server` (one connection per request), each feed with an ETag.

Each case runs whole processes on fresh SQLite files, wirewatch and reader taking turns (the order
flips every round) so both see the same minutes of a shared machine:

    wirewatch   `wirewatch poll` (migrations, feed sync, fetch, parse, clean, stories, match, alerts
                to a console channel, delivery) once for all new, then again for the 304 cycle
    reader      `make_reader`, `add_feed` for every feed, `update_feeds(workers=16)` (stores entries);
                then a second process with `update_feeds(workers=16)` for the 304 cycle

Cases: `distinct` (no watchlist), `watchlist` (distinct texts, the 34-entity watchlist: every item
matches and alerts), `lookalike` (look-alike texts with the watchlist). Reported per run: wall time
of the process, feeds/s, items stored, and peak RSS (`ru_maxrss` of the child from `wait4`; for
wirewatch also the peak of its parse worker, which is a separate process). `--daemon` also times
`wirewatch run`: every feed made due at once, the cycle ends when every feed has recorded a poll.
Figures go to bench/RESULTS.md with the machine's load average, which the run prints.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ENTITIES = Path(os.environ.get("WIREWATCH_CORPUS", ROOT.parent / "shared" / "corpus")) / "entities.yaml"
PARAGRAPHS = 25
_SYLLABLES = "ka ri to ne mo sa lu vi pe da zo ha ki ru fe no mi ta so be gu la xe po yu ci".split()
EN_WORDS = [a + b + c for a in _SYLLABLES for b in _SYLLABLES for c in _SYLLABLES[:8]]  # 5,408 made-up words
ZH_CHARS = [chr(cp) for cp in range(0x4E00, 0x4E00 + 3000)]
JA_KANA = [chr(cp) for cp in range(0x3041, 0x3094)] + [chr(cp) for cp in range(0x30A1, 0x30F5)]


# --- the feeds ----------------------------------------------------------------------------------------


def entity_names(path: Path = ENTITIES) -> list[str]:
    """One plain alias per entity of the watchlist (its first, which every entity has)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [str(e["aliases"][0]) for e in data["entities"]]


def _sentence(rng: random.Random, lang: str, size: int) -> str:
    """Random text of about `size` UTF-8 bytes in one language: no two sentences alike."""
    if lang == "en":
        words = [rng.choice(EN_WORDS) for _ in range(max(3, size // 7))]
        return " ".join(words).capitalize() + "."
    if lang == "zh":
        return "".join(rng.choice(ZH_CHARS) for _ in range(max(5, size // 3))) + "。"
    out = []
    for _ in range(max(5, size // 3)):
        out.append(rng.choice(ZH_CHARS) if rng.random() < 0.3 else rng.choice(JA_KANA))
    return "".join(out) + "。"


def _with_numbers(sentence: str, numbers: list[str]) -> str:
    """Put the numbers into the sentence at fixed places (a third and two thirds in)."""
    third = len(sentence) // 3
    return f"{sentence[:third]} {numbers[0]} {sentence[third:2 * third]} {numbers[1]} {sentence[2 * third:]}"


def _numbers(rng: random.Random) -> list[str]:
    return [f"{rng.uniform(-9, 9):.2f}%", f"{rng.randint(10, 99_999):,}"]


@dataclass
class Text:
    """One item's title and its paragraphs (numbers not yet put in for look-alike texts)."""

    title: str
    paragraphs: list[str]


def make_text(rng: random.Random, entity: str) -> Text:
    """A 2.5–5 KB item: 25 paragraphs cycling zh/en/ja; the entity named in the title and the 2nd paragraph."""
    target = rng.randint(2500, 5000) - 300  # room for the tags and numbers
    langs = ("zh", "en", "ja")
    paragraphs = [_sentence(rng, langs[p % 3], target // PARAGRAPHS) for p in range(PARAGRAPHS)]
    paragraphs[1] = f"{paragraphs[1]} {entity} {paragraphs[1][-12:]}"
    return Text(f"{entity} {_sentence(rng, 'en', 40)}", paragraphs)


def item_xml(feed: int, index: int, text: Text, rng: random.Random | None) -> str:
    """One RSS item; with `rng`, every paragraph and the title get numbers of their own (look-alike)."""
    title, paragraphs = text.title, text.paragraphs
    if rng is not None:
        title = _with_numbers(title, _numbers(rng))
        paragraphs = [_with_numbers(p, _numbers(rng)) for p in paragraphs]
    html = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<item><title>{title}</title><link>http://peer.invalid/{feed}/{index}</link>"
            f"<guid>peer-{feed}-{index}</guid><pubDate>Mon, 07 Dec 2026 09:30:00 +0000</pubDate>"
            f"<description><![CDATA[{html}]]></description></item>")


def feed_xml(feed: int, items: list[str]) -> bytes:
    """An RSS 2.0 document around the items."""
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>peer {feed}</title>'
            f"<link>http://peer.invalid/</link><description>bench</description>{''.join(items)}"
            f"</channel></rss>").encode()


def build_feeds(kind: str, feeds: int, items: int, seed: int = 22) -> dict[int, bytes]:
    """Every feed of one set: `distinct` (all texts differ) or `lookalike` (same texts, other numbers)."""
    names = entity_names()
    if kind == "distinct":
        rng = random.Random(seed)
        return {n: feed_xml(n, [item_xml(n, i, make_text(rng, names[(n * items + i) % len(names)]), None)
                                for i in range(items)]) for n in range(feeds)}
    bases = [make_text(random.Random(seed * 1000 + i), names[i % len(names)]) for i in range(items)]
    rng = random.Random(seed + 1)
    return {n: feed_xml(n, [item_xml(n, i, bases[i], rng) for i in range(items)]) for n in range(feeds)}


def serve(port_queue: Any, feeds: int, items: int) -> None:
    """The feed server's process: both sets at /distinct/N and /lookalike/N, HTTP/1.0, ETags."""
    from tests.feedserver import FeedServer

    server = FeedServer(protocol="HTTP/1.0", record=False)
    for kind in ("distinct", "lookalike"):
        for n, body in build_feeds(kind, feeds, items).items():
            server.add(f"/{kind}/{n}", body, etag=f'"{kind}-{n}"')
    server.serve_until_killed(port_queue)


# --- the runs -----------------------------------------------------------------------------------------


@dataclass
class Run:
    """One timed process."""

    tool: str
    case: str
    cycle: str
    seconds: float
    feeds: int
    stored: int
    rss_mb: float
    worker_mb: float | None = None

    @property
    def rate(self) -> float:
        """Feeds per second."""
        return self.feeds / self.seconds


def run_child(argv: list[str], cwd: Path, log: Path,
              env: dict[str, str] | None = None) -> tuple[float, float, int, float | None]:
    """Run a process to its end: wall seconds, peak RSS in MB (its own `ru_maxrss`), exit code, and the
    largest peak RSS among its own child processes (MB, None if it started none)."""
    with log.open("ab") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
        watcher = ChildPeak(proc.pid)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024, proc.returncode, watcher.stop()


READER_SCRIPT = textwrap.dedent("""
    import sys
    from reader import make_reader

    db, urls = sys.argv[1], sys.argv[2:]
    reader = make_reader(db)
    for url in urls:
        reader.add_feed(url, exist_ok=True)
    reader.update_feeds(workers=16)
    counts = reader.get_entry_counts()
    failed = sum(1 for f in reader.get_feeds() if f.last_exception is not None)
    print(f"entries={counts.total} failed={failed}")
    reader.close()
""")


def reader_run(work: Path, urls: list[str], case: str, cycle: str) -> Run:
    """One reader process on the case's SQLite file (created by the first)."""
    log = work / "reader.log"
    script = work / "reader_poll.py"
    script.write_text(READER_SCRIPT, encoding="utf-8")
    mark = log.stat().st_size if log.exists() else 0
    seconds, rss, code, _ = run_child([sys.executable, str(script), str(work / "reader.sqlite"), *urls], work, log)
    out = log.read_text(errors="replace")[mark:]
    if code != 0 or "failed=0" not in out:
        raise RuntimeError(f"reader {case} {cycle} failed ({code}):\n{out[-3000:]}")
    stored = int(out.rsplit("entries=", 1)[1].split()[0])
    return Run("reader", case, cycle, seconds, len(urls), stored, rss)


def write_config(work: Path, urls: list[str], watchlist: bool, concurrency: int, interval: str = "1h") -> Path:
    """A wirewatch.yaml for the case: SQLite in `work`, the feeds, and the watchlist to a console channel."""
    lines = [f"database: 'sqlite:///{work}/wirewatch.db'",
             f"defaults: {{interval: {interval}, jitter: 0}}",
             f"fetch: {{allow_private_networks: true, concurrency: {concurrency}, per_host: {concurrency}}}",
             "channels: {screen: {type: console}}"]
    if watchlist:
        data = yaml.safe_load(ENTITIES.read_text(encoding="utf-8"))
        data["channels"] = ["screen"]
        (work / "watchlist.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        lines.append("watchlists: [watchlist.yaml]")
    lines.append("feeds:")
    lines += [f"  - {{name: f{n}, url: '{url}'}}" for n, url in enumerate(urls)]
    config = work / "wirewatch.yaml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def stored_items(work: Path) -> int:
    """Items in the case's wirewatch database."""
    import sqlite3

    with sqlite3.connect(work / "wirewatch.db") as conn:
        return int(conn.execute("select count(*) from item").fetchone()[0])


class ChildPeak:
    """Peak RSS of a process's descendants (wirewatch's parse worker): a thread reads their VmHWM."""

    def __init__(self, pid: int) -> None:
        import threading

        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            for pid in _descendants(self.pid):
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        self.peak = max(self.peak, int(line.split()[1]) / 1024)

    def stop(self) -> float | None:
        """Stop watching; the peak in MB, None if no worker was seen."""
        self._stop.set()
        self._thread.join()
        return self.peak or None


def _descendants(pid: int) -> list[int]:
    """Descendants of `pid`, children first (from /proc/PID/task/*/children)."""
    out: list[int] = []
    frontier = [pid]
    while frontier:
        nxt = []
        for p in frontier:
            try:
                for task in Path(f"/proc/{p}/task").iterdir():
                    nxt += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
        out += nxt
        frontier = nxt
    return out


def wirewatch_run(work: Path, case: str, cycle: str, feeds: int, baseline: Path | None = None) -> Run:
    """One `wirewatch poll` process on the case's config; `baseline`: another checkout's code instead."""
    log = work / "wirewatch.log"
    mark = log.stat().st_size if log.exists() else 0
    env = None if baseline is None else {**os.environ, "PYTHONPATH": str(baseline)}
    seconds, rss, code, worker = run_child([sys.executable, "-m", "wirewatch.cli", "--config",
                                            str(work / "wirewatch.yaml"), "poll"], work, log, env)
    out = log.read_text(errors="replace")[mark:]
    if code != 0 or ": error " in out:
        raise RuntimeError(f"wirewatch {case} {cycle} failed ({code}):\n{out[-3000:]}")
    tool = "wirewatch" if baseline is None else "baseline"
    return Run(tool, case, cycle, seconds, feeds, stored_items(work), rss, worker)


CASES = {"distinct": ("distinct", False), "watchlist": ("distinct", True), "lookalike": ("lookalike", True)}


def run_case(case: str, port: int, args: argparse.Namespace, first: str, root: Path) -> list[Run]:
    """All new then 304, for both tools on fresh files, taking turns in the order `first` says."""
    kind, watchlist = CASES[case]
    urls = [f"http://127.0.0.1:{port}/{kind}/{n}" for n in range(args.feeds)]
    ww, rd, base = root / f"{case}-wirewatch", root / f"{case}-reader", root / f"{case}-baseline"
    for folder in (ww, rd, base):
        folder.mkdir(parents=True)
    write_config(ww, urls, watchlist, args.concurrency)
    write_config(base, urls, watchlist, args.concurrency)
    tools = {"wirewatch": lambda cycle: wirewatch_run(ww, case, cycle, args.feeds),
             "reader": lambda cycle: reader_run(rd, urls, case, cycle),
             "baseline": lambda cycle: wirewatch_run(base, case, cycle, args.feeds, args.baseline)}
    order = ["wirewatch", "reader"] if first == "wirewatch" else ["reader", "wirewatch"]
    if args.baseline:
        order.insert(1, "baseline")
    runs = []
    for cycle in ("all new", "all 304"):
        for tool in order:
            runs.append(tools[tool](cycle))
            print(f"  {describe(runs[-1])}  [load {load()}]", flush=True)
    return runs


def daemon_cycles(port: int, args: argparse.Namespace, root: Path) -> list[Run]:
    """`wirewatch run` on the watchlist case: time an all-new and a 304 cycle, every feed made due at once."""
    import sqlalchemy as sa

    from bench.scale import start_daemon, stop_daemon, wait_started, wait_until
    from wirewatch.config.clock import utcnow
    from wirewatch.ingest.store import FeedRow

    work = root / "daemon"
    work.mkdir(parents=True)
    urls = [f"http://127.0.0.1:{port}/distinct/{n}" for n in range(args.feeds)]
    config = write_config(work, urls, True, args.concurrency, interval="1h")
    prep = subprocess.run([sys.executable, "-m", "wirewatch.cli", "--config", str(config), "status"],
                          capture_output=True, text=True, timeout=300, cwd=work)
    if prep.returncode != 0:
        raise RuntimeError(prep.stderr)
    engine = sa.create_engine(f"sqlite:///{work}/wirewatch.db", connect_args={"timeout": 60})
    later = utcnow().replace(year=utcnow().year + 1)
    with engine.begin() as conn:
        conn.execute(sa.update(FeedRow).values(next_poll_at=later))
    proc = start_daemon(config, work / "daemon.log")
    runs = []
    try:
        wait_started(proc, work / "daemon.log")
        time.sleep(1)
        for cycle in ("all new", "all 304"):
            mark = utcnow()
            started = time.perf_counter()
            with engine.begin() as conn:
                conn.execute(sa.update(FeedRow).values(next_poll_at=mark))

            def done(mark: Any = mark) -> bool:
                with engine.connect() as conn:
                    count = conn.execute(sa.select(sa.func.count()).select_from(FeedRow)
                                         .where(FeedRow.last_polled_at >= mark)).scalar_one()  # type: ignore[operator]
                return int(count) >= args.feeds

            if not wait_until(done, 1800, every=0.1):
                raise RuntimeError(f"daemon {cycle}: did not finish")
            seconds = time.perf_counter() - started
            from bench.scale import rss_mb

            runs.append(Run("wirewatch run", "watchlist", cycle, seconds, args.feeds, stored_items(work),
                            rss_mb(proc.pid)))
            print(f"  {describe(runs[-1]).replace('peak RSS', 'RSS at the end')}  [load {load()}]", flush=True)
    finally:
        stop_daemon(proc)
        engine.dispose()
    return runs


# --- the report ---------------------------------------------------------------------------------------


def load() -> str:
    """The 1-minute load average, as `uptime` shows it."""
    return f"{os.getloadavg()[0]:.2f}"


def describe(run: Run) -> str:
    """One line for one process."""
    worker = f" (+ parse worker {run.worker_mb:.0f} MB)" if run.worker_mb else ""
    return (f"{run.tool:9} {run.case:9} {run.cycle:7}: {run.seconds:6.2f} s = {run.rate:6.1f} feeds/s, "
            f"{run.stored} stored, peak RSS {run.rss_mb:.0f} MB{worker}")


def summary(runs: list[Run]) -> str:
    """A markdown table: per case and cycle, both tools' feeds/s (range over rounds) and the ratio."""
    rows = ["| case | cycle | wirewatch feeds/s | reader feeds/s | ratio | wirewatch peak RSS | reader peak RSS "
            "| baseline feeds/s | baseline ratio |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    keys = sorted({(r.case, r.cycle) for r in runs if r.tool in ("wirewatch", "reader")},
                  key=lambda k: (list(CASES).index(k[0]), k[1] != "all new"))
    for case, cycle in keys:
        ww = [r for r in runs if r.tool == "wirewatch" and (r.case, r.cycle) == (case, cycle)]
        rd = [r for r in runs if r.tool == "reader" and (r.case, r.cycle) == (case, cycle)]
        ratios = [w.rate / r.rate for w, r in zip(ww, rd, strict=False)]

        def span(values: list[float], fmt: str = "{:.1f}") -> str:
            low, high = min(values), max(values)
            return fmt.format(low) if fmt.format(low) == fmt.format(high) else f"{fmt.format(low)}–{fmt.format(high)}"

        bl = [r for r in runs if r.tool == "baseline" and (r.case, r.cycle) == (case, cycle)]
        base = (f" {span([r.rate for r in bl])} | {span([b.rate / r.rate for b, r in zip(bl, rd, strict=False)], '{:.2f}')}× |"
                if bl else " – | – |")
        rows.append(f"| {case} | {cycle} | {span([r.rate for r in ww])} | {span([r.rate for r in rd])} | "
                    f"{span(ratios, '{:.2f}')}× | {span([r.rss_mb for r in ww], '{:.0f}')} MB | "
                    f"{span([r.rss_mb for r in rd], '{:.0f}')} MB |" + base)
    for run in runs:
        if run.tool == "wirewatch run":
            rows.append(f"\n`wirewatch run`, {run.case}, {run.cycle}: {run.seconds:.2f} s = {run.rate:.1f} feeds/s "
                        f"(RSS at the end {run.rss_mb:.0f} MB)")
    return "\n".join(rows)


def main() -> int:
    """Serve the feeds, run the cases round by round, print every run and the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--items", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=1, help="repeat every case; who goes first alternates")
    ap.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    ap.add_argument("--concurrency", type=int, default=16, help="wirewatch fetch.concurrency and per_host")
    ap.add_argument("--daemon", action="store_true", help="also time `wirewatch run` (watchlist case)")
    ap.add_argument("--baseline", type=Path, default=None,
                    help="also run another checkout's wirewatch (its folder on PYTHONPATH), between the two")
    ap.add_argument("--keep", type=Path, default=None, help="keep the databases and logs in this folder")
    args = ap.parse_args()

    import reader

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a killed run still stops its feed server
    queue: Any = multiprocessing.get_context("spawn").Queue()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(queue, args.feeds, args.items),
                                                          daemon=True)
    server.start()
    port = None
    while port is None:
        try:
            port = queue.get(timeout=1)
        except Exception:  # queue.Empty: still generating, unless the server died
            if not server.is_alive():
                raise RuntimeError("the feed server process died (see above)") from None
    print(f"{args.feeds} feeds × {args.items} items on 127.0.0.1:{port} (HTTP/1.0); reader {reader.__version__}; "
          f"{os.cpu_count()} CPUs; load {load()}", flush=True)
    runs: list[Run] = []
    try:
        with tempfile.TemporaryDirectory(prefix="wirewatch-peer-") as tmp:
            root = args.keep or Path(tmp)
            for rnd in range(args.rounds):
                first = "wirewatch" if rnd % 2 == 0 else "reader"
                for case in args.cases:
                    runs += run_case(case, port, args, first, root / f"round{rnd}")
            if args.daemon:
                runs += daemon_cycles(port, args, root / "round-daemon")
    finally:
        server.terminate()
    print()
    print(summary(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
