"""Benchmark of watchlist matching (`alerts.watchlist` + `alerts.match`): compile time and throughput.

    python bench/match.py [--aliases 10000] [--mb 10] [--peer-mb 1] [--repeat 3] [--write]

Generates `--aliases` aliases (40% Latin company names, 30% Chinese, 30% katakana; two per entity,
spread over 5 watchlists) and `--mb` MB (UTF-8) of mixed zh/ja/en items: the shared corpus's gold
texts when present (else generated prose), shuffled, with generated aliases inserted about once every
400 characters. Then it times, over the same items (title + text):

  compile   `compile_watchlists` (cold: first call in the process, building the fold table; warm: again)
  matcher   `Matcher.match` per item: fold, scan, boundaries, case, excludes, rules, results
  limit     the bare automaton: ahocorasick_rs, same folded aliases, overlapping, on the text folded
            beforehand (so it sees the same hits; folding is timed on its own)
  floor     fold then scan each item as the matcher does, with no work per hit: what any matcher
            built on this fold and this automaton pays before it looks at a hit
  peer      one compiled `re` alternation of the same aliases (IGNORECASE), `finditer` per item; run on
            the first `--peer-mb` MB only, because it is slow, and reported as MB/s

Matcher, limit, fold and floor are timed in turns (best of `--repeat` rounds each), so a change in the
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

from alerts.normalise import fold  # noqa: E402
from alerts.watchlist import compile_watchlists  # noqa: E402
from config.watchlist import WatchlistConfig  # noqa: E402

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
    matcher = compile_watchlists(watchlists)
    cold = time.perf_counter() - start
    warm = best(lambda: compile_watchlists(watchlists), args.repeat)
    automaton = ahocorasick_rs.AhoCorasick(sorted({fold(a) for a in aliases}))
    figures: dict[str, Any] = {}
    for label, every in (("dense", 400), ("natural", 0)):
        items = make_items(args.mb, aliases, rng, every)
        size = mb_of(items)
        joined = [f"{t}\n{x}" for t, x in items]
        found = [0]

        def do_match(items: list[tuple[str, str]] = items, found: list[int] = found) -> None:
            found[0] = sum(len(e.mentions) for t, x in items for m in matcher.match(t, x) for e in m.entities)

        folded = [fold(j) for j in joined]  # the limit scans text already folded: same hits, no fold cost
        spent = best_in_turns({
            "match": do_match,
            "limit": lambda folded=folded: [automaton.find_matches_as_indexes(j, overlapping=True) for j in folded],
            "fold": lambda joined=joined: [fold(j) for j in joined],
            "floor": lambda joined=joined: [automaton.find_matches_as_indexes(fold(j), overlapping=True)
                                            for j in joined],
        }, args.repeat)
        t_match, t_limit, t_fold, t_floor = spent["match"], spent["limit"], spent["fold"], spent["floor"]
        figures[label] = {
            "items": len(items), "mb": round(size, 2), "matcher_mb_s": round(size / t_match, 1),
            "mentions": found[0], "fold_mb_s": round(size / t_fold, 1), "limit_mb_s": round(size / t_limit, 1),
            "ratio_to_limit": round(t_match / t_limit, 2), "floor_ratio": round(t_floor / t_limit, 2),
            "fold_ratio": round(t_fold / t_limit, 2),
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
        "aliases": len(aliases), "watchlists": len(watchlists),
        "compile_cold_s": round(cold, 3), "compile_warm_s": round(warm, 3), **figures,
        "peer_mb_s": round(peer_size / 1e6 / t_peer, 2), "peer_mb": round(peer_size / 1e6, 2),
        "peer_compile_s": round(peer_compile, 2),
        "python": platform.python_version(), "machine": platform.machine(), "repeat": args.repeat,
    }


def section(r: dict[str, Any]) -> str:
    d, n = r["dense"], r["natural"]
    return f"""## Matching

`python bench/match.py --write`: {r['aliases']:,} generated aliases (Latin, Chinese, katakana; two per
entity) in {r['watchlists']} watchlists, compiled into one automaton; {d['mb']} MB of mixed zh/ja/en items
(the corpus's gold texts, shuffled), once with an alias inserted every ~400 characters ("dense",
{d['items']:,} items) and once as written ("natural": only chance hits); best of {r['repeat']} runs, the timed
functions taking turns;
Python {r['python']}, {r['machine']}, on a shared 2-CPU machine, so figures move by ±30% between runs.

