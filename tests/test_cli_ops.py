"""The CLI as an operator runs it: global options anywhere, the compose command, health, read-only reports."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.feedserver import FeedServer
from tests.helpers import free_port, rss, wait_for, write_config
from wirewatch.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
ITEMS = [{"title": "Microsoft results", "link": "http://example.invalid/1", "guid": "1",
          "body": "<p>Microsoft beat estimates on cloud demand.</p>"}]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wirewatch.cli", *args], capture_output=True, text=True,
                          timeout=120, env=env, cwd=ROOT)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    s = FeedServer().start()
    s.add("/a.xml", rss(ITEMS))
    s.add("/b.xml", rss(ITEMS, title="b"))
    yield s
    s.stop()


def _healthz(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def test_global_options_work_before_and_after_the_command(tmp_path: Path) -> None:
    config = write_config(tmp_path, {})
    assert cli("check", "--config", str(config)).returncode == 0
    assert cli("--config", str(config), "check").returncode == 0
    parser = build_parser()
    for argv in (["--log-format", "json", "--log-level", "debug", "--config", "x.yaml", "run"],
                 ["run", "--log-format", "json", "--log-level", "debug", "--config", "x.yaml"],
                 ["--log-level", "debug", "run", "--log-format", "json", "--config", "x.yaml"]):
        args = parser.parse_args(argv)  # a value before the command is not clobbered by the command's copy
        assert (args.log_format, args.log_level, args.config) == ("json", "DEBUG", "x.yaml"), argv
    assert (parser.parse_args(["run"]).log_format, parser.parse_args(["run"]).log_level) == ("text", "INFO")
    assert parser.parse_args(["--log-format", "json", "run", "--log-format", "text"]).log_format == "text"
    for command in ("run", "status", "export", "alerts", "health", "check"):
        text = cli(command, "--help").stdout
        assert "--config" in text and "--log-format" in text and "--log-level" in text, command


def _leaf_parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path
    for action in subs:
        for name, child in action.choices.items():
            yield from _leaf_parsers(child, (*path, name))


def test_every_command_and_action_takes_the_global_options_after_it() -> None:
    """Commands registered from other modules, `feeds import` and `alerts retry` included."""
    parser = build_parser()
    leaves = list(_leaf_parsers(parser))
    assert ("feeds", "import") in leaves and ("web",) in leaves
    for path in leaves:
        needed = {("feeds", "import"): ["x.opml"], ("feeds", "pause"): ["a"], ("feeds", "resume"): ["a"],
                  ("why",): ["1"], ("try",): ["http://example.invalid/"], ("db",): ["upgrade"],
                  ("match",): ["--watchlist", "w.yaml"], ("backtest",): ["--watchlist", "w.yaml"],
                  ("test-alert",): ["--channel", "c"]}.get(path, [])
        args = parser.parse_args([*path, *needed, "--log-format", "json", "--config", "x.yaml"])
        assert (args.log_format, args.config) == ("json", "x.yaml"), path


def test_bad_option_values_are_usage_errors(tmp_path: Path) -> None:
    config = write_config(tmp_path, {})
    bad = cli("--log-level", "bogus", "--config", str(config), "check")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "not a log level" in bad.stderr
    since = cli("--config", str(config), "export", "--since", "5x")
    assert since.returncode == 2 and "'5x' is not a duration" in since.stderr and "Traceback" not in since.stderr
    assert cli("--config", str(config), "stories", "--since", "soon").returncode == 2


def test_the_compose_command_starts_and_health_survives_a_broken_config(tmp_path: Path, server: FeedServer) -> None:
    command = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["wirewatch"]["command"]
    port = free_port()
    config = write_config(tmp_path, {"a": server.url("/a.xml")}, extra=f"metrics: {{listen: '127.0.0.1:{port}'}}\n")
    env = dict(os.environ, WIREWATCH_CONFIG=str(config), WIREWATCH_RUNTIME_DIR=str(tmp_path / "run"))
    env.pop("WIREWATCH_METRICS", None)
    daemon = subprocess.Popen([sys.executable, "-m", "wirewatch.cli", *command], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: _healthz(port) or daemon.poll() is not None, timeout=60)
        assert daemon.poll() is None, daemon.communicate()[1]
        assert cli("health", env=env).returncode == 0
        assert "daemon: running (pid" in cli("status", env=env).stderr
        second = cli(*command, env=env)  # a second daemon on the host: the port is taken
        assert second.returncode == 2 and "metrics.listen" in second.stderr and "Traceback" not in second.stderr
        config.write_text(config.read_text() + "feeds: [oops\n")  # a bad edit: the daemon keeps running
        assert cli("check", env=env).returncode == 2
        healthy = cli("health", env=env)
        assert healthy.returncode == 0, healthy.stderr
        assert cli("health", "--metrics", f"127.0.0.1:{free_port()}", env=env).returncode == 1
        assert cli("health", env=dict(env, WIREWATCH_METRICS=f"127.0.0.1:{port}")).returncode == 0
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, err
    events = [json.loads(line) for line in err.splitlines()]  # --log-format json: one object a line
    assert any(e["message"] == "starting" for e in events)
    assert not list((tmp_path / "run").glob("daemon-*.json"))  # the state file goes with the daemon


def _feeds(url: str) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {name: int(enabled) for name, enabled in conn.execute(text("SELECT name, enabled FROM feed"))}
    finally:
        engine.dispose()


def test_reports_open_the_database_read_only(tmp_path: Path, server: FeedServer, db_url: str) -> None:
    config = write_config(tmp_path, {"a": server.url("/a.xml"), "b": server.url("/b.xml")}, database=db_url)
    assert cli("--config", str(config), "poll").returncode == 0
    before = _feeds(db_url)
    assert before == {"a": 1, "b": 1}
    other = tmp_path / "other"
    other.mkdir()
    other_config = write_config(other, {"c": server.url("/a.xml")}, database=db_url)
    (other / "w.yaml").write_text("watchlist: w\nentities:\n  - {id: MSFT, name: Microsoft, aliases: [Microsoft]}\n")
    for command in (["status"], ["status", "--wide"], ["export"], ["stories"], ["alerts"], ["boilerplate"],
                    ["backtest", "--watchlist", str(other / "w.yaml")], ["why", "1"]):
        out = cli("--config", str(other_config), *command)
        assert out.returncode == 0, (command, out.stderr)
    assert _feeds(db_url) == before  # nothing synced: no feed disabled, none added
    wide = cli("--config", str(other_config), "status", "--wide").stdout.splitlines()
    assert "URL" in wide[0] and server.url("/a.xml") in wide[1]


def test_reports_work_on_a_read_only_file(tmp_path: Path, server: FeedServer) -> None:
    config = write_config(tmp_path, {"a": server.url("/a.xml")})
    assert cli("--config", str(config), "poll").returncode == 0
    db = tmp_path / "wirewatch.db"
    db.chmod(0o444)
    status = cli("--config", str(config), "status")
    assert status.returncode == 0 and status.stdout.splitlines()[1].startswith("a ")
    assert "daemon: none running" in status.stderr
    assert cli("--config", str(config), "export").stdout.count("\n") == 1


def test_reports_refuse_a_database_behind_the_schema(tmp_path: Path) -> None:
    config = write_config(tmp_path, {})
    out = cli("--config", str(config), "status")
    assert out.returncode == 2 and "wirewatch db upgrade" in out.stderr
    assert not (tmp_path / "wirewatch.db").exists()  # a report does not create the database
    assert cli("--config", str(config), "db", "upgrade").returncode == 0
    with sqlite3.connect(tmp_path / "wirewatch.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0001'")
    behind = cli("--config", str(config), "export")
    assert behind.returncode == 2 and "0001" in behind.stderr and "wirewatch db upgrade" in behind.stderr


def test_readonly_engine_refuses_writes(db_url: str) -> None:
    from sqlalchemy import text

    from wirewatch import db

    engine = db.make_engine(db_url)
    db.upgrade(engine)
    engine.dispose()
    ro = db.make_readonly_engine(db_url)
    try:
        with ro.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM feed")).scalar_one() == 0
        with pytest.raises(Exception, match="(?i)read.only|readonly"), ro.begin() as conn:
            conn.execute(text("INSERT INTO feed (name, url, enabled, consecutive_errors, items_total, health) "
                              "VALUES ('x', 'http://x.invalid/', true, 0, 0, 'ok')"))
    finally:
        ro.dispose()


def test_unknown_feed_names_are_errors(tmp_path: Path, server: FeedServer) -> None:
    config = write_config(tmp_path, {"a": server.url("/a.xml")})
    assert cli("--config", str(config), "poll").returncode == 0
    for command in ("export", "reprocess", "boilerplate", "poll"):
        out = cli("--config", str(config), command, "--feed", "nope")
        assert out.returncode == 2 and "nope" in out.stderr and "Traceback" not in out.stderr, command
    assert cli("--config", str(config), "export", "--feed", "a").returncode == 0
