"""The MinHash signatures stay bit-identical to the flow they were first stored under.

`_reference_shingles` is a frozen copy of the tokenising as it was before its speed-up (NFKC, case
folding, one token per CJK word character, one per run of other word characters, token 3-grams
joined by a space). Shingles, signatures, `text_hash` and `normalise_for_dedupe` are compared with
it on a broad table of texts (the event reference table's generated edge cases, the benchmark's
synthetic items, random mixes of characters from every script and class the tokeniser treats
apart), and a digest of the signatures of a fixed set of texts pins the values themselves.
"""

from __future__ import annotations

import hashlib
import random
import unicodedata
from collections.abc import Iterator

import pytest
import rensa

from tests.test_event_reference import _bench_items, _generated, _realworld, _shared_corpus, _test_strings
from wirewatch.ingest import dedupe

_CJK = (
    "\u3005-\u3007\u3021-\u3029\u3031-\u3035\u3040-\u30ff\u3100-\u312f\u31a0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff"
)


def _reference_fold(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return folded if unicodedata.is_normalized("NFKC", folded) else unicodedata.normalize("NFKC", folded)


def _reference_shingles(text: str) -> list[str]:
    import re

    tokens = re.findall(rf"(?=[{_CJK}])\w|[^\W_{_CJK}]+", _reference_fold(text))
    if len(tokens) < 3:
        return [" ".join(tokens)] if tokens else []
    return [" ".join(tokens[k:k + 3]) for k in range(len(tokens) - 2)]


def _reference_signature(text: str) -> tuple[int, ...]:
    minhash = rensa.RMinHash(num_perm=128, seed=20261128)
    grams = _reference_shingles(text)
    if grams:
        minhash.update(grams)
    return tuple(minhash.digest())


# characters the tokeniser treats differently: CJK word characters, CJK-range characters that are not word
# characters (・ ゠ ゛ combining marks, unassigned code points of planes 2-3), Hangul and other scripts (not
# CJK: runs), digits of other scripts, NFKC- and casefold-changed characters, underscores, whitespace of every kind
_ALPHABET = (
    "贵州茅台五粮液〇々〆〡〱ぁあアヴー・゠゛゜\u3099\u309aㄅㆠ㐀䶵丁龥豈\U00020000\U0002a6df\U0002a6e0\U0003134a"
    "\U0003fffd삼성전자ابج٣٤١۵абвΣσςÀàßẞİıﬁﬀ㍿㈱①Ⅻ²½ＡＢｃ１２３ｶﾀｶﾅ\u0301\u200d\u00ad"
    "abcXYZ019_-'&.,;:!?()[]{}<>/$%#@+=*\"\\ \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u2028\u3000\u2003"
    "，。、：；！？（）【】「」〈〉％～“”‘’—–…"
)
_WORDS = ["Tesla", "NVIDIA", "OpenAI", "eBay", "3M", "AT&T", "Q3", "2026", "1,812.5", "600519.SH", "FOO_BAR",
          "naïve", "Straße", "İSTANBUL", "ΣΟΦΊΑ", "Ｍｉｃｒｏｓｏｆｔ", "Qwen4-Max", "x", "ab"]


def _mixed(count: int = 1500, seed: int = 7) -> Iterator[str]:
    rng = random.Random(seed)
    for n in range(count):
        parts = []
        for _ in range(rng.randint(0, 40)):
            if rng.random() < 0.3:
                parts.append(rng.choice(_WORDS))
            else:
                parts.append("".join(rng.choices(_ALPHABET, k=rng.randint(1, 12))))
            parts.append(rng.choice([" ", "", "\n", "，", ". "]))
        text = "".join(parts)
        yield text.upper() if n % 9 == 0 else text


def _ascii(count: int = 500, seed: int = 8) -> Iterator[str]:
    rng = random.Random(seed)
    printable = [chr(c) for c in range(128)]
    for _ in range(count):
        yield "".join(rng.choices(printable, k=rng.randint(0, 300)))
        yield " ".join(rng.choices(_WORDS[:9] + ["the", "Of", "AND"], k=rng.randint(0, 60)))


def _table() -> list[str]:
    texts = [t for pair in _generated(1500) for t in pair]
    texts += [t for pair in _test_strings() for t in pair]
    texts += [text for _, text in _bench_items()]
    texts += list(_mixed()) + list(_ascii())
    texts += ["", " ", "a", "a b", "贵", "贵州", "贵州茅台", "阿里云 Qwen4-Max", "_", "a_b_c d", "ﬁﬁﬁ", "x" * 5000,
              "贵" * 3000, "a\x1cb\x1dc\x1ed\x1fe", "tab\tsep\u3000ideo\xa0nbsp\u2028ls"]
    return texts


def _assert_same(texts: list[str]) -> None:
    for text in texts:
        grams = dedupe.shingles(text)
        assert grams == _reference_shingles(text), text
        assert dedupe.signature(text).values == _reference_signature(text), text
        words = __import__("re").findall(r"[^\W_]+", _reference_fold(text))
        assert dedupe.normalise_for_dedupe(text) == " ".join(words), text
        assert dedupe.text_hash(text) == hashlib.sha256("".join(words).encode("utf-8")).hexdigest(), text


def test_shingles_signatures_and_hashes_equal_the_reference() -> None:
    texts = _table()
    assert len(texts) > 5000
    _assert_same(texts)


def test_the_table_reaches_every_token_kind() -> None:
    # the comparison only means something if the table holds CJK tokens, runs, mixed words and short texts
    grams = [g for text in _table() for g in _reference_shingles(text)]
    tokens = {t for g in grams for t in g.split(" ")}
    assert any("\u4e00" <= t <= "\u9fff" for t in tokens) and any(t.isascii() and t.isalpha() for t in tokens)
    assert any(not t.isascii() and len(t) > 1 for t in tokens)  # a non-CJK run with non-ASCII characters
    assert any(len(g.split(" ")) < 3 for g in grams)  # a text of one or two tokens


def test_signatures_of_a_fixed_table_keep_their_values() -> None:
    # digest of the signatures computed before the tokenising was made faster (commit 238da96)
    digest = hashlib.sha256()
    for title, text in _generated(400, seed=99):
        for part in (title, text):
            digest.update(dedupe.signature(part).to_bytes())
    for text in _mixed(300, seed=5):
        digest.update(dedupe.signature(text).to_bytes())
    assert digest.hexdigest() == PINNED


PINNED = "f56fda5019a4abdb44b5fce578573e70148327b39a635350aee2df58e6a8dad4"


@pytest.mark.corpus
def test_shared_corpus_and_real_world_items_equal_the_reference() -> None:
    texts = [t for pair in [*_shared_corpus(), *_realworld()] for t in pair]
    assert len(texts) > 300
    _assert_same(texts)
