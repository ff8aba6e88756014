"""Cleaning one item: seed article, sources, title repeats, double bodies, prefixes and properties."""

from __future__ import annotations

import html
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wirewatch.config.models import CleanRuleConfig, FeedCleanConfig
from wirewatch.config.packs import load_packs
from wirewatch.ingest.clean import (
    Ruleset,
    clean_item,
    clean_text,
    compile_ruleset,
    html_to_text,
    normalise,
    tidy,
)

PACKS = load_packs()
RULES = compile_ruleset(PACKS)
SINA_HEADER = "炒股就看金麒麟分析师研报，权威，专业，及时，全面，助您挖掘潜力主题机会！"
SEED_TITLE = "マイクロソフト、アマゾンとOpenAIを提訴予定:500億ドルのクラウド協力契約違反の疑い"


def _paras(text: str) -> list[str]:
    return text.split("\n\n")


@pytest.mark.corpus
def test_seed_article_is_the_body_once_as_paragraphs_with_its_source(corpus_dir: Path) -> None:
    raw = (corpus_dir / "seed-article.txt").read_text(encoding="utf-8")
    lines = raw.split("\n")
    assert lines[1] == SEED_TITLE  # the scraper put the title between the two copies
    body = [tidy(line) for line in lines[4:] if line.strip()]

    result = clean_item(SEED_TITLE, "", raw, RULES)

    assert result.source == "网易科技"
    assert _paras(result.text) == body
    assert "金麒麟" not in result.text and "出典" not in result.text
    assert SEED_TITLE not in result.text
    rules = {r.rule for r in result.removed}
    assert {"sina.jinqilin-header-ja", "source-line", "double-body", "title-repeat"} <= rules


def test_seed_shape_as_html_with_summary_prefers_the_structured_content() -> None:
    paras = ["第一段：公司公布了三季度业绩，收入同比增长百分之十二。", "第二段：管理层表示，明年将继续加大研发投入。",
             "第三段：分析师认为，估值仍有上行空间。"]
    flat = SINA_HEADER + "（来源：证券时报）" + "".join(paras)
    content = f"<p>{flat}</p><p>三季度业绩公布</p><p>{SINA_HEADER}</p><p>（来源：证券时报）</p>" + "".join(
        f"<p>　　{p}</p>" for p in paras)
    result = clean_item("三季度业绩公布", flat[:60], content, RULES)
    assert _paras(result.text) == [tidy(p) for p in paras]
    assert result.source == "证券时报"


@pytest.mark.parametrize(
    ("line", "source"),
    [
        ("（来源：证券时报）", "证券时报"),
        ("(来源:车市观察)", "车市观察"),
        ("【来源：财联社】", "财联社"),
        ("（文章来源：21世纪经济报道）", "21世纪经济报道"),
        ("本文来源：网易科技报道", "网易科技"),
        ("(出典:网易科技)", "网易科技"),
        ("（出典：日本経済新聞）", "日本経済新聞"),
        ("Source: Global Markets Wire", "Global Markets Wire"),
        ("(Source: Wire Desk)", "Wire Desk"),
        ("（来源：财联社（上海））", "财联社（上海）"),
    ],
)
def test_source_lines_become_the_source_and_leave_the_text(line: str, source: str) -> None:
    body = "公司今天发布公告，宣布完成新一轮融资，资金将用于扩大产能。"
    contents = [f"<p>{line}</p><p>{body}</p>", f"<p>{body}</p><p>{line}</p>"]
    if tidy(line)[0] in "(【":  # a bracketed source may also open or close the body's first line
        contents += [f"<p>{line}{body}</p>", f"<p>{body}{line}</p>"]
    for content in contents:
        result = clean_item("", "", content, RULES)
        assert result.source == source, content
        assert result.text == tidy(body), content
        assert [r.rule for r in result.removed] == ["source-line"]


@pytest.mark.parametrize(
    "body",
    [
        "The source: said to be a senior official, declined to give details of the plan to reporters on Monday.",
        "来源：知情人士透露，公司正在考虑出售部分资产。",
        "本文来源：网易科技报道公司今天发布公告。",
    ],
)
def test_a_sentence_that_mentions_a_source_is_not_a_source_line(body: str) -> None:
    result = clean_item("", "", f"<p>{body}</p>", RULES)
    assert result.source is None
    assert result.text == tidy(body)


