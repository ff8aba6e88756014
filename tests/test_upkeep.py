"""Retention and index upkeep: old rows pruned, the story index rebuilt when its hashing scheme changes."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import Session, col, func, select

from tests.feedserver import FeedServer
from tests.helpers import rss, write_config
from wirewatch import upkeep
from wirewatch.alerts.apprisestore import AppriseUrlState, url_hash
from wirewatch.alerts.matchstore import ItemMatch
from wirewatch.alerts.tables import Alert, Delivery, DeliveryAttempt
from wirewatch.app import App
from wirewatch.cli import main
from wirewatch.config.clock import utcnow
from wirewatch.daemon import poll_once
from wirewatch.ingest import dedupe
from wirewatch.ingest.store import IndexMeta, ItemRow, ItemSignature, PollLogRow, StoryBand, StoryRow
from wirewatch.ingest.storystore import ensure_index_scheme

ITEMS = [{"title": f"Alpha news {i}", "link": f"http://example.invalid/{i}", "guid": f"g{i}",
          "body": f"<p>Alpha Corp item {i}: {' '.join(['word' + str(i * 1000 + k * 13) for k in range(40)])}.</p>"}
         for i in range(4)]


def count(session: Session, model: type) -> int:
    return int(session.exec(select(func.count()).select_from(model)).one())


def alpha_config(tmp_path: Path, server: FeedServer) -> Path:
    """One feed at /f.xml, a watchlist of Alpha Corp to the console, 30 days of items and 90 of alerts."""
    (tmp_path / "w.yaml").write_text("watchlist: w\nchannels: [screen]\nentities:\n"
                                     "  - {id: ALPHA, name: Alpha, aliases: [Alpha Corp]}\n", encoding="utf-8")
    return write_config(tmp_path, {"f": server.url("/f.xml")}, watchlists=["w.yaml"],
                        channels={"screen": {"type": "console"}},
                        extra="retention: {items: 30d, delivered_alerts: 90d}\n")


def test_retention_prunes_old_items_matches_index_and_delivered_alerts(tmp_path: Path) -> None:
    with FeedServer() as server:
        server.add("/f.xml", rss(ITEMS))
        app = App.open(alpha_config(tmp_path, server))
        try:
            asyncio.run(poll_once(app))
            with Session(app.engine) as session:
                assert count(session, ItemRow) == 4 and count(session, ItemMatch) == 4
                assert count(session, Alert) == 4 and count(session, ItemSignature) == 4
                assert count(session, StoryBand) == 0  # band rows wait in the tail: pruning must not need them
                assert count(session, DeliveryAttempt) == 4 and count(session, PollLogRow) == 1
                old = utcnow() - timedelta(days=100)
                session.execute(update(PollLogRow).values(at=old))
                session.execute(update(ItemRow).where(ItemRow.guid.in_(["g0", "g1"])).values(fetched_at=old))  # type: ignore[union-attr]
                session.execute(update(ItemSignature).values(created_at=old))
                session.execute(update(StoryBand).values(created_at=old))
                session.execute(update(Alert).values(created_at=old))
                delivered = session.exec(select(Delivery.message_id)).first()
                for delivery_id, at in ((delivered, old), ("gone-long-ago", old), ("gone-just-now", utcnow())):
                    session.add(AppriseUrlState(delivery_id=delivery_id, url_hash=url_hash("json://x"), delivered_at=at))
                session.commit()
            counts = upkeep.prune(app.engine, app.wiring.loaded.config)
            with Session(app.engine) as session:
                assert counts["items"] == 2 and counts["alerts"] == 4 and counts["stories"] == 2
                kept = {r.story_id for r in session.exec(select(ItemRow)).all()}
                assert set(session.exec(select(StoryRow.id)).all()) == kept  # the pruned items' stories went too
                assert sorted(r.guid or "" for r in session.exec(select(ItemRow)).all()) == ["g2", "g3"]
                assert count(session, ItemMatch) == 2
                assert count(session, StoryBand) == 0 and count(session, ItemSignature) == 0  # past the window
                assert count(session, Alert) == 0 and count(session, Delivery) == 0
                assert count(session, DeliveryAttempt) == 0  # the attempt history goes with its delivery
                assert count(session, PollLogRow) == 0
                # Apprise URL states: kept for a day, then pruned once their delivery is finished or gone
                assert counts["apprise_urls"] == 2
                assert session.exec(select(AppriseUrlState.delivery_id)).all() == ["gone-just-now"]
        finally:
            app.close()


def test_index_is_rebuilt_when_the_hashing_scheme_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FeedServer() as server:
        server.add("/f.xml", rss(ITEMS))
        app = App.open(write_config(tmp_path, {"f": server.url("/f.xml")}))
        try:
            asyncio.run(poll_once(app))
            assert ensure_index_scheme(app.engine) is False  # same scheme: nothing to do
            with Session(app.engine) as session:  # a band row left by the old scheme
                session.add(StoryBand(band="stale-00:ab", item_id=1, story_id=1, created_at=utcnow()))
                session.commit()
            monkeypatch.setattr(dedupe, "SCHEME", dedupe.SCHEME + ";changed")
            assert ensure_index_scheme(app.engine) is True
            with Session(app.engine) as session:
                meta = session.get(IndexMeta, "dedupe.scheme")
                assert meta is not None and meta.value.endswith(";changed")
                assert count(session, StoryBand) == 4 * dedupe.BANDS  # every item's bands, the tail's included
                assert session.exec(select(StoryBand).where(col(StoryBand.band).startswith("stale-"))).first() is None
                assert count(session, ItemSignature) == 4
        finally:
            app.close()


def test_the_newest_story_row_outlives_its_items_so_a_new_story_never_reuses_an_alerted_id(tmp_path: Path) -> None:
    with FeedServer() as server:
        server.add("/f.xml", rss(ITEMS[:2]))
        app = App.open(alpha_config(tmp_path, server))
        try:
            asyncio.run(poll_once(app))
            with Session(app.engine) as session:
                session.execute(update(ItemRow).values(fetched_at=utcnow() - timedelta(days=40)))
                session.commit()
            counts = upkeep.prune(app.engine, app.wiring.loaded.config)
            assert counts["items"] == 2 and counts["stories"] == 1  # every item gone; the newest story row stays
            with Session(app.engine) as session:
                assert count(session, Alert) == 2  # delivered, but within delivered_alerts: kept
                old_stories = {a.story_id for a in session.exec(select(Alert)).all()}
            server.add("/f.xml", rss(ITEMS[2:]))
            asyncio.run(poll_once(app))
            with Session(app.engine) as session:
                alerts = session.exec(select(Alert)).all()
                assert len(alerts) == 4  # the two new stories alerted: no id taken from a pruned story
                assert len({a.story_id for a in alerts} - old_stories) == 2
        finally:
            app.close()


def test_db_prune_runs_retention_once_for_installs_that_only_poll(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with FeedServer() as server:
        server.add("/f.xml", rss(ITEMS))
        config = alpha_config(tmp_path, server)
        assert main(["--config", str(config), "poll"]) == 0
        app = App.open(config)
        try:
            with Session(app.engine) as session:
                session.execute(update(ItemRow).where(ItemRow.guid.in_(["g0", "g1", "g2"]))  # type: ignore[union-attr]
                                .values(fetched_at=utcnow() - timedelta(days=31)))
                session.commit()
        finally:
            app.close()
        capsys.readouterr()
        assert main(["--config", str(config), "db", "prune"]) == 0
        assert "pruned: 3 items" in capsys.readouterr().out
        app = App.open(config)
        try:
            with Session(app.engine) as session:
                assert [r.guid for r in session.exec(select(ItemRow)).all()] == ["g3"]
        finally:
            app.close()
