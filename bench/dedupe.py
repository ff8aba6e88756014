"""Benchmark of story grouping (`ingest.dedupe`): per-item cost at scale, and robustness on the corpus.

    python bench/dedupe.py speed   [--sizes 10000,100000,1000000] [--queries 2000] [--workers 2]
                                   [--index memory|store|MODULE:CLASS] [--index-arg ARG] [--peer-max N]
    python bench/dedupe.py quality [--corpus ../shared/corpus] [--trials 6]

`speed` fills an index with synthetic items (40% Chinese with some Latin tokens, 60% Latin; 10% of
them near-copies of an earlier item), growing it through each size, and at each size times the
per-item flow for `--queries` new items (30% near-copies of stored items): `signature` +
`event_signature` + `index.candidates` + `decide` with event conflicts checked (`--no-events`: the
flow before event signatures, without the extraction and the checks; `--event-in-prepare`: the
extraction is done before timing, as the pipeline does it in the prepare step; `--interleave-before`:
then each query once more through this flow and once through the flow before #20 — the original
tokenising, no events — in turn, on the same index, and both medians and their ratio are printed). Queries are not added, so every size sees the same queries. After each fill the index is moved
out of the garbage collector's generations (`gc.freeze`), so its scans do not land on queries.
`--index store` runs the same flow on `ingest.store.StoryIndex` over an SQLite file migrated to head
(`--index-arg PATH`, default a temporary file; `--sqlite-cache-mb` sets its page cache);
`--index MODULE:CLASS` plugs in any other index with
`add(item_id, story_id, sig, text_len)` / `candidates(sig)`; CLASS is called with `--index-arg` when
given, else with no argument. The peer runs the same items through `datasketch.MinHashLSH`
(same 32x3 banding, datasketch's own MinHash) and the same `decide`.

`features` fills the cross-language feature index (`story_feature`, SQLite) with synthetic items of
three headline figures each, drawn from a skewed vocabulary of money, percentage and count figures,
(a third each zh, ja, Latin) and times `ingest.storystore.load_event_candidates` for one Japanese item's
figures at each size.

`quality` runs the shared corpus's gold texts, damaged (re-broken paragraphs, a leftover boilerplate
line, a dateline, 1% words replaced, then 0/2/5% of characters replaced), through `MemoryIndex` +
`decide` for shingle sizes n = 2, 3, 4 and prints pairwise dedup precision/recall.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import itertools
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from multiprocessing import Pool
from pathlib import Path
from typing import Any, Protocol

from wirewatch.ingest import dedupe
from wirewatch.ingest.dedupe import Candidate, Signature
from wirewatch.ingest.event import event_signature

SEED = 1128
_SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]
_HAN = [chr(0x4E00 + 5 * k) for k in range(3500)]
_BOILER = ["责任编辑：李明", "免责声明：本文观点仅代表作者本人，不构成投资建议。", "(Reporting by Staff; Editing by Desk)",
           "Read more: Markets live coverage"]


class BandIndex(Protocol):
    """What the benchmark needs of an index: the store's flow."""

    def add(self, item_id: int, story_id: int, sig: Signature, text_len: int, event: str | None = None) -> None: ...

    def candidates(self, sig: Signature) -> list[Candidate]: ...


