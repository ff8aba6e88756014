"""Imports every module that defines tables, so `SQLModel.metadata` holds the whole schema."""

from __future__ import annotations

import importlib

TABLE_MODULES = ("ingest.store", "alerts.matchstore", "alerts.models", "alerts.chat")


def load_models() -> None:
    """Import the table modules of both packages."""
    for name in TABLE_MODULES:
        importlib.import_module(name)
