"""Sources benchmark: what reading a JSON API or an HTML list page costs per entry (one core).

    python -m bench.sources            # print the figures
    python -m bench.sources --write    # also replace the "## Sources (JSON and HTML)" section of bench/RESULTS.md

Documents are generated here: a 1,000-row disclosure table (the shape of tests/sources_fixtures/
disclosures.html, one row in fifty without its link) and a 1 MB JSON API answer in the shape of
Sina's roll list (`result.data`, unix `ctime`, a plain-text body of about 600 characters). For
comparison, the same JSON items as an RSS 2.0 document through the feed parser. Each figure is the
median of 7 runs after one warm-up; "parse" is `parse_document` (bytes → entries), "parse + clean" is
`prepare_document` (what a parse worker does per poll).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from pathlib import Path

from wirewatch.config.models import FeedConfig
from wirewatch.config.packs import load_packs
from wirewatch.ingest import clean as cleaning
from wirewatch.ingest.prepare import prepare_document
from wirewatch.ingest.sources import parse_document

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Sources (JSON and HTML)"
RUNS = 7

PARAGRAPH = ("苹果公司周四表示，它正在扩大其自助维修计划，将涵盖采用最新芯片的笔记本和一体机型号。"
             "该计划允许消费者通过访问公司的手册和合法的零件来修复自己的设备。")

HTML_FEED = FeedConfig.model_validate({"name": "tdnet", "url": "https://www.release.tdnet.info/inbs/I_main_00.html",
                                       "kind": "html", "select": {
                                           "items": "table#main-list tbody tr", "title": "td.title",
                                           "url": "td.title a@href", "body": "td.summary", "source": "td.company",
                                           "published": {"css": "td.time", "format": "%Y/%m/%d %H:%M",
                                                         "tz": "Asia/Tokyo"}}})
JSON_FEED = FeedConfig.model_validate({"name": "sina-roll", "url": "https://feed.example.com/api/roll?num=50",
                                       "kind": "json", "select": {
                                           "items": "result.data", "id": "docid", "title": "title", "url": "url",
                                           "body": "intro", "source": "media_name",
                                           "published": {"path": "ctime", "format": "unix"}}})
RSS_FEED = FeedConfig(name="rss", url="https://feed.example.com/rss.xml")


def html_page(rows: int) -> bytes:
    """A disclosure table of `rows` rows; every fiftieth row has no link."""
    out = ['<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8"><title>適時開示情報</title></head><body>',
           '<div id="header"><a href="/">トップ</a></div><table id="main-list"><thead><tr><th>時刻</th>'
           "<th>コード</th><th>会社名</th><th>表題</th></tr></thead><tbody>"]
    for i in range(rows):
        title = f"2027年3月期 第2四半期決算短信〔日本基準〕(連結) その{i}"
        cell = title if i % 50 == 49 else f'<a href="1401202612{i:08d}.pdf">{title}</a>'
        out.append(f'<tr><td class="time">2026/12/07 {9 + i % 8:02d}:{i % 60:02d}</td><td class="code">{1000 + i}0'
                   f'</td><td class="company">会社{i}</td><td class="title">{cell}</td>'
                   f'<td class="summary">売上高は前年同期比 {i % 20}.2% 増。通期の業績予想を修正しました。</td></tr>')
    out.append("</tbody></table></body></html>")
    return "".join(out).encode("utf-8")


def json_items(size: int) -> list[dict[str, object]]:
    """Sina-like roll items until their JSON passes `size` bytes."""
    items: list[dict[str, object]] = []
    total = 0
    while total < size:
        i = len(items)
        item: dict[str, object] = {
            "docid": f"comos:{i:08d}", "title": f"苹果将最新Mac纳入自助维修计划（{i}）",
            "url": f"https://finance.sina.com.cn/stock/usstock/c/2024-02-29/doc-{i:08d}.shtml",
            "ctime": 1709220360 + i, "media_name": "环球市场播报",
            "intro": "\n".join([PARAGRAPH] * 4 + ["海量资讯、精准解读，尽在新浪财经APP"]),
        }
        items.append(item)
        total += len(json.dumps(item, ensure_ascii=False).encode("utf-8"))
    return items


def rss_of(items: list[dict[str, object]]) -> bytes:
    """The same items as RSS 2.0."""
    parts = ['<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>roll</title>'
             "<link>https://feed.example.com/</link><description>r</description>"]
    for it in items:
        stamp = format_datetime(datetime.fromtimestamp(int(str(it["ctime"])), UTC))
        parts.append(f"<item><title>{escape(str(it['title']))}</title><link>{it['url']}</link>"
                     f"<guid>{it['docid']}</guid><pubDate>{stamp}</pubDate>"
                     f"<description>{escape(str(it['intro']))}</description></item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


def median_seconds(fn: Callable[[], object]) -> float:
    """Median wall time of `fn` over RUNS runs, after one warm-up."""
    fn()
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure() -> list[tuple[str, int, int, float, float]]:
    """(document, bytes, entries, parse µs/entry, parse+clean µs/entry) per document."""
    packs = load_packs()
    now = datetime.now(UTC)
    items = json_items(1 << 20)
    docs = [("HTML list page, 1,000 rows", HTML_FEED, html_page(1000)),
            ("JSON API answer, 1 MB", JSON_FEED, json.dumps({"result": {"data": items}}, ensure_ascii=False).encode()),
            ("same items as RSS 2.0 (feed parser)", RSS_FEED, rss_of(items))]
    rows = []
    for label, feed, body in docs:
        entries = len(parse_document(feed, body, {}, feed.url).entries)
        ruleset = cleaning.compile_ruleset(packs, feed.clean, feed.name, "example.com")
        parse = median_seconds(lambda f=feed, b=body: parse_document(f, b, {}, f.url))  # type: ignore[misc]
        prep = median_seconds(lambda f=feed, b=body, r=ruleset: prepare_document(  # type: ignore[misc]
            f, r, b, {}, f.url, now, []))
        rows.append((label, len(body), entries, parse / entries * 1e6, prep / entries * 1e6))
    return rows


def report(rows: list[tuple[str, int, int, float, float]]) -> str:
    """The RESULTS.md section."""
    lines = [SECTION, "",
             f"`python -m bench.sources` on {platform.python_implementation()} {platform.python_version()}, one core, "
             f"{time.strftime('%Y-%m-%d')}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (a shared "
             f"machine: figures are upper bounds); median of {RUNS} runs after a warm-up, documents generated by the "
             "bench (see its docstring). HTML: 980 of the 1,000 rows are entries (one in "
             "fifty has no link and is skipped); JSON: the 880 items that make 1 MB.", "",
             "| document | bytes | entries | parse µs/entry | parse + clean µs/entry |",
             "| --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {label} | {size:,} | {n:,} | {p:,.0f} | {c:,.0f} |" for label, size, n, p, c in rows]
    return "\n".join(lines) + "\n"


def write(section: str) -> None:
    """Replace (or append) the section in bench/RESULTS.md."""
    text = RESULTS.read_text(encoding="utf-8")
    if SECTION in text:
        head, rest = text.split(SECTION, 1)
        tail = rest.split("\n## ", 1)
        text = head + section + ("\n## " + tail[1] if len(tail) > 1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text, encoding="utf-8")


def main() -> None:
    """Run the benchmark and print (and optionally write) the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    section = report(measure())
    print(section)
    if args.write:
        write(section)


if __name__ == "__main__":
    main()
