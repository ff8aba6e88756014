"""Benchmark of watchlist matching (`alerts.watchlist` + `alerts.match`): compile time and throughput.

    python bench/match.py [--aliases 10000] [--mb 10] [--peer-mb 1] [--repeat 3] [--write]

Generates `--aliases` aliases (40% Latin company names, 30% Chinese, 30% katakana; two per entity,
spread over 5 watchlists) and `--mb` MB (UTF-8) of mixed zh/ja/en items: the shared corpus's gold
texts when present (else generated prose), shuffled, with generated aliases inserted about once every
400 characters. Then it times, over the same items (title + text):

  compile   `compile_watchlists` (cold: first call in the process, building the fold table; warm: again)
  match     `Matcher.match` per item as the daemon runs it (the native scanner, `alerts/_scan.c`, where
            it was built): fold, scan, boundaries, case, excludes, rules, results
  limit     the bare automaton: ahocorasick_rs, same folded aliases, overlapping, on the text folded
            beforehand (so it sees the same hits; folding is not in this figure)
  scan      the native scanner alone (fold as it reads, automaton, edge checks), no results built
  python    `Matcher.match` on the Python path (`native=False`: OpenCC, ahocorasick_rs, edges in Python)
  fold      OpenCC's fold alone; floor: that fold then the ahocorasick_rs scan, with no work per hit
  peer      one compiled `re` alternation of the same aliases (IGNORECASE), `finditer` per item; run on
            the first `--peer-mb` MB only, because it is slow, and reported as MB/s

All but the peer are timed in turns (best of `--repeat` rounds each), so a change in the
load of the (shared) machine falls on all of them alike. With `--write`, the figures replace the
`## Matching` section of bench/RESULTS.md (other sections are kept). Benchmarks are not tests: nothing
here asserts a time.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

import ahocorasick_rs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wirewatch.alerts.normalise import fold, fold_without_native, native_folder  # noqa: E402
from wirewatch.alerts.watchlist import compile_watchlists  # noqa: E402
from wirewatch.config.watchlist import WatchlistConfig  # noqa: E402

SEED = 1128
CORPUS = ROOT.parent / "shared" / "corpus" / "built" / "gold.jsonl"
RESULTS = ROOT / "bench" / "RESULTS.md"
SYLLABLES = "ka ri to mo ne lu vex zor quin tal bren dax or el fin gra sol mar tek nov cor".split()
SUFFIXES = ["", "", " Labs", " Holdings", " Systems", " Group", " Energy", " Bio"]
HAN = ("科技集团控股智能电子能源医药银行证券保险汽车新材料半导体云数据网络通信电力航空化工"
       "華為騰訊們國際資產開發鋼鐵機電環球實業東方長城光明聯合精密動力")
KATAKANA = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワンガギグゲゴパピプペポー"


def make_aliases(n: int, rng: random.Random) -> list[str]:
    """`n` distinct aliases: Latin names, Chinese names, katakana names."""
    out: set[str] = set()
    while len(out) < n:
        kind = rng.random()
        if kind < 0.4:
            word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))
            alias = word.capitalize() + rng.choice(SUFFIXES)
        elif kind < 0.7:
            alias = "".join(rng.choice(HAN) for _ in range(rng.randint(3, 5)))
        else:
            alias = "".join(rng.choice(KATAKANA) for _ in range(rng.randint(4, 7)))
            if alias.startswith("ー"):
                continue
        out.add(alias)
    return sorted(out)


def make_watchlists(aliases: list[str], rng: random.Random) -> list[WatchlistConfig]:
    shuffled = aliases[:]
    rng.shuffle(shuffled)
    entities = [{"id": f"E{i}", "name": f"Entity {i}", "aliases": shuffled[i * 2:i * 2 + 2]}
                for i in range(len(shuffled) // 2)]
    size = -(-len(entities) // 5)
    return [WatchlistConfig.model_validate({"watchlist": f"bench-{k}", "entities": entities[k * size:(k + 1) * size]})
            for k in range(5)]


def base_items() -> list[tuple[str, str]]:
    if CORPUS.is_file():
        rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [(r["title"], r["text"]) for r in rows]
    rng = random.Random(SEED)
    words = [" ".join(rng.choice(SYLLABLES) for _ in range(12)) for _ in range(50)]
    return [(f"Item {i}", "\n\n".join(rng.choice(words) for _ in range(20))) for i in range(50)]


def make_items(mb: float, aliases: list[str], rng: random.Random, every: int) -> list[tuple[str, str]]:
    """Items totalling `mb` MB of UTF-8: corpus texts, with an alias inserted every `every` characters (0: none)."""
    base = base_items()
    items: list[tuple[str, str]] = []
    size = 0
    while size < mb * 1e6:
        title, text = rng.choice(base)
        parts = []
        for i in range(0, len(text), every or len(text) or 1):
            parts.append(text[i:i + (every or len(text))])
            if every:
                parts.append(" " + rng.choice(aliases) + " ")
        body = "".join(parts)
        items.append((title, body))
        size += len(title.encode()) + len(body.encode()) + 1
    return items


def mb_of(items: list[tuple[str, str]]) -> float:
    return sum(len(t.encode()) + len(x.encode()) + 1 for t, x in items) / 1e6


def best(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def best_in_turns(fns: dict[str, Any], repeat: int) -> dict[str, float]:
    """The best time of each function; they take turns, so a change in the machine's load hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            gc.collect()
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: min(spent) for name, spent in times.items()}


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(SEED)
    aliases = make_aliases(args.aliases, rng)
    watchlists = make_watchlists(aliases, rng)
    start = time.perf_counter()
    matcher = compile_watchlists(watchlists)  # the native scanner where it was built, as the daemon runs
    cold = time.perf_counter() - start  # includes the fold table and the native tables, built once per process
    native = native_folder() is not None
    warm = best(lambda: compile_watchlists(watchlists), args.repeat)
    python = compile_watchlists(watchlists, native=False)
    scanner = matcher._plan.scanner
    automaton = ahocorasick_rs.AhoCorasick(sorted({fold(a) for a in aliases}))
    figures: dict[str, Any] = {}
    for label, every in (("dense", 400), ("natural", 0)):
        items = make_items(args.mb, aliases, rng, every)
        size = mb_of(items)
        joined = [f"{t}\n{x}" for t, x in items]
        seams = [len(t) for t, _x in items]
        found = {"match": 0, "python": 0}

        def count(m: Any, name: str, items: list[tuple[str, str]] = items, found: dict[str, int] = found) -> None:
            found[name] = sum(len(e.mentions) for t, x in items for w in m.match(t, x) for e in w.entities)

        folded = [fold(j) for j in joined]  # the limit scans text already folded: same hits, no fold cost
        fns: dict[str, Any] = {
            "match": lambda: count(matcher, "match"),
            "python": lambda: count(python, "python"),
            "limit": lambda folded=folded: [automaton.find_matches_as_indexes(j, overlapping=True) for j in folded],
            "fold": lambda joined=joined: [fold_without_native(j) for j in joined],
            "floor": lambda joined=joined: [automaton.find_matches_as_indexes(fold_without_native(j), overlapping=True)
                                            for j in joined],
        }
        if scanner is not None:
            fns["scan"] = lambda joined=joined, seams=seams: [scanner.scan(j, n, False)
                                                              for j, n in zip(joined, seams, strict=True)]
        spent = best_in_turns(fns, args.repeat)
        t_limit = spent["limit"]
        figures[label] = {
            "items": len(items), "mb": round(size, 2), "mentions": found["match"],
            "matcher_mb_s": round(size / spent["match"], 1), "ratio_to_limit": round(spent["match"] / t_limit, 2),
            "limit_mb_s": round(size / t_limit, 1),
            "native_scan_mb_s": round(size / spent["scan"], 1) if "scan" in spent else None,
            "native_scan_ratio": round(spent["scan"] / t_limit, 2) if "scan" in spent else None,
            "python_mb_s": round(size / spent["python"], 1), "python_ratio": round(spent["python"] / t_limit, 2),
            "python_mentions": found["python"],
            "opencc_fold_mb_s": round(size / spent["fold"], 1), "opencc_fold_ratio": round(spent["fold"] / t_limit, 2),
            "python_floor_ratio": round(spent["floor"] / t_limit, 2),
        }
        if label == "dense":
            dense_joined = joined
    peer_items: list[str] = []
    peer_size = 0.0
    for j in dense_joined:
        if peer_size >= args.peer_mb * 1e6:
            break
        peer_items.append(j)
        peer_size += len(j.encode())
    start = time.perf_counter()
    regex = re.compile("|".join(re.escape(a) for a in sorted(aliases, key=len, reverse=True)), re.IGNORECASE)
    peer_compile = time.perf_counter() - start
    t_peer = best(lambda: [list(regex.finditer(j)) for j in peer_items], 1)
    return {
        "aliases": len(aliases), "watchlists": len(watchlists), "native": native,
        "compile_cold_s": round(cold, 3), "compile_warm_s": round(warm, 3), **figures,
        "peer_mb_s": round(peer_size / 1e6 / t_peer, 2), "peer_mb": round(peer_size / 1e6, 2),
        "peer_compile_s": round(peer_compile, 2),
        "python": platform.python_version(), "machine": platform.machine(), "repeat": args.repeat,
    }


