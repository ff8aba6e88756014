"""Stories across feeds, restarts and daemons: syndicated copies join, different events stay apart."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from sqlmodel import Session, select

from tests.feedserver import FeedServer
from tests.helpers import rss, write_config
from wirewatch.app import App
from wirewatch.daemon import poll_once
from wirewatch.ingest.store import ItemRow, StoryRow

EVENT_A = ["宁德时代周三宣布，其位于匈牙利德布勒森的电池工厂一期已正式投产，规划年产能为40吉瓦时。",
           "公司表示，该工厂的首批电芯将供应给欧洲的多家整车厂，全部达产后可满足约60万辆电动汽车的需求。",
           "分析人士认为，在欧盟对中国产电动汽车加征关税的背景下，本地化生产有助于公司稳住海外份额。"]
EVENT_B = ["宁德时代周三晚间公告，公司拟以每股不超过300元的价格回购股份，回购总金额为20亿元至40亿元。",
           "回购股份将用于员工持股计划或股权激励，回购期限为董事会审议通过之日起十二个月内。",
           "公告发布后，公司股价在盘后交易中上涨约2%。"]


def home(event: list[str], guid: str) -> dict[str, str]:
    return {"title": "宁德时代：" + event[0][:12], "link": f"http://home.invalid/{guid}", "guid": guid,
            "body": "".join(f"<p>{p}</p>" for p in event) + "<p>海量资讯、精准解读，尽在新浪财经APP</p>"}


def syndicated(event: list[str], guid: str) -> dict[str, str]:
    """Another site's copy: its own header and footer, paragraphs re-broken, title restyled."""
    joined = event[0] + event[1]
    return {"title": f"【快讯】{event[0][:14]}", "link": f"http://portal.invalid/{guid}", "guid": guid,
            "body": f"<p>(来源:证券时报)</p><p>{joined}</p><p>{event[2]}</p>"
                    "<p>郑重声明：东方财富发布此内容旨在传播更多信息，与本站立场无关，不构成投资建议。</p>"}


def stories(url: str) -> dict[str, int | None]:
    from wirewatch.db import make_engine

    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return {r.guid or "": r.story_id for r in session.exec(select(ItemRow)).all()}
    finally:
        engine.dispose()


def test_copies_join_across_feeds_and_a_restart_while_other_events_stay_apart(tmp_path: Path) -> None:
    with FeedServer() as server:
        server.add("/home.xml", rss([home(EVENT_A, "a1"), home(EVENT_B, "b1")]))
        server.add("/portal.xml", rss([]))
        config = write_config(tmp_path, {"home": server.url("/home.xml"), "portal": server.url("/portal.xml")})
        app = App.open(config)
        try:
            asyncio.run(poll_once(app))
        finally:
            app.close()
        server.add("/portal.xml", rss([syndicated(EVENT_A, "a2"), syndicated(EVENT_B, "b2")]))
        app = App.open(config)  # a restart: the story index lives in the database
        try:
            asyncio.run(poll_once(app))
            with Session(app.engine) as session:
                story_rows = {s.id: s for s in session.exec(select(StoryRow)).all()}
        finally:
            app.close()
    found = stories(f"sqlite:///{tmp_path / 'wirewatch.db'}")
    assert found["a1"] == found["a2"] and found["b1"] == found["b2"] and found["a1"] != found["b1"]
    joined = story_rows[found["a1"]]  # type: ignore[index]
    assert joined.items == 2 and {"home", "portal", "证券时报"} <= set(joined.sources)


def test_two_daemons_ingesting_copies_at_the_same_moment_make_one_story(tmp_path: Path, pg_url: str) -> None:
    with FeedServer() as server:
        server.add("/home.xml", rss([home(EVENT_A, "a1"), home(EVENT_B, "b1")]))
        server.add("/portal.xml", rss([syndicated(EVENT_A, "a2"), syndicated(EVENT_B, "b2")]))
        config = write_config(tmp_path, {"home": server.url("/home.xml"), "portal": server.url("/portal.xml")},
                              database=pg_url)
        subprocess.run([sys.executable, "-m", "wirewatch.cli", "--config", str(config), "db", "upgrade"],
                       check=True, capture_output=True, timeout=60)
        go = tmp_path / "go"
        script = ("import os, sys, time\n"
                  "from wirewatch.cli import main\n"
                  f"while not os.path.exists({str(go)!r}): time.sleep(0.005)\n"
                  "sys.exit(main(sys.argv[1:]))\n")
        procs = [subprocess.Popen([sys.executable, "-c", script, "--config", str(config), "poll", "--feed", feed],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
                 for feed in ("home", "portal")]
        go.touch()
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
    found = stories(pg_url)
    assert len(found) == 4
    assert found["a1"] == found["a2"] and found["b1"] == found["b2"] and found["a1"] != found["b1"]
