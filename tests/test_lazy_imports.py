"""What a command does not use it does not import: an empty `poll` loads no Apprise, Jinja2, Alembic,
trafilatura or OpenCC, and checks the schema without Alembic (issue #22). No timings are asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import write_config
from wirewatch import db

HEAVY = ("apprise", "jinja2", "alembic", "trafilatura", "opencc")

POLL_AND_LIST = """
import json, sys
from wirewatch.cli import main
code = main(["--config", sys.argv[1], "poll"])
print(json.dumps({"code": code, "loaded": sorted(m for m in sys.argv[2:] if m in sys.modules)}))
"""


def _poll(config: Path) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", POLL_AND_LIST, str(config), *HEAVY],
                          capture_output=True, text=True, timeout=120, cwd=config.parent)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_empty_poll_on_a_current_database_imports_none_of_the_heavy_packages(tmp_path: Path) -> None:
    config = write_config(tmp_path, {}, channels={"screen": {"type": "console"}})
    first = _poll(config)  # creates the schema: this one needs Alembic
    assert first["code"] == 0 and "alembic" in first["loaded"]  # type: ignore[operator]
    again = _poll(config)
    assert again == {"code": 0, "loaded": []}


def test_the_head_read_from_the_migration_files_is_alembics() -> None:
    assert db.shipped_head() is not None
    assert db.shipped_head() == db.head_revision()


def test_a_database_behind_the_head_is_still_migrated(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    assert db.stored_revisions(engine) == ()  # no alembic_version table yet
    db.upgrade(engine)
    assert db.stored_revisions(engine) == (db.shipped_head(),)
    from alembic import command

    command.downgrade(db._alembic_config(engine), "0003")
    assert db.stored_revisions(engine) == ("0003",)
    db.upgrade(engine)
    assert db.current_revision(engine) == db.shipped_head()
    with engine.connect() as conn:
        assert "health" in {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(feed)")}
    engine.dispose()
