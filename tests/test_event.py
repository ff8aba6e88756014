"""Event signatures as tables: codes in every written form, figures across scripts and units, conflicts."""

from __future__ import annotations

import pickle
import unicodedata

import pytest

from wirewatch.ingest.event import (
    AliasTable,
    EventSignature,
    agreement,
    conflicts,
    event_signature,
    index_features,
)
from wirewatch.ingest.figures import letter_codes, parse_code, scan_numbers


def codes(text: str) -> set[str]:
    folded = unicodedata.normalize("NFKC", text)
    return {c for *_, c in scan_numbers(folded, True)[0] + letter_codes(folded)}


def figures(text: str, cjk: bool = True) -> set[str]:
    return {f for _, f in scan_numbers(unicodedata.normalize("NFKC", text), cjk)[1]}


@pytest.mark.parametrize(("text", "expected"), [
    ("贵州茅台（600519.SH）盘中涨停", {"c:CN:600519"}),
    ("贵州茅台（600519）盘中涨停", {"c:CN:600519"}),
    ("贵州茅台600519涨停", {"c:CN:600519"}),
    ("沪市sh600519与sz000858", {"c:CN:600519", "c:CN:000858"}),
    ("トヨタ自動車<7203>が反発", {"c:JP:7203"}),
    ("トヨタ(7203.T)", {"c:JP:7203"}),
    ("【7203】トヨタ", {"c:JP:7203"}),
    ("腾讯控股(0700.HK)", {"c:HK:700"}),
    ("腾讯（00700）", {"c:HK:700"}),
    ("NVIDIA (NASDAQ: NVDA) rose", {"c:US:NVDA"}),
    ("shares of $NVDA and NVDA.O", {"c:US:NVDA"}),
    ("Visa (NYSE:V) fell", {"c:US:V"}),
    # not codes: counts, years, prices, lower-case words after a colon
    ("销量为452318辆", set()),
    ("报1812元，2019年（2019）", set()),
    ("In 2019 (2019) it sold 600519 units", set()),
    ("note: nasdaq: rally", set()),
])
def test_security_codes_in_every_written_form(text: str, expected: set[str]) -> None:
    assert codes(text) == expected


@pytest.mark.parametrize(("text", "cjk", "expected"), [
    ("约500亿美元的合作", True, {"m:USD:5e+10"}),
    ("約500億ドルの提携", True, {"m:USD:5e+10"}),
    ("a deal worth about $50 billion", False, {"m:USD:5e+10"}),
    ("US$50bn", False, {"m:USD:5e+10"}),
    ("50 billion dollars", False, {"m:USD:5e+10"}),
    ("1380億ドル", True, {"m:USD:1.38e+11"}),
    ("$138 billion", False, {"m:USD:1.38e+11"}),
    ("10億ドルを投資", True, {"m:USD:1e+09"}),
    ("报1812元", True, {"m:CNY:1812"}),
    ("売上高2146億元", True, {"m:CNY:2.146e+11"}),
    ("営業益2兆2380億円", True, {"m:JPY:2.238e+12"}),
    ("¥1,812 a share", False, {"m:JPY:1812"}),
    ("每股￥1812", True, {"m:CNY:1812"}),
    ("上涨1.2%", True, {"p:1.2"}),
    ("上昇1.2％", True, {"p:1.2"}),
    ("rose 1.2 percent", False, {"p:1.2"}),
    ("11月24日", True, {"d:11-24"}),
    ("on Nov. 24", False, {"d:11-24"}),
    ("on 24 November", False, {"d:11-24"}),
    ("2019年に", True, {"y:2019"}),
    ("in 2019,", False, {"y:2019"}),
    ("45万2318台", True, {"q:452318"}),
    ("452318辆", True, {"q:452318"}),
    ("452,318 vehicles", False, {"q:452318"}),
    ("387.6万辆", True, {"q:3.876e+06"}),
    ("3.9 million vehicles", False, {"q:3.9e+06"}),
    ("第3季度 7 days 12 of them", False, set()),
])
def test_key_figures_normalised_across_scripts_and_units(text: str, cjk: bool, expected: set[str]) -> None:
    assert figures(text, cjk) == expected


def test_configured_tickers_parse_like_written_codes() -> None:
    assert [parse_code(t) for t in ("600519.SH", "7203.T", "0700.HK", "NVDA", "BRK.X")] == [
        "c:CN:600519", "c:JP:7203", "c:HK:700", "c:US:NVDA", None]


ALIASES = AliasTable.build([
    ("moutai", ["贵州茅台", "Kweichow Moutai"], ["600519.SH"]),
    ("microsoft", ["Microsoft", "微软", "マイクロソフト"], ["MSFT"]),
    ("openai", ["OpenAI"], []),
    ("amazon", ["Amazon", "亚马逊", "アマゾン"], ["AMZN"]),
])