class Synth:
    """Deterministic synthetic news items: item i is the same text in every run and process."""

    def __init__(self, seed: int = SEED) -> None:
        rng = random.Random(seed)
        self.seed = seed
        self.words = sorted({"".join(rng.choices(_SYLLABLES, k=rng.randint(1, 4))) for _ in range(40000)})
        rng.shuffle(self.words)
        self.word_cum = list(itertools.accumulate(1.0 / (r + 1) for r in range(len(self.words))))
        self.han_cum = list(itertools.accumulate(1.0 / (r + 1) ** 0.9 for r in range(len(_HAN))))

    def fresh(self, i: int) -> str:
        """A new article: Chinese (40%) or Latin, three to six paragraphs."""
        rng = random.Random(self.seed * 1_000_003 + i)
        paragraphs = []
        for _ in range(rng.randint(3, 6)):
            if i % 5 < 2:
                chars = rng.choices(_HAN, cum_weights=self.han_cum, k=rng.randint(50, 120))
                chars.insert(rng.randrange(len(chars)), f"{rng.choice(self.words).upper()}{rng.randint(1, 999)}")
                paragraphs.append("".join(chars) + "。")
            else:
                words = rng.choices(self.words, cum_weights=self.word_cum, k=rng.randint(25, 60))
                paragraphs.append(" ".join(words).capitalize() + ".")
        return "\n\n".join(paragraphs)

    def near_copy(self, text: str, i: int) -> str:
        """A syndicated copy: paragraphs re-broken, 2% of tokens changed, a boilerplate line added."""
        rng = random.Random(self.seed * 7_000_003 + i)
        tokens = text.split(" ") if text.isascii() else list(text)
        tokens = [rng.choice(tokens) if rng.random() < 0.02 else t for t in tokens]
        copy = (" " if text.isascii() else "").join(tokens).replace("\n\n", rng.choice(["\n", " ", "\n\n"]))
        return copy + "\n\n" + rng.choice(_BOILER)

    def stored(self, i: int) -> tuple[str, int]:
        """Stored item i and its story: every tenth item copies an earlier one."""
        if i >= 10 and i % 10 == 3:
            source = random.Random(self.seed + i).randrange(max(0, i - 5000), i)
            text, story = self.stored(source)
            return self.near_copy(text, i), story
        return self.fresh(i), i

    def query(self, q: int) -> tuple[str, int | None]:
        """Query q: 30% near-copies of one of the first 10k stored items (expected story), else new."""
        if q % 10 < 3:
            text, story = self.stored(random.Random(self.seed - q).randrange(10000))
            return self.near_copy(text, 10**9 + q), story
        return self.fresh(10**8 + q), None


_SYNTH: Synth | None = None


def _synth() -> Synth:
    global _SYNTH
    if _SYNTH is None:
        _SYNTH = Synth()
    return _SYNTH


def _sign_ours(ids: range) -> list[tuple[int, int, bytes, int, str | None]]:
    out = []
    for i in ids:
        text, story = _synth().stored(i)
        out.append((i, story, dedupe.signature(text).to_bytes(), len(text), event_signature("", text).to_json()))
    return out


def _sign_peer(ids: range) -> list[tuple[int, int, Any, int]]:
    out = []
    for i in ids:
        text, story = _synth().stored(i)
        out.append((i, story, _peer_minhash(text).hashvalues, len(text)))
    return out


def _chunks(start: int, stop: int, size: int = 2000) -> Iterator[range]:
    for low in range(start, stop, size):
        yield range(low, min(stop, low + size))


def _peer_minhash(text: str) -> Any:
    from datasketch import MinHash

    minhash = MinHash(num_perm=dedupe.NUM_PERM, seed=1)
    minhash.update_batch([s.encode("utf-8") for s in dedupe.shingles(text)])
    return minhash


class PeerIndex:
    """datasketch.MinHashLSH with 32x3 bands; signatures kept in one numpy matrix for verification."""

    def __init__(self, capacity: int) -> None:
        import numpy as np
        from datasketch import MinHashLSH

        sample = _peer_minhash("")
        self.scheme = sample.scheme
        self.lsh = MinHashLSH(num_perm=dedupe.NUM_PERM, params=(dedupe.BANDS, dedupe.ROWS))
        self.values = np.zeros((capacity, dedupe.NUM_PERM), dtype=sample.hashvalues.dtype)
        self.meta: dict[int, tuple[int, int]] = {}

    def add_values(self, item_id: int, story_id: int, values: Any, text_len: int) -> None:
        """Insert precomputed datasketch hash values."""
        from datasketch import LeanMinHash

        self.values[item_id] = values
        self.meta[item_id] = (story_id, text_len)
        self.lsh.insert(item_id, LeanMinHash(seed=1, hashvalues=values, scheme=self.scheme), check_duplication=False)

    def query(self, text: str) -> tuple[Signature, list[Candidate]]:
        """The peer's signature of `text` and its verified-ready candidates."""
        minhash = _peer_minhash(text)
        found = []
        for item_id in self.lsh.query(minhash):
            story_id, text_len = self.meta[item_id]
            found.append(Candidate(story_id, item_id, Signature(tuple(self.values[item_id].tolist())), text_len))
        return Signature(tuple(minhash.hashvalues.tolist())), found