def test_header_prefix_is_removed_as_a_string_not_as_characters() -> None:
    # Every character of this lead occurs in the header; str.lstrip(header) would eat it.
    lead = "全面权威分析师看研报：炒股就看基本面，专业机构及时调仓。"
    assert set(lead) - set(SINA_HEADER) <= set("基本面，机构调仓。：")
    assert lead.lstrip(SINA_HEADER) != lead
    for content in (f"<p>{SINA_HEADER}{lead}</p>", f"<p>{SINA_HEADER}</p><p>{lead}</p>", f"<p>{lead}</p>"):
        assert clean_item("", "", content, RULES).text == tidy(lead)


def test_a_lead_starting_with_part_of_the_header_stays_intact() -> None:
    lead = "炒股就看金麒麟分析师的人越来越多，券商研报的阅读量在三季度翻了一番。"
    assert clean_item("", "", f"<p>{lead}</p>", RULES).text == tidy(lead)


@pytest.mark.parametrize(
    ("title", "top"),
    [
        ("Nvidia forecasts revenue above estimates", "Nvidia forecasts revenue above estimates"),
        ("UPDATE 1-Nvidia forecasts revenue above estimates", "Nvidia forecasts revenue above estimates"),
        ("日銀、12月利上げ判断に追い風", "日銀、12月利上げ判断に追い風"),
        ("日銀、12月利上げ判断に追い風", "日銀､12月利上げ判断に追い風"),
        ("マイクロソフト、アマゾンを提訴予定：500億ドル", "マイクロソフト、アマゾンを提訴予定:500億ドル"),
    ],
)
def test_title_repeated_at_the_top_is_removed(title: str, top: str) -> None:
    body = "The company expects revenue of $88.0 billion, plus or minus 2%, for the quarter."
    result = clean_item(title, "", f"<h1>{top}</h1><p>{body}</p>", RULES)
    assert result.text == body
    assert [r.rule for r in result.removed] == ["title-repeat"]


def test_title_words_inside_the_body_are_kept() -> None:
    title = "Nvidia forecasts revenue above estimates"
    body = ["Nvidia forecasts revenue above estimates, it said on Wednesday, as demand held up.",
            "Nvidia forecasts revenue above estimates"]
    result = clean_item(title, "", "".join(f"<p>{p}</p>" for p in ["Intro line here.", *body]), RULES)
    assert _paras(result.text) == ["Intro line here.", *body]


PARAS = [
    "US stocks closed higher on Friday, with technology shares leading for a second day.",
    "Nvidia rose 2.4%, extending its advance after quarterly results beat expectations.",
    "The 10-year Treasury yield slipped 2 basis points to 4.08% in late trading on Friday.",
]


@pytest.mark.parametrize(
    "content",
    [
        "".join(f"<p>{p}</p>" for p in PARAS) * 2,  # the same paragraphs twice
        f"<p>{' '.join(PARAS)}</p>" + "".join(f"<p>{p}</p>" for p in PARAS),  # flattened, then structured
        "".join(f"<p>{p}</p>" for p in PARAS) + f"<p>{' '.join(PARAS)}</p>",  # structured, then flattened
        f"<p>{PARAS[0][:60]}...</p>" + "".join(f"<p>{p}</p>" for p in PARAS),  # a teaser, then the body
    ],
)
def test_a_body_delivered_twice_is_kept_once_structured(content: str) -> None:
    result = clean_item("", "", content, RULES)
    assert _paras(result.text) == PARAS
    assert {r.rule for r in result.removed} == {"double-body"}


def test_content_is_preferred_and_never_concatenated_with_the_summary() -> None:
    summary = "<p>" + PARAS[0] + "</p>"
    content = "".join(f"<p>{p}</p>" for p in PARAS)
    assert clean_item("", summary, content, RULES).text == "\n\n".join(PARAS)
    assert clean_item("", summary, "", RULES).text == PARAS[0]
    assert clean_item("", summary, "<p>Sign up here.</p>", RULES).text == PARAS[0]
    assert clean_item("", "", "", RULES).text == ""


def test_repeated_short_lines_are_not_collapsed() -> None:
    content = "<p>Q: Why now?</p><p>A: Demand.</p><p>Q: Why now?</p><p>A: Supply.</p>"
    assert _paras(clean_item("", "", content, RULES).text) == ["Q: Why now?", "A: Demand.", "Q: Why now?", "A: Supply."]


