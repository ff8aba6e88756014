"""Story grouping, pure core: near-duplicate detection with MinHash signatures and LSH banding.

Flow (the store owns the SQL side and calls these functions):

    text ──normalise_for_dedupe──► words ──shingles──► signature ──band_keys──► bucket look-up
                                                                                    │
    Decision ◄──decide (verify: estimated Jaccard or containment ≥ threshold) ◄── candidates

Exact copies (same feed and identity, same canonical URL, same `text_hash`) are grouped by the
store before this step; `decide` handles the near-duplicates.

Normalisation: NFKC, case folding, then every run of letters/digits is one word; whitespace,
punctuation, symbols and combining marks that NFKC could not compose only separate words.
`text_hash` hashes the words concatenated without any separator, so re-broken paragraphs and
re-styled punctuation hash equal.

Shingles: the words are split into tokens, one per CJK character (Han, kana, bopomofo) and one per
word elsewhere, and each window of `SHINGLE_N` = 3 consecutive tokens is a shingle: character
3-grams inside Chinese/Japanese runs and word 3-grams in Latin text, in one pass even for mixed text
("阿里云发布Qwen4-Max"). On the shared corpus's gold texts damaged as the cleaner might leave them
(paragraphs re-broken, a leftover boilerplate line, a dateline, 1% of words replaced), n = 3 keeps
copies at Jaccard ≥ 0.79 (en), 0.67 (zh), 0.62 (ja), while different events about one company stay
≤ 0.09 (containment ≤ 0.19) and unrelated items ≤ 0.10. n = 2 lifts those sibling pairs to
containment 0.28; n = 4 loses copies once characters are damaged too. Character 5-grams for
Latin text survive character damage better, but unrelated English financial items then share
Jaccard ≈ 0.08 (word 3-grams: 0.002), which would make ~2% of all stored English items band
candidates for every look-up. Figures: `bench/RESULTS.md`, "Stories (dedupe)".

Signatures: rensa `RMinHash`, `NUM_PERM` = 128 values (32-bit), seed `SEED`; the standard error of
the estimated Jaccard is ≤ 0.045. Hashing is a small part of the cost (tokenising and joining the
shingles dominate); the whole look-up is ≈ 4x faster than the same flow on datasketch. `_tokens` gives
`_TOKEN`'s tokens by runs, not a match per CJK character (`tests/test_dedupe_reference.py` holds them equal). Banding uses the first
`BANDS` × `ROWS` = 32 × 3 values: a pair at Jaccard 0.6 becomes a candidate with probability
0.9995, at 0.5 with 0.986, at 0.4 with 0.88, at 0.1 with 0.03 and at 0.01 with 3e-5, so copies
(≥ 0.62 above) are found and unrelated items rarely cost a verification. Fewer rows (64 × 2) would
find weaker pairs but make 0.6% of all items at background Jaccard 0.01 candidates.

Verification (`decide`): score = max(estimated Jaccard, estimated containment of the smaller text
in the larger when their lengths are within `CONTAINMENT_MIN_RATIO`); joining needs score ≥
threshold (default `THRESHOLD` = 0.5, as `DedupeConfig`). For texts of equal length containment
is the Dice coefficient 2J/(1+J), so 0.5 accepts J ≥ 0.33; updates that add a paragraph (J ≈ 0.6-0.8,
containment ≈ 1) pass through containment, siblings (containment ≤ 0.19) do not. A join whose text has ≥ `UPDATE_NOVELTY` of its shingles
outside the matched item is reported as an update. Set sizes are estimated from `len()` of the
clean texts (`Candidate.text_len`, what the store saves). When either text is shorter than
`short_text` characters, only an identical shingle set joins (Jaccard estimate 1.0).

Persisted signatures and band keys are valid only for one `SCHEME` (library, its version and
algorithm version, Unicode version, tokenisation and every parameter); the store rebuilds its
index when the string changes.
"""

from __future__ import annotations

import hashlib
import operator
import re
import struct
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.metadata import version

import rensa

from wirewatch.ingest.event import EventSignature, agreement, conflicts, nfkc

__all__ = [
    "BANDS",
    "NUM_PERM",
    "ROWS",
    "SCHEME",
    "SHINGLE_N",
    "THRESHOLD",
    "Candidate",
    "Decision",
    "EventCandidate",
    "MemoryIndex",
    "Signature",
    "band_keys",
    "decide",
    "decide_across_languages",
    "event_refusal",
    "normalise_for_dedupe",
    "shingles",
    "signature",
    "similarity",
    "text_hash",
]

