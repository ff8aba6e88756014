"""Public contracts pinned: CLI commands, config keys, watchlist keys, export fields, webhook payload keys.

Extending them is fine (add to the sets here); renaming or removing one breaks users and this test.
"""

from __future__ import annotations

import argparse

from wirewatch.alerts.render import build_payload
from wirewatch.alerts.types import EntityMatch, Mention, WatchlistMatch
from wirewatch.cli import build_parser
from wirewatch.config.clock import utcnow
from wirewatch.config.models import Config, FeedConfig
from wirewatch.config.sources import HtmlSelect, JsonSelect, Published
from wirewatch.config.watchlist import EntityConfig, WatchlistConfig
from wirewatch.ingest.item import Item, StoryRef


def keys(model: type) -> set[str]:
    return {info.alias or name for name, info in model.model_fields.items()}  # type: ignore[attr-defined]


def test_cli_commands_and_global_options() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert {"run", "poll", "check", "status", "export", "reprocess", "db", "demo", "clean", "boilerplate",
            "stories", "match", "backtest", "alerts", "test-alert", "health", "try", "web"} <= set(sub.choices)
    options = {o for a in parser._actions for o in a.option_strings}
    assert {"--config", "--version", "--log-format"} <= options


def test_config_keys() -> None:
    assert {"database", "defaults", "feeds", "watchlists", "channels", "web"} <= keys(Config)
    from wirewatch.config.models import WebConfig

    assert {"listen", "token"} <= keys(WebConfig)
    assert {"name", "url", "interval", "clean", "full_text", "kind", "select"} <= keys(FeedConfig)
    assert {"items", "id", "title", "url", "published", "body", "source"} <= keys(JsonSelect) & keys(HtmlSelect)
    assert {"path", "css", "format", "tz"} <= keys(Published)


def test_watchlist_keys() -> None:
    assert {"watchlist", "channels", "entities", "min_mentions", "in", "all_of", "any_of", "keywords",
            "exclude_keywords"} <= keys(WatchlistConfig)
    assert {"id", "name", "aliases", "tickers", "exclude"} <= keys(EntityConfig)


def test_webhook_payload_shape() -> None:
    now = utcnow()
    item = Item(feed="f", identity="g", guid="g", url="http://x.invalid/1", title="T", raw_summary="",
                raw_content="", published_at=now, fetched_at=now, text="Microsoft said", source="S", id=1)
    match = WatchlistMatch("w", [EntityMatch("MSFT", "Microsoft", [Mention("Microsoft", "body", 0, 9, "…")])])
    payload = build_payload(alert_id="alt_1", type="alert.created", created_at=now, item=item,
                            story=StoryRef(7, now, ["f", "S"], 2), match=match)
    assert {"type", "id", "created_at", "watchlist", "story", "entities", "item"} <= set(payload)
    assert {"id", "first_seen", "sources", "items"} <= set(payload["story"])
    assert {"id", "name", "mentions"} <= set(payload["entities"][0])
    assert {"alias", "field", "snippet"} <= set(payload["entities"][0]["mentions"][0])
    assert {"feed", "guid", "url", "title", "text", "source", "published"} <= set(payload["item"])


def test_web_console_paths() -> None:
    import sqlalchemy as sa
    from starlette.routing import Route

    from wirewatch.alerts.watchlist import compile_watchlists
    from wirewatch.web.app import Console, build_app

    matcher = compile_watchlists([])
    guard = build_app(Console(reads=sa.create_engine("sqlite://"), writes=None, config=Config,
                              matcher=lambda: matcher))
    paths = {r.path for r in guard.app.routes if isinstance(r, Route)}  # type: ignore[attr-defined]
    assert {"/", "/feeds/{name}", "/items", "/stories/{id:int}", "/alerts", "/search", "/tester",
            "/deliveries/{id:int}"} <= paths