| figure | dense | natural | target |
| --- | --- | --- | --- |
| `Matcher.match` throughput | {d['matcher_mb_s']} MB/s | {n['matcher_mb_s']} MB/s | ≥ 20 MB/s |
| mentions reported | {d['mentions']:,} | {n['mentions']:,} | |
| limit: bare automaton scan (same aliases, pre-folded text) | {d['limit_mb_s']} MB/s | {n['limit_mb_s']} MB/s | |
| matcher time ÷ bare scan time | {d['ratio_to_limit']}× | {n['ratio_to_limit']}× | ≤ 2× |
| floor: fold + scan per item, no work per hit, ÷ bare scan | {d['floor_ratio']}× | {n['floor_ratio']}× | |
| folding alone (NFKC, casefold, T→S) | {d['fold_mb_s']} MB/s ({d['fold_ratio']}×) | {n['fold_mb_s']} MB/s ({n['fold_ratio']}×) | |
| peer: one `re` alternation, IGNORECASE | {r['peer_mb_s']} MB/s ({r['peer_mb']} MB sample; compile {r['peer_compile_s']} s) | | |
| compile 10k aliases, first in process / again | {r['compile_cold_s']} s / {r['compile_warm_s']} s | | < 2 s |

Reading: in this run the matcher takes {n['ratio_to_limit']}× (natural) and {d['ratio_to_limit']}× (dense) the time of the bare scan, so
the 2× target is {_verdict(n['ratio_to_limit'], d['ratio_to_limit'])}. In units of the bare scan, folding costs {d['fold_ratio']}× (dense) and
{n['fold_ratio']}× (natural): OpenCC's C++ converter loaded with the one-for-one fold table, ~17–35 ns per CJK
character (`str.translate` is ~6× slower; ASCII text takes `str.lower()`). Folding then scanning each item, with no work per hit, already costs {d['floor_ratio']}× and {n['floor_ratio']}×:
the bare scan re-reads strings whose UTF-8 form Python cached on an earlier pass and keeps the automaton
hot in the CPU cache, while the matcher folds each item and scans fresh text that ahocorasick_rs must
encode first, with OpenCC's tables and the automaton taking turns in the cache. What the matcher adds
to that floor is {d['ratio_to_limit'] - d['floor_ratio']:.2f}× on dense text ({d['mentions'] / d['items']:.1f} mentions reported per item) and {n['ratio_to_limit'] - n['floor_ratio']:.2f}× on natural text.
On dense text that is mostly building results, about 3–4 µs per reported entity (an `EntityMatch`, a
`Mention` with its whitespace-collapsed snippet, the salience), then the checks per hit; on natural text
it is the calls per item (2–4 µs each).

What changed in this round: aliases, excludes and keywords are checked inline in the scan loop (edge
classes from a cache, the as-written case test first; only tickers and anchors take the general path),
a watchlist with one mention skips the exclude and overlap pass, and salience comes from a table
(`round(x, 3)` alone costs ~0.5 µs). The saving is modest and smaller than this machine's noise:
alternating the old and the new matcher in one process on these 10 MB, four runs gave dense 4.9–5.4× →
4.0–5.4× (better in three runs, worse in one) and natural 1.9–2.7× → 1.6–2.4× (better in all four); by
instruction count (cachegrind, 0.5 MB, repeatable) dense 3.98× → 3.74× and natural 2.05× → 1.99×. The
table recorded before this change (4.0× dense, 2.04× natural) was taken at another, quieter time;
compare the alternating runs, not the two tables.

Tried and dropped because they measured no faster: a fold shortcut (`str.lower()` plus a few replacements
when a regular expression finds no character that needs the table: the search alone costs about what
OpenCC does) and a snippet shortcut that skips `split`/`join` when a window has no runs of whitespace.

What it would take: the fold and the per-hit work in compiled code (a per-code-point fold table, the
scan on its UTF-8 and the edge checks in one pass, at about a nanosecond per character), which
`pip install wirewatch` does not carry and which is not added here. Taking only the fold's time away
leaves {d['ratio_to_limit'] - d['fold_ratio']:.2f}× on dense text and {n['ratio_to_limit'] - n['fold_ratio']:.2f}× on natural text in this run; on dense text the Python
that builds the results would have to go native too. The regex peer does less (no folding, no
boundaries) and is orders of magnitude slower.
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
