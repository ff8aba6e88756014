"""config.yamlio reads YAML through libyaml when PyYAML has it: same data, same lines, the same errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from wirewatch.config import yamlio
from wirewatch.config.loader import _index
from wirewatch.config.yamlio import read_document

CONFIG = Path(__file__).resolve().parent.parent / "config"
SHIPPED = sorted(CONFIG.rglob("*.yaml"))


def lines_of(node: yaml.Node | None) -> dict[tuple[str | int, ...], int]:
    lines: dict[tuple[str | int, ...], int] = {}
    if node is not None:
        _index(node, (), lines, [], "x")
    return lines


def python_read(text: str) -> tuple[yaml.Node | None, object]:
    return yamlio._read(yaml.SafeLoader, text)


def test_libyaml_is_what_reads() -> None:
    assert yaml.__with_libyaml__, "PyYAML was built without libyaml: config files are read 10x slower"
    assert yamlio._LOADER is yaml.CSafeLoader


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(CONFIG)))
def test_shipped_yaml_reads_the_same_through_both_parsers(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    fast, slow = read_document(text), python_read(text)
    assert fast[1] == slow[1]
    assert lines_of(fast[0]) == lines_of(slow[0]) and lines_of(fast[0])


@pytest.mark.parametrize("text", [
    "a: 1\nb: [x, y\n",
    "a: {b: 1\n",
    "a: 1\n  b: 2\n",
    "- a\nb: c\n",
    "a: 'open\n",
    "a: *nowhere\n",
    "a: !!python/object:os.system x\n",
], ids=["open-list", "open-map", "bad-indent", "list-then-map", "open-quote", "unknown-alias", "unsafe-tag"])
def test_a_broken_file_gives_the_pure_python_parsers_error(text: str) -> None:
    with pytest.raises(yaml.YAMLError) as slow:
        python_read(text)
    with pytest.raises(yaml.YAMLError) as fast:
        read_document(text)
    assert str(fast.value) == str(slow.value)


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_an_empty_document_reads_as_none(text: str) -> None:
    node, data = read_document(text)
    assert data is None and (node is None) == (python_read(text)[0] is None)
