"""`wirewatch why ITEM` and `match --explain`: which rules of which watchlist decided, and what became of the alert."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.feedserver import FeedServer
from tests.helpers import rss, write_config
from tests.receivers import Receiver
from wirewatch.alerts.watchlist import compile_watchlists
from wirewatch.config.watchlist import WatchlistConfig
from wirewatch.explain import verdicts

ROOT = Path(__file__).resolve().parent.parent
WATCHLISTS = {
    "tech": "watchlist: tech\nchannels: [hook]\nentities:\n  - {id: MSFT, name: Microsoft, aliases: [Microsoft]}\n",
    "strict": "watchlist: strict\nchannels: [hook]\nmin_mentions: 3\n"
              "entities:\n  - {id: MSFT, name: Microsoft, aliases: [Microsoft]}\n",
}
BODY = ("<p>Microsoft reported quarterly results on Tuesday, with cloud revenue rising faster than analysts "
        "had expected and margins widening across the division; Microsoft shares rose after hours.</p>")
ITEM = {"title": "Results beat estimates", "link": "http://example.invalid/story", "guid": "g-1", "body": BODY}


def cli(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wirewatch.cli", *args], capture_output=True, text=True,
                          timeout=120, env=env, cwd=ROOT, input=stdin)


@pytest.fixture
def polled(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Two feeds carry the same story; the first copy alerts `tech`, `strict` wants 3 mentions."""
    server = FeedServer().start()
    server.add("/a.xml", rss([ITEM]))
    server.add("/b.xml", rss([dict(ITEM, guid="g-2", link="http://example.invalid/copy")], title="b"))
    with Receiver() as receiver:
        (tmp_path / "watchlists").mkdir()
        for name, text in WATCHLISTS.items():
            (tmp_path / "watchlists" / f"{name}.yaml").write_text(text, encoding="utf-8")
        config = write_config(tmp_path, {"a": server.url("/a.xml")}, watchlists=["watchlists/*.yaml"],
                              channels={"hook": {"type": "webhook", "url": receiver.url}})
        env = dict(os.environ, WIREWATCH_CONFIG=str(config))
        assert cli("poll", env=env).returncode == 0
        config.write_text(config.read_text().replace("feeds:\n", f"feeds:\n  - {{name: b, url: {server.url('/b.xml')!r}}}\n"))
        assert cli("poll", "--feed", "b", env=env).returncode == 0
        yield env
    server.stop()


def test_why_explains_match_rules_story_alert_and_delivery(polled: dict[str, str]) -> None:
    out = cli("why", "g-1", env=polled)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "watchlist tech: matched" in text and "✓ mentions: MSFT ×2" in text
    assert "watchlist strict: no match (decided by min_mentions: 3)" in text
    assert "this item started it" in text
    assert "tech: alert.created alt_" in text and "created by this item" in text
    assert "hook: delivered" in text
    assert re.search(r"\n        try 1 \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ: HTTP 200, sent\n", text), text  # its attempt
    assert "strict: no alert: the watchlist's rules did not match" in text
    copy = cli("why", "http://example.invalid/copy", env=polled)
    assert copy.returncode == 0, copy.stderr
    assert "joined it" in copy.stdout and "tech: no new alert: the story was already alerted" in copy.stdout
    items = [json.loads(line) for line in cli("export", env=polled).stdout.splitlines()]
    assert items[0]["story"] == items[1]["story"]  # the copy joined the first story
    bad = cli("why", "nope", env=polled)
    assert bad.returncode == 2 and "nope" in bad.stderr


def test_match_explain_shows_rule_verdicts(tmp_path: Path) -> None:
    wl = tmp_path / "strict.yaml"
    wl.write_text(WATCHLISTS["strict"], encoding="utf-8")
    out = cli("match", "--watchlist", str(wl), "--explain", env=dict(os.environ), stdin="Microsoft and Microsoft")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)  # the candidates stay JSON on stdout
    assert "--- watchlist strict: no match (decided by min_mentions: 3)" in out.stderr
    assert "MSFT ×2 reach 3" not in out.stderr and "short: MSFT ×2" in out.stderr


RULES = [
    ({"min_mentions": 2}, "Microsoft, Microsoft", True, None),
    ({"min_mentions": 2}, "Microsoft", False, "min_mentions: 2"),
    ({"in": "title"}, "\nMicrosoft", False, "in: title"),
    ({"in": "title"}, "Microsoft\n", True, None),
    ({"keywords": ["earnings"]}, "Microsoft", False, "keywords"),
    ({"keywords": ["earnings"]}, "Microsoft earnings", True, None),
    ({"exclude_keywords": ["rumour"]}, "Microsoft rumour", False, "exclude_keywords"),
    ({"all_of": ["MSFT", "AMZN"]}, "Microsoft", False, "all_of"),
    ({"all_of": ["MSFT", "AMZN"]}, "Microsoft Amazon", True, None),
    ({"any_of": ["AMZN"]}, "Microsoft", False, "any_of"),
    ({}, "Apple", False, "mentions"),
]


@pytest.mark.parametrize(("rules", "text", "matched", "decided"), RULES)
def test_verdicts_agree_with_the_matcher(rules: dict[str, object], text: str, matched: bool,
                                         decided: str | None) -> None:
    config = WatchlistConfig.model_validate({"watchlist": "w", "entities": [
        {"id": "MSFT", "name": "Microsoft", "aliases": ["Microsoft"]},
        {"id": "AMZN", "name": "Amazon", "aliases": ["Amazon"]}], **rules})
    matcher = compile_watchlists([config])
    title, _, body = text.partition("\n") if "\n" in text else ("", "", text)
    found = {m.watchlist for m in matcher.match(title, body)}
    assert (found == {"w"}) is matched
    verdict = verdicts([config], matcher.mentions(title, body), found)[0]
    assert verdict.matched is matched
    assert all(r.ok for r in verdict.rules) is matched  # the rules explain the matcher's answer
    assert (verdict.decided_by.rule if verdict.decided_by else None) == decided
