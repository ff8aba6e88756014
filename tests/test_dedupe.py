"""Story grouping core: normalisation, signatures, band keys and the join/new/update decision."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wirewatch.ingest import dedupe
from wirewatch.ingest.dedupe import Candidate, MemoryIndex, Signature

ZH_RESULTS = [
    "宁德时代11月26日晚间公告，公司前三季度实现营业收入2876.5亿元，同比增长9.3%；归属于上市公司股东的净利润"
    "412.8亿元，同比增长21.4%。其中第三季度单季净利润152.6亿元，创历史新高。",
    "分业务看，动力电池系统收入同比增长7.1%，储能电池系统收入同比增长34.5%，储能业务毛利率维持在25%以上。"
    "公司表示，欧洲匈牙利工厂一期已进入设备调试阶段，预计明年上半年投产。",
    "截至三季度末，公司货币资金约3021亿元，经营活动产生的现金流量净额为854亿元。"
    "多家券商研报认为，储能需求高增长将继续支撑公司明年业绩。",
]
ZH_OTHER_EVENT = [
    "宁德时代11月26日与一家欧洲整车企业签署长期供货协议，将在2027年至2032年间向对方供应磷酸铁锂电池，"
    "合同总量约为200吉瓦时，具体金额未予披露。",
    "据知情人士透露，相关电池将主要由宁德时代在西班牙的合资工厂生产，该工厂计划于2026年底动工建设。",
    "截至三季度末，公司货币资金约3021亿元，经营活动产生的现金流量净额为854亿元。",
]
EN_RESULTS = [
    "Nvidia reported third-quarter revenue of $61.2 billion on Wednesday, up 58% from a year earlier and ahead "
    "of the $59.8 billion analysts had expected, as demand for its data-center chips stayed strong.",
    "Data-center revenue rose 63% to $53.9 billion. Gross margin was 74.1%, slightly below the prior quarter, "
    "as the company ramped production of its newest systems.",
    "The company forecast fourth-quarter revenue of about $68 billion, plus or minus 2%. Shares rose 3% in "
    "extended trading after closing at $186.40.",
]
EN_OTHER_EVENT = [
    "Nvidia said on Wednesday it would invest up to $5 billion in a European cloud provider and supply it with "
    "chips for a new data-center campus in Finland, expanding its push into sovereign AI infrastructure.",
    "The campus is expected to draw about 400 megawatts of power when complete in 2028. Financial terms beyond "
    "the investment cap were not disclosed, and the deal still needs regulatory approval.",
    "Shares rose 3% in extended trading after closing at $186.40.",
]


def _join(paragraphs: list[str], sep: str = "\n\n") -> str:
    return sep.join(paragraphs)


def _index_with(text: str, story_id: int = 7, item_id: int = 1) -> MemoryIndex:
    index = MemoryIndex()
    sig = dedupe.signature(text)
    index.add(item_id, story_id, sig, len(text))
    return index


def _decide_against(stored: str, new: str) -> dedupe.Decision:
    index = _index_with(stored)
    sig = dedupe.signature(new)
    return dedupe.decide(new, sig, index.candidates(sig))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ｈｅｌｌｏ，  World!", "hello world"),
        ("贵州茅台（600519.SH）公告。", "贵州茅台 600519 sh 公告"),
        ("STRASSE ß", "strasse ss"),
        ("café\u0301 naïve", "café naïve"),
        ("", ""),
        ("… — !!", ""),
    ],
)
def test_normalise_for_dedupe(text: str, expected: str) -> None:
    assert dedupe.normalise_for_dedupe(text) == expected


def test_shingles_are_char_trigrams_for_cjk_and_word_trigrams_for_latin() -> None:
    assert dedupe.shingles("贵州茅台") == ["贵 州 茅", "州 茅 台"]
    assert dedupe.shingles("Tesla starts volume production") == ["tesla starts volume", "starts volume production"]
    assert dedupe.shingles("阿里云 Qwen4-Max") == ["阿 里 云", "里 云 qwen4", "云 qwen4 max"]
    assert dedupe.shingles("Hi") == ["hi"]
    assert dedupe.shingles(" ,. ") == []


def test_text_hash_ignores_paragraph_breaks_and_punctuation_style() -> None:
    base = _join(ZH_RESULTS)
    assert dedupe.text_hash(base) == dedupe.text_hash("".join(ZH_RESULTS))
    assert dedupe.text_hash(base) == dedupe.text_hash(_join(ZH_RESULTS, "\n"))
    assert dedupe.text_hash("Shares rose 3%.") == dedupe.text_hash("shares  rose 3 %")
    assert dedupe.text_hash(base) != dedupe.text_hash(_join(ZH_OTHER_EVENT))


def test_signature_bytes_round_trip() -> None:
    sig = dedupe.signature(_join(EN_RESULTS))
    data = sig.to_bytes()
    assert len(data) == dedupe.NUM_PERM * 4
    assert Signature.from_bytes(data) == sig
    with pytest.raises(ValueError, match="rebuild the dedupe index"):
        Signature.from_bytes(data[:-4])


def test_band_keys_are_short_distinct_per_band() -> None:
    keys = dedupe.band_keys(dedupe.signature(_join(ZH_RESULTS)))
    assert len(keys) == dedupe.BANDS
    assert [k[:3] for k in keys] == [f"{b:02d}:" for b in range(dedupe.BANDS)]
    assert all(len(k) <= 40 for k in keys)


def test_scheme_names_library_and_every_parameter() -> None:
    for part in ("rensa-", f"n={dedupe.SHINGLE_N}", f"perm={dedupe.NUM_PERM}", f"bands={dedupe.BANDS}x{dedupe.ROWS}"):
        assert part in dedupe.SCHEME


def test_similarity_of_identical_and_unrelated_texts() -> None:
    a = dedupe.signature(_join(EN_RESULTS))
    assert dedupe.similarity(a, a) == 1.0
    assert dedupe.similarity(a, dedupe.signature(_join(ZH_RESULTS))) < 0.05
    with pytest.raises(ValueError):
        dedupe.similarity(a, Signature(a.values[:10]))


@pytest.mark.parametrize(
    ("home", "copy"),
    [
        (
            _join(ZH_RESULTS) + "\n\n责任编辑：王涛",
            "".join(ZH_RESULTS[:2]) + "\n" + ZH_RESULTS[2] + "\n\n（来源：证券时报网）",
        ),
        (
            _join(EN_RESULTS) + "\n\n(Reporting by Jane Doe; Editing by Tom Roe)",
            "NEW YORK, Nov 19 - " + " ".join(EN_RESULTS) + "\n\nRead more on our markets page.",
        ),
    ],
    ids=["zh", "en"],
)
def test_syndicated_copies_with_other_boilerplate_and_breaks_join(home: str, copy: str) -> None:
    decision = _decide_against(home, copy)
    assert decision.story_id == 7, decision.reason
    assert not decision.is_update, decision.reason


@pytest.mark.parametrize(
    ("first", "second"),
    [(ZH_RESULTS, ZH_OTHER_EVENT), (EN_RESULTS, EN_OTHER_EVENT)],
    ids=["zh", "en"],
)
def test_two_events_about_one_company_on_one_day_stay_apart(first: list[str], second: list[str]) -> None:
    decision = _decide_against(_join(first), _join(second))
    assert decision.story_id is None, decision.reason
    assert decision.score < 0.3


@pytest.mark.parametrize(
    ("paragraphs", "extra"),
    [
        (ZH_RESULTS, "公司同时宣布，拟向全体股东每10股派发现金红利25元（含税），合计派发约110亿元，分红方案尚需股东大会审议。"),
        (EN_RESULTS, "Chief Executive Jensen Huang told analysts on a call that orders for the company's next-generation "
                     "systems already exceeded supply through the middle of next year, and that new capacity at "
                     "partner factories in Taiwan and Arizona would come online in stages."),
    ],
    ids=["zh", "en"],
)
def test_update_with_one_more_paragraph_joins_and_is_flagged(paragraphs: list[str], extra: str) -> None:
    decision = _decide_against(_join(paragraphs), _join([*paragraphs, extra]))
    assert decision.story_id == 7, decision.reason
    assert decision.is_update, decision.reason
    earlier = _decide_against(_join([*paragraphs, extra]), _join(paragraphs))
    assert earlier.story_id == 7 and not earlier.is_update, earlier.reason


@pytest.mark.parametrize(
    ("stored", "new", "joins"),
    [
        ("茅台涨停", "茅台跌停", False),
        ("Moutai shares up 3%", "Moutai shares up 5%", False),
        ("Fed holds rates steady", "Fed holds rates steady.", True),
        ("央行：11月LPR维持不变", "央行：11月LPR下调10个基点", False),
        ("Tesla shares fall 2%", "Tesla shares fall 2% in premarket trading on Friday", False),
    ],
)
def test_short_flashes_join_only_when_identical(stored: str, new: str, joins: bool) -> None:
    decision = _decide_against(stored, new)
    assert (decision.story_id == 7) is joins, decision.reason


def test_short_flash_does_not_join_the_long_story_that_contains_it() -> None:
    decision = _decide_against(_join(EN_RESULTS), "Data-center revenue rose 63% to $53.9 billion.")
    assert decision.story_id is None, decision.reason


def test_decide_picks_the_best_story_and_reports_new_without_candidates() -> None:
    text = _join(EN_RESULTS)
    sig = dedupe.signature(text)
    other = dedupe.signature(_join(EN_OTHER_EVENT))
    cands = [Candidate(3, 30, other, 600), Candidate(5, 50, sig, len(text))]
    assert dedupe.decide(text, sig, cands).story_id == 5
    assert dedupe.decide(text, sig, []).story_id is None
    assert dedupe.decide("", dedupe.signature(""), cands).story_id is None


def test_memory_index_finds_copies_and_ranks_them_first() -> None:
    index = MemoryIndex()
    texts = [_join(ZH_RESULTS), _join(ZH_OTHER_EVENT), _join(EN_RESULTS), _join(EN_OTHER_EVENT)]
    for item_id, text in enumerate(texts):
        index.add(item_id, 100 + item_id, dedupe.signature(text), len(text))
    assert len(index) == 4
    found = index.candidates(dedupe.signature("\n".join(EN_RESULTS)))
    assert found and found[0].item_id == 2 and found[0].story_id == 102


_WHITESPACE = st.sampled_from([" ", "\n", "\n\n", "\t", "\r\n", "\u3000", "\u00a0", "  \n "])
_ALPHABET = st.one_of(
    st.characters(codec="utf-8"),
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
    st.characters(min_codepoint=0x3040, max_codepoint=0x30FF),
    st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF),
    st.characters(min_codepoint=0x0300, max_codepoint=0x036F),
)
_PARAGRAPH = st.text(_ALPHABET, max_size=60)


@settings(max_examples=300, deadline=None)
@given(text=st.text(_ALPHABET, max_size=300), others=st.lists(st.text(_ALPHABET, max_size=120), max_size=3))
def test_decide_never_raises_on_random_unicode(text: str, others: list[str]) -> None:
    index = MemoryIndex()
    for item_id, other in enumerate(others):
        index.add(item_id, item_id, dedupe.signature(other), len(other))
    sig = dedupe.signature(text)
    decision = dedupe.decide(text, sig, index.candidates(sig))
    assert 0.0 <= decision.score <= 1.0
    assert Signature.from_bytes(sig.to_bytes()) == sig
    assert len(dedupe.text_hash(text)) == 64


@settings(max_examples=300, deadline=None)
@given(paragraphs=st.lists(_PARAGRAPH, min_size=1, max_size=5), seps=st.lists(_WHITESPACE, min_size=4, max_size=4))
def test_text_hash_is_invariant_to_rebreaking(paragraphs: list[str], seps: list[str]) -> None:
    flat = " ".join(paragraphs)
    rebroken = seps[0] + "".join(p + seps[i % 3 + 1] for i, p in enumerate(paragraphs))
    assert dedupe.text_hash(rebroken) == dedupe.text_hash(flat)
    assert dedupe.text_hash(flat) == dedupe.text_hash("\n\n".join(paragraphs))


@pytest.mark.parametrize("text", ["茅台\udcff公告 a\ud800b", "\x00\x1b[31m", "👍🏽👨‍👩‍👧" * 20, "e\u0301" * 80])
def test_odd_text_is_handled(text: str) -> None:
    sig = dedupe.signature(text)
    assert dedupe.decide(text, sig, [Candidate(1, 1, sig, len(text))]).score in (0.0, 1.0)
    assert len(dedupe.text_hash(text)) == 64


def test_candidate_without_length_only_joins_when_identical() -> None:
    text = _join(EN_RESULTS)
    sig = dedupe.signature(text)
    near = dedupe.signature(text + " Shares later pared gains.")
    assert dedupe.decide(text, sig, [Candidate(1, 1, near, 0)], short_text=0).story_id is None
    assert dedupe.decide(text, sig, [Candidate(1, 1, sig, 0)], short_text=0).story_id == 1
