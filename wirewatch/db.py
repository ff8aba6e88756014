"""Database engine (SQLite with WAL and a busy timeout, or PostgreSQL) and Alembic migrations."""

from __future__ import annotations

import functools
import logging
import re
import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event, make_url, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import NullPool

if TYPE_CHECKING:  # Alembic is imported only when a migration runs or is asked about (~0.25 s, 10 MB)
    from alembic.config import Config as AlembicConfig

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


DEFAULT_SQLITE_CACHE = 64 * 1024 * 1024


_WAITING: dict[int, float] = {}  # write transactions of this process waiting for SQLite's lock: token → since
_WAITING_LOCK = threading.Lock()
BEGIN_OPTION = "wirewatch_begin"  # execution option: "DEFERRED" for reads; writes default to "IMMEDIATE"


def make_engine(url: str, *, busy_timeout_ms: int = 30_000, sqlite_cache: int = DEFAULT_SQLITE_CACHE,
                connect_timeout: float = 10.0, pool_size: int = 10) -> Engine:
    """Create an engine: SQLite gets WAL, a busy timeout, a page cache and immediate transactions.

    A transaction begins IMMEDIATE (it takes the write lock at once, so it never fails half-way on a
    lock upgrade) unless its connection carries `wirewatch_begin="DEFERRED"` (see `for_reading`).
    """
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
            mode = conn.get_execution_options().get(BEGIN_OPTION, "IMMEDIATE")
            if mode == "DEFERRED":
                conn.exec_driver_sql("BEGIN DEFERRED")
                return
            token = object()
            with _WAITING_LOCK:
                _WAITING[id(token)] = time.time()
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            finally:
                with _WAITING_LOCK:
                    _WAITING.pop(id(token), None)

        @event.listens_for(engine, "handle_error")
        def _on_error(context: Any) -> None:
            if "database is locked" in str(context.original_exception):
                _busy_timeout_hit(busy_timeout_ms)

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=10,
                         connect_args={"connect_timeout": max(1, round(connect_timeout))})


_last_busy_log = 0.0


def _busy_timeout_hit(busy_timeout_ms: int) -> None:
    """Log (at most once a minute) that a statement gave up after waiting `sqlite_busy_timeout` for the lock."""
    global _last_busy_log
    now = time.monotonic()
    if now - _last_busy_log >= 60:
        _last_busy_log = now
        log.warning("SQLite busy timeout hit: waited %.1fs (sqlite_busy_timeout) for another connection's lock; "
                    "the work is retried", busy_timeout_ms / 1000)


def for_reading(engine: Engine) -> Engine:
    """The same engine (same pool) whose transactions begin DEFERRED: reads that never wait for the write lock."""
    return engine.execution_options(**{BEGIN_OPTION: "DEFERRED"})


def lock_wait_since() -> float | None:
    """Since when (epoch seconds) this process's longest-waiting write transaction waits for SQLite's lock."""
    with _WAITING_LOCK:
        return min(_WAITING.values(), default=None)


def _alembic_config(engine: Engine) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    """Apply every pending migration (safe to call at each start; serialised on PostgreSQL).

    A database already at the shipped head costs one query and no Alembic import.
    """
    if stored_revisions(engine) == (shipped_head(),):
        return
    from alembic import command

    command.upgrade(_alembic_config(engine), "head")


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The newest migration this version of wirewatch ships."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config(create_engine("sqlite://"))).get_current_head()


_REVISION = re.compile(r"""^(down_revision|revision)\s*(?::[^=]*)?=\s*(?:['"]([^'"]+)['"]|None)""", re.M)


@functools.cache
def shipped_head() -> str | None:
    """The head revision read from the migration files' `revision`/`down_revision` lines, without Alembic.

    The one revision no other names as its `down_revision` (the history is linear; `tests/test_lazy_imports.py`
    checks this against Alembic's answer). None if the files do not say.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("[0-9]*.py"):
        for key, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            if value:
                (revisions if key == "revision" else parents).add(value)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def stored_revisions(engine: Engine) -> tuple[str, ...]:
    """The revisions `alembic_version` holds (one query; empty when the table is absent or unreadable)."""
    try:
        with engine.connect() as conn:
            return tuple(sorted(str(r[0]) for r in conn.execute(text("SELECT version_num FROM alembic_version"))))
    except DBAPIError:
        return ()


def is_current(engine: Engine) -> bool:
    """Whether the database schema is at the shipped head."""
    return current_revision(engine) == head_revision()


def connect_with_retry(url: str, attempts: int = 30, delay: float = 1.0,
                       sqlite_cache: int = DEFAULT_SQLITE_CACHE, busy_timeout_ms: int = 30_000) -> Engine:
    """Create an engine and wait until the database answers (it may start after us)."""
    engine = make_engine(url, sqlite_cache=sqlite_cache, busy_timeout_ms=busy_timeout_ms)
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
