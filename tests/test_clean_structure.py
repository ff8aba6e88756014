"""Cleaning real-site shapes (issue #21), on fixtures written here: structure of HTML, source-line grammars,
teasers, and text kept as written. No ../shared needed; `test_clean_realworld.py` runs the real items."""

from __future__ import annotations

import pytest

from wirewatch.config.packs import load_packs
from wirewatch.ingest.clean import clean_item, compile_ruleset, is_teaser, title_provider
from wirewatch.ingest.html import fold, html_to_text, html_to_text_explained
from wirewatch.ingest.item import Cleaned, Removal

RULES = compile_ruleset(load_packs())
ZH = "公司今天发布公告，宣布完成新一轮融资！资金将用于扩大产能：新建两条产线。"
ZH2 = "分析人士认为，此举有助于公司巩固市场地位，并提升盈利能力。"
EN = "Acme Corp said on Tuesday it would buy back shares worth up to $2 billion over the next year."
EN2 = "The board also raised the quarterly dividend by 5%, the company said in a statement."
JA = "同社は来期の増配を検討していると発表した。新工場は２０２７年に稼働する予定だ。"


def removed(result: Cleaned) -> dict[str, list[str]]:
    """Removed texts by rule."""
    out: dict[str, list[str]] = {}
    for r in result.removed:
        out.setdefault(r.rule, []).append(r.text)
    return out


# ------------------------------------------------------------------ text as written
def test_full_width_punctuation_is_kept_as_written() -> None:
    result = clean_item("", "", f"<p>（来源：证券时报）</p><p>{ZH}</p><p>责任编辑：王小明</p>", RULES)
    assert result.text == ZH  # `，！：` stay full-width
    assert result.source == "证券时报"


def test_cuts_map_back_to_the_written_line() -> None:
    result = clean_item("", "", f"<p>{ZH}（编译／李华）</p><p>{JA}</p>", RULES)
    assert result.text == f"{ZH}\n\n{JA}"  # the credit went; `２０２７` stays as written
    assert removed(result)["zh.credit-tail"] == ["（编译／李华）"]


@pytest.mark.parametrize("line", ["①２３ｶﾞ㈱ｅ\u0301x，！", "abc", "全角（テスト）：", "ｱｲｳ\uff9eｴ"])
def test_fold_spans_map_to_whole_written_characters(line: str) -> None:
    folded, starts, ends = fold(line)
    if not ends:  # every character kept its offset
        assert len(folded) == len(line) and folded == "".join(fold(ch)[0] for ch in line)
        return
    assert len(starts) == len(folded) + 1 and len(ends) == len(folded)
    spans = list(dict.fromkeys(zip(starts[:-1], ends, strict=True)))
    assert "".join(line[a:b] for a, b in spans) == line  # the spans tile the written line, in order
    assert starts[0] == 0 and ends[-1] == len(line)
    assert all(starts[i] <= starts[i + 1] and ends[i] <= ends[i + 1] for i in range(len(folded) - 1))


# ------------------------------------------------------------------ HTML structure
ARTICLE = f"<p>{EN}</p><p>{EN2}</p><p>Analysts expect the deal to close by the end of the quarter.</p>"


@pytest.mark.parametrize(("block", "reason"), [
    ('<figure><img src="x.jpg"><figcaption>A worker walks past the logo. REUTERS/Jane Doe</figcaption></figure>',
     "html.caption"),
    ('<div class="image-caption">A worker walks past the logo in Paris</div>', "html.caption"),
    ('<div class="share-buttons"><a href="/t">Tweet</a> <a href="/f">Share</a></div>', "html.share-widget"),
    ('<ul class="snsBtnList"><li>ツイート</li><li>シェアする</li></ul>', "html.share-widget"),
    ('<div class="RelatedStories-container"><h3>More on this</h3><a href="/a">Other story one</a></div>',
     "html.related-links"),
    ('<ul><li><a href="/a">First other headline here</a></li><li><a href="/b">Second other headline</a></li></ul>',
     "html.link-list"),
    ('<div class="InlineVideo-wrapper"><span>VIDEO 2:01</span><div>Why the buyback matters</div></div>',
     "html.media-card"),
    ('<div id="vote"><p>Is this article relevant to you?</p></div>', "html.comments"),
    ('<div class="paywall-box"><p>Subscribe to keep reading.</p></div>', "html.paywall"),
    ('<p style="display: none">Hidden tracking text for crawlers</p>', "html.hidden"),
    ('<p><a href="/markets">Markets</a></p>', "html.link-block"),
    ('<p>【<a href="javascript:void(0)">纠错</a>】</p>', "html.widget"),
])
def test_non_article_blocks_go_by_structure(block: str, reason: str) -> None:
    for content in (block + ARTICLE, ARTICLE + block, f"<p>{EN}</p>{block}<p>{EN2}</p>"):
        text, dropped = html_to_text_explained(content)
        assert EN in text and EN2 in text, content
        assert reason in {r for r, _ in dropped}, (content, dropped)
        result = clean_item("", "", content, RULES)
        assert result.text.startswith(EN) or EN in result.text
        assert all(r.rule and r.text for r in result.removed)


