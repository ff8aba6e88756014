"""DatabaseWatch: an outage is one warning, a slow reminder, one line back; readiness says the same."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from wirewatch.dbwatch import DatabaseWatch, is_database_error


def refused() -> OperationalError:
    """A real driver error: connecting to a SQLite file in a folder that does not exist."""
    engine = create_engine("sqlite:////nonexistent-folder/x.db")
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except OperationalError as exc:
        return exc
    raise AssertionError("connecting should have failed")


def test_an_outage_logs_down_once_reminds_slowly_and_logs_back_with_its_length(
        caplog: pytest.LogCaptureFixture) -> None:
    now = [1000.0]
    watch = DatabaseWatch(remind_every=60, clock=lambda: now[0])
    error = refused()
    assert is_database_error(error) and not is_database_error(ValueError("bug"))
    with caplog.at_level(logging.INFO, logger="wirewatch.health"):
        assert watch.readiness() is None
        for _ in range(30):  # every job fails every second for half a minute
            watch.failed(error, "dispatch")
            now[0] += 1
        ready = watch.readiness()
        assert ready is not None and ready[0] is False and "database unavailable since" in ready[1]
        assert "unable to open database file" in ready[1]
        now[0] += 31
        watch.failed(error, "deliver")  # a minute in: one reminder
        watch.failed(error, "deliver")
        now[0] += 4
        watch.succeeded()
        watch.succeeded()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3, lines
    assert lines[0].startswith("database unavailable (dispatch): OperationalError: unable to open database file")
    assert lines[1].startswith("database still unavailable after 61s (31 failed attempts)")
    assert lines[2] == "database available again after 65.0s down"
    assert [r.levelname for r in caplog.records] == ["WARNING", "WARNING", "INFO"]
    assert watch.readiness() is None
