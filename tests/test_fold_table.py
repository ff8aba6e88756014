"""The fold table and the native edge classes, built the fast way, equal the per-code-point definitions."""

from __future__ import annotations

import array
import json
import os
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

from wirewatch.alerts import normalise
from wirewatch.alerts.normalise import (
    _HAN_RANGES,
    _LAST,
    _one,
    build_fold_table,
    edge_class,
    edge_classes,
    fold_table,
)


def reference_fold_table() -> dict[int, str]:
    """The definition, one code point at a time over the whole range (what fold_table shortcuts)."""
    import opencc

    table: dict[int, str] = {}
    for cp in range(_LAST):
        if 0xD800 <= cp < 0xE000:
            continue
        c = chr(cp)
        if unicodedata.decomposition(c) or c.casefold() != c or c.lower() != c:
            f = _one(c)
            if f != c:
                table[cp] = f
    han = [chr(cp) for lo, hi in _HAN_RANGES for cp in range(lo, hi)]
    han += sorted(set(table.values()) - set(han))
    converted = opencc.OpenCC("t2s.json").convert("\n".join(han)).split("\n")
    t2s = {a: b for a, b in zip(han, converted, strict=True) if a != b and len(b) == 1}
    for cp in range(_LAST):
        if 0xD800 <= cp < 0xE000:
            continue
        c = chr(cp)
        final = t2s.get(table.get(cp, c), table.get(cp, c))
        for _ in range(3):
            final = t2s.get(final, final)
        if final != c:
            table[cp] = final
        elif cp in table:
            del table[cp]
    return table


def test_fold_table_equals_the_definition() -> None:
    assert build_fold_table() == reference_fold_table()
    assert fold_table() == build_fold_table()  # whether this process read it from the cache or built it


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty WIREWATCH_CACHE_DIR, with fold_table's in-process memo cleared before and after."""
    monkeypatch.setenv("WIREWATCH_CACHE_DIR", str(tmp_path / "cache"))
    fold_table.cache_clear()
    yield tmp_path / "cache"
    fold_table.cache_clear()


def test_the_fold_table_is_cached_on_disk_and_read_back(cache_dir: Path) -> None:
    built = fold_table()
    [path] = list(cache_dir.glob("fold-*.json"))
    assert {int(k): v for k, v in json.loads(path.read_text(encoding="utf-8")).items()} == built
    path.write_text(json.dumps({"65": "b"}), encoding="utf-8")  # a stand-in with this build's name
    fold_table.cache_clear()
    assert fold_table() == {65: "b"}  # read, not rebuilt


@pytest.mark.parametrize("content", ["", "{", "[1, 2]", '{"65": "bc"}', '{"x": "b"}', "{}"],
                         ids=["empty", "truncated", "not-a-map", "two-chars", "bad-key", "no-entries"])
def test_a_broken_cache_file_is_rebuilt(cache_dir: Path, content: str) -> None:
    built = fold_table()
    [path] = list(cache_dir.glob("fold-*.json"))
    path.write_text(content, encoding="utf-8")
    fold_table.cache_clear()
    assert fold_table() == built
    assert {int(k): v for k, v in json.loads(path.read_text(encoding="utf-8")).items()} == built  # rewritten


def test_a_cache_folder_that_cannot_be_written_only_costs_time(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("WIREWATCH_CACHE_DIR", str(blocker / "cache"))
    fold_table.cache_clear()
    try:
        assert fold_table() == build_fold_table()
    finally:
        fold_table.cache_clear()
    assert os.listdir(tmp_path) == ["file"]


def test_off_turns_the_cache_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIREWATCH_CACHE_DIR", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    fold_table.cache_clear()
    try:
        assert fold_table() == build_fold_table()
    finally:
        fold_table.cache_clear()
    assert not list(tmp_path.rglob("fold-*"))


@pytest.mark.parametrize("folded", [False, True], ids=["identity", "fold-table"])
def test_edge_classes_equal_edge_class_per_code_point(folded: bool) -> None:
    size = 0x30000
    folds = array.array("I", range(size))
    if folded:
        for cp, out in fold_table().items():
            folds[cp] = ord(out)
    assert edge_classes(folds) == bytes(edge_class(chr(folds[cp])) for cp in range(size))


def test_native_folder_uses_the_same_classes() -> None:
    pytest.importorskip("wirewatch.alerts._scan")
    assert normalise.native_folder() is not None
