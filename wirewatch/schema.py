"""Imports every module that defines tables, so `SQLModel.metadata` holds the whole schema."""

from __future__ import annotations

import importlib

TABLE_MODULES = ("ingest.store", "alerts.matchstore", "alerts.models")


def load_models() -> None:
    """Import the table modules of both packages (alerts' may not exist in older trees)."""
    for name in TABLE_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
