"""Shared fixtures: where the shared corpus is, and skipping tests that need it when it is absent; the outbox
`engine` (a fresh SQLite file with the alert tables) the webhook `receiver` (a real HTTP server on 127.0.0.1); and `cluster`, a private PostgreSQL cluster a test may
stop and start (tests/pgcluster.py)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from tests.pgcluster import PrivateCluster
    from tests.receivers import Receiver

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("WIREWATCH_CORPUS", ROOT.parent / "shared" / "corpus"))
REALFEEDS = Path(os.environ.get("WIREWATCH_REALFEEDS", ROOT.parent / "shared" / "realfeeds"))
REALWORLD = Path(os.environ.get("WIREWATCH_REALWORLD", ROOT.parent / "shared" / "realworld"))


SHARED_FIXTURES = ("corpus_dir", "realfeeds_dir")


def _missing_shared() -> str | None:
    """What of ../shared is absent (None when both the corpus and the real-feed fixtures are there)."""
    missing = [f"{what} not found at {path}" for what, path in (("shared corpus", CORPUS),
                                                                ("real-feed fixtures", REALFEEDS),
                                                                ("real-world items", REALWORLD))
               if not path.is_dir()]
    return "; ".join(missing) or None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests that need ../shared (marked `corpus`, or using its fixtures) with a reason when it is absent.

    In a user's clone they skip and the rest run; only CI (`CI` set, as `.ci/run` does) insists on ../shared.
    """
    missing = _missing_shared()
    if missing is None:
        return
    needs_shared = [i for i in items if "corpus" in i.keywords
                    or any(f in getattr(i, "fixturenames", ()) for f in SHARED_FIXTURES)]
    if not needs_shared:
        return
    if os.environ.get("CI"):
        raise pytest.UsageError(f"CI must have the shared corpus: {missing} (set WIREWATCH_CORPUS, "
                                "WIREWATCH_REALFEEDS and WIREWATCH_REALWORLD, or unset CI to skip these tests)")
    skip = pytest.mark.skip(reason=f"{missing} (set WIREWATCH_CORPUS / WIREWATCH_REALFEEDS / WIREWATCH_REALWORLD to run it)")
    for item in needs_shared:
        item.add_marker(skip)


@pytest.fixture(autouse=True)
def _restore_root_logging() -> Iterator[None]:
    """Undo what a CLI run in-process did to the root logger, so its handler does not outlive the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = [h for h in root.handlers if h in handlers or not _is_wirewatch_handler(h)]
    root.setLevel(level)


def _is_wirewatch_handler(handler: logging.Handler) -> bool:
    return type(handler).__module__ == "wirewatch.logs"


@pytest.fixture
def corpus_dir() -> Path:
    """The shared evaluation corpus folder."""
    return CORPUS


@pytest.fixture
def realfeeds_dir() -> Path:
    """The shared folder of real-world feed fixtures."""
    return REALFEEDS


def native_built() -> bool:
    """Whether the optional native matcher (alerts/_scan.c) was built; CI must have it, users may not."""
    from wirewatch.alerts.normalise import native_folder

    if native_folder() is not None:
        return True
    if os.environ.get("CI"):
        pytest.fail("CI must build alerts/_scan.c (pip install -e . with gcc and the Python headers)")
    return False


@pytest.fixture(params=["native", "python"])
def native(request: pytest.FixtureRequest) -> bool:
    """Run a test on the native matcher and on the pure-Python path (native skipped where it was not built)."""
    if request.param == "native" and not native_built():
        pytest.skip("alerts._scan was not built (no C compiler at install); the Python path still runs")
    return bool(request.param == "native")


PG_ADMIN = os.environ.get("WIREWATCH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_reachable() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return None
    except Exception as exc:  # any failure means "not reachable"
        return f"{type(exc).__name__}: {exc}"


def create_pg_database(prefix: str = "wirewatch_test") -> str:
    """Create a uniquely named PostgreSQL database; return its SQLAlchemy URL."""
    import uuid

    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}"


def drop_pg_database(url: str) -> None:
    """Drop a database made by `create_pg_database` (terminating leftover connections)."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _fresh_pg_database() -> Iterator[str]:
    """Create a database for one test and drop it after (skipped when unreachable, outside CI)."""
    problem = _pg_reachable()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL must be reachable in CI: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN}: {problem}")
    url = create_pg_database()
    yield url
    drop_pg_database(url)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test."""
    yield from _fresh_pg_database()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database URL: a real SQLite file, then the real PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'wirewatch.db'}"
    else:
        yield from _fresh_pg_database()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A SQLite file configured like the daemon's, with the alert tables (`tests.test_outbox_helpers`)."""
    from tests.test_outbox_helpers import sqlite_engine

    engine = sqlite_engine(tmp_path / "outbox.db")
    yield engine
    engine.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1 answering 200 unless a test queues other replies."""
    from tests.receivers import Receiver

    with Receiver() as r:
        yield r


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    """A private PostgreSQL cluster (tests/pgcluster.py) a test may stop and start; skipped where it cannot run."""
    from tests.pgcluster import PrivateCluster

    reason = PrivateCluster.skip_reason()
    if reason is not None:
        pytest.skip(reason)
    made = PrivateCluster()
    try:
        yield made.init()
    finally:
        made.destroy()
