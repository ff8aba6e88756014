"""The short search tokens of a text and of a search word (`ingest.shortwords`), as tables."""

from __future__ import annotations

import pytest

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
