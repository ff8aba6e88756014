"""The database gateway: the engine, and the one policy by which async code runs blocking database work.

    Gateway.run    writes and reads that must see them: on the database threads, one on SQLite (it has one
                   writer: a second thread would only wait for the write lock), four on PostgreSQL
    Gateway.read   read-only work on `reading` (SQLite transactions begun DEFERRED, no write lock) on a
                   thread of its own, so the gauges are not queued behind a slow write

The composition root (`wirewatch.app.App`) owns the one gateway; the pipeline (`ingest`), the delivery
pass and the Apprise channel (`alerts`) receive it as a parameter typed by a Protocol of their own
(`ingest.pipeline.DatabaseRunner`, `alerts.route.Database`). SMTP sends (`alerts.email`) are network I/O,
not database work: they stay off these threads (`asyncio.to_thread`), so a slow mail server never holds
the database's turn. `tests/test_layers.py` fails on any other `asyncio.to_thread` or executor.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy.engine import Engine

from wirewatch import db

__all__ = ["THREAD_PREFIX", "Gateway", "writer_threads"]

T = TypeVar("T")
THREAD_PREFIX = "wirewatch-db"
"""The name every database thread's name starts with (readers add `-read`)."""


def writer_threads(engine: Engine) -> int:
    """How many threads run database work: one on SQLite (one writer), four on PostgreSQL."""
    return 1 if engine.dialect.name == "sqlite" else 4


class Gateway:
    """The engine and the threads its blocking work runs on, for code on the event loop."""

    def __init__(self, engine: Engine, workers: int | None = None) -> None:
        self.engine = engine
        self.reading = db.for_reading(engine)
        self._writers = ThreadPoolExecutor(max_workers=workers or writer_threads(engine),
                                           thread_name_prefix=THREAD_PREFIX)
        self._readers = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{THREAD_PREFIX}-read")

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(*args, **kwargs)` on the database threads and wait for its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writers, functools.partial(fn, *args, **kwargs))

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run read-only `fn(*args, **kwargs)` on the reader thread (pass it `reading`, not `engine`)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        """Let the work under way finish, then stop the threads (the engine stays: its owner disposes of it)."""
        self._writers.shutdown(wait=True)
        self._readers.shutdown(wait=True)
