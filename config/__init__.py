"""Configuration: pydantic models of the YAML files, the loader, rule packs and examples."""

from config.errors import ConfigError
from config.loader import load_config, load_watchlist
from config.models import ChannelConfig, Config, FeedConfig
from config.watchlist import EntityConfig, WatchlistConfig

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