def test_the_heading_of_a_removed_section_goes_with_it() -> None:
    content = (ARTICLE + "<h3>Related Coverage</h3><ul><li><a href='/a'>Fed holds rates steady again</a></li>"
               "<li><a href='/b'>Dollar slips after the decision</a></li></ul>")
    text, dropped = html_to_text_explained(content)
    assert "Related Coverage" not in text and ("html.section-heading", "Related Coverage") in dropped
    assert text.endswith("Analysts expect the deal to close by the end of the quarter.")


@pytest.mark.parametrize("content", [
    # an article container whose class has a telling word is still the article
    f'<div class="article-body comments-enabled share-tools">{ARTICLE}</div>',
    # inline elements with telling classes are part of the sentence
    f'<p>Acme <span class="ticker">(ACME)</span> said it would buy back shares.</p>{ARTICLE}',
    # a paragraph with a link inside a sentence is text
    f'<p>Acme <a href="/acme">said on Tuesday</a> it would buy back shares worth up to $2 billion.</p>{ARTICLE}',
    # a lone linked paragraph that is the whole item is kept
    '<p><a href="/story">Acme to buy back shares</a></p>',
    # a sub-heading before an article paragraph is kept
    f"<h2>TRUMP IMPACT</h2>{ARTICLE}",
])
def test_article_text_in_telling_structure_stays(content: str) -> None:
    text, dropped = html_to_text_explained(content)
    plain = " ".join(html_to_text(content.replace("class=", "data-x=").replace("style=", "data-y=")).split())
    assert " ".join(text.split()) == plain, dropped


def test_cdata_markers_escaped_by_the_feed_are_dropped() -> None:
    raw = f"<![CDATA[ \n <p>{ZH}</p>\n <p>{ZH2}</p> ]]>"
    result = clean_item("", "", raw, RULES)
    assert result.text == f"{ZH}\n\n{ZH2}" and "]]>" not in result.text and "CDATA" not in result.text


# ------------------------------------------------------------------ sources
@pytest.mark.parametrize(("line", "source"), [
    ("转自：某某市商务局", "某某市商务局"),
    ("来源：某某财经 张三", "某某财经"),
    ("本文来自微信公众号“财经小站”，作者：王五，某某网经授权发布。", "微信公众号“财经小站”（作者：王五），经授权发布于某某网"),
    ("本文来自微信公众号“财经小站”，某某网经授权发布。", "微信公众号“财经小站”，经授权发布于某某网"),
    ("某某科技 12月7日报道", "某某科技"),
    ("ITmedia NEWS 5/12(金) 9:30配信", "ITmedia NEWS"),
])
def test_source_lines_in_their_real_grammars(line: str, source: str) -> None:
    result = clean_item("", "", f"<p>{line}</p><p>{ZH}</p><p>{ZH2}</p>", RULES)
    assert result.source == source
    assert result.text == f"{ZH}\n\n{ZH2}"
    assert [r.rule for r in result.removed] == ["source-line"]


@pytest.mark.parametrize(("text", "source"), [
    ("MOSCOW (Reuters) - A group of foreign investors expressed concern on Tuesday.", "Reuters"),
    ("NEW YORK, March 3 (AP) — Stocks fell sharply on Monday.", "AP"),
    ("SAN FRANCISCO (Bloomberg) -- Acme Corp said on Tuesday it would cut jobs.", "Bloomberg"),
    ("Acme (ACME) - shares rose.", None),
])
def test_a_wire_dateline_names_the_source_and_stays_in_the_text(text: str, source: str | None) -> None:
    result = clean_item("", "", f"<p>{text}</p>", RULES)
    assert result.source == source and result.text == text


@pytest.mark.parametrize(("title", "bare", "provider"), [
    ("au通信障害がほぼ回復(Impress Watch)", "au通信障害がほぼ回復", "Impress Watch"),
    ("決済サービスが全国の口座に対応（アスキー）", "決済サービスが全国の口座に対応", "アスキー"),
    ("Acme buys rival (Newswire Daily)", "Acme buys rival", "Newswire Daily"),
    ("Apple beats estimates (AAPL)", "Apple beats estimates (AAPL)", None),
    ("新型レコーダー発売(BCN)", "新型レコーダー発売", "BCN"),
    ("「AirPods Pro 2」の新機能(PHILE WEB)", "「AirPods Pro 2」の新機能", "PHILE WEB"),
    ("Acme shares jump (Update 2)", "Acme shares jump (Update 2)", None),
    ("公司公布分红方案(图)", "公司公布分红方案(图)", None),
    ("弘信电子(300657.SZ)股东完成减持", "弘信电子(300657.SZ)股东完成减持", None),
    ("(Impress Watch)", "(Impress Watch)", None),
])
def test_a_provider_suffix_leaves_the_title_for_the_source(title: str, bare: str, provider: str | None) -> None:
    assert title_provider(title) == (bare, provider)
    result = clean_item(title, f"<p>{JA}</p>", "", RULES)
    assert result.title == (bare if provider else None)
    assert result.source == provider


