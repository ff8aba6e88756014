"""Migration 0005i on a database from before the bounded story index: stored signatures keep every band."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import inspect, text

from wirewatch import db
from wirewatch.ingest.store import ALL_BANDS


def test_signatures_stored_before_have_every_band_and_the_code_index_comes_and_goes(db_url: str) -> None:
    engine = db.make_engine(db_url)
    try:
        cfg = db._alembic_config(engine)
        command.upgrade(cfg, "0005h")
        now = datetime(2026, 12, 1, tzinfo=UTC)
        with engine.begin() as conn:
            for item_id in (1, 2):
                conn.execute(text("INSERT INTO item_signature (item_id, story_id, signature, text_len, created_at) "
                                  "VALUES (:id, 7, :sig, 10, :now)"), {"id": item_id, "sig": b"\0" * 512, "now": now})
        command.upgrade(cfg, "head")
        with engine.begin() as conn:
            assert conn.execute(text("SELECT item_id, bands FROM item_signature ORDER BY item_id")).all() == [
                (1, ALL_BANDS), (2, ALL_BANDS)]
            # a row written without the column (an older daemon during a rolling upgrade) gets the default too
            conn.execute(text("INSERT INTO item_signature (item_id, story_id, signature, text_len, created_at) "
                              "VALUES (3, 7, :sig, 10, :now)"), {"sig": b"\0" * 512, "now": now})
            assert conn.execute(text("SELECT bands FROM item_signature WHERE item_id = 3")).scalar() == ALL_BANDS
            conn.execute(text("UPDATE item_signature SET bands = 5 WHERE item_id = 2"))
            assert conn.execute(text("SELECT bands FROM item_signature WHERE item_id = 2")).scalar() == 5
        indexes = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("item_signature")}
        assert indexes["ix_item_signature_story_code"] == ["story_id", "code"]
        command.downgrade(cfg, "0005h")
        inspector = inspect(engine)
        assert "bands" not in {c["name"] for c in inspector.get_columns("item_signature")}
        assert "ix_item_signature_story_code" not in {i["name"] for i in inspector.get_indexes("item_signature")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM item_signature")).scalar() == 3
    finally:
        engine.dispose()
