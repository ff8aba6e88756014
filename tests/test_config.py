"""Config and watchlist loading: each broken file gives the exact message a user sees, and exit code 2."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from wirewatch.cli import main
from wirewatch.config import ConfigError, load_config
from wirewatch.config.types import format_duration, parse_duration, parse_size

GOOD_WATCHLIST = """\
watchlist: ai
channels: [desk]
entities:
  - id: MSFT
    name: Microsoft
    aliases: [Microsoft, 微软]
"""

GOOD_CONFIG = """\
database: sqlite:///w.db
feeds:
  - name: a
    url: https://a.example/feed.xml
watchlists: [watchlists/*.yaml]
channels:
  desk: {type: webhook, url: https://hooks.example/x, secret: whsec_dGVzdA==}
"""


def write(tmp: Path, config: str, watchlist: str | None = GOOD_WATCHLIST) -> Path:
    """Write a config (and a watchlist next to it) into tmp; return the config path."""
    (tmp / "watchlists").mkdir(exist_ok=True)
    if watchlist is not None:
        (tmp / "watchlists" / "ai.yaml").write_text(textwrap.dedent(watchlist), encoding="utf-8")
    path = tmp / "wirewatch.yaml"
    path.write_text(textwrap.dedent(config), encoding="utf-8")
    return path


# (case, config text, watchlist text, expected message without the folder prefix)
BROKEN: list[tuple[str, str, str | None, str]] = [
    ("unknown top-level key", GOOD_CONFIG + "feedz: []\n", GOOD_WATCHLIST,
     "wirewatch.yaml:8: feedz: unknown key 'feedz'; did you mean 'feeds'?"),
    ("unknown feed key", GOOD_CONFIG.replace("    url: https://a.example/feed.xml\n",
                                             "    url: https://a.example/feed.xml\n    intervall: 5m\n"),
     GOOD_WATCHLIST, "wirewatch.yaml:5: feeds[0].intervall: unknown key 'intervall'; did you mean 'interval'?"),
    ("bad duration", GOOD_CONFIG + "defaults: {interval: 5 minutes}\n", GOOD_WATCHLIST,
     "wirewatch.yaml:8: defaults.interval: expected a duration like 30s, 5m, 1h or 1d, got '5 minutes'"),
    ("negative duration", GOOD_CONFIG + "defaults: {interval: 0s}\n", GOOD_WATCHLIST,
     "wirewatch.yaml:8: defaults.interval: expected a positive duration, got '0s'"),
    ("duplicate feed name", GOOD_CONFIG.replace("watchlists:", "  - name: a\n    url: https://b.example/f\nwatchlists:"),
     GOOD_WATCHLIST, "wirewatch.yaml:5: feeds[1].name: feed name 'a' is used twice; names must be unique"),
    ("bad feed name", GOOD_CONFIG.replace("name: a", "name: Sina_Finance"), GOOD_WATCHLIST,
     "wirewatch.yaml:3: feeds[0].name: expected lower-case letters, digits and '-' (like sina-finance), "
     "got 'Sina_Finance'"),
    ("bad URL scheme", GOOD_CONFIG.replace("https://a.example/feed.xml", "ftp://a.example/feed.xml"),
     GOOD_WATCHLIST, "wirewatch.yaml:4: feeds[0].url: expected an http:// or https:// URL, got 'ftp://a.example/feed.xml'"),
    ("missing feed url", GOOD_CONFIG.replace("    url: https://a.example/feed.xml\n", ""), GOOD_WATCHLIST,
     "wirewatch.yaml:3: feeds[0].url: required key is missing"),
    ("missing env var", GOOD_CONFIG.replace("whsec_dGVzdA==", "'${WIREWATCH_TEST_UNSET_SECRET}'"), GOOD_WATCHLIST,
     "wirewatch.yaml:7: channels.desk.secret: environment variable WIREWATCH_TEST_UNSET_SECRET is not set "
     "(write ${WIREWATCH_TEST_UNSET_SECRET:-default} for a default)"),
    ("YAML syntax error", GOOD_CONFIG + "defaults: {interval: [5m\n", GOOD_WATCHLIST,
     "wirewatch.yaml:9: YAML syntax error: expected ',' or ']', but got '<stream end>'"),
    ("top level not a mapping", "- just\n- a list\n", GOOD_WATCHLIST,
     "wirewatch.yaml:1: expected a mapping of keys at the top level"),
    ("repeated key", GOOD_CONFIG + "database: sqlite:///other.db\n", GOOD_WATCHLIST,
     "wirewatch.yaml:8: database: key appears twice"),
    ("unknown channel type", GOOD_CONFIG.replace("type: webhook", "type: pager"), GOOD_WATCHLIST,
     "wirewatch.yaml:7: channels.desk: Input tag 'pager' found using 'type' does not match any of the expected "
     "tags: 'webhook', 'email', 'apprise', 'console'"),
    ("bad webhook URL", GOOD_CONFIG.replace("https://hooks.example/x", "hooks.example/x"), GOOD_WATCHLIST,
     "wirewatch.yaml:7: channels.desk.url: expected an http:// or https:// URL, got 'hooks.example/x'"),
    ("unknown channel key", GOOD_CONFIG.replace("secret:", "secrett:"), GOOD_WATCHLIST,
     "wirewatch.yaml:7: channels.desk.secrett: unknown key 'secrett'; did you mean 'secret'?"),
    ("bad database URL", GOOD_CONFIG.replace("sqlite:///w.db", "mysql://x/y"), GOOD_WATCHLIST,
     "wirewatch.yaml:1: database: expected sqlite:///path.db or postgresql+psycopg://user@host/db, got 'mysql://x/y'"),
    ("missing watchlist file", GOOD_CONFIG.replace("watchlists/*.yaml", "lists/ai.yaml"), GOOD_WATCHLIST,
     "wirewatch.yaml:5: watchlists[0]: no such watchlist file: lists/ai.yaml"),
    ("unknown ops channel", GOOD_CONFIG + "ops_channels: [pager]\n", GOOD_WATCHLIST,
     "wirewatch.yaml:8: ops_channels[0]: 'pager' is not a channel; expected one of ['desk']"),
    ("bad metrics listen", GOOD_CONFIG + "metrics: {listen: 9464}\n", GOOD_WATCHLIST,
     "wirewatch.yaml:8: metrics.listen: expected host:port like 127.0.0.1:9464, got 9464"),
    ("watchlist duplicate id", GOOD_CONFIG, GOOD_WATCHLIST + "  - id: MSFT\n    name: Again\n    aliases: [Again]\n",
     "watchlists/ai.yaml:7: entities[1].id: entity id 'MSFT' is used twice; ids must be unique"),
    ("watchlist empty aliases", GOOD_CONFIG, GOOD_WATCHLIST.replace("[Microsoft, 微软]", "[]"),
     "watchlists/ai.yaml:6: entities[0].aliases: List should have at least 1 item after validation, not 0"),
    ("watchlist short alias", GOOD_CONFIG, GOOD_WATCHLIST.replace("[Microsoft, 微软]", "[Microsoft, 微]"),
     "watchlists/ai.yaml:6: entities[0].aliases: alias '微' is shorter than 2 characters; it would match everywhere"),
    ("watchlist unknown channel", GOOD_CONFIG, GOOD_WATCHLIST.replace("[desk]", "[desk, pager]"),
     "watchlists/ai.yaml:2: channels[1]: 'pager' is not a channel of the main config; expected one of ['desk']"),
    ("watchlist unknown key", GOOD_CONFIG, GOOD_WATCHLIST + "min_mention: 2\n",
     "watchlists/ai.yaml:7: min_mention: unknown key 'min_mention'; did you mean 'min_mentions'?"),
    ("watchlist all_of names unknown id", GOOD_CONFIG, GOOD_WATCHLIST + "all_of: [AAPL]\n",
     "watchlists/ai.yaml:7: all_of[0]: 'AAPL' is not an entity id of this watchlist"),
    ("watchlist bad in", GOOD_CONFIG, GOOD_WATCHLIST + "in: body\n",
     "watchlists/ai.yaml:7: in: Input should be 'title' or 'any'"),
    ("watchlist missing entities", GOOD_CONFIG, "watchlist: ai\n",
     "watchlists/ai.yaml:1: entities: required key is missing"),
    ("watchlist YAML error", GOOD_CONFIG, "watchlist: ai\nentities:\n  - id: [unclosed\n",
     "watchlists/ai.yaml:4: YAML syntax error: expected ',' or ']', but got '<stream end>'"),
    ("unknown rule pack", GOOD_CONFIG.replace(
        "    url: https://a.example/feed.xml\n", "    url: https://a.example/feed.xml\n    clean: {packs: [sinaa]}\n"),
     GOOD_WATCHLIST, "wirewatch.yaml:5: feeds[0].clean.packs[0]: no rule pack 'sinaa'; expected one of "
     "['eastmoney', 'en', 'ja', 'netease', 'sina', 'zh']"),
    ("bad clean rule regex", GOOD_CONFIG.replace(
        "    url: https://a.example/feed.xml\n",
        "    url: https://a.example/feed.xml\n    clean: {rules: [{id: x, pattern: '(', regex: true}]}\n"),
     GOOD_WATCHLIST, "wirewatch.yaml:5: feeds[0].clean.rules[0]: pattern is not a valid regular expression: "
     "missing ), unterminated subpattern at position 0"),
]


@pytest.mark.parametrize(("case", "config", "watchlist", "expected"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_config_message_and_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str,
                                             config: str, watchlist: str | None, expected: str) -> None:
    path = write(tmp_path, config, watchlist)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    messages = [str(p).replace(str(tmp_path) + "/", "") for p in err.value.problems]
    assert expected.replace("{dir}", str(tmp_path)) in messages, case
    assert main(["--config", str(path), "check"]) == 2
    assert expected.replace("{dir}", str(tmp_path)) in capsys.readouterr().err.replace(str(tmp_path) + "/", "")


def test_good_config_loads_with_defaults_env_and_relative_paths(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WW_SECRET", "whsec_c2VjcmV0")
    text = GOOD_CONFIG.replace("whsec_dGVzdA==", "'${WW_SECRET}'") + "defaults: {interval: '${WW_UNSET:-2m}'}\n"
    loaded = load_config(write(tmp_path, text))
    cfg = loaded.config
    assert cfg.defaults.interval == 120
    assert cfg.channels["desk"].secret == "whsec_c2VjcmV0"  # type: ignore[union-attr]
    assert cfg.database == f"sqlite:///{(tmp_path / 'w.db').resolve()}"
    assert [wl.watchlist for _, wl in loaded.watchlists] == ["ai"]
    assert cfg.feed_interval(cfg.feeds[0]) == 120
    assert cfg.sqlite_cache == 64 * 1024 * 1024


def test_config_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, GOOD_CONFIG)
    monkeypatch.setenv("WIREWATCH_CONFIG", str(path))
    assert load_config().path == path.resolve()


def test_pure_ingestion_setup_needs_no_watchlists_or_channels(tmp_path: Path) -> None:
    path = write(tmp_path, "feeds: [{name: a, url: 'http://a.example/f'}]\n", None)
    loaded = load_config(path)
    assert loaded.watchlists == [] and loaded.config.channels == {}


def test_shipped_example_config_and_corpus_watchlist_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIREWATCH_WEBHOOK_SECRET", "whsec_dGVzdA==")
    root = Path(__file__).resolve().parent.parent
    loaded = load_config(root / "config" / "examples" / "wirewatch.yaml")
    assert {wl.watchlist for _, wl in loaded.watchlists} == {"ai-cloud", "ev-batteries"}


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("5m", 300), ("1h", 3600), ("1d", 86400), (90, 90),
                                               ("1.5h", 5400)])
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_duration_round_trip_and_sizes() -> None:
    assert format_duration(300) == "5m" and format_duration(86400) == "1d" and format_duration(1.5) == "1.5s"
    assert parse_size("15MiB") == 15 * 1024 * 1024 and parse_size("500KB") == 500_000 and parse_size(10) == 10
    with pytest.raises(ValueError):
        parse_size("lots")
