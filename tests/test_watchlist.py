"""Compiling watchlists and applying their rules; property tests for finding an inserted alias."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wirewatch.alerts.errors import WatchlistError
from wirewatch.alerts.match import Matcher
from wirewatch.alerts.watchlist import compile_watchlists
from wirewatch.config.loader import load_watchlist
from wirewatch.config.watchlist import WatchlistConfig

TESLA = {"id": "TSLA", "name": "Tesla", "aliases": ["Tesla", "特斯拉", "テスラ"], "tickers": ["TSLA"]}
BYD = {"id": "BYD", "name": "BYD", "aliases": ["BYD", "比亚迪"]}
NVDA = {"id": "NVDA", "name": "NVIDIA", "aliases": ["Nvidia", "英伟达"]}


def wl(name: str, entities: list[dict[str, Any]], **rules: Any) -> WatchlistConfig:
    return WatchlistConfig.model_validate({"watchlist": name, "entities": entities, **rules})


def names(matcher: Matcher, title: str, text: str) -> dict[str, set[str]]:
    return {m.watchlist: {e.id for e in m.entities} for m in matcher.match(title, text)}


RULES: list[tuple[dict[str, Any], str, str, set[str] | None]] = [
    ({}, "", "Tesla sold cars", {"TSLA"}),
    ({}, "", "nothing here", None),
    ({"min_mentions": 2}, "", "Tesla sold cars", None),
    ({"min_mentions": 2}, "", "Tesla sold cars; Tesla said", {"TSLA"}),
    ({"min_mentions": 2}, "", "Tesla and BYD; BYD again", {"BYD"}),
    ({"in": "title"}, "Markets today", "Tesla sold cars", None),
    ({"in": "title"}, "特斯拉销量下滑", "BYD gained", {"TSLA"}),
    ({"all_of": ["TSLA", "BYD"]}, "", "Tesla sold cars", None),
    ({"all_of": ["TSLA", "BYD"]}, "比亚迪", "Tesla sold cars", {"TSLA", "BYD"}),
    ({"any_of": ["BYD", "NVDA"]}, "", "Tesla sold cars", None),
    ({"any_of": ["BYD", "NVDA"]}, "", "Tesla and Nvidia", {"TSLA", "NVDA"}),
    ({"keywords": ["recall"]}, "", "Tesla sold cars", None),
    ({"keywords": ["recall"]}, "Tesla RECALL", "", {"TSLA"}),
    ({"keywords": ["recall"]}, "", "Tesla recalled cars", None),  # keywords are whole words too
    ({"keywords": ["召回"]}, "", "特斯拉召回", {"TSLA"}),
    ({"exclude_keywords": ["opinion"]}, "Opinion: Tesla is doomed", "", None),
    ({"exclude_keywords": ["opinion"]}, "Tesla is doomed", "", {"TSLA"}),
]


@pytest.mark.parametrize(("rules", "title", "text", "expected"), RULES)
def test_rules(rules: dict[str, Any], title: str, text: str, expected: set[str] | None) -> None:
    matcher = compile_watchlists([wl("w", [TESLA, BYD, NVDA], **rules)])
    assert names(matcher, title, text).get("w") == expected


def test_one_automaton_serves_many_watchlists_each_with_its_own_aliases() -> None:
    narrow = wl("b-narrow", [{"id": "AAPL", "name": "Apple", "aliases": ["Apple Inc"]}])
    broad = wl("a-broad", [{"id": "FRUIT", "name": "Apple", "aliases": ["Apple"]}, TESLA])
    matcher = compile_watchlists([narrow, broad])
    assert matcher.watchlists == ["a-broad", "b-narrow"]
    result = matcher.match("", "Apple Inc and Tesla")
    assert [m.watchlist for m in result] == ["a-broad", "b-narrow"]  # sorted by name
    assert names(matcher, "", "Apple Inc and Tesla") == {"a-broad": {"FRUIT", "TSLA"}, "b-narrow": {"AAPL"}}
    assert names(matcher, "", "Apple pie") == {"a-broad": {"FRUIT"}}


EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "examples" / "watchlists" / "ai-cloud.yaml"


@pytest.mark.parametrize(("text", "expected"), [
    ("nvidia and NVIDIA and Nvidia", 3),      # `case: insensitive` on a capitalised alias
    ("英伟达与輝達", 2),                        # Traditional and Simplified both
    ("the Amazon rainforest burns", 0),       # `exclude` cancels the alias it covers
    ("AWSの売上", 1),                          # Latin glued to kana is a match
    ("a lawsuit over Azure", 1),              # AWS inside a word is not; Azure is MSFT
])
def test_the_shipped_example_watchlist_does_what_its_comments_say(text: str, expected: int, native: bool) -> None:
    matcher = compile_watchlists([load_watchlist(EXAMPLE)], native=native)
    found = [m for match in matcher.match("", text) for e in match.entities for m in e.mentions]
    assert len(found) == expected, found


def test_no_watchlists_match_nothing() -> None:
    assert compile_watchlists([]).match("Tesla", "Tesla") == []


ERRORS = [
    ([wl("w", [TESLA]), wl("w", [BYD])], "two watchlists are named 'w'"),
    ([wl("w", [{**TESLA, "tickers": ["TS LA"]}])], "entity 'TSLA': ticker 'TS LA' is not a symbol"),
    ([wl("w", [{**TESLA, "tickers": ["7203.XX"]}])], "unknown market suffix .XX"),
    ([wl("w", [{**TESLA, "tickers": ["7203"]}])], "a bare number must be a six-digit A-share code"),
    ([wl("w", [TESLA], keywords=["a"])], "watchlist 'w': keyword 'a' is shorter than 2 characters"),
    ([wl("w", [TESLA], all_of=["BYD"])], "all_of names ['BYD']"),
    ([wl("w", [TESLA, TESLA])], "entity 'TSLA': the id is used twice"),
    ([wl("w", [{**TESLA, "aliases": ["Tesla\ud800"]}])], "alias 'Tesla\\ud800' holds a lone surrogate"),
    ([wl("w", [{**TESLA, "exclude": ["\udfffNikola"]}])], "exclude phrase '\\udfffNikola' holds a lone surrogate"),
]


@pytest.mark.parametrize(("watchlists", "message"), ERRORS)
def test_compile_errors_name_the_problem(watchlists: list[WatchlistConfig], message: str) -> None:
    with pytest.raises(WatchlistError) as info:
        compile_watchlists(watchlists)
    assert message in str(info.value)


TESLA_MODEL = wl("w", [TESLA]).entities[0]


def test_an_alias_that_folds_to_one_character_is_refused() -> None:
    bad = WatchlistConfig.model_construct(
        watchlist="w", entities=[TESLA_MODEL.model_copy(update={"aliases": ["ｘ "]})], all_of=[], any_of=[],
        keywords=[], exclude_keywords=[], min_mentions=1, in_="any",
    )
    with pytest.raises(WatchlistError, match="alias 'ｘ ' is shorter than 2 characters"):
        compile_watchlists([bad])

# -- properties -------------------------------------------------------------------------------------

CATALOGUE = [
    ("MSFT", ["Microsoft", "微软", "微軟", "マイクロソフト", "Azure"]),
    ("AMZN", ["Amazon", "亚马逊", "アマゾン", "AWS", "Amazon Web Services"]),
    ("OPENAI", ["OpenAI", "オープンAI"]),
    ("META", ["Meta Platforms", "Meta", "メタ"]),
    ("TSLA", ["Tesla", "特斯拉", "テスラ"]),
    ("BIDU", ["Baidu", "百度"]),
    ("MUSK", ["Elon Musk", "Musk", "马斯克", "イーロン・マスク"]),
    ("SOFTBANK", ["SoftBank", "ソフトバンクグループ", "ソフトバンク"]),
]
PROPERTY = compile_watchlists([wl("p", [{"id": i, "name": i, "aliases": a} for i, a in CATALOGUE])])
PROPERTY_PYTHON = compile_watchlists([wl("p", [{"id": i, "name": i, "aliases": a} for i, a in CATALOGUE])], native=False)
BOTH = (PROPERTY, PROPERTY_PYTHON)  # the native scanner where built, and the Python path
ALIASES = [(i, a) for i, aliases in CATALOGUE for a in aliases]
# text made of Latin, digits, Han, kana and punctuation, including pieces of the aliases themselves
NOISE = st.text(alphabet=st.sampled_from(list("abcMetaTsl019 .,$()軟软微特斯拉百度的在アマゾンテスラメターのは、。\n")),
                max_size=40)
SEPARATORS = st.sampled_from([" ", "、", "。", "\n", "(", ")", "の", "，", "—"])


@settings(max_examples=300, deadline=None)
@given(NOISE, SEPARATORS, st.sampled_from(ALIASES), SEPARATORS, NOISE, st.booleans())
def test_an_alias_inserted_at_a_boundary_is_always_found(
    before: str, left: str, alias: tuple[str, str], right: str, after: str, in_title: bool
) -> None:
    entity, written = alias
    text = before + left + written + right + after
    title, body = (text, "") if in_title else ("", text)
    for matcher in BOTH:
        result = matcher.match(title, body)
        entities = {e.id: e for m in result for e in m.entities}
        assert entity in entities
        start = len(before + left)
        field = "title" if in_title else "body"
        spans = [(m.field, m.start, m.end) for m in entities[entity].mentions]
        assert any(f == field and s <= start and start + len(written) <= e for f, s, e in spans) or \
            entities[entity].count > len(spans)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80), st.text(max_size=200))
def test_offsets_always_lie_inside_the_text(title: str, text: str) -> None:
    assert PROPERTY.match(title, text) == PROPERTY_PYTHON.match(title, text)
    for match in PROPERTY.match(title, text):
        for entity in match.entities:
            for m in entity.mentions:
                source = title if m.field == "title" else text
                assert 0 <= m.start < m.end <= len(source)
                assert source[m.start:m.end] == m.text
    for row in PROPERTY.mentions(title, text):
        source = title if row.field == "title" else text
        assert 0 <= row.start < row.end <= len(source)
