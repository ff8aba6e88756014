"""Migration 0005c on a database from before event signatures: stored items get theirs (SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.helpers import insert_legacy_items
from wirewatch import db
from wirewatch.ingest.event import EventSignature
from wirewatch.ingest.storystore import refresh_event_signatures

ITEMS = [
    (1, "贵州茅台（600519.SH）盘中涨停", "贵州茅台（600519.SH）盘中涨停，截至发稿报1812元。"),
    (2, "Microsoft weighs legal action over $50 billion Amazon-OpenAI deal",
     "Microsoft may act over the $50 billion deal; Amazon will buy $138 billion of AWS services."),
]


def refresh_event_signatures_now(engine: Engine) -> int:
    with Session(engine) as session:
        done = refresh_event_signatures(session)
        session.commit()
        return done


def test_stored_items_get_event_signatures_and_feature_rows(db_url: str) -> None:
    engine = db.make_engine(db_url)
    try:
        cfg = db._alembic_config(engine)
        command.upgrade(cfg, "0004")
        now = datetime(2026, 12, 1, tzinfo=UTC)
        with engine.begin() as conn:
            for item_id, title, body in ITEMS:
                insert_legacy_items(conn, [{"id": item_id, "ident": f"i{item_id}", "title": title, "body": body}], now)
                conn.execute(text("INSERT INTO item_signature (item_id, story_id, signature, text_len, created_at) "
                                  "VALUES (:id, :id, :sig, 10, :now)"), {"id": item_id, "sig": b"\0" * 512, "now": now})
        command.upgrade(cfg, "head")
        with engine.connect() as conn:
            rows = {r[0]: (r[1], r[2]) for r in conn.execute(text("SELECT item_id, event, code FROM item_signature"))}
            features = set(conn.execute(text("SELECT feature, item_id, story_id FROM story_feature")).all())
        flash = EventSignature.from_json(rows[1][0])
        wire = EventSignature.from_json(rows[2][0])
        assert flash is not None and flash.code == rows[1][1] == "c:CN:600519" and "m:CNY:1812" in flash.figures
        assert wire is not None and wire.code is None and wire.lang == "latin"
        assert ("m:CNY:1812", 1, 1) in features and ("m:USD:5e+10", 2, 2) in features
        # signatures made under other extraction rules are recomputed at start-up, once
        assert refresh_event_signatures_now(engine) == 0
        with engine.begin() as conn:
            conn.execute(text("UPDATE item_signature SET event = NULL, code = NULL"))
            conn.execute(text("UPDATE index_meta SET value = 'event-0' WHERE key = 'event.scheme'"))
        assert refresh_event_signatures_now(engine) == 2
        with engine.connect() as conn:
            assert conn.execute(text("SELECT code FROM item_signature WHERE item_id = 1")).scalar() == "c:CN:600519"
            assert conn.execute(text("SELECT count(*) FROM story_feature")).scalar() == len(features)
        command.downgrade(cfg, "0004")  # and back: the columns and the table go
        found = inspect(engine)
        assert "story_feature" not in found.get_table_names()
        assert {c["name"] for c in found.get_columns("item_signature")} >= {"item_id", "signature"}
        assert "event" not in {c["name"] for c in found.get_columns("item_signature")}
    finally:
        engine.dispose()
