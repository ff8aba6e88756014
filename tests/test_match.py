"""Table tests for the matching rules: boundaries, case, tickers, excludes, folding — en, zh and ja."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import native_built
from wirewatch.alerts.match import Matcher, salience
from wirewatch.alerts.normalise import fold, fold_table, fold_without_native
from wirewatch.alerts.types import candidates_to_json, matches_to_json
from wirewatch.alerts.watchlist import compile_watchlists
from wirewatch.config.watchlist import WatchlistConfig

# A self-contained subset of the corpus catalogue, so these tables run without ../shared.
ENTITIES: list[dict[str, Any]] = [
    {"id": "MSFT", "name": "Microsoft", "aliases": ["Microsoft", "微软", "微軟", "マイクロソフト", "Azure"],
     "tickers": ["MSFT"]},
    {"id": "AMZN", "name": "Amazon", "aliases": ["Amazon", "Amazon.com", "亚马逊", "亞馬遜", "アマゾン", "AWS",
                                                 "Amazon Web Services"],
     "tickers": ["AMZN"], "exclude": ["Amazon rainforest", "亚马逊雨林", "アマゾン川"]},
    {"id": "OPENAI", "name": "OpenAI", "aliases": ["OpenAI", "オープンAI"]},
    {"id": "AAPL", "name": "Apple", "aliases": ["Apple Inc", "Apple", "苹果公司", "アップル"], "tickers": ["AAPL"],
     "exclude": ["apple juice", "吃苹果"]},
    {"id": "META", "name": "Meta Platforms", "aliases": ["Meta Platforms", "Meta", "メタ・プラットフォームズ", "メタ"],
     "tickers": ["META"]},
    {"id": "NVDA", "name": "NVIDIA", "aliases": ["NVIDIA", "Nvidia", "英伟达", "エヌビディア"], "tickers": ["NVDA"]},
    {"id": "TSLA", "name": "Tesla", "aliases": ["Tesla", "特斯拉", "テスラ"], "tickers": ["TSLA"],
     "exclude": ["Nikola Tesla", "尼古拉·特斯拉"]},
    {"id": "TCEHY", "name": "Tencent", "aliases": ["Tencent", "腾讯", "テンセント"], "tickers": ["0700.HK", "TCEHY"]},
    {"id": "BABA", "name": "Alibaba", "aliases": ["Alibaba", "阿里巴巴", "阿里"], "tickers": ["BABA", "9988.HK"],
     "exclude": ["阿里山"]},
    {"id": "BIDU", "name": "Baidu", "aliases": ["Baidu", "百度"], "exclude": ["千百度"]},
    {"id": "MOUTAI", "name": "Kweichow Moutai", "aliases": ["贵州茅台", "茅台"], "tickers": ["600519.SH", "600519"]},
    {"id": "BYD", "name": "BYD", "aliases": ["BYD", "比亚迪"], "tickers": ["002594.SZ", "1211.HK"]},
    {"id": "TOYOTA", "name": "Toyota", "aliases": ["Toyota", "丰田", "トヨタ"], "tickers": ["7203.T", "TM"]},
    {"id": "SOFTBANK", "name": "SoftBank", "aliases": ["SoftBank", "ソフトバンクグループ", "ソフトバンク"]},
    {"id": "TSMC", "name": "TSMC", "aliases": ["TSMC", "台积电"], "tickers": ["TSM", "2330.TW"]},
    {"id": "V", "name": "Visa", "aliases": ["Visa Inc"], "tickers": ["V"]},
    {"id": "F", "name": "Ford", "aliases": ["Ford Motor", "福特"], "tickers": ["F"], "exclude": ["Gerald Ford"]},
    {"id": "MUSK", "name": "Elon Musk", "aliases": ["Elon Musk", "Musk", "马斯克", "イーロン・マスク"]},
    {"id": "FED", "name": "Federal Reserve", "aliases": ["Federal Reserve", "the Fed", "美联储"]},
    {"id": "NOCAPS", "name": "case insensitive", "aliases": ["Zephyr Labs"], "case": "insensitive"},
    {"id": "EXACT", "name": "case sensitive", "aliases": ["qubit corp"], "case": "sensitive"},
    {"id": "LOWER", "name": "lowercase alias", "aliases": ["acme robotics"]},
]


def watchlist(name: str = "w", **rules: Any) -> WatchlistConfig:
    data: dict[str, Any] = {"watchlist": name, "entities": ENTITIES}
    data.update(rules)
    return WatchlistConfig.model_validate(data)


@pytest.fixture(scope="module", params=["native", "python"])
def matcher(request: pytest.FixtureRequest) -> Matcher:
    """The table tests run on both paths: the native scanner and OpenCC + ahocorasick_rs."""
    if request.param == "native" and not native_built():
        pytest.skip("alerts._scan was not built (no C compiler at install); the Python path still runs")
    return compile_watchlists([watchlist()], native=request.param == "native")


def found(matcher: Matcher, text: str, title: str = "") -> set[str]:
    return {e.id for m in matcher.match(title, text) for e in m.entities}


BOUNDARIES = [
    # Latin and digit aliases: not inside a longer Latin word or number, glued to CJK is fine
    ("Metaverse stocks fell", "META", False),
    ("Meta's shares rose", "META", True),
    ("Meta-owned WhatsApp", "META", True),
    ("the lawsuit was filed", "AMZN", False),
    ("AWS revenue grew", "AMZN", True),
    ("AWSの売上高", "AMZN", True),
    ("ＡＷＳの売上高", "AMZN", True),
    ("在Microsoft公司工作", "MSFT", True),
    ("OpenAI的新模型", "OPENAI", True),
    ("OpenAIs new model", "OPENAI", False),
    ("MicrosoftCorp", "MSFT", False),
    ("代码6005190的股票", "MOUTAI", False),
    ("代码600519的股票", "MOUTAI", True),
    # katakana aliases: not inside a longer katakana word
    ("メタバース関連の投資", "META", False),
    ("メタ・プラットフォームズは", "META", True),
    ("メタが発表した", "META", True),
    ("アップルパイの値上げ", "AAPL", False),
    ("米アップルの新機種", "AAPL", True),
    ("テスラコイルの実験", "TSLA", False),
    ("テスラは販売を伸ばした", "TSLA", True),
    ("ﾃｽﾗの販売", "TSLA", True),
    ("テスラー社", "TSLA", False),
    ("ソフトバンクグループの決算", "SOFTBANK", True),
    # Han aliases match anywhere; exclude phrases cancel the mentions they cover
    ("嘉义县以阿里山森林游乐区闻名", "BABA", False),
    ("阿里巴巴下跌2.4%", "BABA", True),
    ("众里寻他千百度", "BIDU", False),
    ("百度发布文心大模型", "BIDU", True),
    ("亚马逊雨林的火灾", "AMZN", False),
    ("亚马逊宣布投资", "AMZN", True),
    ("アマゾン川の流域", "AMZN", False),
    ("尼古拉·特斯拉的实验", "TSLA", False),
    ("a nod to Nikola Tesla, the inventor", "TSLA", False),
    ("Tesla engineers and Nikola Tesla", "TSLA", True),
    ("fires in the Amazon rainforest", "AMZN", False),
    ("Gerald Ford years", "F", False),
    # Traditional and Simplified Chinese find each other
    ("微軟與亞馬遜", "MSFT", True),
    ("微軟與亞馬遜", "AMZN", True),
    ("微软宣布", "MSFT", True),
]


@pytest.mark.parametrize(("text", "entity", "expected"), BOUNDARIES)
def test_boundaries(matcher: Matcher, text: str, entity: str, expected: bool) -> None:
    assert (entity in found(matcher, text)) is expected


CASES = [
    ("I ate an apple today", "AAPL", False),
    ("Apple shares rose", "AAPL", True),
    ("APPLE SHARES SURGE ON IPHONE DEMAND", "AAPL", True),  # all-capitals headline
    ("APPLE shares rose", "AAPL", False),  # one shouted word in ordinary text is not a headline
    ("scents built on musk and green tea", "MUSK", False),
    ("MUSK SAYS CYBERCAB PRODUCTION HAS STARTED", "MUSK", True),
    ("Musk said on Thursday", "MUSK", True),
    ("The Fed held rates", "FED", True),  # a capital at the start of a sentence is allowed
    ("the Fed held rates", "FED", True),
    ("the fed held rates", "FED", False),
    ("NVIDIA and Nvidia and nvidia", "NVDA", True),
    ("nvidia gpus", "NVDA", False),
    ("ZEPHYR LABS and zephyr labs", "NOCAPS", True),  # case: insensitive
    ("zephyr labs raised money", "NOCAPS", True),
    ("Qubit Corp raised money", "EXACT", False),  # case: sensitive, lowercase alias
    ("qubit corp raised money", "EXACT", True),
    ("Acme Robotics and ACME ROBOTICS", "LOWER", True),  # lowercase alias: any case
    ("英伟达和ＮＶＩＤＩＡ", "NVDA", True),
    ("「META」が発表した", "META", True),  # no lowercase letters on the line: treated as capitals
]


@pytest.mark.parametrize(("text", "entity", "expected"), CASES)
def test_case_rules(matcher: Matcher, text: str, entity: str, expected: bool) -> None:
    assert (entity in found(matcher, text)) is expected


TICKERS = [
    ("Shares of Tesla ($TSLA) fell", "TSLA", True),
    ("Nvidia (NASDAQ: NVDA) forecast", "NVDA", True),
    ("Visa Inc (NYSE:V) fell 3.2%", "V", True),
    ("$V is a payments company", "V", True),
    ("NYSE: F rose", "F", True),
    ("Vitamin V and F-150 trucks", "V", False),
    ("Vitamin V and F-150 trucks", "F", False),
    ("on the NYSE: a record day", "F", False),
    ("NVDA.O rose 2%", "NVDA", True),
    ("TSLA.US fell", "TSLA", True),
    ("NVDA rose 2%", "NVDA", True),
    ("nvda rose 2%", "NVDA", False),
    ("TSMC packaging", "TSMC", True),
    ("TM rose", "TOYOTA", False),
    ("TCEHY ADRs", "TCEHY", True),
    ("腾讯控股(0700.HK)高开", "TCEHY", True),
    ("腾讯控股（00700）高开", "TCEHY", True),
    ("腾讯控股00700高开", "TCEHY", True),
    ("港股代码0700", "TCEHY", False),
    ("hk00700 收涨", "TCEHY", True),
    ("HKEX: 700", "TCEHY", True),
    ("阿里巴巴-SW(09988)", "BABA", True),
    ("600519.SH", "MOUTAI", True),
    ("sh600519 收涨", "MOUTAI", True),
    ("代码：600519", "MOUTAI", True),
    ("6005190", "MOUTAI", False),
    ("1,600519 shares", "MOUTAI", False),
    ("0.600519 percent", "MOUTAI", False),
    ("トヨタ自動車(7203.T)", "TOYOTA", True),
    ("7203.T rose", "TOYOTA", True),
    ("[7203] rose", "TOYOTA", True),
    ("<7203>は続伸", "TOYOTA", True),
    ("銘柄（7203）は続伸", "TOYOTA", True),
    ("东证: 7203", "TOYOTA", True),
    ("販売台数は7203台", "TOYOTA", False),
    ("7203.HK", "TOYOTA", False),
    ("比亚迪（002594）", "BYD", True),
    ("002594.SZ", "BYD", True),
    ("1211.HK", "BYD", True),
    ("2330.TW", "TSMC", True),
    ("TSM shares", "TSMC", True),
    ("$tsla moon", "TSLA", True),
    ("US$V", "V", False),
    ("she: 002594 said", "BYD", True),  # SHE is the Shenzhen exchange code
    ("she shed a tear", "BYD", False),
]


@pytest.mark.parametrize(("text", "entity", "expected"), TICKERS)
def test_tickers(matcher: Matcher, text: str, entity: str, expected: bool) -> None:
    assert (entity in found(matcher, text)) is expected


def test_ticker_core_does_not_match_inside_a_longer_symbol() -> None:
    only_tsm = WatchlistConfig.model_validate(
        {"watchlist": "t", "entities": [{"id": "X", "name": "x", "aliases": ["Xylo Corp"], "tickers": ["TSM", "GOOG"]}]}
    )
    m = compile_watchlists([only_tsm])
    assert m.match("", "TSMC and GOOGL") == []
    assert [e.id for r in m.match("", "TSM and GOOG") for e in r.entities] == ["X"]


def test_longest_valid_match_wins_at_each_place(matcher: Matcher) -> None:
    [result] = matcher.match("", "Amazon Web Services and Apple Inc and アップル")
    by_id = {e.id: e for e in result.entities}
    assert [m.alias for m in by_id["AMZN"].mentions] == ["Amazon Web Services"]
    assert [m.alias for m in by_id["AAPL"].mentions] == ["Apple Inc", "アップル"]


def test_offsets_point_into_the_original_text(matcher: Matcher) -> None:
    title = "ＭＩＣＲＯＳＯＦＴ發表"
    text = "ß…微軟與亞馬遜\u3000AWSの（7203）"
    [result] = matcher.match(title, text)
    for entity in result.entities:
        for m in entity.mentions:
            source = title if m.field == "title" else text
            assert source[m.start:m.end] == m.text
    texts = {m.text for e in result.entities for m in e.mentions}
    assert {"ＭＩＣＲＯＳＯＦＴ", "微軟", "亞馬遜", "AWS", "7203"} <= texts


def test_mentions_are_capped_but_counted(matcher: Matcher) -> None:
    text = "Tesla " * 10_000
    [result] = matcher.match("Tesla", text)
    [tesla] = result.entities
    assert tesla.count == 10_001
    assert len(tesla.mentions) == 20
    assert tesla.in_title and tesla.mentions[0].field == "title"
    assert len(json.dumps(matches_to_json([result]))) < 10_000


def test_snippet_is_context_around_the_mention(matcher: Matcher) -> None:
    text = "x" * 200 + " Tesla " + "y" * 200
    [result] = matcher.match("", text)
    snippet = result.entities[0].mentions[0].snippet
    assert snippet == "x" * 59 + " Tesla " + "y" * 59  # 60 characters either side, spaces included


def test_salience_ranks_title_mentions_first(matcher: Matcher) -> None:
    [result] = matcher.match("Nvidia beats", "Tesla, Tesla and Tesla. Nvidia too.")
    assert [e.id for e in result.entities] == ["NVDA", "TSLA"]
    assert result.salience == result.entities[0].salience > result.entities[1].salience > 0


def test_matches_to_json_is_json(matcher: Matcher) -> None:
    out = matches_to_json(matcher.match("微軟", "AWS"))
    assert json.loads(json.dumps(out, ensure_ascii=False)) == out
    [entry] = out
    assert entry["watchlist"] == "w"
    ids = [e["id"] for e in entry["entities"]]  # type: ignore[attr-defined]
    assert ids == ["MSFT", "AMZN"]
    mention = entry["entities"][0]["mentions"][0]  # type: ignore[index]
    assert {"alias", "field", "start", "end", "snippet"} <= set(mention)
    assert (mention["field"], mention["start"], mention["end"]) == ("title", 0, 2)


def test_explain_lists_rejected_candidates_with_reasons(matcher: Matcher) -> None:
    rows = matcher.mentions("", "Metaverse, apple, 亚马逊雨林, Amazon Web Services")
    verdicts = {(r.text, r.entity, r.verdict) for r in rows}
    assert ("Meta", "META", "boundary") in verdicts
    assert ("apple", "AAPL", "case") in verdicts
    assert ("亚马逊", "AMZN", "excluded") in verdicts
    assert ("Amazon", "AMZN", "overlapped") in verdicts
    assert ("Amazon Web Services", "AMZN", "kept") in verdicts
    rows_json = candidates_to_json(rows)
    assert json.loads(json.dumps(rows_json, ensure_ascii=False)) == rows_json
    assert {"watchlist", "entity", "kind", "alias", "field", "start", "end", "text", "verdict"} == set(rows_json[0])


def test_salience_table_equals_the_formula() -> None:
    for count in range(1, 200):
        for in_title in (False, True):
            assert salience(in_title, count) == round((2.0 if in_title else 0.0) + math.log2(1 + count), 3)


# -- the inline path for aliases, excludes and keywords must decide exactly as the general one ---------

RULED = [
    watchlist("a"), watchlist("b-keywords", keywords=["recall", "召回"]), watchlist("c-opinion", exclude_keywords=["opinion"]),
    watchlist("d-twice", min_mentions=2), watchlist("e-title", **{"in": "title"}),
    watchlist("f-all", all_of=["TSLA", "BYD"]), watchlist("g-any", any_of=["MSFT", "NVDA"]),
]
FAST = compile_watchlists(RULED)
PYTHON = compile_watchlists(RULED, native=False)  # OpenCC + ahocorasick_rs, edges checked in Python
GENERAL = compile_watchlists(RULED, native=False)
GENERAL._simple = [None] * len(GENERAL._simple)  # every hit through `_check`, the reference path
PIECES = sorted({a for e in ENTITIES for a in e["aliases"]} | {x for e in ENTITIES for x in e.get("exclude", [])} | {
    "$TSLA", "NASDAQ: NVDA", "(NYSE:V)", "0700.HK", "（7203）", "sh600519", "TSM", "recall", "召回", "opinion",
    "APPLE", "apple", "QUBIT CORP", "Qubit Corp", "ACME ROBOTICS", "THE FED", "ﾃｽﾗ", "ＡＷＳ", "微軟", "Σ",
})
ITEM_TEXT = st.lists(
    st.one_of(st.sampled_from(PIECES), st.text(alphabet=st.sampled_from(list("aZ0 .,:-'\n、。のーア漢$()")), max_size=4)),
    max_size=12,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(ITEM_TEXT, ITEM_TEXT, st.booleans())
def test_inline_checks_and_the_native_scanner_agree_with_the_general_path(title: str, text: str, shout: bool) -> None:
    if shout:
        title = title.upper()
    expected = GENERAL.match(title, text)
    assert FAST.match(title, text) == expected
    assert PYTHON.match(title, text) == expected
    explained = GENERAL.mentions(title, text)
    assert FAST.mentions(title, text) == explained
    assert PYTHON.mentions(title, text) == explained


FOLDS = [
    ("微軟", "微软"),
    ("ＡＷＳ", "aws"),
    ("ﾃｽﾗ", "テスラ"),
    ("Straße", "straße"),  # ß → ss would change the length: kept
    ("㈱トヨタ", "㈱トヨタ"),
    ("ΣΊΣΥΦΟΣ", "σίσυφοσ"),
    ("東証\u3000プライム", "东证 プライム"),
]


@pytest.mark.parametrize(("text", "expected"), FOLDS)
def test_fold(text: str, expected: str) -> None:
    assert fold(text) == expected
    assert len(fold(text)) == len(text)


def test_fast_folds_equal_the_reference_table() -> None:
    everything = "".join(chr(cp) for cp in range(1, 0x30000) if not 0xD800 <= cp < 0xE000)
    reference = everything.translate(fold_table())
    assert fold(everything) == reference  # native where built
    assert fold_without_native(everything) == reference  # OpenCC loaded with the table


def test_fold_is_idempotent() -> None:
    """Patterns are folded once and text once: a folded character must fold to itself (薴 → 苧 → 苎)."""
    table = fold_table()
    assert not [chr(cp) for cp, out in table.items() if table.get(ord(out), out) != out]
    assert fold("薴麻") == fold("苧麻") == fold("苎麻") == "苎麻"


def test_fold_survives_lone_surrogates() -> None:
    assert fold("微軟\ud800AWS") == "微软\ud800aws"


@pytest.mark.corpus
def test_local_subset_agrees_with_the_catalogue(corpus_dir: Path) -> None:
    """The subset above is copied from the catalogue; keep the two in step."""
    catalogue = yaml.safe_load((corpus_dir / "entities.yaml").read_text(encoding="utf-8"))
    by_id = {e["id"]: e for e in catalogue["entities"]}
    for entity in ENTITIES:
        if entity["id"] in by_id:
            assert set(entity["aliases"]) <= set(by_id[entity["id"]]["aliases"]), entity["id"]


def test_a_lone_surrogate_in_text_from_outside_the_store_does_not_stop_matching(native: bool) -> None:
    """The store replaces lone surrogates; `wirewatch match` and other callers may not have."""
    matcher = compile_watchlists([WatchlistConfig.model_validate(
        {"watchlist": "w", "entities": [{"id": "AMZN", "name": "Amazon", "aliases": ["Amazon", "亚马逊"]}]})],
        native=native)
    found = matcher.match("Cloud \ud800 news", "亚马逊周三表示，Amazon的云业务\udfff增长。")
    assert [(m.watchlist, [e.id for e in m.entities]) for m in found] == [("w", ["AMZN"])]
    assert [c.text for c in matcher.mentions("t\ud800", "Amazon")] == ["Amazon"]
