"""Stories are events, end to end: templated news about different companies stays apart and each is
alerted to its watcher; updates join; translations join across languages without a second alert."""

from __future__ import annotations

import asyncio
import html
from collections import Counter
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel import Session, select

from tests import events_corpus
from tests.events_corpus import Piece
from tests.feedserver import FeedServer
from tests.helpers import rss, write_config
from wirewatch.app import App
from wirewatch.daemon import poll_once
from wirewatch.ingest.store import ItemRow, ItemSignature, StoryRow

FEEDS = ("wire-a", "wire-b", "wire-c")


def feed_doc(items: list[Piece]) -> bytes:
    return rss([{"title": escape(p.title), "link": f"http://{p.feed}.invalid/{p.guid}", "guid": p.guid,
                 "body": f"<p>{html.escape(p.body)}</p>"} for p in items])


def run_corpus(tmp_path: Path, database: str | None = None) -> tuple[dict[str, int], list[tuple[int, str, str]],
                                                                    dict[int, list[str]]]:
    """Serve the originals, poll, serve everything, poll; (guid → story, alerts, story → sources)."""
    events = events_corpus.build()
    (tmp_path / "watchlists").mkdir()
    for name, body in events_corpus.watchlists().items():
        (tmp_path / "watchlists" / name).write_text(body, encoding="utf-8")
    firsts = [e.pieces[0] for e in events]
    everything = events_corpus.pieces(events)
    with FeedServer() as server:
        config = write_config(tmp_path, {f: server.url(f"/{f}.xml") for f in FEEDS}, database=database,
                              watchlists=["watchlists/*.yaml"], channels={"screen": {"type": "console"}})
        app = App.open(config)
        try:
            for round_items in (firsts, everything):
                for feed in FEEDS:
                    server.add(f"/{feed}.xml", feed_doc([p for p in round_items if p.feed == feed]))
                reports = asyncio.run(poll_once(app))
                assert all(r.error is None for r in reports), [r.error for r in reports]
            with Session(app.engine) as session:
                stories = {r.guid or "": r.story_id or 0 for r in session.exec(select(ItemRow)).all()}
                alerts = [(int(s), str(w), str(t)) for s, w, t in
                          session.execute(text("SELECT story_id, watchlist, type FROM alerts")).all()]
                sources = {s.id or 0: list(s.sources) for s in session.exec(select(StoryRow)).all()}
        finally:
            app.close()
    return stories, alerts, sources


def test_templated_events_stay_apart_updates_and_translations_join_and_each_watcher_is_alerted(
        tmp_path: Path) -> None:
    events = events_corpus.build()
    assert len([e for e in events if e.template != "translation"]) >= 30
    assert len({e.template for e in events}) >= 7
    stories, alerts, sources = run_corpus(tmp_path)
    gold = {p.guid: e.id for e in events for p in e.pieces}
    assert set(stories) == set(gold)
    precision, recall = events_corpus.pairwise(gold, stories)
    assert precision >= 0.98 and recall >= 0.95, (precision, recall)
    # every event's items are in one story, and no two events share one
    by_event = {e.id: {stories[p.guid] for p in e.pieces} for e in events}
    assert all(len(s) == 1 for s in by_event.values()), {k: v for k, v in by_event.items() if len(v) > 1}
    assert len({next(iter(s)) for s in by_event.values()}) == len(events)
    # each event alerted to its company's watcher, exactly once (translations and updates add none)
    created = Counter((story, watchlist) for story, watchlist, kind in alerts if kind == "alert.created")
    missing = [e.id for e in events if created[(stories[e.pieces[0].guid], e.company)] != 1]
    assert missing == []
    assert [e.id for e in events if created[(stories[e.pieces[0].guid], "desk")] != 1] == []
    assert max(created.values()) == 1
    assert not [a for a in alerts if a[2] != "alert.created"]  # no watchlist asked for updates
    # a story told in three languages by three outlets lists all of them
    assert set(sources[stories["x-seed-ja"]]) >= {"wire-a", "wire-b", "wire-c"}


@pytest.mark.parametrize("kind", ["limit-up", "dividend", "earnings"])
def test_an_update_joins_its_event_and_records_why(tmp_path: Path, kind: str) -> None:
    events = [e for e in events_corpus.build() if e.template == kind][:2]
    stories, _, _ = run_corpus_subset(tmp_path, events)
    for event in events:
        assert len({stories[p.guid] for p in event.pieces}) == 1
    assert stories[events[0].pieces[0].guid] != stories[events[1].pieces[0].guid]


def run_corpus_subset(tmp_path: Path, events: list[events_corpus.Event]) -> tuple[dict[str, int], None, None]:
    with FeedServer() as server:
        config = write_config(tmp_path, {f: server.url(f"/{f}.xml") for f in FEEDS})
        for feed in FEEDS:
            server.add(f"/{feed}.xml", feed_doc([p for p in events_corpus.pieces(events) if p.feed == feed]))
        app = App.open(config)
        try:
            asyncio.run(poll_once(app))
            with Session(app.engine) as session:
                stories = {r.guid or "": r.story_id or 0 for r in session.exec(select(ItemRow)).all()}
                reasons = [r.joined or "" for r in session.exec(select(ItemSignature)).all()]
        finally:
            app.close()
    assert any('"refused": ["item' in r for r in reasons)  # the second company's item was similar, and refused
    return stories, None, None


