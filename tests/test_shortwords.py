"""The short search tokens of a text and of a search word (`ingest.shortwords`), as tables."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wirewatch.ingest.shortwords import encode, is_cjk, normalise, query_tokens, short_tokens


@pytest.mark.parametrize(("texts", "expected"), [
    (("AI said",), ["ai"]),                                        # a whole word of two; `said` is long
    (("ＡＩ, Ai and a US-led 5G plan",), ["5g", "a", "ai", "us"]),  # full-width, case, hyphen, digits
    (("microsoft",), []),                                          # no short word, no CJK
    (("微软",), ["微", "微软", "软"]),                                # every character and every pair
    (("微软A股",), ["a", "a股", "微", "微软", "股", "软", "软a"]),     # a Latin letter between CJK
    (("2026年3月",), ["3", "3月", "6年", "年", "年3", "月"]),         # `2026` is long; its 6 touches 年
    (("日本。投资",), ["投", "投资", "日", "日本", "本", "资"]),       # punctuation ends a pair
    (("ｶﾌﾞ",), ["カ", "カブ", "ブ"]),                                # half-width kana: NFKC
    (("한국 은행",), ["국", "은", "은행", "한", "한국", "행"]),          # hangul; a space ends a pair
    (("日", "本"),  ["日", "本"]),                                   # title and text apart: no pair across
    (("Straße ß",), ["ss"]),                                      # case folding: ß is ss
    (("",), []),
])
def test_short_tokens(texts: tuple[str, ...], expected: list[str]) -> None:
    assert short_tokens(*texts) == expected


@pytest.mark.parametrize(("word", "expected"), [
    ("AI", ["ai"]),
    ("ＡＩ", ["ai"]),
    ("微", ["微"]),
    ("微软", ["微软"]),
    ("A股", ["a股"]),
    ("a.", ["a"]),            # cut at what is neither letter nor digit
    ("$", None),              # nothing the tokens hold: searched as a substring
    ("ﬃ", None),              # three letters once normalised: no short token
    ("ｶﾌ", ["カフ"]),
])
def test_query_tokens(word: str, expected: list[str] | None) -> None:
    assert query_tokens(word) == expected


def test_helpers() -> None:
    assert normalise("ＡＢｃ") == "abc"
    assert [is_cjk(c) for c in "微かカ한a。々"] == [True, True, True, True, False, False, True]
    assert encode(["a", "微软"]) == "a 微软"
    assert all(" " not in t for t in short_tokens("a b\u3000微\u00a0软"))  # no token ever holds a separator


def _tokens_by_the_rules(text: str) -> list[str]:
    """The module docstring's three rules, spelled out character by character (the oracle)."""
    folded = normalise(text)
    out: set[str] = set()
    runs: list[str] = []
    run = ""
    for ch in folded + " ":  # maximal runs of word characters (letters and digits)
        if ch.isalnum():
            run += ch
        elif run:
            runs.append(run)
            run = ""
    for run in runs:
        out.update(ch for ch in run if is_cjk(ch))
        out.update(a + b for a, b in zip(run, run[1:], strict=False) if is_cjk(a) or is_cjk(b))
        piece = ""
        for ch in run + "中":  # a CJK sentinel closes the last piece
            if is_cjk(ch):
                if 0 < len(piece) <= 2:
                    out.add(piece)
                piece = ""
            else:
                piece += ch
    return sorted(out)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="aB7_ .，中文微软カブｶﾌﾞ가ε\u3000-ＡＩ々", max_size=40))
def test_short_tokens_follow_the_documented_rules(text: str) -> None:
    assert short_tokens(text) == _tokens_by_the_rules(text)