def test_watchlist_aliases_and_codes_resolve_to_one_entity_across_scripts() -> None:
    zh = event_signature("微软考虑起诉亚马逊", "微软正考虑就亚马逊与OpenAI约500亿美元的合作寻求法律救济。", ALIASES)
    ja = event_signature("マイクロソフト、アマゾンを提訴へ", "マイクロソフトはアマゾンとOpenAIの約500億ドルの提携に対し法的救済を検討。",
                         ALIASES)
    assert {"e:microsoft", "e:amazon", "e:openai"} <= zh.entities & ja.entities
    assert zh.principal == ja.principal == "e:microsoft"
    assert "m:USD:5e+10" in zh.headline & ja.headline
    by_code = event_signature("600519.SH 盘中涨停", "截至发稿报1812元。", ALIASES)
    assert by_code.principal == by_code.code == "e:moutai"
    assert event_signature("600519.SH 盘中涨停", "截至发稿报1812元。").code == "c:CN:600519"
    assert pickle.loads(pickle.dumps(ALIASES)).find("贵州茅台") == [(0, "e:moutai")]


def test_principal_is_the_first_entity_of_the_title_then_of_the_lead() -> None:
    sig = event_signature("UPDATE 2-Apple raises dividend", "Apple Inc raised its dividend; Microsoft did not.")
    assert sig.principal == "n:apple" and sig.update
    lead = event_signature("盘中涨停", "五粮液（000858）盘中涨停，报150.2元。")
    assert lead.principal == "c:CN:000858"
    # a Title Case headline: only names the body writes count as subjects
    cased = event_signature("Apple Raises Quarterly Dividend", "Apple said on Thursday it raised the payout.")
    assert cased.subjects == {"n:apple"}


def test_signature_round_trips_through_json() -> None:
    sig = event_signature("贵州茅台（600519.SH）盘中涨停", "截至发稿报1812元，上涨1.2%。11月24日", ALIASES)
    assert EventSignature.from_json(sig.to_json()) == sig
    assert EventSignature.from_json("not json") is None
    assert index_features(sig) == ["m:CNY:1812", "p:1.2"]  # a date is shared by the whole day's news


def flash(name: str, code: str, price: str) -> EventSignature:
    return event_signature(f"{name}（{code}.SH）盘中涨停", f"{name}（{code}.SH）盘中涨停，截至发稿报{price}元，成交额明显放大。")


@pytest.mark.parametrize(("a", "b", "conflict"), [
    # one template, two companies: different codes → different events
    (flash("贵州茅台", "600519", "1812"), flash("五粮液", "000858", "150.2"), True),
    # the same flash again (a copy): no conflict
    (flash("贵州茅台", "600519", "1812"), flash("贵州茅台", "600519", "1812"), False),
    # same company, another price in the headline, no update marker: a later flash, another event
    (flash("贵州茅台", "600519", "1812"), flash("贵州茅台", "600519", "1900"), True),
    # no codes, two companies' dividends: the names and the per-share amounts differ
    (event_signature("Microsoft raises quarterly dividend to $0.91 a share",
                     "Microsoft raised its quarterly dividend to $0.91 a share."),
     event_signature("Apple raises quarterly dividend to $0.26 a share",
                     "Apple raised its quarterly dividend to $0.26 a share."), True),
    # a revision: same company, UPDATE marker, revised figure
    (event_signature("Microsoft revenue $56.2 billion", "Microsoft reported revenue of $56.2 billion."),
     event_signature("UPDATE 1-Microsoft revenue $56.5 billion", "Microsoft reported revenue of $56.5 billion, revised."),
     False),
    (flash("贵州茅台", "600519", "1812"),
     event_signature("（更新）贵州茅台（600519.SH）盘中涨停", "贵州茅台（600519.SH）盘中涨停，截至发稿报1815元。"), False),
    # a rating change: one broker, two companies
    (event_signature("Goldman upgrades Apple to buy", "Goldman Sachs upgraded Apple to buy."),
     event_signature("Goldman upgrades Nvidia to buy", "Goldman Sachs upgraded Nvidia to buy."), True),
    # templates the corpus does not have: a buyback in zh, a buyback in ja, an approval wire in en
    (event_signature("海天味业（603288）拟回购不超过5亿元股份", "海天味业（603288）公告，拟以不超过5亿元回购公司股份。"),
     event_signature("伊利股份（600887）拟回购不超过5亿元股份", "伊利股份（600887）公告，拟以不超过5亿元回购公司股份。"), True),
    (event_signature("ホンダ<7267>、自社株買い3000億円", "ホンダ<7267>は3000億円を上限とする自社株買いを発表した。"),
     event_signature("日立<6501>、自社株買い3000億円", "日立<6501>は3000億円を上限とする自社株買いを発表した。"), True),
    (event_signature("Vertex shares jump 12% after FDA approval", "Vertex shares jumped 12% after the FDA approved its drug."),
     event_signature("Moderna shares jump 9% after FDA approval", "Moderna shares jumped 9% after the FDA approved its drug."),
     True),
    (event_signature("海天味业（603288）拟回购不超过5亿元股份", "海天味业（603288）公告，拟以不超过5亿元回购公司股份。"),
     event_signature("（更新）海天味业（603288）拟回购不超过8亿元股份", "海天味业（603288）公告，回购上限调整为8亿元。"), False),
    # two outlets about one event, each naming a partner the other also names: no conflict
    (event_signature("Microsoft weighs suit over Amazon deal", "Microsoft may sue Amazon and OpenAI."),
     event_signature("Amazon, OpenAI face Microsoft threat", "Microsoft may sue Amazon and OpenAI over the deal."),
     False),
])
def test_conflict_boundary(a: EventSignature, b: EventSignature, conflict: bool) -> None:
    assert bool(conflicts(a, b)) is conflict
    assert bool(conflicts(b, a)) is conflict


