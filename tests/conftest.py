"""Shared fixtures: where the shared corpus is, and skipping tests that need it when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("WIREWATCH_CORPUS", ROOT.parent / "shared" / "corpus"))
REALFEEDS = Path(os.environ.get("WIREWATCH_REALFEEDS", ROOT.parent / "shared" / "realfeeds"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip `corpus` tests with a clear reason when ../shared is not beside the checkout."""
    if CORPUS.is_dir() and REALFEEDS.is_dir():
        return
    if os.environ.get("CI"):
        raise pytest.UsageError(f"CI must have the shared corpus at {CORPUS}")
    skip = pytest.mark.skip(reason=f"shared corpus not found at {CORPUS} (set WIREWATCH_CORPUS)")
    for item in items:
        if "corpus" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def corpus_dir() -> Path:
    """The shared evaluation corpus folder."""
    return CORPUS


@pytest.fixture
def realfeeds_dir() -> Path:
    """The shared folder of real-world feed fixtures."""
    return REALFEEDS
