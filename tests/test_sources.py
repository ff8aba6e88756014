"""JSON and HTML sources read into feed entries (pure), and their `select:` checked when the config loads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.helpers import write_config
from wirewatch.cli import main
from wirewatch.config.errors import ConfigError
from wirewatch.config.loader import load_config
from wirewatch.config.models import FeedConfig
from wirewatch.config.sources import Published
from wirewatch.ingest.errors import ParseError, SelectorError
from wirewatch.ingest.sources import parse_document, read_date

FIXTURES = Path(__file__).parent / "sources_fixtures"
PAGE = "http://ir.example.com/ir/news/index.html"

DISCLOSURES = {"items": "table#main-list tbody tr", "title": "td.title", "url": "td.title a@href",
               "published": {"css": "td.time", "format": "%Y/%m/%d %H:%M", "tz": "Asia/Tokyo"},
               "body": "td.summary", "source": "td.company"}
NEWS = {"items": "ul.news-list li.news", "title": "a.headline", "url": "a.headline@href",
        "published": {"css": "span.date", "format": "%Y-%m-%d %H:%M", "tz": "Asia/Shanghai"},
        "body": "p.summary", "source": "span.outlet"}


def feed(kind: str, select: dict[str, object], url: str = PAGE) -> FeedConfig:
    return FeedConfig.model_validate({"name": "src", "url": url, "kind": kind, "select": select})


def html_fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_disclosure_table_relative_links_zone_less_dates_and_a_row_without_its_link() -> None:
    page = "https://www.release.tdnet.info/inbs/I_main_00.html"
    parsed = parse_document(feed("html", DISCLOSURES, page), html_fixture("disclosures.html"),
                            {"content-type": "text/html; charset=utf-8"}, page)
    assert [e.link for e in parsed.entries] == [
        "https://www.release.tdnet.info/inbs/140120261207512345.pdf",
        "https://www.release.tdnet.info/140120261207512399.pdf",
        "https://www.release.tdnet.info/sub/140120261207512500.pdf?utm_source=list",
    ]
    assert parsed.skipped == 1  # the correction notice has no PDF link yet
    assert parsed.warning is not None and "1 without url `td.title a@href`" in parsed.warning
    first = parsed.entries[0]
    assert first.title == "2027年3月期 第2四半期決算短信〔日本基準〕(連結)"
    assert first.published == datetime(2026, 12, 7, 6, 0, tzinfo=UTC)  # 15:00 in Tokyo
    assert first.source == "トヨタ自動車"
    assert "8.2% 増" in first.content and first.content.startswith("<td")
    assert parsed.title == "適時開示情報 一覧"


def test_news_list_resolves_links_against_the_page_and_reads_shanghai_time() -> None:
    parsed = parse_document(feed("html", NEWS), html_fixture("news_list.html"), {}, PAGE)
    assert [e.link for e in parsed.entries] == [
        "http://ir.example.com/ir/news/2026/1207-results.html",
        "http://ir.example.com/ir/news/2026/1206-buyback.html",
        "https://www.example.com/press/1205.html",
    ]
    assert parsed.entries[0].published == datetime(2026, 12, 7, 1, 30, tzinfo=UTC)
    assert [e.source for e in parsed.entries] == ["公司公告", None, None]  # an optional field may be missing
    assert parsed.skipped == 0 and "<br>" in parsed.entries[0].content


def test_base_href_wins_over_the_page_url() -> None:
    body = b'<html><head><base href="https://cdn.example.com/docs/"></head><body><ul>' \
           b'<li><a href="a.pdf">A</a></li></ul></body></html>'
    parsed = parse_document(feed("html", {"items": "li", "title": "a", "url": "a@href"}), body, {}, PAGE)
    assert parsed.entries[0].link == "https://cdn.example.com/docs/a.pdf"


@pytest.mark.parametrize(("select", "message"), [
    ({**NEWS, "items": "div.news-grid article"}, "selector `div.news-grid article` (items) matched nothing"),
    ({**NEWS, "title": "h3.headline"}, "selector `h3.headline` (title) matched nothing in 3 items"),
    ({**NEWS, "url": "a.more@href"}, "selector `a.more@href` (url) matched nothing"),
])
def test_a_changed_layout_is_a_poll_error_naming_the_selector(select: dict[str, object], message: str) -> None:
    with pytest.raises(SelectorError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_document(feed("html", select), html_fixture("news_list.html"), {}, PAGE)


def test_links_that_are_not_http_count_as_missing() -> None:
    body = b'<ul><li><a href="javascript:void(0)">A</a></li><li><a href="/b">B</a></li></ul>'
    parsed = parse_document(feed("html", {"items": "li", "title": "a", "url": "a@href"}), body, {}, PAGE)
    assert [e.link for e in parsed.entries] == ["http://ir.example.com/b"] and parsed.skipped == 1


JSON_API = {"result": {"status": {"code": 0}, "data": [
    {"docid": "comos:1", "title": "央行开展逆回购操作", "url": "https://finance.example.com/1.shtml",
     "ctime": "1733535000", "intro": "央行今日开展 1000 亿元逆回购操作。", "media_name": "新华社"},
    {"docid": 2, "title": "  A股三大指数 \n 集体收涨 ", "url": "/roll/2.shtml", "ctime": 1733535060000,
     "intro": "<p>沪指涨 1%。</p>", "media_name": "证券时报"},
    {"docid": "comos:3", "url": "https://finance.example.com/3.shtml", "ctime": "1733535120"},
]}}
SINA_SELECT = {"items": "result.data", "id": "docid", "title": "title", "url": "url",
               "published": {"path": "ctime", "format": "unix"}, "body": "intro", "source": "media_name"}


def test_json_api_by_jmespath() -> None:
    parsed = parse_document(feed("json", SINA_SELECT, "https://feed.example.com/api/roll/get?num=50"),
                            json.dumps(JSON_API).encode(), {"content-type": "application/json"})
    assert [e.guid for e in parsed.entries] == ["comos:1", "2"]
    assert parsed.skipped == 1 and "without title" in (parsed.warning or "")  # the third item has no title
    one, two = parsed.entries
    assert one.published == datetime(2024, 12, 7, 1, 30, tzinfo=UTC)
    assert two.published == datetime(2024, 12, 7, 1, 31, tzinfo=UTC)  # milliseconds recognised
    assert two.title == "A股三大指数 集体收涨" and two.link == "https://feed.example.com/roll/2.shtml"
    assert one.content == "<p>央行今日开展 1000 亿元逆回购操作。</p>" and two.content == "<p>沪指涨 1%。</p>"
    assert [e.source for e in parsed.entries] == ["新华社", "证券时报"]


def test_plain_text_bodies_keep_their_lines() -> None:
    doc = [{"title": "T", "text": "第一行\n海量资讯、精准解读，尽在新浪财经APP\n\n<第二段> & more"}]
    parsed = parse_document(feed("json", {"title": "title", "body": "text"}), json.dumps(doc).encode())
    assert parsed.entries[0].content == "<p>第一行<br>海量资讯、精准解读，尽在新浪财经APP</p><p>&lt;第二段&gt; &amp; more</p>"


def test_items_without_id_or_link_are_named_by_title_date_and_outlet() -> None:
    doc = [{"title": "同题", "time": "2024-02-29 22:11", "source": "A", "text": "x"},
           {"title": "同题", "time": "2024-02-29 22:11", "source": "B", "text": "y"}]
    select = {"title": "title", "source": "source", "body": "text", "published": "time"}
    first = parse_document(feed("json", select), json.dumps(doc).encode())
    doc[0]["text"] = "x, edited"
    again = parse_document(feed("json", select), json.dumps(doc).encode())
    assert len({e.guid for e in first.entries}) == 2
    assert [e.guid for e in first.entries] == [e.guid for e in again.entries]  # an edit keeps the identity


@pytest.mark.parametrize(("select", "body", "error"), [
    ({"items": "result.data", "title": "title"}, b'{"result": {"list": []}}', "path `result.data` (items) matched nothing"),
    ({"items": "result", "title": "title"}, b'{"result": {"a": 1}}', "gave a dict, not a list"),
    ({"title": "title"}, b'{"title": ', "not JSON"),
    ({"title": "title"}, b"   ", "empty response body"),
])
def test_json_errors(select: dict[str, object], body: bytes, error: str) -> None:
    with pytest.raises(ParseError, match=error.replace("(", r"\(").replace(")", r"\)")):
        parse_document(feed("json", select), body)


def test_an_empty_list_is_no_error_but_is_noted() -> None:
    parsed = parse_document(feed("json", {"items": "data", "title": "title"}), b'{"data": []}')
    assert parsed.entries == [] and "empty list" in (parsed.warning or "")


@pytest.mark.parametrize(("value", "how", "expected"), [
    ("2024年02月29日 23:26", Published(path="t", format="%Y年%m月%d日 %H:%M", tz="Asia/Shanghai"),
     datetime(2024, 2, 29, 15, 26, tzinfo=UTC)),
    ("2024/02/29 09:00", Published(css="t", format="%Y/%m/%d %H:%M", tz="Asia/Tokyo"),
     datetime(2024, 2, 29, 0, 0, tzinfo=UTC)),
    ("2024-02-29 09:00 +0100", Published(css="t", format="%Y-%m-%d %H:%M %z", tz="Asia/Tokyo"),
     datetime(2024, 2, 29, 8, 0, tzinfo=UTC)),  # a written zone wins over tz
    ("2024-02-29T09:00:00Z", Published(path="t"), datetime(2024, 2, 29, 9, 0, tzinfo=UTC)),
    ("2024-02-29 09:00", Published(path="t", tz="America/New_York"), datetime(2024, 2, 29, 14, 0, tzinfo=UTC)),
    ("Thu, 29 Feb 2024 09:00:00 +0900", Published(path="t"), datetime(2024, 2, 29, 0, 0, tzinfo=UTC)),
    ("1709198760", Published(path="t", format="unix"), datetime(2024, 2, 29, 9, 26, tzinfo=UTC)),
    ("1709198760", Published(path="t"), datetime(2024, 2, 29, 9, 26, tzinfo=UTC)),
    ("yesterday", Published(path="t", format="%Y-%m-%d"), None),
    ("", Published(path="t"), None),
])
def test_read_date(value: str, how: Published, expected: datetime | None) -> None:
    assert read_date(value, how) == expected


def test_an_unreadable_date_keeps_the_item_and_is_noted() -> None:
    doc = [{"title": "T", "time": "刚刚"}]
    select = {"title": "title", "published": {"path": "time", "format": "%Y-%m-%d %H:%M"}}
    parsed = parse_document(feed("json", select), json.dumps(doc, ensure_ascii=False).encode())
    assert parsed.entries[0].published is None and "1 dates did not read" in (parsed.warning or "")


def test_a_feed_is_still_a_feed() -> None:
    rss = b'<rss version="2.0"><channel><title>t</title><item><title>A</title><link>http://x.invalid/a</link>' \
          b"</item></channel></rss>"
    parsed = parse_document(FeedConfig(name="f", url=PAGE), rss)
    assert parsed.format == "rss20" and parsed.entries[0].title == "A"


# --- configuration errors: `check` exits 2 naming file, line and field -------------------------------

def config_with(tmp_path: Path, feed_yaml: str) -> Path:
    path = write_config(tmp_path, {})
    text = path.read_text(encoding="utf-8").replace("feeds: []\n", "feeds:\n" + feed_yaml)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("feed_yaml", "field", "message"), [
    ("  - name: api\n    url: http://x.invalid/\n    kind: json\n    select:\n      items: result.data\n"
     "      title: title name\n", "feeds[0].select.title", "not a valid JMESPath expression 'title name'"),
    ("  - name: page\n    url: http://x.invalid/\n    kind: html\n    select:\n      items: table#list tr\n"
     "      title: td.title a\n      url: 'td[class=title a@href'\n", "feeds[0].select.url",
     "not a valid CSS selector"),
    ("  - name: page\n    url: http://x.invalid/\n    kind: html\n    select:\n      items: tr\n"
     "      title: td\n      published: {css: td.time, format: '%Y/%m/%d %Q'}\n",
     "feeds[0].select.published.format", "not a usable strptime format"),
    ("  - name: page\n    url: http://x.invalid/\n    kind: html\n    select:\n      items: tr\n"
     "      title: td\n      published: {css: td.time, format: '%Y/%m/%d', tz: Asia/Tokio}\n",
     "feeds[0].select.published.tz", "unknown time zone 'Asia/Tokio'"),
    ("  - name: page\n    url: http://x.invalid/\n    kind: html\n    select:\n      items: tr\n"
     "      title: td\n      published: {path: ctime}\n", "feeds[0].select.published", "names its date with css:"),
    ("  - name: page\n    url: http://x.invalid/\n    kind: html\n    select:\n      title: td\n",
     "feeds[0].select.items", "required key is missing"),
    ("  - name: page\n    url: http://x.invalid/\n    kind: html\n", "feeds[0]", "needs a select: mapping"),
    ("  - name: page\n    url: http://x.invalid/\n    select: {title: t}\n", "feeds[0]", "add the kind"),
    ("  - name: page\n    url: http://x.invalid/\n    kind: xml\n", "feeds[0].kind", "'feed', 'json' or 'html'"),
])
def test_bad_expressions_are_config_errors_with_file_line_and_field(
        tmp_path: Path, feed_yaml: str, field: str, message: str) -> None:
    path = config_with(tmp_path, feed_yaml)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    [problem] = caught.value.problems
    assert problem.field == field and message in problem.message, problem
    lines = path.read_text(encoding="utf-8").splitlines()
    parts = field.split(".")
    key = "- name" if field == "feeds[0]" else parts[-2] if "missing" in message else parts[-1]  # a missing key: its parent
    assert problem.line is not None and key in lines[problem.line - 1], (problem, lines[problem.line - 1])


def test_check_exits_2_on_a_bad_expression(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = config_with(tmp_path, "  - name: api\n    url: http://x.invalid/\n    kind: json\n    select:\n"
                                 "      items: result..data\n      title: title\n")
    assert main(["--config", str(path), "check"]) == 2
    err = capsys.readouterr().err
    assert f"{path}:9: feeds[0].select.items: not a valid JMESPath expression 'result..data'" in err


def test_check_accepts_both_examples_of_the_readme(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = config_with(tmp_path, """\
  - name: sina-roll
    url: https://example.com/api/roll?num=50
    kind: json
    select:
      items: result.data
      id: docid
      title: title
      url: url
      published: {path: ctime, format: unix}
      body: intro
      source: media_name
  - name: tdnet
    url: https://example.com/list.html
    kind: html
    select:
      items: "table#list tr"
      title: "td.title a"
      url: "td.title a@href"
      published: {css: "td.time", format: "%Y/%m/%d %H:%M", tz: Asia/Tokyo}
      body: "td.summary"