SHINGLE_N = 3
NUM_PERM = 128
SEED = 20261128
BANDS = 32
ROWS = 3
THRESHOLD = 0.5
SHORT_TEXT = 50
CONTAINMENT_MIN_RATIO = 0.5
UPDATE_NOVELTY = 0.1
CANDIDATE_LIMIT = 64

_TOKENS = "cjkchar-word"
SCHEME = (
    f"rensa-{version('rensa')}/rmh{rensa.RMinHash.ALGORITHM_VERSION}"
    f";unicode-{unicodedata.unidata_version};nfkc-casefold;{_TOKENS}"
    f";n={SHINGLE_N};perm={NUM_PERM};seed={SEED};bands={BANDS}x{ROWS}"
)

# Scripts written without spaces between words: one token per character (Han, kana, bopomofo).
_CJK = (
    "\u3005-\u3007\u3021-\u3029\u3031-\u3035\u3040-\u30ff\u3100-\u312f\u31a0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff"
)
_WORD = re.compile(r"[^\W_]+")
_TOKEN = re.compile(rf"(?=[{_CJK}])\w|[^\W_{_CJK}]+")  # each CJK word character, each run of other ones
_ASCII_SEPARATORS = {c: " " for c in range(128) if not chr(c).isalnum()}
_SIG_BYTES = NUM_PERM * 4
_EMPTY = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class Signature:
    """A MinHash signature: `NUM_PERM` unsigned 32-bit values under `SCHEME`."""

    values: tuple[int, ...]

    def to_bytes(self) -> bytes:
        """The values as little-endian uint32, 4 bytes each."""
        return struct.pack(f"<{len(self.values)}I", *self.values)

    @classmethod
    def from_bytes(cls, data: bytes) -> Signature:
        """Read a signature written by `to_bytes` under the current `SCHEME`."""
        if len(data) != _SIG_BYTES:
            raise ValueError(
                f"a signature under {SCHEME!r} is {_SIG_BYTES} bytes, got {len(data)}; "
                "rebuild the dedupe index if the scheme changed"
            )
        return cls(struct.unpack(f"<{NUM_PERM}I", data))


@dataclass(slots=True)
class Candidate:
    """A stored item found through a shared band: its story, signature and `len()` of its clean text.

    `event` is its event signature as stored (JSON, read only when the candidate passes the threshold).
    """

    story_id: int
    item_id: int
    signature: Signature
    text_len: int
    event: str | None = None


@dataclass(slots=True)
class Decision:
    """Which story a new item joins (None: a new story), with the verified score and why.

    `item_id` is the item it was matched with; `refused` the candidates above the threshold that
    were refused (event conflicts); `shared` the event features shared with the matched item.
    """

    story_id: int | None
    score: float
    is_update: bool
    reason: str
    item_id: int | None = None
    refused: tuple[str, ...] = ()
    shared: tuple[str, ...] = ()
    via: str = "text"


@lru_cache(maxsize=16)
def _fold(text: str) -> str:
    folded = nfkc(text).casefold()  # cached: the pipeline asks for the hash and the signature in a row
    return folded if unicodedata.is_normalized("NFKC", folded) else unicodedata.normalize("NFKC", folded)


@cache
def _cjk_runs() -> re.Pattern[str]:
    """Runs of CJK word characters (`\\w` in `_CJK`, as ranges; astral ones apart, so the BMP class stays a
    bitmap) or of other word characters: a plain class scans a run where `_TOKEN` matches per character."""
    ranges: list[tuple[int, int]] = []
    for low, high in re.findall(r"(.)(?:-(.))?", _CJK):
        block = "".join(map(chr, range(ord(low), ord(high or low) + 1)))
        ranges += [(ord(m.group()[0]), ord(m.group()[-1])) for m in re.finditer(r"\w+", block)]
    def cls(rs: list[tuple[int, int]]) -> str:
        return "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in rs)
    bmp, astral = (cls([r for r in ranges if (r[0] >= 0x10000) is big]) for big in (False, True))
    return re.compile(rf"([{bmp}]+|[{astral}]+)|([^\W_{_CJK}]+)")


def _tokens(folded: str) -> list[str]:
    """`_TOKEN.findall(folded)`, without a regex step per CJK character."""
    if folded.isascii():  # ASCII word characters are letters and digits; every other one separates
        return folded.translate(_ASCII_SEPARATORS).split()
    out: list[str] = []
    for cjk, word in _cjk_runs().findall(folded):
        if cjk:
            out.extend(cjk)
        else:
            out.append(word)
    return out


def normalise_for_dedupe(text: str) -> str:
    """NFKC + casefold; words (letter/digit runs) joined by one space, punctuation dropped."""
    return " ".join(_WORD.findall(_fold(text)))


def text_hash(text: str) -> str:
    """SHA-256 (hex) of the normalised words concatenated, blind to whitespace and punctuation."""
    return hashlib.sha256("".join(_WORD.findall(_fold(text))).encode("utf-8")).hexdigest()