def section(r: dict[str, Any]) -> str:
    d, n = r["dense"], r["natural"]
    path = "the native scanner (`alerts/_scan.c`)" if r["native"] else "the Python path (the native scanner was not built)"
    scan_row = (f"| native scan alone (fold, automaton, edge checks; no results) | {d['native_scan_mb_s']} MB/s "
                f"({d['native_scan_ratio']}×) | {n['native_scan_mb_s']} MB/s ({n['native_scan_ratio']}×) | |\n"
                if r["native"] else "")
    return f"""## Matching

`python bench/match.py --write`: {r['aliases']:,} generated aliases (Latin, Chinese, katakana; two per
entity) in {r['watchlists']} watchlists, compiled into one automaton; {d['mb']} MB of mixed zh/ja/en items
(the corpus's gold texts, shuffled), once with an alias inserted every ~400 characters ("dense",
{d['items']:,} items) and once as written ("natural": only chance hits); best of {r['repeat']} runs, the timed
functions taking turns; Python {r['python']}, {r['machine']}, on a shared 2-CPU machine, so figures move
by ±30% between runs. The matcher ran on {path}.

| figure | dense | natural | target |
| --- | --- | --- | --- |
| `Matcher.match` throughput | {d['matcher_mb_s']} MB/s | {n['matcher_mb_s']} MB/s | ≥ 20 MB/s |
| mentions reported | {d['mentions']:,} | {n['mentions']:,} | |
| limit: bare ahocorasick_rs scan (same aliases, overlapping, text folded beforehand) | {d['limit_mb_s']} MB/s | {n['limit_mb_s']} MB/s | |
| **matcher time ÷ bare scan time** | **{d['ratio_to_limit']}×** | **{n['ratio_to_limit']}×** | ≤ 2× |
{scan_row}| Python path (`native=False`: OpenCC fold, ahocorasick_rs, edges in Python) | {d['python_mb_s']} MB/s ({d['python_ratio']}×; {d['python_mentions']:,} mentions) | {n['python_mb_s']} MB/s ({n['python_ratio']}×) | |
| its floor: OpenCC fold + ahocorasick_rs scan, no work per hit | {d['python_floor_ratio']}× | {n['python_floor_ratio']}× | |
| OpenCC fold alone | {d['opencc_fold_mb_s']} MB/s ({d['opencc_fold_ratio']}×) | {n['opencc_fold_mb_s']} MB/s ({n['opencc_fold_ratio']}×) | |
| peer: one `re` alternation, IGNORECASE | {r['peer_mb_s']} MB/s ({r['peer_mb']} MB sample; compile {r['peer_compile_s']} s) | | |
| compile 10k aliases, first in process / again | {r['compile_cold_s']} s / {r['compile_warm_s']} s | | < 2 s |

Reading: the matcher takes {d['ratio_to_limit']}× (dense) and {n['ratio_to_limit']}× (natural) the time of the bare scan in this
run, so the 2× target is {_verdict(n['ratio_to_limit'], d['ratio_to_limit'])}. Ratios are of times: below 1× means faster than the
bare ahocorasick_rs scan.

How: the native scanner (`alerts/_scan.c`, an optional C extension built at install) folds each code
point through a direct table as it reads, walks an Aho–Corasick automaton over code points (the
root's transitions in a direct array, the rest in one hash table, output links for overlapping
matches), checks each hit's edge classes, and leaves out the hits of edge-only patterns that fail
them. It reads the code points Python already holds: no UTF-8 copy of the text and no byte-to-character
offset conversion. Alone it takes {d['native_scan_ratio']}× (dense) and {n['native_scan_ratio']}× (natural) of the bare scan.
On dense text most of the matcher's remaining time is Python building the results ({d['mentions'] / d['items']:.1f} mentions
reported per item: an `EntityMatch`, a `Mention` with its whitespace-collapsed snippet, the salience).
The Python path (OpenCC fold, ahocorasick_rs, edges checked in Python) is what an install without a C
compiler runs; it was the only path before, at 3.6–4.1× (dense) and 1.9–2.2× (natural) in earlier runs
of this benchmark. Both paths give the same results: `tests/test_native.py` compares the scanner with
ahocorasick_rs (hypothesis, including three-letter alphabets that make long suffix chains) and the two
matchers on every corpus item; the table tests of `tests/test_match.py` run on both.
"""


def _verdict(natural: float, dense: float) -> str:
    met = [name for name, ratio in (("natural", natural), ("dense", dense)) if ratio <= 2]
    return "met on both" if len(met) == 2 else f"met on {met[0]} text only" if met else "not met on either"


def write(text: str) -> None:
    """Replace only the `## Matching` section of RESULTS.md, re-reading the file right before writing."""
    current = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(r"^## Matching\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(current):
        updated = pattern.sub(lambda _m: text + "\n", current, count=1)
    else:
        updated = current.rstrip("\n") + "\n\n" + text
    RESULTS.write_text(updated.rstrip("\n") + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--aliases", type=int, default=10_000)
    parser.add_argument("--mb", type=float, default=10.0)
    parser.add_argument("--peer-mb", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="write the figures into bench/RESULTS.md")
    args = parser.parse_args()
    result = run(args)
    print(json.dumps(result, indent=1))
    if args.write:
        write(section(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