""")
    assert main(["--config", str(path), "check"]) == 0
    assert "2 feeds" in capsys.readouterr().out


def test_skips_are_logged_once_per_field_with_the_count(caplog: pytest.LogCaptureFixture) -> None:
    rows = "".join(f"<li><a>{i}</a></li>" for i in range(5)) + '<li><a href="/x">x</a></li>'
    with caplog.at_level("WARNING", logger="wirewatch.ingest"):
        parsed = parse_document(feed("html", {"items": "li", "title": "a", "url": "a@href"}), rows.encode(), {}, PAGE)
    assert parsed.skipped == 5
    [record] = [r for r in caplog.records if r.levelname == "WARNING"]
    assert "5 items" in record.getMessage() and "no url (`a@href`" in record.getMessage()


def test_hostile_documents_fail_cleanly_or_are_bounded() -> None:
    deep = b"[" * 200_000 + b"]" * 200_000
    with pytest.raises(ParseError, match="not JSON"):
        parse_document(feed("json", {"title": "title"}), deep)
    many = "<ul>" + "".join(f'<li><a href="/{i}">t{i}</a></li>' for i in range(2500)) + "</ul>"
    parsed = parse_document(feed("html", {"items": "li", "title": "a", "url": "a@href"}), many.encode(), {}, PAGE)
    assert len(parsed.entries) == 2000 and "2500 items; kept the first 2000" in (parsed.warning or "")
    odd = [None, "text", 7, ["list"], {"title": {"nested": 1}}, {"title": "ok"}]
    parsed = parse_document(feed("json", {"title": "title"}), json.dumps(odd).encode())
    assert [e.title for e in parsed.entries] == ["ok"] and parsed.skipped == 5


def test_a_source_field_is_made_storable_like_the_other_fields() -> None:
    from wirewatch.config.packs import load_packs
    from wirewatch.ingest.clean import compile_ruleset
    from wirewatch.ingest.prepare import prepare_document

    doc = [{"title": "T\u0000", "source": "新华\u0000社\ud800", "text": "正文内容足够长。"}]
    select = {"title": "title", "source": "source", "body": "text"}
    prepared = prepare_document(feed("json", select), compile_ruleset(load_packs(), None, "src"),
                                json.dumps(doc).encode(), {}, PAGE, datetime.now(UTC), [])
    item = prepared.entries[0].item
    assert item.title == "T" and item.source == "新华社\ufffd"
