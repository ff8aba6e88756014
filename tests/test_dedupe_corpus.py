"""Story grouping on the shared corpus: gold texts in file order through MemoryIndex + decide."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import pytest

from wirewatch.ingest import dedupe


def _group(texts: list[str]) -> list[int]:
    index = dedupe.MemoryIndex()
    stories: list[int] = []
    for item_id, text in enumerate(texts):
        sig = dedupe.signature(text)
        decision = dedupe.decide(text, sig, index.candidates(sig))
        story = decision.story_id if decision.story_id is not None else item_id
        index.add(item_id, story, sig, len(text))
        stories.append(story)
    return stories


def _pairwise(gold: list[dict[str, str]], stories: list[int]) -> tuple[float, float]:
    """dedup_p / dedup_r as score.py computes them: same-language pairs only."""
    tp = fp = fn = 0
    for (g1, s1), (g2, s2) in combinations(zip(gold, stories, strict=True), 2):
        if g1["lang"] != g2["lang"]:
            continue
        same_gold, same_pred = g1["story"] == g2["story"], s1 == s2
        tp += same_pred and same_gold
        fp += same_pred and not same_gold
        fn += same_gold and not same_pred
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0)


@pytest.mark.corpus
def test_gold_texts_group_into_gold_stories(corpus_dir: Path) -> None:
    lines = (corpus_dir / "built" / "gold.jsonl").read_text(encoding="utf-8").splitlines()
    gold = [json.loads(line) for line in lines if line.strip()]
    stories = _group([g["text"] for g in gold])
    precision, recall = _pairwise(gold, stories)
    assert precision >= 0.98
    assert recall >= 0.95
    by_article = {g["article"]: s for g, s in zip(gold, stories, strict=True) if g["variant"] == "home"}
    translations = [(g, s) for g, s in zip(gold, stories, strict=True) if g["variant"] == "translation"]
    assert translations and all(by_article.get(g["xstory"]) != s for g, s in translations)
