"""Pydantic model of a watchlist file (a public format; `config/examples/watchlists/ev-batteries.yaml` shows every key)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from wirewatch.config.models import Strict


class EntityConfig(Strict):
    """One watched company, ticker or person, with its aliases in any language."""

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    aliases: list[str] = Field(min_length=1)
    tickers: list[str] = []
    exclude: list[str] = []
    case: Literal["sensitive", "insensitive"] | None = None

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, value: list[str]) -> list[str]:
        for alias in value:
            if len(alias.strip()) < 2:
                raise ValueError(f"alias {alias!r} is shorter than 2 characters; it would match everywhere")
        return value

    @field_validator("tickers")
    @classmethod
    def _tickers(cls, value: list[str]) -> list[str]:
        for ticker in value:
            if not ticker.strip():
                raise ValueError("a ticker is empty")
        return value


class WatchlistConfig(Strict):
    """A watchlist: entities to find, rules for when an item counts, channels to alert."""

    watchlist: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    channels: list[str] = []
    entities: list[EntityConfig] = Field(min_length=1)
    min_mentions: int = Field(default=1, ge=1)
    in_: Literal["title", "any"] = Field(default="any", alias="in")
    all_of: list[str] = []
    any_of: list[str] = []
    keywords: list[str] = []
    exclude_keywords: list[str] = []
    updates: bool = False
    max_per_hour: int | None = Field(default=None, ge=1)
