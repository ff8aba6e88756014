"""Alembic environment: runs migrations on the engine wirewatch hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text
from sqlmodel import SQLModel

from wirewatch.schema import include_name, load_tables

load_tables()
target_metadata = SQLModel.metadata
config = context.config


def run_migrations_online() -> None:
    """Run migrations in a transaction; on PostgreSQL under an advisory lock so daemons don't race."""
    engine = config.attributes["engine"]
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_lock(727273)"))
            connection.commit()
        try:
            context.configure(connection=connection, target_metadata=target_metadata, include_name=include_name,
                              render_as_batch=connection.dialect.name == "sqlite")
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_unlock(727273)"))
                connection.commit()


run_migrations_online()