def _ngrams(tokens: list[str], n: int) -> list[str]:
    if len(tokens) < n:
        return [" ".join(tokens)] if tokens else []
    return list(map(" ".join, zip(*(tokens[k:] for k in range(n)), strict=False)))


def shingles(text: str) -> list[str]:
    """Token `SHINGLE_N`-grams of the normalised text (CJK: per character; else: per word)."""
    return _ngrams(_tokens(_fold(text)), SHINGLE_N)


def _signature_of(grams: list[str]) -> Signature:
    minhash = rensa.RMinHash(num_perm=NUM_PERM, seed=SEED)
    if grams:
        minhash.update(grams)
    return Signature(tuple(minhash.digest()))


def signature(text: str) -> Signature:
    """The MinHash signature of the text's shingles (all 0xFFFFFFFF for text without words)."""
    return _signature_of(shingles(text))


_BAND_PREFIXES = tuple(f"{band:02d}:" for band in range(BANDS))


def band_keys(sig: Signature) -> list[str]:
    """One key per band, "BB:<hex of the band's values>", for the bucket tables."""
    digits = sig.to_bytes().hex()
    step = ROWS * 8  # hex digits per band
    return [prefix + digits[band * step : (band + 1) * step] for band, prefix in enumerate(_BAND_PREFIXES)]


def similarity(a: Signature, b: Signature) -> float:
    """Estimated Jaccard similarity: the share of equal signature values."""
    if len(a.values) != len(b.values):
        raise ValueError(f"signatures differ in length ({len(a.values)} vs {len(b.values)})")
    if not a.values:
        return 0.0
    equal: int = sum(map(operator.eq, a.values, b.values))
    return equal / len(a.values)  # lengths checked above; C-level loop


def _overlap(jaccard: float, len_a: int, len_b: int) -> float:
    """Estimated size of the intersection from Jaccard and the two set sizes."""
    return jaccard * (len_a + len_b) / (1.0 + jaccard)


def _is_empty(sig: Signature) -> bool:
    return all(v == _EMPTY for v in sig.values)


@dataclass(slots=True)
class _Verified:
    candidate: Candidate
    score: float
    jaccard: float
    via: str


def _verify(length: int, sig: Signature, cand: Candidate, short_text: int) -> _Verified:
    jaccard = similarity(sig, cand.signature)
    if min(length, cand.text_len) < max(short_text, 1):
        return _Verified(cand, 1.0 if jaccard == 1.0 else 0.0, jaccard, "short-exact")
    small, large = sorted((length, cand.text_len))
    if small / large >= CONTAINMENT_MIN_RATIO:
        containment = min(1.0, _overlap(jaccard, length, cand.text_len) / small)
        if containment > jaccard:
            return _Verified(cand, containment, jaccard, "containment")
    return _Verified(cand, jaccard, jaccard, "jaccard")


Refusal = Callable[[Candidate], str | None]
"""Why a text-similar candidate must not be joined (an event conflict), or None to let it join."""


def event_refusal(sig: EventSignature | None) -> Refusal:
    """Refuse candidates whose stored event signature conflicts with `sig` (`ingest.event.conflicts`)."""

    def refuse(cand: Candidate) -> str | None:
        other = EventSignature.from_json(cand.event) if sig is not None else None
        if sig is None or other is None:
            return None
        found = conflicts(sig, other)
        return found[0] if found else None

    return refuse


def decide(
    text: str,
    sig: Signature,
    candidates: Sequence[Candidate],
    threshold: float = THRESHOLD,
    short_text: int = SHORT_TEXT,
    refuse: Refusal | None = None,
) -> Decision:
    """Choose the story a new item joins among verified candidates, or a new story (story_id None).

    Candidates are tried best first; one that `refuse` gives a reason for is skipped (same text,
    another event), so a template filled in for another company never joins.
    """
    length = len(text)
    if _is_empty(sig):
        return Decision(None, 0.0, False, "new: no words to compare")
    if not candidates:
        return Decision(None, 0.0, False, "new: no candidates")
    checked = sorted((_verify(length, sig, cand, short_text) for cand in candidates),
                     key=lambda v: (-v.score, -v.jaccard, v.candidate.story_id))
    refused: list[str] = []
    for best in checked:
        if best.score < threshold:
            break
        why = refuse(best.candidate) if refuse is not None else None
        if why is not None:
            refused.append(f"item {best.candidate.item_id} ({best.via} {best.score:.2f}): {why}")
            continue
        novelty = 1.0 - min(1.0, _overlap(best.jaccard, length, best.candidate.text_len) / length)
        is_update = best.via != "short-exact" and novelty >= UPDATE_NOVELTY
        kind = "update" if is_update else "copy"
        return Decision(
            best.candidate.story_id,
            best.score,
            is_update,
            f"join: {kind} of item {best.candidate.item_id}, {best.via} {best.score:.2f}, new text {novelty:.0%}",
            best.candidate.item_id,
            tuple(refused),
        )
    top = checked[0]
    if refused:
        return Decision(None, top.score, False, f"new: {len(refused)} similar item(s) are other events",
                        refused=tuple(refused))
    return Decision(None, top.score, False, f"new: best {top.via} {top.score:.2f} < {threshold:.2f}")