def test_a_source_line_wins_over_the_title_and_the_entry_field() -> None:
    result = clean_item("通信障害(Impress Watch)", "", f"<p>（来源：证券时报）</p><p>{ZH}</p>", RULES, source="Feed")
    assert result.source == "证券时报" and result.title == "通信障害"
    assert clean_item("Plain", "", f"<p>{EN}</p>", RULES, source=" Wire Desk ").source == "Wire Desk"


# ------------------------------------------------------------------ teasers
@pytest.mark.parametrize(("content", "teaser", "text"), [
    ("Read full story for latest details.", True, ""),
    ("<p>Click here to read the full article.</p>", True, ""),
    (f"<p>{JA}その判断は…</p><p>［有料会員限定］ この記事は会員限定です。登録すると続きをお読みいただけます。</p>", True,
     f"{JA}その判断は…"),
    (ARTICLE + "<p>Continue reading the main story</p>" + ARTICLE.replace("Acme", "Beta"), False, None),
    (ARTICLE, False, None),
])
def test_placeholder_and_paywall_bodies_are_teasers(content: str, teaser: bool, text: str | None) -> None:
    result = clean_item("T", "", content, RULES)
    assert result.teaser is teaser
    if text is not None:
        assert result.text == text


def test_teaser_needs_a_placeholder_or_paywall_removal() -> None:
    assert not is_teaser(Cleaned(text=""))  # a title-only item is not a teaser
    assert is_teaser(Cleaned(text="", removed=[Removal("en.placeholder", "Read more")]))
    assert is_teaser(Cleaned(text="短い", removed=[Removal("html.paywall", "会員限定")]))


def test_clean_explain_names_the_rule_or_reason_of_every_removal() -> None:
    import subprocess
    import sys

    content = ("<p>MOSCOW (Reuters) - Acme Corp said on Tuesday it would buy back shares worth $2 billion.</p>"
               '<div class="share-bar"><a href="/t">Tweet</a></div><p>Reporting by Jane Doe; Editing by Li Wei</p>'
               "<p>Read full story for latest details.</p>")
    done = subprocess.run([sys.executable, "-m", "wirewatch.cli", "clean", "--explain", "--title",
                           "Acme buys back shares (Newswire Daily)"], input=content, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "MOSCOW (Reuters) - Acme Corp said on Tuesday it would buy back shares worth $2 billion."
    err = done.stderr
    assert "--- source: Reuters" in err and "--- title: 'Acme buys back shares'" in err
    assert "removed by html.share-widget: 'Tweet'" in err
    assert "removed by en.credits: 'Reporting by Jane Doe; Editing by Li Wei'" in err
    assert "removed by en.placeholder: 'Read full story for latest details.'" in err
    assert err.count("--- removed by ") == 3


# A page written here in the shape of a blog/CMS template no test string comes from (WordPress-like
# class names): the article stays whole, every widget goes, each with a structural reason.
CMS_PAGE = f"""
<article class="post type-post hentry">
  <div class="entry-meta"><span class="posted-on">March 3, 2026</span> by <span class="author vcard">Jane Doe</span></div>
  <div class="entry-content">
    <p>{EN}</p>
    <div id="attachment_12" class="wp-caption aligncenter"><img src="a.jpg">
      <p class="wp-caption-text">The plant outside Lyon, seen from the river</p></div>
    <p>{EN2}</p>
    <div class="sharedaddy sd-sharing-enabled"><h3 class="sd-title">Share this:</h3>
      <ul><li><a href="/s1">Twitter</a></li><li><a href="/s2">Facebook</a></li></ul></div>
    <div id="jp-relatedposts" class="jp-relatedposts"><h3>Related</h3>
      <p><a href="/r1">Acme opens a second plant in Lyon</a></p><p><a href="/r2">Acme names a new CFO</a></p></div>
    <p>Analysts expect the deal to close by the end of the quarter.</p>
  </div>
  <footer class="entry-footer"><span class="cat-links">Posted in <a href="/c">Markets</a></span></footer>
  <div id="comments" class="comments-area"><h2 class="comments-title">3 thoughts</h2><p>Great news!</p></div>
</article>
"""


def test_an_unseen_cms_template_keeps_the_article_and_drops_its_widgets() -> None:
    result = clean_item("Acme buys back shares", "", CMS_PAGE, RULES)
    assert result.text == f"{EN}\n\n{EN2}\n\nAnalysts expect the deal to close by the end of the quarter."
    reasons = {r.rule for r in result.removed}
    assert {"html.byline", "html.caption", "html.share-widget", "html.related-links", "html.comments"} <= reasons
    assert all(r.rule.startswith("html.") for r in result.removed)
