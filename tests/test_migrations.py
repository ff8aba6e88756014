"""Migrations: a fresh database reaches head, and the migrated schema matches the models exactly."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect
from sqlmodel import SQLModel

from wirewatch import db
from wirewatch.schema import include_name, load_tables


def schema_diff(engine: Engine) -> list[object]:
    """What Alembic's autogenerate finds between the migrated database and the models (nothing, when they agree)."""
    load_tables()
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn, opts={"include_name": include_name}),
                                     SQLModel.metadata))


def test_fresh_database_migrates_to_head_and_matches_models(db_url: str) -> None:
    engine = db.make_engine(db_url)
    try:
        assert db.current_revision(engine) is None
        db.upgrade(engine)
        assert db.is_current(engine)
        db.upgrade(engine)  # idempotent at start-up
        assert schema_diff(engine) == [], "models and migrations disagree; add a migration"
    finally:
        engine.dispose()


def test_every_migration_goes_down_to_an_empty_database_and_up_again(db_url: str) -> None:
    engine = db.make_engine(db_url)
    try:
        db.upgrade(engine)
        cfg = db._alembic_config(engine)
        command.downgrade(cfg, "base")
        assert db.current_revision(engine) is None
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}, "a downgrade left tables behind"
        command.upgrade(cfg, "head")
        assert db.is_current(engine)
        assert schema_diff(engine) == [], "after a round trip, models and migrations disagree"
    finally:
        engine.dispose()


def test_sqlite_page_cache_follows_the_config(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "c.db"
    engine = db.make_engine(f"sqlite:///{path}", sqlite_cache=256 * 1024 * 1024)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -262144
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()
