"""Imports every module that defines tables, so `SQLModel.metadata` holds the whole schema."""

from __future__ import annotations

import importlib

TABLE_MODULES = ("wirewatch.ingest.store", "wirewatch.alerts.matchstore", "wirewatch.alerts.tables", "wirewatch.alerts.apprisestore")


def load_tables() -> None:
    """Import the table modules of both packages."""
    for name in TABLE_MODULES:
        importlib.import_module(name)


UNMODELLED = {"table": ("item_fts", "item_short"),
              "index": ("ix_item_title_trgm", "ix_item_text_trgm", "ix_item_search_short")}
"""Search objects made by migrations 0005f and 0005h that no SQLModel describes (FTS5 tables, GIN indexes)."""


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Leave the search objects out of model/migration comparisons (autogenerate, tests/test_migrations.py)."""
    if name is None:
        return True
    if type_ == "table":
        return not name.startswith(UNMODELLED["table"])
    return name not in UNMODELLED.get(type_, ())
