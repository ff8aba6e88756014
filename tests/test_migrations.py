"""Migrations: a fresh database reaches head, and the migrated schema matches the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from wirewatch import db
from wirewatch.schema import load_models


def test_fresh_database_migrates_to_head_and_matches_models(db_url: str) -> None:
    engine = db.make_engine(db_url)
    try:
        assert db.current_revision(engine) is None
        db.upgrade(engine)
        assert db.is_current(engine)
        db.upgrade(engine)  # idempotent at start-up
        load_models()
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        assert diff == [], f"models and migrations disagree; add a migration: {diff}"
    finally:
        engine.dispose()
