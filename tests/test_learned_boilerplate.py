"""Learned boilerplate through the pipeline: learned on a feed's first poll, earlier items re-cleaned later."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from sqlmodel import Session, select

from tests.feedserver import FeedServer
from tests.helpers import rss, write_config
from wirewatch.app import App
from wirewatch.daemon import poll_once
from wirewatch.ingest.shortwords import stored_tokens
from wirewatch.ingest.store import ItemRow, learned_rules
from wirewatch.web.searchstore import search_items

FOOTER = "欢迎订阅本站晨间快讯，每个交易日早八点准时送达。"
STORED_FOOTER = FOOTER  # stored as written: full-width punctuation stays
LEARNED_FOOTER = FOOTER.replace("，", ",")  # learned lines are kept in the folded (NFKC) form rules match
BODIES = ["央行今日开展逆回购操作，净投放流动性约两千亿元，市场利率小幅回落。",
          "沪深两市成交额连续第三日突破一万亿元，半导体板块领涨。",
          "国际油价隔夜下跌百分之二，市场担忧需求放缓。",
          "人民币兑美元中间价上调一百个基点，创近两个月新高。",
          "多家券商上调明年盈利预测，看好消费复苏。",
          "统计局公布的工业增加值同比增长百分之五点四，好于预期。"]


def items(n: int) -> list[dict[str, str]]:
    return [{"title": f"快讯{i}", "link": f"http://example.invalid/{i}", "guid": f"k{i}",
             "body": f"<p>{BODIES[i]}</p><p>{FOOTER}</p>"} for i in range(n)]


def texts(app: App) -> list[str]:
    with Session(app.engine) as session:
        return [r.text for r in session.exec(select(ItemRow).order_by(ItemRow.id)).all()]  # type: ignore[arg-type]


def test_first_poll_of_a_new_feed_is_already_cleaned(tmp_path: Path) -> None:
    with FeedServer() as server:
        server.add("/f.xml", rss(items(6)))
        app = App.open(write_config(tmp_path, {"f": server.url("/f.xml")}))
        try:
            asyncio.run(poll_once(app))
            stored = texts(app)
        finally:
            app.close()
    assert len(stored) == 6
    assert all(STORED_FOOTER not in t for t in stored)
    assert sorted(stored) == sorted(BODIES)  # the article text is intact


def test_stored_items_are_recleaned_when_a_line_is_learned_later(tmp_path: Path) -> None:
    with FeedServer() as server:
        server.add("/f.xml", rss(items(1)))
        config = write_config(tmp_path, {"f": server.url("/f.xml")})
        app = App.open(config)
        try:
            asyncio.run(poll_once(app))
            assert all(STORED_FOOTER in t for t in texts(app))  # one item is not enough to learn from
            server.add("/f.xml", rss(items(2)))
            asyncio.run(poll_once(app))  # the second item repeats the footer: learned, the first re-cleaned
            assert len(texts(app)) == 2 and all(STORED_FOOTER not in t for t in texts(app))
        finally:
            app.close()
    listed = subprocess.run([sys.executable, "-m", "wirewatch.cli", "--config", str(config), "boilerplate"],
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and LEARNED_FOOTER in listed.stdout and "learned" in listed.stdout


def test_a_learned_line_is_unlearned_when_the_feed_stops_printing_it(tmp_path: Path) -> None:
    later = [{"title": f"新闻{i}", "link": f"http://example.invalid/n{i}", "guid": f"n{i}",
              "body": f"<p>第{i}号公告：公司第{i}期债券按时兑付，本息合计{i}亿元。</p>"} for i in range(10)]
    with FeedServer() as server:
        server.add("/f.xml", rss(items(3)))
        app = App.open(write_config(tmp_path, {"f": server.url("/f.xml")}))
        try:
            asyncio.run(poll_once(app))
            with Session(app.engine) as session:
                assert [r.line for r in learned_rules(session, "f")] == [LEARNED_FOOTER]
            server.add("/f.xml", rss(later + items(3)))  # ten newer items without the footer
            asyncio.run(poll_once(app))
            with Session(app.engine) as session:
                assert learned_rules(session, "f") == []
            server.add("/f.xml", rss([{"title": "快讯9", "link": "http://example.invalid/9", "guid": "k9",
                                       "body": f"<p>{BODIES[0]}再次发布。</p><p>{FOOTER}</p>"}] + later))
            asyncio.run(poll_once(app))
            assert any(STORED_FOOTER in t for t in texts(app))  # no longer removed from a new item
        finally:
            app.close()


def test_a_disabled_learned_line_stays_in_the_text(tmp_path: Path) -> None:
    with FeedServer() as server:
        server.add("/f.xml", rss(items(6)))
        config = write_config(tmp_path, {})
        config.write_text(config.read_text().replace(
            "feeds: []", f"feeds:\n  - name: f\n    url: '{server.url('/f.xml')}'\n"
                         f"    clean: {{learned: {{disable: ['{FOOTER}']}}}}"), encoding="utf-8")
        app = App.open(config)
        try:
            asyncio.run(poll_once(app))
            stored = texts(app)
        finally:
            app.close()
    assert len(stored) == 6 and all(STORED_FOOTER in t for t in stored)


def test_short_search_tokens_are_those_of_the_text_as_stored(tmp_path: Path) -> None:
    """The parse worker's tokens are kept only when the database side's cleaning leaves the text as it was."""
    with FeedServer() as server:
        server.add("/f.xml", rss(items(6)))
        app = App.open(write_config(tmp_path, {"f": server.url("/f.xml")}))
        try:
            asyncio.run(poll_once(app))  # the footer is learned on this poll: the items are cleaned again
            with Session(app.engine) as session:
                rows = session.exec(select(ItemRow)).all()
            found = search_items(app.engine, "订阅")  # a pair only the learned footer holds
        finally:
            app.close()
    assert len(rows) == 6
    assert all(r.search_short == stored_tokens(r.title, r.text) for r in rows)
    assert found == []
