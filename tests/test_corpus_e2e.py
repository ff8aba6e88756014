"""The shared corpus end to end: served on 127.0.0.1, polled, exported and scored by the corpus's score.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from bench.corpus import WEBHOOK_SECRET, corpus_run, missing_by_event, score

pytestmark = pytest.mark.corpus


def test_round1_is_fully_ingested(corpus_dir: Path, tmp_path: Path) -> None:
    with corpus_run(corpus_dir, tmp_path, ["round1"], alerts=False) as (export, _):
        lines = [json.loads(line) for line in export.read_text(encoding="utf-8").splitlines()]
    gold_round1 = [g for g in map(json.loads, (corpus_dir / "built" / "gold.jsonl").open(encoding="utf-8"))
                   if g["round"] == 1]
    def key(feed: str, url: str) -> tuple[str, str]:
        return feed, url.split("?")[0].lower()

    # matched by feed + URL as score.py does: RDF items have no guid, only their link
    assert {key(g["feed"], g["link"]) for g in gold_round1} <= {key(e["feed"], e["url"]) for e in lines}


def test_rounds_1_and_2_meet_every_bar_with_alerts_exactly_once(corpus_dir: Path, tmp_path: Path) -> None:
    with corpus_run(corpus_dir, tmp_path, ["round1", "round2"], alerts=True) as (export, received):
        alerts = tmp_path / "alerts.jsonl"
        alerts.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in received), encoding="utf-8")
        result = score(corpus_dir, export, alerts)
    assert result["coverage"] == 1.0
    assert result["promo_leak"] <= 0.01, result["leak_examples"]
    assert result["retention"] >= 0.98
    assert result["collapse"] >= 0.99
    assert result["source"] >= 0.95
    assert result["dedup_p"] >= 0.98 and result["dedup_r"] >= 0.95
    assert result["xlang_r"] >= 0.8 and result["xlang_p"] >= 0.95  # translations join their original's story
    assert result["match_p"] >= 0.97 and result["match_r"] >= 0.97, result["match_examples"]
    assert result["trap_fp"] == 0
    # one alert per event: a translation that joined its original's story is not alerted again, which
    # score.py's per-language `alert_missing` counts as missing; every event (xstory) has its alert
    assert (missing_by_event(corpus_dir, received), result["alert_duplicate"], result["alert_spurious"]) == (0, 0, 0)
    verifier = Webhook(WEBHOOK_SECRET)
    for alert in received:
        verifier.verify(alert["body"], alert["headers"])  # raises on a bad signature
    assert len({a["headers"]["webhook-id"] for a in received}) == len(received)  # type: ignore[index]


def test_corpus_through_an_apprise_json_channel_alerts_every_story_once(corpus_dir: Path, tmp_path: Path) -> None:
    gold = [json.loads(line) for line in (corpus_dir / "built" / "gold.jsonl").open(encoding="utf-8")]
    with corpus_run(corpus_dir, tmp_path, ["round1", "round2"], alerts=True, channel="apprise") as (_, received):
        messages = [json.loads(str(r["body"])) for r in received]
    per_story: dict[str, int] = {}
    for message in messages:
        text = message["title"] + "\n" + message["message"]
        hits = {g["xstory"] for g in gold if g["link"].split("?")[0] in text}
        assert len(hits) == 1, text[:200]
        story = hits.pop()
        per_story[story] = per_story.get(story, 0) + 1
        item = next(g for g in gold if g["xstory"] == story and g["link"].split("?")[0] in text)
        assert item["title"][:12] in message["title"] or item["title"][:12] in message["message"]  # CJK intact
    wanted = {g["xstory"] for g in gold if g["entities"]}  # one alert per event, whatever its languages
    assert set(per_story) == wanted  # none missing, none spurious
    assert all(n == 1 for n in per_story.values())  # none doubled
    langs = {g["lang"] for g in gold if g["xstory"] in per_story}
    assert {"zh", "ja", "en"} <= langs