class StoreIndex:
    """`ingest.store.StoryIndex` on an SQLite file migrated to head, behind the MemoryIndex methods."""

    def __init__(self, path: str | None = None, cache_mb: int = 0) -> None:
        from sqlalchemy import event
        from sqlmodel import Session

        from wirewatch.db import make_engine, upgrade
        from wirewatch.ingest.storystore import StoryIndex

        self.folder = None if path is not None else tempfile.mkdtemp(prefix="dedupe-bench-")
        engine = make_engine(f"sqlite:///{path or Path(str(self.folder)) / 'bench.db'}")
        if cache_mb:
            event.listen(engine, "connect", lambda conn, _rec: conn.execute(f"PRAGMA cache_size=-{cache_mb * 1024}"))
        upgrade(engine)
        self.engine = engine
        self.session = Session(engine)
        self.now = datetime.now(UTC)
        self.index = StoryIndex(self.session, window=10 * 365 * 86400.0, now=self.now)
        self.pending = 0

    def add(self, item_id: int, story_id: int, sig: Signature, text_len: int, event: str | None = None) -> None:
        """Insert through the store, committing every 5,000 items."""
        self.index.add(item_id, story_id, sig, text_len, event, self.now)
        self.pending += 1
        if self.pending >= 5000:
            self.session.commit()
            self.pending = 0

    def candidates(self, sig: Signature) -> list[Candidate]:
        """The store's band look-up."""
        if self.pending:
            self.session.commit()
            self.pending = 0
        return self.index.candidates(sig)

    def close(self) -> None:
        """Close the session and remove the temporary database, if one was made."""
        self.session.close()
        self.engine.dispose()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def _make_index(spec: str, arg: str | None, cache_mb: int = 0) -> BandIndex:
    if spec == "memory":
        return dedupe.MemoryIndex()
    if spec == "store":
        return StoreIndex(arg, cache_mb)
    module_name, _, class_name = spec.partition(":")
    factory: Callable[..., BandIndex] = getattr(importlib.import_module(module_name), class_name)
    return factory(arg) if arg is not None else factory()


def _time_queries(run_one: Callable[[str], dedupe.Decision], queries: Sequence[tuple[str, int | None]]) -> dict[str, float]:
    times, joined, false_joins = [], 0, 0
    for text, expected in queries:
        start = time.perf_counter_ns()
        decision = run_one(text)
        times.append(time.perf_counter_ns() - start)
        if expected is not None:
            joined += decision.story_id == expected
        else:
            false_joins += decision.story_id is not None
    copies = sum(expected is not None for _, expected in queries)
    times.sort()
    return {
        "median_us": statistics.median(times) / 1000,
        "p90_us": times[int(len(times) * 0.9)] / 1000,
        "items_per_s": len(times) / (sum(times) / 1e9),
        "copies_joined": joined / copies if copies else 1.0,
        "false_joins": false_joins / (len(queries) - copies) if len(queries) > copies else 0.0,
    }


