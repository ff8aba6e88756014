"""Matching against the shared corpus: the seed article and every gold item, scored as score.py does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wirewatch.alerts.match import Matcher
from wirewatch.alerts.watchlist import compile_watchlists
from wirewatch.config.loader import load_watchlist

pytestmark = pytest.mark.corpus


@pytest.fixture
def corpus_matcher(corpus_dir: Path) -> Matcher:
    return compile_watchlists([load_watchlist(corpus_dir / "entities.yaml")])


def _entities(matcher: Matcher, title: str, text: str) -> set[str]:
    return {e.id for m in matcher.match(title, text) if m.watchlist == "corpus-all" for e in m.entities}


def test_seed_article_names_the_expected_entities(corpus_matcher: Matcher, corpus_dir: Path) -> None:
    raw = (corpus_dir / "seed-article.txt").read_text(encoding="utf-8")
    found = _entities(corpus_matcher, "", raw)
    assert {"MSFT", "AMZN", "OPENAI", "MUSK", "ALTMAN"} <= found
    # the raw text holds the body twice and a promo header; nothing else from the catalogue is named
    assert found == {"MSFT", "AMZN", "OPENAI", "MUSK", "ALTMAN"}


def test_seed_article_mentions_point_at_the_alias(corpus_matcher: Matcher, corpus_dir: Path) -> None:
    raw = (corpus_dir / "seed-article.txt").read_text(encoding="utf-8")
    [match] = corpus_matcher.match("", raw)
    by_id = {e.id: e for e in match.entities}
    for entity in by_id.values():
        assert 0 < len(entity.mentions) <= 20
        for mention in entity.mentions:
            assert raw[mention.start:mention.end] == mention.text
            assert mention.text in mention.snippet
    assert {m.text for m in by_id["MUSK"].mentions} == {"イーロン・マスク"}
    assert {m.text for m in by_id["ALTMAN"].mentions} >= {"サム・オルトマン", "オルトマン"}


def _score(matcher: Matcher, gold: list[dict[str, object]]) -> tuple[float, float, int, list[str]]:
    """match_p, match_r and trap_fp exactly as ../shared/corpus/score.py computes them."""
    tp = fp = fn = trap_fp = 0
    misses = []
    for g in gold:
        pred = _entities(matcher, str(g["title"]), str(g["text"]))
        want = set(g["entities"])  # type: ignore[call-overload]
        tp += len(pred & want)
        fp += len(pred - want)
        fn += len(want - pred)
        if g["traps"] and pred - want:
            trap_fp += len(pred - want)
        if pred ^ want:
            misses.append(f"{g['article']}@{g['feed']}: +{sorted(pred - want)} -{sorted(want - pred)}")
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, trap_fp, misses


def test_gold_items_meet_the_matching_bars(corpus_matcher: Matcher, corpus_dir: Path) -> None:
    lines = (corpus_dir / "built" / "gold.jsonl").read_text(encoding="utf-8").splitlines()
    gold = [json.loads(line) for line in lines if line.strip()]
    assert len(gold) > 50
    p, r, trap_fp, misses = _score(corpus_matcher, gold)
    assert p >= 0.97, misses
    assert r >= 0.97, misses
    assert trap_fp == 0, misses


def test_every_trap_phrase_is_left_alone(corpus_matcher: Matcher, corpus_dir: Path) -> None:
    """No mention of any entity lies inside a trap phrase of a gold item."""
    lines = (corpus_dir / "built" / "gold.jsonl").read_text(encoding="utf-8").splitlines()
    checked = 0
    for g in (json.loads(line) for line in lines if line.strip()):
        for trap in g["traps"]:
            start = g["text"].find(trap)
            if start < 0:
                continue
            checked += 1
            for match in corpus_matcher.match(g["title"], g["text"]):
                for entity in match.entities:
                    for m in entity.mentions:
                        inside = m.field == "body" and start <= m.start and m.end <= start + len(trap)
                        assert not inside, (trap, entity.id, m)
    assert checked >= 5
