"""The native matcher (alerts/_scan.c) against the Python path: the same folds, hits, edges and matches."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import ahocorasick_rs
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import native_built
from wirewatch.alerts.normalise import fold, native_folder
from wirewatch.alerts.vocabulary import char_class
from wirewatch.alerts.watchlist import compile_watchlists
from wirewatch.config.watchlist import WatchlistConfig

pytestmark = pytest.mark.skipif(not native_built(), reason="alerts._scan was not built (no C compiler at install)")

# Latin, digits, Han in both scripts, kana, full-width and half-width forms, an astral character, spaces
ALPHABET = list("abAB01 .-微軟软亚馬马逊アマゾンーｱﾏｿﾞﾝＡＢ１\u3000\n") + ["\U00020000", "\U0001F600", "ß", "İ"]
PATTERN = st.text(alphabet=st.sampled_from(ALPHABET), min_size=1, max_size=5).map(fold)
TEXT = st.text(alphabet=st.sampled_from(ALPHABET), max_size=60)


def scanner(patterns: list[str], edges: bytes | None = None) -> Any:
    native = importlib.import_module("wirewatch.alerts._scan")
    return native.Scanner(native_folder(), patterns, edges if edges is not None else bytes(len(patterns)))


def python_edges_ok(folded: str, pattern: str, start: int, end: int) -> bool:
    left, right = char_class(pattern[0]), char_class(pattern[-1])
    if left and start and char_class(folded[start - 1]) == left:
        return False
    return not (right and end < len(folded) and char_class(folded[end]) == right)


def scan_agrees(patterns: list[str], text: str) -> None:
    """Overlapping, on the folded text: same pattern ids and code-point offsets, and the same edge verdicts."""
    edges = bytes(char_class(p[0]) | char_class(p[-1]) << 2 for p in patterns)
    folded = fold(text)
    expected = {(pid, start, end, python_edges_ok(folded, patterns[pid], start, end))
                for pid, start, end in ahocorasick_rs.AhoCorasick(patterns).find_matches_as_indexes(
                    folded, overlapping=True)}
    got = scanner(patterns, edges).scan(text, -1, True)
    assert len(got) == len(set(got))
    assert set(got) == expected


@settings(max_examples=400, deadline=None)
@given(st.lists(PATTERN, min_size=1, max_size=12, unique=True), TEXT)
def test_the_scan_finds_every_place_ahocorasick_rs_finds(patterns: list[str], text: str) -> None:
    scan_agrees(patterns, text)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.text(alphabet="ab微", min_size=1, max_size=6), min_size=1, max_size=10, unique=True),
       st.text(alphabet="ab微", max_size=40))
def test_the_scan_follows_long_suffix_chains(patterns: list[str], text: str) -> None:
    """Three letters make patterns that are suffixes of prefixes of others: the fail and output links."""
    scan_agrees(patterns, text)


def test_the_seam_and_failed_edges_of_edge_only_patterns_are_left_out() -> None:
    patterns = ["aws", "meta", "b\nc"]
    edge_only = bytes(char_class(p[0]) | char_class(p[-1]) << 2 | 16 for p in patterns)
    text = "b\nc AWS lawsuit metaverse Meta"
    seam = text.index("\n")
    kept = scanner(patterns, edge_only).scan(text, seam, False)
    assert [(p, text[s:e]) for p, s, e, ok in kept] == [(0, "AWS"), (1, "Meta")]
    explained = scanner(patterns, edge_only).scan(text, seam, True)
    assert sorted((text[s:e], ok) for _p, s, e, ok in explained) == [
        ("AWS", True), ("Meta", True), ("aws", False), ("meta", False)]


def test_a_pattern_inside_a_longer_one_is_reported_at_every_place() -> None:
    patterns = ["亚马逊", "马逊", "亚马逊雨林", "逊"]
    got = sorted((p, s, e) for p, s, e, _ok in scanner(patterns).scan("亞馬遜雨林 亚马逊", -1, True))
    assert got == [(0, 0, 3), (0, 6, 9), (1, 1, 3), (1, 7, 9), (2, 0, 5), (3, 2, 3), (3, 8, 9)]


def test_ten_thousand_patterns_and_every_text_width() -> None:
    patterns = [f"{i:05d}号" for i in range(10_000)] + ["\U00020000x", "ab", "\U00030001y"]
    sc = scanner(patterns)
    cases = [("ab", {10_001}), ("AB 09999号", {10_001, 9_999}), ("𠀀X 00001号", {10_000, 1}),
             ("a\U00030001Y", {10_002})]  # past the fold table: the root's hashed transitions
    for text, found in cases:
        assert {p for p, *_ in sc.scan(text, -1, True)} == found
    assert sc.nodes() > 10_000


def test_bad_input_is_refused_with_a_clear_error() -> None:
    native = importlib.import_module("wirewatch.alerts._scan")
    folder = native_folder()
    with pytest.raises(ValueError, match="repeats"):
        native.Scanner(folder, ["ab", "ab"], bytes(2))
    with pytest.raises(ValueError, match="non-empty"):
        native.Scanner(folder, ["ab", ""], bytes(2))
    with pytest.raises(ValueError, match="one byte per pattern"):
        native.Scanner(folder, ["ab"], bytes(2))
    with pytest.raises(ValueError, match="0x30000"):
        native.Folder(b"\0" * 16, b"\0" * 4)
    with pytest.raises(TypeError, match="once"):
        folder.__init__(b"", b"")  # a scanner holds the table: it never changes
    working = scanner(["ab"])
    with pytest.raises(TypeError, match="once"):  # a scan further up the stack may be reading its tables
        working.__init__(folder, ["cd"], bytes(1))
    assert [p for p, *_ in working.scan("ab cd", -1, False)] == [0] and working.nodes() == 3
    with pytest.raises(TypeError):
        folder.fold(b"bytes")
    with pytest.raises(UnicodeEncodeError):
        scanner(["ab"]).scan("a\ud800b", -1, False)
    with pytest.raises(ValueError, match="not initialised"):
        native.Scanner.__new__(native.Scanner).scan("ab", -1, False)


@pytest.mark.corpus
def test_the_corpus_matches_alike_on_both_paths(corpus_dir: Path) -> None:
    """Every gold item against entities.yaml: the same matches and the same explain output."""
    config = WatchlistConfig.model_validate(yaml.safe_load((corpus_dir / "entities.yaml").read_text(encoding="utf-8")))
    fast, slow = compile_watchlists([config], native=True), compile_watchlists([config], native=False)
    rows = [json.loads(line) for line in (corpus_dir / "built" / "gold.jsonl").read_text(encoding="utf-8").splitlines() if line]
    matched = 0
    for row in rows:
        title, text = row.get("title", ""), row.get("text", "")
        got = fast.match(title, text)
        assert got == slow.match(title, text), row["guid"]
        assert fast.mentions(title, text) == slow.mentions(title, text), row["guid"]
        matched += bool(got)
    assert matched > len(rows) // 2
