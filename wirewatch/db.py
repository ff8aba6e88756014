"""Database engine (SQLite with WAL and a busy timeout, or PostgreSQL) and Alembic migrations."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


DEFAULT_SQLITE_CACHE = 64 * 1024 * 1024


def make_engine(url: str, *, busy_timeout_ms: int = 30_000, sqlite_cache: int = DEFAULT_SQLITE_CACHE) -> Engine:
    """Create an engine: SQLite gets WAL, a busy timeout, a page cache and immediate transactions."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA cache_size=-{max(sqlite_cache // 1024, 2048)}")  # KiB; keeps the story index hot
            cur.execute("PRAGMA mmap_size=268435456")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _alembic_config(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    """Apply every pending migration (safe to call at each start; serialised on PostgreSQL)."""
    cfg = _alembic_config(engine)
    command.upgrade(cfg, "head")


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (None for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The newest migration this version of wirewatch ships."""
    return ScriptDirectory.from_config(_alembic_config(create_engine("sqlite://"))).get_current_head()


def is_current(engine: Engine) -> bool:
    """Whether the database schema is at the shipped head."""
    return current_revision(engine) == head_revision()


def connect_with_retry(url: str, attempts: int = 30, delay: float = 1.0,
                       sqlite_cache: int = DEFAULT_SQLITE_CACHE) -> Engine:
    """Create an engine and wait until the database answers (it may start after us)."""
    engine = make_engine(url, sqlite_cache=sqlite_cache)
    for attempt in range(1, attempts + 1):
        try:
            with engine.connect():
                return engine
        except OperationalError as exc:
            if attempt == attempts:
                raise
            log.warning("database not reachable (attempt %d/%d): %s", attempt, attempts, str(exc).splitlines()[0])
            time.sleep(delay)
    return engine


def make_readonly_engine(url: str, *, busy_timeout_ms: int = 30_000) -> Engine:
    """An engine that cannot write: SQLite opened with `mode=ro` (and query_only), PostgreSQL in read-only transactions.

    Reporting commands use it, so they never migrate, sync feeds or take a write lock.
    Raises FileNotFoundError for a SQLite file that does not exist (opening it would create it).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        if path in ("", ":memory:"):
            raise FileNotFoundError("an in-memory SQLite database holds nothing to report on")
        file = Path(path).expanduser().resolve()
        if not file.is_file():
            raise FileNotFoundError(str(file))
        uri = f"{file.as_uri()}?mode=ro"

        def connect() -> sqlite3.Connection:
            conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout_ms / 1000, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
            conn.execute("PRAGMA query_only=ON")
            return conn

        return create_engine("sqlite://", creator=connect, poolclass=NullPool)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=2,
                         connect_args={"options": "-c default_transaction_read_only=on"})
