"""The fold table and the native edge classes, built the fast way, equal the per-code-point definitions."""

from __future__ import annotations

import array
import unicodedata

import pytest

from wirewatch.alerts import normalise
from wirewatch.alerts.normalise import _HAN_RANGES, _LAST, _one, edge_class, edge_classes, fold_table


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
    assert fold_table() == reference_fold_table()


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
