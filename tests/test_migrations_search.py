"""Migration 0005h on a database of items stored before it: every item gets its short tokens (SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alembic import command
from sqlalchemy import text

from tests.helpers import insert_legacy_items
from wirewatch import db
from wirewatch.ingest.shortwords import stored_tokens
from wirewatch.web import searchstore

N = 4_100  # more than two of the migration's batches of 2,000


def test_items_stored_before_the_migration_are_found_by_short_words(db_url: str) -> None:
    engine = db.make_engine(db_url)
    try:
        cfg = db._alembic_config(engine)
        command.upgrade(cfg, "0005g")
        now = datetime(2026, 12, 1, tzinfo=UTC)
        rows: list[dict[str, Any]] = [{"id": i, "ident": f"i{i}", "title": f"AI 第{i}号" if i % 2 else f"Story {i}",
                 "body": "微软 said" if i % 1000 == 7 else "cloud data centres"} for i in range(1, N + 1)]
        with engine.begin() as conn:
            insert_legacy_items(conn, rows, now)  # teaser takes its server default (false)
        command.upgrade(cfg, "head")
        with engine.connect() as conn:
            stored: dict[int, str] = dict(conn.execute(text("SELECT id, search_short FROM item")).all())
        assert len(stored) == N
        assert all(stored[r["id"]] == stored_tokens(r["title"], r["body"]) for r in rows)
        assert [r["id"] for r in searchstore.search_items(engine, "微软")] == [4007, 3007, 2007, 1007, 7]
        assert len(searchstore.search_items(engine, "ai", limit=5000)) == N // 2
        assert searchstore.search_items(engine, "ai 第1号", limit=5000)[0]["id"] == 1  # trigram and short word together
        assert [r["id"] for r in searchstore.search_items(engine, "ai", limit=2)] == [4099, 4097]
        with engine.begin() as conn:  # the triggers keep the index in step after the migration too
            conn.execute(text("DELETE FROM item WHERE id = 4007"))
        assert [r["id"] for r in searchstore.search_items(engine, "微")] == [3007, 2007, 1007, 7]
        command.downgrade(cfg, "0005g")
        with engine.connect() as conn:
            columns = {c for c in (r[0] for r in conn.execute(text(
                "SELECT name FROM pragma_table_info('item')" if conn.dialect.name == "sqlite" else
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'item'")))}
        assert "search_short" not in columns
        command.upgrade(cfg, "head")
        assert [r["id"] for r in searchstore.search_items(engine, "微")] == [3007, 2007, 1007, 7]
    finally:
        engine.dispose()