COMPANY = st.sampled_from([c for c in events_corpus.COMPANIES if c.market == "CN"])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picks=st.lists(st.tuples(COMPANY, st.integers(1, 3000), st.booleans()), min_size=2, max_size=8))
def test_no_story_holds_two_principal_codes(tmp_path_factory: pytest.TempPathFactory,
                                            picks: list[tuple[events_corpus.Company, int, bool]]) -> None:
    """Flashes for random companies, prices and update markers: whatever joins, one code per story."""
    tmp = tmp_path_factory.mktemp("codes")
    items = []
    for n, (company, price, marked) in enumerate(picks):
        title = ("（更新）" if marked else "") + f"{company.zh}（{company.code}）盘中涨停"
        body = (f"{company.zh}（{company.code}）盘中涨停，截至发稿报{price}元，成交额较前一交易日明显放大。"
                "盘面上，板块整体走强，多只个股跟涨，市场情绪有所回暖。")
        items.append(Piece("e", "wire-a", f"g{n}", title, body, "zh"))
    with FeedServer() as server:
        config = write_config(tmp, {"wire-a": server.url("/wire-a.xml")})
        server.add("/wire-a.xml", feed_doc(items))
        app = App.open(config)
        try:
            asyncio.run(poll_once(app))
            with Session(app.engine) as session:
                codes: dict[int, set[str]] = {}
                for row in session.exec(select(ItemSignature)).all():
                    if row.code is not None:
                        codes.setdefault(row.story_id, set()).add(row.code)
        finally:
            app.close()
    assert codes and all(len(c) == 1 for c in codes.values()), codes


def test_stories_explain_shows_why_each_item_joined(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from wirewatch.cli import main

    events = events_corpus.build()
    seed = next(e for e in events if e.id == "x-seed")
    flashes = [e for e in events if e.template == "limit-up"][:2]
    chosen = [*flashes, seed]
    with FeedServer() as server:
        config = write_config(tmp_path, {f: server.url(f"/{f}.xml") for f in FEEDS})
        for feed in FEEDS:
            server.add(f"/{feed}.xml", feed_doc([p for p in events_corpus.pieces(chosen) if p.feed == feed]))
        app = App.open(config)
        try:
            asyncio.run(poll_once(app))
            with Session(app.engine) as session:
                stories = {r.guid or "": r.story_id or 0 for r in session.exec(select(ItemRow)).all()}
        finally:
            app.close()
        capsys.readouterr()
        assert main(["--config", str(config), "stories", "--explain", str(stories["x-seed-ja"])]) == 0
        seed_out = capsys.readouterr().out
        assert main(["--config", str(config), "stories", "--explain", str(stories[flashes[1].id])]) == 0
        flash_out = capsys.readouterr().out
        assert main(["--config", str(config), "stories", "--explain", "999999"]) == 2  # an unknown id is a usage error
    assert seed_out.count("\nitem ") == 3
    assert "event agreement" in seed_out and "m:USD:5e+10" in seed_out and "m:USD:1.38e+11" in seed_out
    assert "wire-a" in seed_out and "wire-b" in seed_out and "wire-c" in seed_out
    # the second company's flash: similar text to the first company's, refused for its other code
    assert "refused item" in flash_out and "c:CN:" in flash_out


def test_a_parse_worker_works_out_event_signatures_with_the_watchlist_entities() -> None:
    from datetime import UTC, datetime

    from wirewatch.config.models import FeedConfig
    from wirewatch.config.packs import load_packs
    from wirewatch.ingest.event import AliasTable
    from wirewatch.ingest.pipeline import Cleaner
    from wirewatch.ingest.prepare import ParsePool, prepare_document

    feed = FeedConfig(name="wire-a", url="http://wire-a.invalid/feed.xml")
    seed = next(e for e in events_corpus.build() if e.id == "x-seed")
    body, headers, now = feed_doc(seed.pieces), {"content-type": "application/rss+xml"}, datetime.now(UTC)
    aliases = AliasTable.build([("microsoft", ["Microsoft", "微软", "マイクロソフト"], ["MSFT"]),
                                ("amazon", ["Amazon", "亚马逊", "アマゾン"], [])])
    inline = prepare_document(feed, Cleaner(load_packs()).compiled(feed), body, headers, feed.url, now, [],
                              aliases=aliases)
    pool = ParsePool(1, load_packs())
    try:
        remote = asyncio.run(pool.prepare(feed, body, headers, feed.url, now, [], None, aliases))
    finally:
        pool.close()
    events = [p.event for p in remote.entries]
    assert events == [p.event for p in inline.entries]
    assert all(e is not None and {"e:microsoft", "e:amazon"} <= e.entities for e in events)
    assert {e.principal for e in events if e is not None} == {"e:microsoft"}
