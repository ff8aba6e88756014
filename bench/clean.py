"""Cleaning benchmark: items/s on ~3 KB HTML items (one core), the HTML parsers compared, and every
shipped rule (and built-in source pattern) timed as the cleaner applies it on 1 MB adversarial input.

    python -m bench.clean            # print the figures
    python -m bench.clean --write    # also replace the "## Cleaning" section of bench/RESULTS.md

Items are built from the shared corpus's articles (zh, ja, en) wrapped in the boilerplate their
sites add, padded with further paragraphs to about 3 KB of HTML each.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lxml import html as lxml_html  # type: ignore[import-untyped]
from selectolax.lexbor import LexborHTMLParser

from wirewatch.config.packs import load_packs
from wirewatch.ingest import clean as cleaning
from wirewatch.ingest import outlet as sources
from wirewatch.ingest.boilerplate import END_WINDOW, compile_rule, sentence_spans
from wirewatch.ingest.html import html_to_text

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("WIREWATCH_CORPUS", ROOT.parent / "shared" / "corpus"))
RESULTS = ROOT / "bench" / "RESULTS.md"
MB = 1 << 20
ITEM_BYTES = 3000

WRAP = {
    "zh": ("<p>炒股就看金麒麟分析师研报，权威，专业，及时，全面，助您挖掘潜力主题机会！</p><p>（来源：证券时报）</p>",
           "<p>海量资讯、精准解读，尽在新浪财经APP</p><p>责任编辑：乔俊婧 SF128</p>", "<p>　　{}</p>"),
    "ja": ("<p>株式投資は金麒麟アナリストのレポートを参考に。権威があり、専門的で、タイムリーかつ包括的。"
           "潜在的なテーマチャンスを掘り起こすお手伝いをします!</p><p>(出典:日本経済新聞)</p>",
           "<p>［2026年11月27日］</p><p>株探ニュース（minkabu PRESS）</p>", "<p>{}</p>"),
    "en": ("", "<p>Reporting by Karen Freifeld; Editing by Jane Merriman</p>"
           "<p>Our Standards: The Thomson Reuters Trust Principles.</p>", "<p>{}</p>"),
}


def corpus_items() -> list[tuple[str, str, str]]:
    """(title, summary, content) items of about ITEM_BYTES of HTML each."""
    articles = [json.loads(line) for line in (CORPUS / "articles.jsonl").read_text("utf-8").splitlines() if line]
    by_lang: dict[str, list[str]] = {}
    for a in articles:
        by_lang.setdefault(a["lang"], []).extend(a["paragraphs"])
    items = []
    for a in articles:
        head, tail, para = WRAP[a["lang"]]
        paras = list(a["paragraphs"])
        pool = iter(by_lang[a["lang"]])
        body = "".join(para.format(p) for p in paras)
        while len((head + body + tail).encode()) < ITEM_BYTES:
            body += para.format(next(pool))
        if a["lang"] == "en":
            body = body.replace("</p>", "</p><p>Sign up here.</p>", 1)
        items.append((a["title"], f"<p>{paras[0]}</p>", head + body + tail))
    return items


def rate(fn: Callable[[], Any], count: int, seconds: float = 2.0) -> float:
    """Things per second of this process's CPU time (`fn` handles `count` things), best of repeated runs.

    CPU time rather than wall time, so other work on a shared machine does not count against us.
    """
    best = 0.0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        gc.collect()
        start = time.process_time()
        fn()
        best = max(best, count / max(time.process_time() - start, 1e-9))
    return best


# ----------------------------------------------------------------------------------- parsers
_BLOCKS = {"p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "blockquote", "pre", "table", "tr", "td"}


def lxml_text(fragment: str) -> str:
    """An lxml equivalent of the Lexbor walk (text/tail model), for comparison only."""
    root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    out: list[str] = []

    def walk(el: Any) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in ("script", "style", "iframe", "img"):
            out.append(el.tail or "")
            return
        block = tag in _BLOCKS
        out.append("\n\n" if block else "")
        out.append(el.text or "")
        for child in el:
            walk(child)
        out.append("\n\n" if block else "")
        out.append(el.tail or "")

    walk(root)
    return "".join(out)


# ------------------------------------------------------------------------------ adversarial
SAMPLES = {
    "sina.jinqilin-header": "炒股就看金麒麟分析师研报,权威,专业,及时,全面,助您挖掘潜力主题机会!",
    "sina.jinqilin-header-ja": "株式投資は金麒麟アナリストのレポートを参考に。権威があり、専門的で、タイムリーかつ包括的。"
                               "潜在的なテーマチャンスを掘り起こすお手伝いをします!",
    "sina.jinqilin-header-en": "For stock investing, see the Golden Kylin analysts' research reports: authoritative, "
                               "professional, timely and comprehensive, helping you find potential thematic opportunities!",
    "sina.hot-columns": "[热点栏目]自选股 数据中心 行情中心 资金流向 模拟交易 客户端",
    "sina.app-footer": "海量资讯、精准解读,尽在新浪财经APP",
    "sina.app-download": "下载新浪财经APP,了解更多资讯",
    "sina.statement": "新浪声明:此消息系转载自新浪合作媒体,不构成投资建议。",
    "sina.editor": "责任编辑:乔俊婧 SF128",
    "eastmoney.disclaimer": "郑重声明:东方财富发布此内容旨在传播更多信息,与本站立场无关,不构成投资建议。",
    "eastmoney.editor": "(责任编辑:DF120)",
    "eastmoney.article-source": "(文章来源:证券时报)",
    "netease.source": "本文来源:网易科技报道",
    "netease.editor": "责任编辑:王凤枝_NT2541",
    "netease.hao-notice": "特别声明:以上内容(如有图片或视频亦包括在内)为自媒体平台“网易号”用户上传并发布",
    "netease.hao-notice-en": "Notice: The content above (including the pictures and videos if any) is uploaded and "
                             "posted by a user of NetEase Hao, which is a social media platform",
    "zh.original-title": "原标题:茅台拟分红315亿元",
    "zh.editor-note": "编者按:年末分红季来临",
    "zh.disclaimer": "免责声明:本文仅供参考",
    "zh.statement": "声明:本文内容仅供参考,据此操作风险自担。",
    "zh.follow": "点击关注,第一时间了解市场动态",
    "zh.app-download": "打开同花顺APP,查看更多行情",
    "zh.editor": "(责任编辑:李明)",
    "en.sign-up": "Sign up here.",
    "en.credits": "Reporting by Karen Freifeld and Liu Wei in Washington; Editing by Jane Merriman",
    "en.trust-principles": "Our Standards: The Thomson Reuters Trust Principles.",
    "en.read-more": "Read more: Nvidia's results in charts",
    "en.post-appeared": "The post Nvidia beats estimates appeared first on Benzinga. Visit Benzinga to get more.",
    "en.automated": "This article was generated by Benzinga's automated content engine and reviewed by an editor.",
    "en.disclosure": "Disclosure: I/we have no stock, option or similar derivative position.",
    "en.motley-fool": "Jane Doe has no position in any of the stocks mentioned. The Motley Fool has a disclosure policy.",
    "en.no-advice": "Benzinga does not provide investment advice. All rights reserved.",
    "ja.kabutan": "株探ニュース(minkabu PRESS)",
    "ja.minkabu-press": "(minkabu PRESS)",
    "ja.nqn": "〔日経QUICKニュース(NQN)〕",
    "ja.date-tail": "[2026年9月17日]",
    "zh.credit": "文字:本报记者王小明、李华",
    "zh.reporter-credit": "某某财经记者 | 陈八",
    "zh.credit-tail": "(编译/王小明)",
    "zh.risk-disclaimer": "市场有风险,投资需谨慎。本文不构成个人投资建议。",
    "zh.copyright": "【本文系某某网独家稿件,未经授权,不得转载。】",
    "zh.topic-link": "专题:聚焦年报季",
    "sina.futures-ad": "新浪合作大平台期货开户 安全快捷有保障",
    "sina.quote-link": "查看最新行情",
    "ja.last-updated": "最終更新:5/12(金) 9:30",
    "ja.paywall": "[有料会員限定] この記事は会員限定です。登録すると続きをお読みいただけます。",
    "ja.photo-credit-tail": "(c)AFP/Jane DOE",
    "ja.credit": "取材・文:佐藤花子",
    "ja.credit-tail": "(文/佐藤花子)",
    "zh.widget-text": "我要评论(12)",
    "ja.widget-text": "コメント12件",
    "en.widget-text": "View comments (12)",
    "en.byline": "By Jane Doe, John Q. Public and Li Wei | Newswire",
    "en.read-time": "4 Min Read",
    "en.graphic-link": "(Graphic: Chip stocks in 2026 - here)",
    "en.image-credit": "Main image credit: Wire Photos",
    "en.photo-credit-pipes": "Jane Doe | Bloomberg | Getty Images",
    "en.photo-credit-tail": "A worker walks past the logo. REUTERS/Jane Doe",
    "en.file-photo": "FILE PHOTO: A logo is seen at the company's headquarters in Santa Clara.",
    "en.placeholder": "Read full story for latest details.",
    "en.continue-reading": "Continue reading the main story",
    "en.clicking-here": "GET THE APP BY CLICKING HERE",
}


def adversarial(sample: str) -> dict[str, str]:
    """1 MB single-line inputs built to make a pattern work hard: repeated near-misses and pumped middles."""
    half = sample[: len(sample) // 2]
    mid = len(sample) // 2
    return {
        "prefix-repeated": (half * (MB // max(len(half), 1) + 1))[:MB],
        "near-miss-repeated": ((sample[:-1] + " ") * (MB // len(sample) + 1))[:MB],
        "sample-repeated": (sample * (MB // len(sample) + 1))[:MB],
        "middle-pumped": sample[:mid] + sample[mid] * MB + sample[mid:] + "~",
        "long-tail": sample + "x" * MB,
        "spaces": " " * MB,
        "cjk": "中" * MB,
        "capitalised-words": ("Aa " * (MB // 3)) + "x",
    }


def time_rules() -> list[tuple[str, str, float, str]]:
    """(rule id, where, worst seconds, worst input) for every shipped rule applied to 1 MB inputs."""
    rows: list[tuple[str, str, float, str]] = []
    for rules in load_packs().values():
        for config in rules:
            rule = compile_rule(config)
            worst, name = 0.0, ""
            for label, text in adversarial(SAMPLES[config.id]).items():
                start = time.perf_counter()
                rule.find(text)
                took = time.perf_counter() - start
                if took > worst:
                    worst, name = took, label
            rows.append((config.id, config.where, worst, name))
    builtin: dict[str, tuple[Callable[[str], object], str]] = {
        "source-line (fullmatch)": (sources.SOURCE_LINE.fullmatch, "(来源:证券时报)"),
        "source-start (match)": (sources.SOURCE_START.match, "(出典:网易科技)"),
        "source-end (tail search)": (lambda t: sources.SOURCE_END.search(t, max(0, len(t) - cleaning.TAIL)),
                                     "(Source: Wire Desk)"),
        "sentence split (finditer)": (sentence_spans, "一句话。Two words. ok!"),
        "wechat-line (fullmatch)": (sources._WECHAT.fullmatch, "本文来自微信公众号“财经小站”,作者:王五,某某网经授权发布。"),
        "delivered-line (fullmatch)": (sources._DELIVERED.fullmatch, "ITmedia NEWS 5/12(金) 9:30配信"),
        "relay-line (fullmatch)": (sources._RELAY.fullmatch, "某某科技 12月7日报道"),
        "dateline (match)": (sources.DATELINE.match, "NEW YORK, March 3 (AP) — Stocks fell"),
        "title provider": (sources.title_provider, "au通信障害がほぼ回復(Impress Watch)"),
    }
    for name, (fn, sample) in builtin.items():
        worst, label_worst = 0.0, ""
        for label, text in adversarial(sample).items():
            start = time.perf_counter()
            fn(text)
            took = time.perf_counter() - start
            if took > worst:
                worst, label_worst = took, label
        rows.append((name, "built-in", worst, label_worst))
    return rows


def time_whole_items(rules: cleaning.Ruleset) -> list[tuple[str, float]]:
    """clean_item on hostile 1 MB items: one huge line, many lines, stacked headers, deep nesting."""
    header = SAMPLES["sina.jinqilin-header"]
    para = "公司今天发布公告，宣布完成新一轮融资，资金将用于扩大产能。"
    cases = {
        "one 1 MB paragraph of CJK": "<p>" + para * (MB // len(para)) + "</p>",
        "20,000 short paragraphs": "".join(f"<p>{para}{i}</p>" for i in range(20_000)),
        "1 MB of stacked headers": "<p>" + header * (MB // len(header)) + "</p>",
        "same paragraph 20,000 times": f"<p>{para * 3}</p>" * 20_000,
        "10,000-deep nested divs": "<div>" * 10_000 + para + "</div>" * 10_000,
        "1 MB plain text, no tags": (para + "\n") * (MB // (len(para) + 1)),
    }
    out = []
    for name, content in cases.items():
        start = time.perf_counter()
        cleaning.clean_item("标题", "", content, rules)
        out.append((name, time.perf_counter() - start))
    return out


# ------------------------------------------------------------------------------------ report
def run() -> str:
    """Run every measurement and return the RESULTS.md section."""
    items = corpus_items()
    size = sum(len(c.encode()) for _, _, c in items) / len(items)
    rules = cleaning.compile_ruleset(load_packs())
    contents = [c for _, _, c in items]

    def clean_all() -> None:
        for title, summary, content in items:
            cleaning.clean_item(title, summary, content, rules)

    clean_rate = rate(clean_all, len(items), 4.0)
    parsers = {
        "selectolax Lexbor, parse + walk (ours: html_to_text)": lambda: [html_to_text(c) for c in contents],
        "selectolax Lexbor, parse only": lambda: [LexborHTMLParser(c).body for c in contents],
        "lxml.html, parse + walk": lambda: [lxml_text(c) for c in contents],
    }
    parser_rates = {name: rate(fn, len(contents)) for name, fn in parsers.items()}
    rule_rows = time_rules()
    whole = time_whole_items(rules)

    lines = [
        "## Cleaning",
        "",
        "`python -m bench.clean` (bench/clean.py), one process pinned to one core, rates in CPU time "
        f"(best of repeated runs), Python {platform.python_version()}, {os.cpu_count()}-CPU machine shared "
        "with other work.",
        "",
        f"**Throughput**: {clean_rate:,.0f} items/s through `clean_item` (all shipped packs) on "
        f"{len(items)} items of {size:,.0f} bytes of HTML on average (zh/ja/en corpus articles wrapped in "
        "their sites' boilerplate). Target ≥ 3,000 items/s.",
        "",
        "| HTML to text, same items | items/s |",
        "| --- | --- |",
        *(f"| {name} | {r:,.0f} |" for name, r in parser_rates.items()),
        "",
        "Lexbor is kept (see `ingest/html.py`): an HTML5 parser (libxml2's HTML parser behind lxml drops "
        "text nested deeper than 255 elements) whose C-level traversal keeps `html_to_text` a small "
        "share of the cleaning cost; a bare lxml walk (no ad or script handling) is somewhat faster.",
        "",
        f"**Every shipped rule on 1 MB adversarial input**, applied as the cleaner applies it (`line`: "
        f"fullmatch; `start`: match at the start; `end`: search in the last {END_WINDOW} characters; "
        "`anywhere`: search), worst of 8 inputs per rule (repeated near-misses, a pumped middle, a 1 MB "
        "tail, 1 MB of spaces, of CJK, of capitalised words):",
        "",
        "| rule | where | worst ms | worst input |",
        "| --- | --- | --- | --- |",
        *(f"| {rid} | {where} | {sec * 1000:.2f} | {label} |" for rid, where, sec, label in rule_rows),
        "",
        f"Slowest: {max(r[2] for r in rule_rows) * 1000:.1f} ms. No rule backtracks catastrophically; "
        "every quantifier is bounded or followed by a character it cannot match.",
        "",
        "| hostile 1 MB item through `clean_item` | seconds |",
        "| --- | --- |",
        *(f"| {name} | {sec:.2f} |" for name, sec in whole),
        "",
    ]
    return "\n".join(lines)


def write_section(section: str, path: Path = RESULTS) -> None:
    """Replace (or append) the "## Cleaning" section of RESULTS.md, leaving other sections alone."""
    text = path.read_text("utf-8") if path.exists() else "# Benchmark results\n"
    pattern = re.compile(r"^## Cleaning\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section.rstrip("\n") + "\n\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    path.write_text(text.rstrip("\n") + "\n", "utf-8")


def main() -> None:
    """Print the cleaning figures; with --write, store them in bench/RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="replace the Cleaning section of bench/RESULTS.md")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    section = run()
    print(section)
    if args.write:
        write_section(section)


if __name__ == "__main__":
    main()
