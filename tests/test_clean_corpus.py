"""Cleaning on the shared corpus, scored like `corpus/score.py`: promo leaks, retention, collapse, source.

Each round-2 feed is parsed with feedparser (JSON Feed with json, which feedparser does not read),
cleaned with the shipped packs, then cleaned again with what the learner finds in the whole feed,
as the pipeline does with a feed's history plus the current batch.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import feedparser
import pytest

from wirewatch.config.packs import load_packs
from wirewatch.ingest.clean import clean_item, compile_ruleset, item_lines, learn_boilerplate

pytestmark = pytest.mark.corpus


def norm(text: str | None) -> str:
    """The scorer's comparison form: NFKC, case-folded, without whitespace."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or "").casefold())


@dataclass
class Raw:
    link: str
    title: str
    summary: str
    content: str


def read_feed(path: Path) -> list[Raw]:
    data = path.read_bytes()
    if path.suffix == ".json":
        return [Raw(i["url"], i.get("title", ""), i.get("summary", ""), i.get("content_html", ""))
                for i in json.loads(data)["items"]]
    parsed: Any = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
    assert parsed.entries, f"{path.name}: feedparser found no entries ({parsed.get('bozo_exception')})"
    return [Raw(e.get("link", ""), e.get("title", ""), e.get("summary", ""),
                e["content"][0]["value"] if e.get("content") else "") for e in parsed.entries]


def test_corpus_cleaning_meets_the_bars(corpus_dir: Path) -> None:
    built = corpus_dir / "built"
    gold = {(g["feed"], g["link"]): g for g in map(json.loads, (built / "gold.jsonl").read_text("utf-8").splitlines())}
    packs = load_packs()
    leaks = promos = kept = paragraphs = collapsed = items = found = named = 0
    problems: list[str] = []
    for path in sorted((built / "round2").iterdir()):
        feed = path.stem
        raws = read_feed(path)
        base = compile_ruleset(packs, feed=feed)
        learned = learn_boilerplate([item_lines(clean_item(r.title, r.summary, r.content, base).text) for r in raws])
        rules = compile_ruleset(packs, feed=feed, learned=learned)
        for raw in raws:
            g = gold[(feed, raw.link)]
            result = clean_item(raw.title, raw.summary, raw.content, rules)
            text = norm(result.text)
            items += 1
            for promo in g["promos"]:
                promos += 1
                if norm(promo) in text:
                    leaks += 1
                    problems.append(f"leak {feed}: {promo[:30]}")
            for para in g["paragraphs"]:
                paragraphs += 1
                if norm(para) in text:
                    kept += 1
                else:
                    problems.append(f"lost {feed}: {para[:30]}")
            if text.count(norm(g["paragraphs"][0])[:40]) <= 1:
                collapsed += 1
            else:
                problems.append(f"twice {feed}: {raw.title[:30]}")
            if g.get("source"):
                named += 1
                if norm(result.source) == norm(g["source"]):
                    found += 1
                else:
                    problems.append(f"source {feed}: {result.source!r} != {g['source']!r}")
    assert items == len(gold)
    figures = {"promo_leak": leaks / promos, "retention": kept / paragraphs, "collapse": collapsed / items,
               "source": found / named}
    assert figures["promo_leak"] <= 0.01, (figures, problems)
    assert figures["retention"] >= 0.98, (figures, problems)
    assert figures["collapse"] >= 0.99, (figures, problems)
    assert figures["source"] >= 0.95, (figures, problems)


def test_corpus_feeds_learn_nothing_that_is_article_text(corpus_dir: Path) -> None:
    built = corpus_dir / "built"
    paragraphs = {norm(p) for g in map(json.loads, (built / "gold.jsonl").read_text("utf-8").splitlines())
                  for p in g["paragraphs"]}
    packs = load_packs()
    for path in sorted((built / "round2").iterdir()):
        raws = read_feed(path)
        base = compile_ruleset(packs, feed=path.stem)
        learned = learn_boilerplate([item_lines(clean_item(r.title, r.summary, r.content, base).text) for r in raws])
        article = [line for line in learned if any(norm(line) in p for p in paragraphs)]
        assert article == [], path.name
