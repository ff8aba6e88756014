"""YAML read once into both its node tree (for line numbers) and its data, by libyaml where PyYAML has it."""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["read_document"]

# libyaml's parser is about 10× faster than PyYAML's pure-Python one, with the same nodes, marks and errors
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_document(text: str) -> tuple[yaml.Node | None, Any]:
    """The single document of `text` as (root node, data); (None, None) for an empty one. Raises yaml.YAMLError."""
    try:
        return _read(_LOADER, text)
    except yaml.YAMLError:
        if _LOADER is yaml.SafeLoader:
            raise
    # a broken file is read again by the pure-Python parser, whose messages say what it found instead
    # ("expected ',' or ']', but got '<stream end>'" where libyaml says "did not find expected ',' or ']'")
    return _read(yaml.SafeLoader, text)


def _read(loader_class: type[yaml.SafeLoader], text: str) -> tuple[yaml.Node | None, Any]:
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()