@dataclass(slots=True)
class EventCandidate:
    """A stored item in another language found through a shared event feature."""

    story_id: int
    item_id: int
    event: EventSignature


def decide_across_languages(sig: EventSignature, candidates: Sequence[EventCandidate],
                            threshold: float) -> Decision:
    """The story whose item in another language agrees best with `sig` (`ingest.event.agreement`), if any."""
    best: tuple[float, int, EventCandidate, list[str]] | None = None
    for cand in candidates:
        if not sig.lang or cand.event.lang == sig.lang:
            continue
        score, shared = agreement(sig, cand.event)
        if score >= threshold and (best is None or (score, -cand.story_id) > (best[0], -best[2].story_id)):
            best = (score, -cand.story_id, cand, shared)
    if best is None:
        return Decision(None, 0.0, False, "new: no item in another language agrees")
    score, _, cand, shared = best
    return Decision(cand.story_id, score, False,
                    f"join: {sig.lang} copy of {cand.event.lang} item {cand.item_id}, event agreement {score:.2f}",
                    cand.item_id, shared=tuple(shared), via="event")


def decide_update(sig: EventSignature, candidates: Sequence[EventCandidate]) -> Decision:
    """The story a marked update (`（更新）`, `UPDATE 1-`) in the same language revises, found by its event.

    Text similarity misses an update whose first version was short or lost a repeated line to cleaning;
    the event does not: same principal subject, a shared figure (not a year) and no conflict.
    """
    best: tuple[int, int, EventCandidate, list[str]] | None = None
    if not sig.update or sig.principal is None:
        return Decision(None, 0.0, False, "new: not a marked update")
    for cand in candidates:
        other = cand.event
        if other.lang != sig.lang or other.principal != sig.principal or conflicts(sig, other):
            continue
        shared = sorted(f for f in sig.figures & other.figures if not f.startswith("y:"))
        if shared and (best is None or (len(shared), -cand.story_id) > (best[0], best[1])):
            best = (len(shared), -cand.story_id, cand, shared)
    if best is None:
        return Decision(None, 0.0, False, "new: no earlier item of this event")
    count, _, cand, shared = best
    return Decision(cand.story_id, count / max(1, len(sig.figures)), True,
                    f"join: update of item {cand.item_id} (same subject, {count} shared figure(s))",
                    cand.item_id, shared=(sig.principal, *shared), via="update")


def add_to_buckets(buckets: dict[str, int | list[int]], keys: Iterable[str], item_id: int) -> None:
    """File `item_id` under each key: a bare int for the first item, a list from the second (most keys hold one)."""
    for key in keys:
        held = buckets.get(key)
        if held is None:
            buckets[key] = item_id
        elif isinstance(held, int):
            buckets[key] = [held, item_id]
        else:
            held.append(item_id)


class MemoryIndex:
    """In-memory band index with the store's flow: `add` stored items, `candidates` for a new one."""

    def __init__(self, limit: int = CANDIDATE_LIMIT) -> None:
        self._limit = limit
        self._buckets: dict[str, int | list[int]] = {}
        self._items: dict[int, tuple[int, bytes, int, str | None]] = {}

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item_id: int, story_id: int, sig: Signature, text_len: int, event: str | None = None) -> None:
        """Store an item's signature (and event signature JSON) under each of its band keys."""
        self._items[item_id] = (story_id, sig.to_bytes(), text_len, event)
        add_to_buckets(self._buckets, band_keys(sig), item_id)

    def candidates(self, sig: Signature) -> list[Candidate]:
        """Stored items sharing a band with `sig`, most shared bands first, at most `limit`."""
        hits: Counter[int] = Counter()
        for key in band_keys(sig):
            held = self._buckets.get(key)
            if held is None:
                continue
            if isinstance(held, int):
                hits[held] += 1
            else:
                hits.update(held)
        found = []
        for item_id, _ in hits.most_common(self._limit):
            story_id, raw, text_len, event = self._items[item_id]
            found.append(Candidate(story_id, item_id, Signature.from_bytes(raw), text_len, event))
        return found
