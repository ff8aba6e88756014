"""Shipped rule packs (a table per pack, both punctuation widths), pack loading, and learning."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from wirewatch.config.errors import ConfigError
from wirewatch.config.models import CleanRuleConfig
from wirewatch.config.packs import load_packs
from wirewatch.ingest.boilerplate import (
    compile_rule,
    regex_source,
    unlearn_boilerplate,
)
from wirewatch.ingest.clean import clean_item, compile_ruleset, item_lines, learn_boilerplate, tidy
from wirewatch.ingest.needles import literal_needle, regex_needle, regex_needles

PACKS = load_packs()
RULES = compile_ruleset(PACKS)
ZH_BODY = "贵州茅台11月25日晚间公告，公司拟向全体股东每股派发现金红利25.18元。"
JA_BODY = "総務省が27日発表した11月の東京都区部の消費者物価指数は、前年同月比2.4%上昇した。"
EN_BODY = "Nvidia rose 2.4%, extending its advance after quarterly results beat expectations."


def narrow(text: str) -> str:
    """The half-width spelling of a boilerplate string (what some sites and scrapers deliver)."""
    return unicodedata.normalize("NFKC", text)


def wide(text: str) -> str:
    """The full-width spelling of ASCII punctuation (what other sites deliver)."""
    return "".join(chr(ord(c) + 0xFEE0) if c in ",:;!?()" else c for c in text)


# (pack, rule id, boilerplate as a site prints it, where it sits: "top" or "bottom", body)
CASES = [
    ("sina", "sina.jinqilin-header", "炒股就看金麒麟分析师研报，权威，专业，及时，全面，助您挖掘潜力主题机会！", "top", ZH_BODY),
    ("sina", "sina.jinqilin-header", "炒股就看金麒麟分析师研报，权威，专业，及时，全面，助您挖掘潜力主题机会", "top", ZH_BODY),
    ("sina", "sina.jinqilin-header", "炒股就看 金麒麟分析师研报 ，权威，专业，及时，全面，助您挖掘潜力主题机会！", "top", ZH_BODY),
    ("sina", "sina.jinqilin-header", "炒股就看金麒麟分析师研报，权威，专业，及时，全面，助您挖掘潜力主题机会！\u3000\u3000", "top", ZH_BODY),
    ("sina", "sina.jinqilin-header-ja", "株式投資は金麒麟アナリストのレポートを参考に。権威があり、専門的で、タイムリーかつ包括的。"
     "潜在的なテーマチャンスを掘り起こすお手伝いをします!", "top", JA_BODY),
    ("sina", "sina.jinqilin-header-ja", "株式投資は金麒麟アナリストのレポートを参考に。権威があり、専門的で、タイムリーかつ包括的。"
     "潜在的なテーマチャンスを掘り起こすお手伝いをします", "top", JA_BODY),
    ("sina", "sina.jinqilin-header-en", "For stock investing, see the Golden Kylin analysts' research reports: "
     "authoritative, professional, timely and comprehensive, helping you find potential thematic opportunities!",
     "top", EN_BODY),
    ("sina", "sina.jinqilin-header-en", "For stock investing, see the  Golden Kylin analysts’ research reports : "
     "authoritative, professional, timely and comprehensive, helping you find potential thematic opportunities",
     "top", EN_BODY),
    ("sina", "sina.hot-columns", "[热点栏目]自选股 数据中心 行情中心 资金流向 模拟交易 客户端", "top", ZH_BODY),
    ("sina", "sina.app-footer", "海量资讯、精准解读，尽在新浪财经APP", "bottom", ZH_BODY),
    ("sina", "sina.app-download", "下载新浪财经APP，了解更多资讯", "bottom", ZH_BODY),
    ("sina", "sina.statement", "新浪声明：此消息系转载自新浪合作媒体，新浪网登载此文出于传递更多信息之目的，并不意味着赞同其观点或证实其描述。",
     "bottom", ZH_BODY),
    ("sina", "sina.editor", "责任编辑：乔俊婧 SF128", "bottom", ZH_BODY),
    ("eastmoney", "eastmoney.disclaimer", "郑重声明：东方财富发布此内容旨在传播更多信息，与本站立场无关，不构成投资建议。据此操作，风险自担。",
     "bottom", ZH_BODY),
    ("eastmoney", "eastmoney.editor", "（责任编辑：DF120）", "bottom", ZH_BODY),
    ("netease", "netease.editor", "责任编辑：王凤枝_NT2541", "bottom", ZH_BODY),
    ("netease", "netease.hao-notice", "特别声明：以上内容(如有图片或视频亦包括在内)为自媒体平台“网易号”用户上传并发布，本平台仅提供信息存储服务。",
     "bottom", ZH_BODY),
    ("netease", "netease.hao-notice-en", "Notice: The content above (including the pictures and videos if any) is "
     "uploaded and posted by a user of NetEase Hao, which is a social media platform and only provides information "
     "storage services.", "bottom", ZH_BODY),
    ("zh", "zh.original-title", "原标题：茅台拟分红315亿元", "top", ZH_BODY),
    ("zh", "zh.editor-note", "编者按：年末分红季来临，多家白酒企业公布分红方案。", "top", ZH_BODY),
    ("zh", "zh.disclaimer", "免责声明：本文仅供参考，不构成投资建议。", "bottom", ZH_BODY),
    ("zh", "zh.follow", "点击关注，第一时间了解市场动态", "bottom", ZH_BODY),
    ("zh", "zh.app-download", "打开同花顺APP，查看更多行情", "bottom", ZH_BODY),
    ("zh", "zh.editor", "（责任编辑：李明）", "bottom", ZH_BODY),
    ("zh", "zh.statement", "声明：本文内容仅供参考，据此操作风险自担。", "bottom", ZH_BODY),
    ("en", "en.sign-up", "Sign up here.", "bottom", EN_BODY),
    ("en", "en.credits", "Reporting by Karen Freifeld in Washington; Editing by Jane Merriman", "bottom", EN_BODY),
    ("en", "en.credits", "Reporting by Akira Tanaka; Additional reporting by Liu Wei; Editing by Miral Fahmy", "bottom",
     EN_BODY),
    ("en", "en.credits", "Editing by Jane Merriman", "bottom", EN_BODY),
    ("en", "en.credits", "Reporting by Karen Freifeld, David Shepardson and Liu Wei in Washington and New York; "
     "Writing by Bate Felix; Editing by Alexander Smith.", "bottom", EN_BODY),
    ("en", "en.no-advice", "Benzinga does not provide investment advice. All rights reserved.", "bottom", EN_BODY),
    ("en", "en.trust-principles", "Our Standards: The Thomson Reuters Trust Principles.", "bottom", EN_BODY),
    ("en", "en.read-more", "Read more: Nvidia's results in charts", "bottom", EN_BODY),
    ("en", "en.post-appeared", "The post Nvidia beats estimates appeared first on Benzinga. Visit Benzinga to get "
     "more great content like this.", "bottom", EN_BODY),
    ("en", "en.automated", "This article was generated by Benzinga's automated content engine and reviewed by an "
     "editor.", "bottom", EN_BODY),
    ("en", "en.disclosure", "Disclosure: I/we have no stock, option or similar derivative position in any of the "
     "companies mentioned.", "bottom", EN_BODY),
    ("en", "en.motley-fool", "Jane Doe has no position in any of the stocks mentioned. The Motley Fool has a "
     "disclosure policy.", "bottom", EN_BODY),
    ("ja", "ja.kabutan", "株探ニュース", "bottom", JA_BODY),
    ("ja", "ja.kabutan", "株探ニュース（minkabu PRESS）", "bottom", JA_BODY),
    ("ja", "ja.minkabu-press", "（minkabu PRESS）", "bottom", JA_BODY),
    ("ja", "ja.nqn", "〔日経QUICKニュース（NQN）〕", "top", JA_BODY),
    ("ja", "ja.date-tail", "［2026年9月17日］", "bottom", JA_BODY),
    # Credits, bylines, captions, placeholders (issue #21): written here in the grammar real sites use.
    ("zh", "zh.credit", "文字：本报记者王小明、李华", "bottom", ZH_BODY),
    ("zh", "zh.credit", "图片：本报首席记者张三", "bottom", ZH_BODY),
    ("zh", "zh.credit", "编辑：赵六", "bottom", ZH_BODY),
    ("zh", "zh.credit", "【责编:周七】", "bottom", ZH_BODY),
    ("zh", "zh.reporter-credit", "某某财经记者 | 陈八", "top", ZH_BODY),
    ("zh", "zh.credit-tail", "（编译/王小明）", "bottom", ZH_BODY),
    ("zh", "zh.credit-tail", "（作者：某某说财经）", "bottom", ZH_BODY),
    ("zh", "zh.risk-disclaimer", "风险提示及免责条款", "bottom", ZH_BODY),
    ("zh", "zh.risk-disclaimer", "市场有风险，投资需谨慎。本文不构成个人投资建议。", "bottom", ZH_BODY),
    ("zh", "zh.copyright", "【本文系某某网独家稿件，未经授权，不得转载。】", "bottom", ZH_BODY),
    ("zh", "zh.topic-link", "专题：聚焦年报季", "top", ZH_BODY),
    ("sina", "sina.futures-ad", "新浪合作大平台期货开户 安全快捷有保障", "bottom", ZH_BODY),
    ("sina", "sina.quote-link", "查看最新行情", "bottom", ZH_BODY),
    ("ja", "ja.last-updated", "最終更新：5/12(金) 9:30", "bottom", JA_BODY),
    ("ja", "ja.paywall", "［有料会員限定］ この記事は会員限定です。登録すると続きをお読みいただけます。", "bottom", JA_BODY),
    ("ja", "ja.photo-credit-tail", "（c）AFP/Jane DOE", "bottom", JA_BODY),
    ("ja", "ja.credit", "写真：山田太郎", "bottom", JA_BODY),
    ("ja", "ja.credit", "取材・文：佐藤花子", "top", JA_BODY),
    ("ja", "ja.credit-tail", "（文／佐藤花子）", "bottom", JA_BODY),
    ("zh", "zh.widget-text", "正在加载...", "bottom", ZH_BODY),
    ("zh", "zh.widget-text", "我要评论(12)", "bottom", ZH_BODY),
    ("ja", "ja.widget-text", "読み込み中…", "bottom", JA_BODY),
    ("ja", "ja.widget-text", "コメント12件", "bottom", JA_BODY),
    ("en", "en.widget-text", "Loading...", "bottom", EN_BODY),
    ("en", "en.widget-text", "12 Comments", "bottom", EN_BODY),
    ("en", "en.byline", "By Jane Doe, John Q. Public", "top", EN_BODY),
    ("en", "en.byline", "By Jane Doe and Li Wei | Newswire", "top", EN_BODY),
    ("en", "en.read-time", "4 Min Read", "top", EN_BODY),
    ("en", "en.graphic-link", "(Graphic: Chip stocks in 2026 - here)", "bottom", EN_BODY),
    ("en", "en.image-credit", "Image source: Getty Images.", "bottom", EN_BODY),
    ("en", "en.image-credit", "Main image credit: Wire Photos", "bottom", EN_BODY),
    ("en", "en.photo-credit-pipes", "Jane Doe | Bloomberg | Getty Images", "bottom", EN_BODY),
    ("en", "en.photo-credit-tail", "REUTERS/Jane Doe", "bottom", EN_BODY),
    ("en", "en.photo-credit-tail", "(c)AFP/Jane DOE", "bottom", EN_BODY),
    ("en", "en.file-photo", "FILE PHOTO: A logo is seen at the company's headquarters in Santa Clara.", "top", EN_BODY),
    ("en", "en.placeholder", "Read full story for latest details.", "bottom", EN_BODY),
    ("en", "en.placeholder", "Click here to read the full article.", "bottom", EN_BODY),
    ("en", "en.continue-reading", "Continue reading the main story", "bottom", EN_BODY),
    ("en", "en.clicking-here", "GET THE APP BY CLICKING HERE", "bottom", EN_BODY),
]


WHERE = {rule.id: rule.where for rules in PACKS.values() for rule in rules}
# A whole-line rule is tried as its own paragraph; start/end rules also glued to the body's first/last line.
LAYOUTS = [(*case, layout) for case in CASES for layout in ("own-paragraph", "same-paragraph")
           if layout == "own-paragraph" or WHERE[case[1]] != "line"]


@pytest.mark.parametrize(("pack", "rule", "boiler", "where", "body", "layout"), LAYOUTS,
                         ids=[f"{c[1]}-{c[5]}-{i}" for i, c in enumerate(LAYOUTS)])
@pytest.mark.parametrize("width", [wide, narrow])
def test_pack_rule_removes_its_boilerplate(
    pack: str, rule: str, boiler: str, where: str, body: str, layout: str, width: object
) -> None:
    assert callable(width)
    boiler = width(boiler)
    if layout == "own-paragraph":
        parts = [boiler, body] if where == "top" else [body, boiler]
        content = "".join(f"<p>{p}</p>" for p in parts)
    else:
        content = f"<p>{boiler}{body}</p>" if where == "top" else f"<p>{body} {boiler}</p>"
    only_pack = compile_ruleset({pack: PACKS[pack]})
    for rules in (only_pack, RULES):
        result = clean_item("", "", content, rules)
        assert result.text == tidy(body), (rule, result)
    assert rule in {r.rule for r in clean_item("", "", content, only_pack).removed}


def test_every_shipped_rule_has_a_case() -> None:
    covered = {case[1] for case in CASES}
    shipped = {rule.id for rules in PACKS.values() for rule in rules}
    assert shipped - covered <= {"netease.source", "eastmoney.article-source"}  # those lines are sources


@pytest.mark.parametrize(
    "body",
    [
        "Reporting by the Financial Times showed the company had been in talks for months.",
        "公司点击率大幅提升，用户关注度也同步提高，管理层对下半年业绩保持乐观态度，并计划继续加大在研发方面的投入力度。",
        "The post of chief executive has been vacant since June, the company said.",
        "株探ニュースによると、同社は来期の増配を検討している。",
        "Sign up here. Then the offer was withdrawn and the campaign ended early.",
    ],
)
def test_article_lines_that_look_like_boilerplate_stay(body: str) -> None:
    assert clean_item("", "", f"<p>{body}</p>", RULES).text == tidy(body)


def test_literal_rules_match_either_width_case_and_link_spaces() -> None:
    rule = CleanRuleConfig(id="t.lit", pattern="关注我们：财经早班车！", where="line")
    rules = compile_ruleset({"t": [rule]})
    for line in ("关注我们：财经早班车！", "关注我们:财经早班车!", "关注我们 ： 财经早班车 !"):
        assert clean_item("", "", f"<p>{line}</p><p>{ZH_BODY}</p>", rules).text == tidy(ZH_BODY)
    english = compile_ruleset({"t": [CleanRuleConfig(id="t.en", pattern="Subscribe now!", where="end")]})
    assert clean_item("", "", f"<p>{EN_BODY} SUBSCRIBE NOW!</p>", english).text == EN_BODY
    assert clean_item("", "", f"<p>{EN_BODY} Subscribenow!</p>", english).text != EN_BODY


def test_regex_full_width_characters_are_read_as_half_width() -> None:
    assert regex_source("（来源：.{1,5}）") == r"\(来源:.{1,5}\)"
    assert regex_source("(?i)sign up") == "(?i:sign up)"


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        (r"Sign up here\.?", "Sign up here"),
        (r"(?:Reporting|Writing) by [^;\n]{1,150}", " by "),
        (r"[^\n]{0,30}点击[^\n]{0,10}关注", "点击"),
        (r"ab?c", "a"),
        (r"a|b", ""),
        (r"x{0,3}yz", "yz"),
        (r"\[\d{4}年\d{1,2}月\d{1,2}日\]", "日]"),
        ("(?i)sign up", "sign up"),
        ("(?x) sign \\ up  # verbose", ""),
    ],
)
def test_regex_needle_is_text_every_match_contains(source: str, needle: str) -> None:
    assert regex_needle(source) == needle


@pytest.mark.parametrize(("source", "needles"), [
    ("责任编辑:", ("责任编辑:",)),
    ("[【]?\\s*(?:文字|图片|编辑)\\s*[:|]", ("文字", "图片", "编辑")),
    ("(?:风险提示(?:及免责条款)?|免责条款)|市场有风险", ("风险提示", "免责条款", "市场有风险")),
    ("(?i)(?:main\\s+)?(?:image|photo)\\s*:", ("image", "photo")),
    ("(?:a|b)?x+", ("x",)),  # the optional group gives nothing; every match holds an x
    ("(?:a|b)?[xy]+", ()),  # nothing certain: the rule is tried on every line
    ("(?=abc)def", ("def",)),
    ("(?x) a b", ()),
])
def test_regex_needles_come_from_mandatory_alternatives(source: str, needles: tuple[str, ...]) -> None:
    assert regex_needles(source) == needles
    rule = compile_rule(CleanRuleConfig(id="t.n", pattern=source, regex=True, where="line"))
    assert rule.needles == tuple(n.lower() for n in needles)


def test_literal_needle_prefers_long_or_cjk_pieces() -> None:
    assert literal_needle("Sign up here.") == "Sign"
    assert literal_needle("海量资讯、精准解读，尽在新浪财经APP") == "海"


def test_load_packs_reports_file_line_and_rule(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "rules:\n"
        "  - id: bad.ok\n    pattern: fine\n"
        "  - id: bad.regex\n    regex: true\n    pattern: '(unclosed'\n"
        "  - id: bad.empty\n    regex: true\n    pattern: 'x?'\n"
        "  - id: bad.where\n    pattern: x\n    where: middle\n",
        encoding="utf-8",
    )
    (tmp_path / "dup.yaml").write_text("rules:\n  - id: bad.ok\n    pattern: again\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_packs(tmp_path)
    text = str(err.value)
    assert "bad.yaml:4: rules[1] (bad.regex):" in text
    assert "bad.yaml:7: rules[2] (bad.empty): pattern matches empty text" in text
    assert "bad.yaml:10: rules[3] (bad.where):" in text and "where" in text
    assert "dup.yaml:2: rule bad.ok: rule id is already used in" in text


def test_load_packs_rejects_a_file_without_rules(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("- just a list\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="x.yaml:1: expected a mapping with `rules:`"):
        load_packs(tmp_path)


def test_shipped_packs_load_with_file_stems_as_names() -> None:
    assert set(PACKS) == {"sina", "eastmoney", "netease", "zh", "en", "ja"}
    assert all(rule.id.startswith(name + ".") for name, rules in PACKS.items() for rule in rules)


# ------------------------------------------------------------------ learning
def _items(n: int, lines: list[str], start: int = 0) -> list[list[str]]:
    return [item_lines("\n\n".join([f"第{i}条消息：公司{i}号产品本周上市，售价{i * 100}元。", *lines]))
            for i in range(start, start + n)]


def test_a_line_most_items_carry_is_learned() -> None:
    histories = _items(5, ["关注我们，获取更多一手资讯。"])
    assert learn_boilerplate(histories) == {"关注我们,获取更多一手资讯。"}


def test_a_repeating_line_is_learned_from_the_second_or_third_item() -> None:
    footer = ["关注我们，获取更多一手资讯。"]
    assert learn_boilerplate(_items(1, footer)) == set()
    assert learn_boilerplate(_items(2, footer)) == {"关注我们,获取更多一手资讯。"}  # 2 of 2
    assert learn_boilerplate(_items(2, footer) + _items(1, [], 10)) == {"关注我们,获取更多一手资讯。"}  # 2 of 3
    assert learn_boilerplate(_items(1, footer) + _items(2, [], 10)) == set()  # 1 of 3
    assert learn_boilerplate(_items(2, footer) + _items(8, [], 10)) == set()  # 2 of 10: needs 3
    assert learn_boilerplate(_items(3, footer) + _items(20, [], 10)) == {"关注我们,获取更多一手资讯。"}
    assert learn_boilerplate(_items(3, footer) + _items(3, [], 10), ratio=1.0, settle=6) == set()


def test_copies_of_one_article_count_once() -> None:
    copy = item_lines("公司公布三季度业绩，收入同比增长百分之十二。\n\n管理层表示，明年将继续加大研发投入。")
    assert learn_boilerplate([copy, copy, list(copy)]) == set()  # one article re-published, not boilerplate


def test_a_learned_line_is_unlearned_when_the_newest_items_stop_carrying_it() -> None:
    footer = "关注我们,获取更多一手资讯。"
    newest_first = _items(10, [], 10) + _items(5, ["关注我们，获取更多一手资讯。"])
    assert unlearn_boilerplate(newest_first, {footer}) == {footer}
    assert unlearn_boilerplate(_items(9, [], 10) + _items(1, ["关注我们，获取更多一手资讯。"]), {footer}) == set()
    assert unlearn_boilerplate(_items(5, []), {footer}) == set()  # too few items to tell


def test_a_company_name_or_market_term_in_every_item_is_not_learned() -> None:
    texts = [
        f"贵州茅台今天公布第{i}季度数据，收入增长{i}%。沪深300指数收涨{i}%，贵州茅台领涨。"
        f"\n\nTesla Inc shares rose {i}% on Monday, while Tesla Inc said deliveries grew. S&P 500 futures rose {i} points."
        for i in range(1, 11)
    ]
    learned = learn_boilerplate([item_lines(t) for t in texts])
    assert learned == set()
    assert all("贵州茅台" not in line or len(line) > 10 for t in texts for line in item_lines(t))


def test_a_recurring_sentence_inside_a_longer_line_is_learned_and_removed_whole() -> None:
    texts = [f"公司{i}号产品今天上市。更多资讯请下载某某财经客户端。" for i in range(6)]
    learned = learn_boilerplate([item_lines(t) for t in texts])
    assert learned == {"更多资讯请下载某某财经客户端。"}
    rules = compile_ruleset({}, learned=learned)
    assert clean_item("", "", texts[0], rules).text == "公司0号产品今天上市。"


def test_learned_lines_from_config_are_normalised_before_use() -> None:
    from wirewatch.config.models import FeedCleanConfig, LearnedConfig

    cfg = FeedCleanConfig(learned=LearnedConfig(pin=["欢迎关注：财经早班车！"], disable=["Sign up here."]))
    rules = compile_ruleset({}, cfg, learned=["Sign up here."])
    result = clean_item("", "", f"<p>{ZH_BODY}</p><p>欢迎关注:财经早班车!</p><p>Sign up here.</p>", rules)
    assert result.text == tidy(ZH_BODY) + "\n\nSign up here."