def _signature_before(text: str) -> Signature:
    """The MinHash signature made as before #20: `unicodedata.normalize` and one `_TOKEN` match per CJK
    character (the same values as `dedupe.signature`: `tests/test_dedupe_reference.py`)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    if not unicodedata.is_normalized("NFKC", folded):
        folded = unicodedata.normalize("NFKC", folded)
    return dedupe._signature_of(dedupe._ngrams(dedupe._TOKEN.findall(folded), dedupe.SHINGLE_N))


def _time_pairs(run_one: Callable[[str], dedupe.Decision], before: Callable[[str], dedupe.Decision],
                queries: Sequence[tuple[str, int | None]]) -> dict[str, float]:
    """Each query through `before` and `run_one` in turn (which goes first alternates): both medians, their ratio."""
    ours, theirs = [], []
    for q, (text, _) in enumerate(queries):
        for flow in ((before, run_one) if q % 2 else (run_one, before)):
            start = time.perf_counter_ns()
            flow(text)
            (theirs if flow is before else ours).append(time.perf_counter_ns() - start)
    median, median_before = statistics.median(ours) / 1000, statistics.median(theirs) / 1000
    return {"paired_median_us": median, "before_median_us": median_before, "ratio": median / median_before,
            "mean_ratio": sum(ours) / sum(theirs)}


def _fill(pool: Any, worker: Callable[[range], list[Any]], add: Callable[..., None], start: int, stop: int) -> float:
    began = time.perf_counter()
    for batch in pool.imap(worker, _chunks(start, stop)):
        for row in batch:
            add(*row)
    return time.perf_counter() - began


def _grow(
    pool: Any,
    label: str,
    sizes: list[int],
    queries: Sequence[tuple[str, int | None]],
    worker: Callable[[range], list[Any]],
    add: Callable[..., None],
    run_one: Callable[[str], dedupe.Decision],
    before: Callable[[str], dedupe.Decision] | None = None,
) -> dict[int, dict[str, float]]:
    """Fill one index through `sizes`, timing the queries at each size (and `before` beside them, if given)."""
    results, filled = {}, 0
    for size in sizes:
        fill_s = _fill(pool, worker, add, filled, size)
        filled = size
        gc.collect()
        gc.freeze()  # the filled index is long-lived: keep it out of the collector's scans, as a daemon would
        results[size] = {**_time_queries(run_one, queries), "fill_s": fill_s}
        if before is not None:
            results[size].update(_time_pairs(run_one, before, queries))
        print(f"{label:10} {size:>9,}: {results[size]}", flush=True)
    return results


def _speed_ours(pool: Any, args: argparse.Namespace, sizes: list[int], queries: Sequence[tuple[str, int | None]]) -> dict[int, dict[str, float]]:
    index = _make_index(args.index, args.index_arg, args.sqlite_cache_mb)

    def add(i: int, story: int, raw: bytes, text_len: int, event: str | None) -> None:
        index.add(i, story, Signature.from_bytes(raw), text_len, event if args.events else None)

    prepared = {text: event_signature("", text) for text, _ in queries} if args.event_in_prepare else {}

    def run_one(text: str) -> dedupe.Decision:
        sig = dedupe.signature(text)
        if not args.events:
            return dedupe.decide(text, sig, index.candidates(sig))
        event = prepared.get(text) or event_signature("", text)
        return dedupe.decide(text, sig, index.candidates(sig), refuse=dedupe.event_refusal(event))

    def run_before(text: str) -> dedupe.Decision:
        sig = _signature_before(text)
        return dedupe.decide(text, sig, index.candidates(sig))

    results = _grow(pool, args.index, sizes, queries, _sign_ours, add, run_one,
                    run_before if args.interleave_before else None)
    close = getattr(index, "close", None)
    if callable(close):
        close()
    return results


def _speed_peer(pool: Any, sizes: list[int], queries: Sequence[tuple[str, int | None]]) -> dict[int, dict[str, float]]:
    peer = PeerIndex(sizes[-1])

    def run_one(text: str) -> dedupe.Decision:
        sig, found = peer.query(text)
        return dedupe.decide(text, sig, found)

    return _grow(pool, "datasketch", sizes, queries, _sign_peer, peer.add_values, run_one)


def run_speed(args: argparse.Namespace) -> dict[str, dict[int, dict[str, float]]]:
    """Grow each index through the sizes and time the per-item flow at each size."""
    sizes = sorted(int(s) for s in args.sizes.split(","))
    queries = [_synth().query(q) for q in range(args.queries)]
    with Pool(args.workers) as pool:
        results = {args.index: _speed_ours(pool, args, sizes, queries)}
        gc.collect()
        peer_sizes = [s for s in sizes if s <= args.peer_max]
        if peer_sizes:
            results["datasketch"] = _speed_peer(pool, peer_sizes, queries)
    return results


def _report(results: dict[str, dict[int, dict[str, float]]]) -> None:
    print("\n| index | stored | median µs/item | p90 µs | items/s | copies joined | false joins | fill s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, by_size in results.items():
        for size, r in by_size.items():
            print(f"| {name} | {size:,} | {r['median_us']:.0f} | {r['p90_us']:.0f} | {r['items_per_s']:,.0f} | "
                  f"{r['copies_joined']:.3f} | {r['false_joins']:.3f} | {r['fill_s']:.0f} |")
    for name, by_size in results.items():
        for size, r in by_size.items():
            if "ratio" in r:
                print(f"{name} {size:,}, each query in turn: median {r['paired_median_us']:.0f} µs, before #20 "
                      f"{r['before_median_us']:.0f} µs, ratio {r['ratio']:.2f} (of the means {r['mean_ratio']:.2f})")
    for name, by_size in results.items():
        if len(by_size) > 1:
            sizes = sorted(by_size)
            ratio = by_size[sizes[-1]]["median_us"] / by_size[sizes[0]]["median_us"]
            print(f"{name}: median {sizes[-1]:,}/{sizes[0]:,} = {ratio:.2f}")


# --- quality on the corpus --------------------------------------------------------------------

def _damage(text: str, lang: str, rng: random.Random, char_rate: float, vocab: list[str]) -> str:
    if lang == "en":
        text = " ".join(rng.choice(vocab) if rng.random() < 0.01 else w for w in text.split(" "))
    chars = list(text)
    pool = [c for c in text if c.isalnum()]
    chars = [rng.choice(pool) if c.isalnum() and rng.random() < char_rate else c for c in chars]
    paragraphs = "".join(chars).split("\n\n")
    damaged = rng.choice([" ", "\n"]).join(paragraphs)
    if lang == "en" and rng.random() < 0.3:
        damaged = "NEW YORK, Nov 20 (Wire) - " + damaged
    return damaged + "\n\n" + rng.choice(_BOILER) if rng.random() < 0.5 else damaged


def _pairwise(gold: list[dict[str, Any]], stories: list[int]) -> tuple[float, float]:
    tp = fp = fn = 0
    for (g1, s1), (g2, s2) in itertools.combinations(zip(gold, stories, strict=True), 2):
        if g1["lang"] == g2["lang"]:
            same_gold, same_pred = g1["story"] == g2["story"], s1 == s2
            tp, fp, fn = tp + (same_pred and same_gold), fp + (same_pred and not same_gold), fn + (same_gold and not same_pred)
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0)


def run_quality(args: argparse.Namespace) -> None:
    """Pairwise dedup precision/recall on damaged gold texts for several shingle sizes."""
    lines = (Path(args.corpus) / "built" / "gold.jsonl").read_text(encoding="utf-8").splitlines()
    gold = [json.loads(line) for line in lines if line.strip()]
    vocab = [w for g in gold if g["lang"] == "en" for w in g["text"].split()]
    print("| n | chars replaced | dedup_p mean (min) | dedup_r mean (min) |\n| ---: | ---: | --- | --- |")
    for n in (2, 3, 4):
        dedupe.SHINGLE_N = n
        for char_rate in (0.0, 0.02, 0.05):
            figures = []
            for trial in range(args.trials):
                rng = random.Random(trial)
                index, stories = dedupe.MemoryIndex(), []
                for item_id, g in enumerate(gold):
                    text = _damage(g["text"], g["lang"], rng, char_rate, vocab)
                    sig = dedupe.signature(text)
                    decision = dedupe.decide(text, sig, index.candidates(sig))
                    story = item_id if decision.story_id is None else decision.story_id
                    index.add(item_id, story, sig, len(text))
                    stories.append(story)
                figures.append(_pairwise(gold, stories))
            p, r = zip(*figures, strict=True)
            print(f"| {n} | {char_rate:.0%} | {statistics.mean(p):.3f} ({min(p):.3f}) | {statistics.mean(r):.3f} ({min(r):.3f}) |")


def _feature_vocabulary(rng: random.Random) -> tuple[list[str], list[float]]:
    values = [f"m:USD:{v:.6g}" for v in sorted({round(rng.lognormvariate(20, 3), -6) for _ in range(60000)})]
    values += [f"p:{rng.randint(1, 999) / 10:.6g}" for _ in range(2000)] + [f"q:{rng.randint(10**4, 10**7)}"
                                                                       for _ in range(20000)]
    rng.shuffle(values)
    return values, list(itertools.accumulate(1.0 / (r + 1) ** 0.8 for r in range(len(values))))


def run_features(args: argparse.Namespace) -> None:
    """Time the cross-language look-up (`load_event_candidates`, SQLite) as the feature index grows."""
    from sqlalchemy import insert
    from sqlmodel import Session

    from wirewatch.db import make_engine, upgrade
    from wirewatch.ingest.event import EventSignature
    from wirewatch.ingest.store import ItemSignature, StoryFeature
    from wirewatch.ingest.storystore import load_event_candidates

    rng = random.Random(SEED)
    vocab, cum = _feature_vocabulary(rng)
    folder = Path(tempfile.mkdtemp(prefix="features-bench-"))
    engine = make_engine(f"sqlite:///{folder / 'f.db'}")
    upgrade(engine)
    now = datetime.now(UTC)
    blank = bytes(dedupe.NUM_PERM * 4)
    langs = ["zh", "ja", "latin"]  # a third of the stored items in each; the queries are Japanese
    queries = [rng.choices(vocab, cum_weights=cum, k=3) for _ in range(args.queries)]
    filled = 0
    print("| stored items | feature rows | median µs/look-up | p90 µs | rows read, mean |\n| ---: | ---: | ---: | ---: | ---: |")
    try:
        with Session(engine) as session:
            for size in sorted(int(x) for x in args.sizes.split(",")):
                for start in range(filled, size, 5000):
                    ids = range(start, min(size, start + 5000))
                    feats = {i: sorted(set(rng.choices(vocab, cum_weights=cum, k=3))) for i in ids}
                    session.execute(insert(ItemSignature), [
                        {"item_id": i, "story_id": i, "signature": blank, "text_len": 100, "created_at": now,
                         "event": EventSignature(lang=langs[i % 3], headline=frozenset(feats[i]),
                                                 figures=frozenset(feats[i])).to_json()} for i in ids])
                    session.execute(insert(StoryFeature), [
                        {"feature": f, "item_id": i, "story_id": i, "lang": langs[i % 3], "created_at": now}
                        for i in ids for f in feats[i]])
                    session.commit()
                filled = size
                times, rows = [], 0
                since = now - timedelta(days=7)
                for features in queries:
                    began = time.perf_counter_ns()
                    found, _ = load_event_candidates(session, features, since, {"ja"})
                    times.append(time.perf_counter_ns() - began)
                    rows += sum(len(v) for v in found.values())
                session.rollback()
                times.sort()
                print(f"| {size:,} | {3 * size:,} | {statistics.median(times) / 1000:.0f} | "
                      f"{times[int(len(times) * 0.9)] / 1000:.0f} | {rows / len(queries):.1f} |", flush=True)
    finally:
        engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    speed = sub.add_parser("speed")
    speed.add_argument("--sizes", default="10000,100000,1000000")
    speed.add_argument("--queries", type=int, default=2000)
    speed.add_argument("--workers", type=int, default=2)
    speed.add_argument("--index", default="memory", help="memory, store (SQLite via ingest.store), or MODULE:CLASS")
    speed.add_argument("--index-arg", default=None)
    speed.add_argument("--sqlite-cache-mb", type=int, default=0, help="PRAGMA cache_size for --index store")
    speed.add_argument("--peer-max", type=int, default=100000, help="largest size to run the datasketch peer at")
    speed.add_argument("--no-events", dest="events", action="store_false",
                       help="the flow before event signatures (no event extraction, no conflict checks)")
    speed.add_argument("--event-in-prepare", action="store_true",
                       help="extract the queries' event signatures before timing (the pipeline does it in prepare)")
    speed.add_argument("--interleave-before", action="store_true",
                       help="also time each query through the flow before #20 (old tokenising, no events), in turn")
    features = sub.add_parser("features", help="the cross-language feature look-up on SQLite as it grows")
    features.add_argument("--sizes", default="10000,100000")
    features.add_argument("--queries", type=int, default=2000)
    quality = sub.add_parser("quality")
    quality.add_argument("--corpus", default=str(Path(__file__).resolve().parents[2] / "shared" / "corpus"))
    quality.add_argument("--trials", type=int, default=6)
    args = parser.parse_args(argv)
    if args.command == "speed":
        _report(run_speed(args))
    elif args.command == "features":
        run_features(args)
    else:
        run_quality(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