SEED_JA = event_signature(
    "マイクロソフト、アマゾンとOpenAIを提訴予定:500億ドルのクラウド協力契約違反の疑い",
    "マイクロソフトはアマゾンとOpenAIの約500億ドルの提携に対して法的救済を求めることを検討。アマゾンはAWSから1380億ドルの"
    "クラウドサービスを購入することも約束。マイクロソフトは2019年にOpenAIに10億ドルを投資した。", ALIASES)
SEED_EN = event_signature(
    "Microsoft weighs legal action over $50 billion Amazon-OpenAI deal",
    "Microsoft is considering legal action over the roughly $50 billion partnership between Amazon and OpenAI. "
    "Amazon also committed to buy $138 billion of cloud services from AWS. Microsoft invested $1 billion in "
    "OpenAI in 2019.", ALIASES)


def test_translations_agree_and_events_sharing_one_company_do_not() -> None:
    score, shared = agreement(SEED_JA, SEED_EN)
    assert score >= 0.5
    assert {"m:USD:5e+10", "m:USD:1.38e+11", "m:USD:1e+09", "e:openai"} <= set(shared)
    other = event_signature("Microsoft quarterly revenue rises 16% to $65.6 billion",
                            "Microsoft said revenue rose 16% to $65.6 billion; Azure grew 33%.", ALIASES)
    assert agreement(SEED_EN, other)[0] == 0.0
    assert agreement(SEED_JA, other)[0] == 0.0


FIRST = ("贵州茅台（600519.SH）盘中涨停", "贵州茅台（600519.SH）盘中涨停，截至发稿报255.86元。")
UPDATE_CASES = [
    # (title, text, joins): the first version above is short, so text similarity cannot find it
    ("（更新）贵州茅台（600519.SH）盘中涨停", "贵州茅台（600519.SH）盘中涨停，截至发稿报255.86元。截至收盘报602.86元。", True),
    ("贵州茅台（600519.SH）盘中涨停", "贵州茅台（600519.SH）盘中涨停，截至发稿报255.86元。截至收盘报602.86元。", False),
    ("（更新）五粮液（000858.SZ）盘中涨停", "五粮液（000858.SZ）盘中涨停，截至发稿报255.86元。", False),
    ("（更新）贵州茅台（600519.SH）召开股东大会", "贵州茅台（600519.SH）董事会决定于10月15日召开股东大会。", False),
    ("UPDATE 1-Kweichow Moutai (600519.SH) hits limit up", "Kweichow Moutai (600519.SH) rose to 255.86 yuan.",
     False),
]


@pytest.mark.parametrize(("title", "text", "joins"), UPDATE_CASES)
def test_a_marked_update_joins_the_event_it_revises_and_nothing_else(title: str, text: str, joins: bool) -> None:
    from wirewatch.ingest.dedupe import EventCandidate, decide_update

    first = EventCandidate(story_id=7, item_id=70, event=event_signature(*FIRST))
    decision = decide_update(event_signature(title, text), [first])
    assert (decision.story_id == 7) is joins, decision.reason
    if joins:
        assert decision.is_update and decision.via == "update" and "m:CNY:255.86" in decision.shared


@pytest.mark.parametrize("text", ["0亿0.1,234.5", "3万1.2.3.4", "5兆1,2,3.4.5億", "營收7亿0.5,00.1美元"])
def test_a_malformed_number_after_a_scale_character_is_read_not_raised(text: str) -> None:
    """A number with stray separators after 亿/万/兆 is one odd figure, never an error that fails the feed's poll."""
    event_signature("", text)
    event_signature(text, text)