def test_feed_rules_and_pack_selection_apply_per_feed() -> None:
    feed_clean = FeedCleanConfig(
        packs=["en"],
        rules=[CleanRuleConfig(id="mine.promo", pattern="Subscribe to our newsletter", where="line")],
    )
    ruleset = compile_ruleset(PACKS, feed_clean, feed="wire")
    content = (f"<p>{SINA_HEADER}</p><p>{PARAS[0]}</p><p>subscribe to  our newsletter</p><p>Sign up here.</p>")
    result = clean_item("", "", content, ruleset)
    assert _paras(result.text) == [tidy(SINA_HEADER), PARAS[0]]
    assert [r.rule for r in result.removed] == ["mine.promo", "en.sign-up"]


def test_scoped_rules_apply_only_to_their_feed_or_host() -> None:
    rule = CleanRuleConfig(id="x.tail", pattern="— Example Daily", where="end", feeds=["example"],
                           hosts=["example.com"])
    content = f"<p>{PARAS[0]} — Example Daily</p>"
    scoped = FeedCleanConfig(rules=[rule])
    assert clean_item("", "", content, compile_ruleset(PACKS, scoped, "example", "news.example.com")).text == PARAS[0]
    assert clean_item("", "", content, compile_ruleset(PACKS, scoped, "other", "news.example.com")).text != PARAS[0]
    assert clean_item("", "", content, compile_ruleset(PACKS, scoped, "example", "example.org")).text != PARAS[0]


def test_unknown_pack_names_are_reported() -> None:
    with pytest.raises(ValueError, match="unknown boilerplate pack"):
        compile_ruleset(PACKS, FeedCleanConfig(packs=["sina", "nope"]), feed="f")


def test_learned_lines_and_sentences_are_removed_with_rule_id_learned() -> None:
    learned = ["Follow us on Weibo for more market news.", "点赞关注，获取更多一手资讯。"]
    ruleset = compile_ruleset(PACKS, learned=learned)
    content = (f"<p>{PARAS[0]}</p><p>Follow us on Weibo for more market news.</p>"
               f"<p>公司发布公告称，将回购股份。点赞关注，获取更多一手资讯。</p>")
    result = clean_item("", "", content, ruleset)
    assert _paras(result.text) == [PARAS[0], "公司发布公告称，将回购股份。"]
    assert [r.rule for r in result.removed] == ["learned", "learned"]


# ---------------------------------------------------------------------------------------------
# Properties. "Adds nothing": with whitespace removed, the output is a subsequence of the
# normalised text of the part that was cleaned (content, or summary when content is empty).
# "Idempotent": the stored text, carried again as a feed would carry it (HTML-escaped), cleans
# to itself; and clean_text on the stored text returns it unchanged.
# ---------------------------------------------------------------------------------------------
BOILER = [SINA_HEADER, "（来源：证券时报）", "(出典:网易科技)", "Sign up here.", "责任编辑：王凤枝 SF123",
          "海量资讯、精准解读，尽在新浪财经APP", "Our Standards: The Thomson Reuters Trust Principles.",
          "株探ニュース", "［2026年9月17日］", "炒股", "金麒麟", "Source: X", "..."]
pieces = st.one_of(st.sampled_from(BOILER), st.sampled_from(PARAS), st.text(max_size=40))
fragments = st.lists(st.lists(pieces, max_size=4).map("".join), max_size=8)


def _html(paras: list[str]) -> str:
    return "".join(f"<p>{html.escape(p)}</p>" for p in paras)


def _subsequence(small: str, big: str) -> bool:
    it = iter(big)
    return all(ch in it for ch in small)


def _squeeze(text: str) -> str:
    return "".join(text.split())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=st.one_of(st.sampled_from(PARAS), st.text(max_size=20)), summary=fragments, content=fragments)
def test_cleaning_adds_nothing_and_is_idempotent(title: str, summary: list[str], content: list[str]) -> None:
    result = clean_item(title, _html(summary), _html(content), RULES)
    source = _html(content) if content and clean_item(title, "", _html(content), RULES).text else _html(summary)
    assert _subsequence(_squeeze(result.text), _squeeze(tidy(html_to_text(source))))
    again = clean_item(title, "", html.escape(result.text), RULES)
    assert again.text == result.text
    assert clean_text(result.text, title, RULES).text == result.text
    assert result.text == result.text.strip()
    assert "\n\n\n" not in result.text


@given(st.text())
def test_normalise_is_nfkc_and_idempotent(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once
    assert unicodedata.is_normalized("NFKC", once)
    assert "\u200b" not in once and "\u3000" not in once


def test_ruleset_is_reusable_and_typed() -> None:
    assert isinstance(RULES, Ruleset)
    assert "sina.jinqilin-header" in RULES.rule_ids
