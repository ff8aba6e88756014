"""Configuration: pydantic models of the YAML files, the loader, rule packs and examples."""

from wirewatch.config.errors import ConfigError
from wirewatch.config.loader import load_config, load_watchlist
from wirewatch.config.models import ChannelConfig, Config, FeedConfig
from wirewatch.config.watchlist import EntityConfig, WatchlistConfig

__all__ = [
    "ChannelConfig",
    "Config",
    "ConfigError",
    "EntityConfig",
    "FeedConfig",
    "WatchlistConfig",
    "load_config",
    "load_watchlist",
]
