"""`wirewatch try`: a source fetched once from 127.0.0.1, its entries and first cleaned item printed, nothing stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.feedserver import FeedServer
from tests.helpers import write_config
from tests.test_sources import html_fixture
from tests.test_sources_e2e import source_config
from wirewatch.cli import main

NEWS_SELECT = ("{items: ul.news-list li.news, title: a.headline, url: a.headline@href, body: p.summary, "
               "published: {css: span.date, format: '%Y-%m-%d %H:%M', tz: Asia/Shanghai}}")


@pytest.fixture
def server() -> FeedServer:
    with FeedServer() as srv:
        srv.add("/ir/news/", html_fixture("news_list.html"), content_type="text/html; charset=utf-8")
        yield srv


def test_try_prints_entries_and_the_first_cleaned_item(tmp_path: Path, server: FeedServer,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, {})
    code = main(["--config", str(config), "try", server.url("/ir/news/"), "--kind", "html",
                 "--select", NEWS_SELECT, "--select", "source=span.outlet", "--limit", "2"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "html-select, 3 entries, 0 skipped" in out
    assert "2026-12-07 01:30Z  宁德时代发布2026年第三季度报告" in out
    assert f"url: {server.url('/ir/news/2026/1207-results.html')}" in out
    assert "source: 公司公告" in out
    assert "… and 1 more" in out
    assert "--- first item, cleaned: 宁德时代发布2026年第三季度报告" in out
    assert "公司前三季度营业收入同比增长 12%。" in out and "归母净利润同比增长 25%。" in out
    assert not (tmp_path / "wirewatch.db").exists()  # nothing stored


def test_try_a_configured_feed_and_override_its_selector(tmp_path: Path, server: FeedServer,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    select = {"items": "ul.news-list li.news", "title": "a.headline", "url": "a.headline@href"}
    config = source_config(tmp_path, [{"name": "ir", "url": server.url("/ir/news/"), "kind": "html",
                                       "select": select}])
    assert main(["--config", str(config), "try", "--feed", "ir"]) == 0
    assert "3 entries" in capsys.readouterr().out
    assert main(["--config", str(config), "try", "--feed", "ir", "--select", "items=div.grid article"]) == 1
    err = capsys.readouterr().err
    assert "SelectorError: selector `div.grid article` (items) matched nothing" in err


@pytest.mark.parametrize(("args", "message"), [
    (["--kind", "json", "--select", "title=title name"], "select.title: not a valid JMESPath expression"),
    (["--select", "title=td"], "--select needs --kind json or --kind html"),
    (["--kind", "html", "--select", "title"], "expected key=expression"),
])
def test_try_refuses_a_bad_select_with_exit_2(tmp_path: Path, server: FeedServer, capsys: pytest.CaptureFixture[str],
                                              args: list[str], message: str) -> None:
    config = write_config(tmp_path, {})
    assert main(["--config", str(config), "try", server.url("/ir/news/"), *args]) == 2
    assert message in capsys.readouterr().err
    assert server.hits("/ir/news/") == 0


def test_try_a_json_api(tmp_path: Path, server: FeedServer, capsys: pytest.CaptureFixture[str]) -> None:
    doc = {"data": {"list": [{"id": 7, "title": "央行开展逆回购", "ts": 1733535000, "src": "新华社",
                              "text": "央行今日开展逆回购操作。\n海量资讯、精准解读，尽在新浪财经APP"}]}}
    server.add("/api", json.dumps(doc, ensure_ascii=False).encode(), content_type="application/json")
    config = write_config(tmp_path, {})
    code = main(["--config", str(config), "try", server.url("/api"), "--kind", "json", "--select",
                 "{items: data.list, id: id, title: title, body: text, source: src, published: {path: ts, format: unix}}"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2024-12-07 01:30Z  央行开展逆回购" in out and "id: 7" in out
    assert "source: 新华社" in out and "央行今日开展逆回购操作。" in out
    assert "新浪财经APP" not in out.split("--- first item, cleaned")[1].split("--- removed")[0]
