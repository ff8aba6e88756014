"""Fold text for matching: NFKC, case folding and Traditional→Simplified Chinese, one character for one.

`fold(text)` returns a string of the same length as `text`, so an offset found in the folded text is
the offset in the original. Each character is folded on its own:

    c → t2s(casefold(NFKC(c)))

and a step that would turn one character into several (`ß`→`ss`, `㈱`→`(株)`, `…`→`...`) keeps the
character as it was. Chinese conversion is character by character, not phrase by phrase, so an alias
and the text around it always fold the same way (`微軟`, `微软` → `微软`).

The table is built once per process. Folding runs, by preference, through the native module
`alerts._scan` (a direct per-code-point table, built from `alerts/_scan.c` when a C compiler was
present at install), else through OpenCC's C++ converter loaded with the table (about 6× faster than
`str.translate`); `str.translate` is the last fallback and the reference all three are tested against.
"""

from __future__ import annotations

import array
import functools
import hashlib
import json
import logging
import os
import re
import sys
import tempfile
import unicodedata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wirewatch.alerts import _scan

__all__ = [
    "KATAKANA_EDGE", "NO_EDGE", "WORD_EDGE", "build_fold_table", "edge_class", "fold", "fold_table", "fold_without_native",
    "is_katakana", "is_word", "native_folder",
]

log = logging.getLogger(__name__)

_HAN_RANGES = ((0x3400, 0x4DC0), (0x4E00, 0xA000), (0xF900, 0xFB00), (0x20000, 0x30000))
_LAST = 0x30000  # nothing past plane 2 folds
_SPACE_FIXUPS = ("\u3000",)  # OpenCC leaves the ideographic space alone; NFKC makes it a space
NO_EDGE, WORD_EDGE, KATAKANA_EDGE = range(3)  # edge classes: what an alias must not touch at its ends


def _one(c: str) -> str:
    """NFKC then case folding of one character, or the character itself where that is not 1:1."""
    n = unicodedata.normalize("NFKC", c)
    if len(n) != 1:
        n = c
    f = n.casefold()
    if len(f) != 1:
        f = n.lower()
    return f if len(f) == 1 else n


@functools.cache
def fold_table() -> dict[int, str]:
    """The per-character fold as a `str.translate` table (code point → one character), cached on disk."""
    path = _cache_path()
    table = _read_cached(path) if path is not None else None
    if table is None:
        table = build_fold_table()
        if path is not None:
            _write_cached(path, table)
    return table


def _cache_path() -> str | None:
    """Where this build's fold table is cached: `$WIREWATCH_CACHE_DIR`, else the XDG cache; None: `off`.

    The name carries a hash of what the table depends on (this module's source, the Python and Unicode
    versions, OpenCC's version), so a table built by another version is never read.
    """
    folder = os.environ.get("WIREWATCH_CACHE_DIR")
    if folder == "off":
        return None
    if not folder:
        folder = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "wirewatch")
    try:
        from importlib.metadata import version

        opencc_version = version("opencc")
    except Exception:  # any lookup failure: a key that never matches a file written with the version known
        opencc_version = "unknown"
    with open(__file__, "rb") as fh:
        source = fh.read()
    key = hashlib.sha256(b"\0".join([source, sys.version.encode(), unicodedata.unidata_version.encode(),
                                      opencc_version.encode()])).hexdigest()[:16]
    return os.path.join(folder, f"fold-{key}.json")


def _read_cached(path: str) -> dict[int, str] | None:
    """The table stored at `path`, or None when it is missing or not a table of single characters."""
    try:
        with open(path, encoding="utf-8") as fh:
            raw = json.load(fh)
        table = {int(cp): out for cp, out in raw.items()}
    except (OSError, ValueError, AttributeError, TypeError):
        return None
    if not table or not all(isinstance(out, str) and len(out) == 1 for out in table.values()):
        return None
    return table


def _write_cached(path: str, table: dict[int, str]) -> None:
    """Store `table` at `path` (atomically); a folder that cannot be written only costs the next start time."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".fold-", dir=os.path.dirname(path))
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(table, fh, ensure_ascii=False, separators=(",", ":"))
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError as exc:
        log.debug("fold table not cached at %s: %s", path, exc)


def build_fold_table() -> dict[int, str]:
    """Work out the fold table from Unicode's data and OpenCC (about 0.2 s; `fold_table` caches it)."""
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
    import opencc  # here: a process that never folds non-ASCII text never loads it
    # one character a line: OpenCC's phrase tables cannot join characters across a newline
    converted = opencc.OpenCC("t2s.json").convert("\n".join(han)).split("\n")
    t2s = {a: b for a, b in zip(han, converted, strict=True) if a != b and len(b) == 1}
    # only a code point already in the table or converted by OpenCC can fold: the others stay themselves
    for cp in sorted(set(table) | {ord(a) for a in t2s}):
        c = chr(cp)
        final = t2s.get(table.get(cp, c), table.get(cp, c))
        for _ in range(3):  # one conversion can lead to another (薴 → 苧 → 苎): fold to where it stops
            final = t2s.get(final, final)
        if final != c:
            table[cp] = final
        elif cp in table:
            del table[cp]
    return table


@functools.cache
def _converter() -> Any:
    """OpenCC loaded with the fold table as an inline dictionary, or None when that cannot be set up."""
    entries = {chr(cp): out for cp, out in fold_table().items() if chr(cp) not in _SPACE_FIXUPS}
    config = {"name": "wirewatch-fold", "conversion_chain": [{"dict": {"type": "inline", "entries": entries}}]}
    import opencc

    try:
        with tempfile.TemporaryDirectory(prefix="wirewatch-fold-") as folder:
            path = os.path.join(folder, "fold.json")
            with open(path, "w", encoding="utf-8") as fh:
                json.dump(config, fh, ensure_ascii=False)
            converter = opencc.OpenCC(path)
        probe = "微軟ＡＷＳｱｯﾌﾟﾙ Σ\u00a0x"
        if converter.convert(probe) != probe.translate(fold_table()):
            raise ValueError("the inline table does not reproduce the reference fold")
    except Exception as exc:  # any failure here only costs speed
        log.warning("fast text folding unavailable (%s); using str.translate", exc)
        return None
    return converter


@functools.cache
def native_folder() -> _scan.Folder | None:
    """The native fold (`alerts._scan.Folder`) loaded with the fold table and edge classes, or None if not built."""
    try:
        from wirewatch.alerts import _scan
    except ImportError:
        log.info("the native matcher (alerts/_scan.c) was not built; folding with OpenCC")
        return None
    folds = array.array("I", range(_scan.TABLE))
    if folds.itemsize != 4:  # the C side reads native uint32
        log.warning("the native matcher needs 4-byte array('I') items; folding with OpenCC")
        return None
    for cp, out in fold_table().items():
        folds[cp] = ord(out)
    return _scan.Folder(folds.tobytes(), edge_classes(folds))


_WORD_CHAR = re.compile(  # is_word as a character class: a letter or digit (\w without _) that is not CJK-like
    "[^\\W_\u1100-\u11FF\u2E80-\uA4CF\uA960-\uA97F\uAC00-\uD7FF\uF900-\uFAFF\uFF00-\uFFEF\U00020000-\U0010FFFF]")
_KATAKANA_CHAR = re.compile("[\u30A1-\u30FA\u30FC-\u30FF\u31F0-\u31FF]")  # is_katakana


def edge_classes(folds: array.array[int]) -> bytes:
    """`edge_class` of what each code point folds to, for every code point of `folds`, as bytes.

    The same as calling `edge_class` once per code point, found by two regular-expression scans of
    the folded characters as one string (~10× faster; this runs at every start with watchlists).
    """
    folded = folds.tobytes().decode("utf-32-le" if sys.byteorder == "little" else "utf-32-be", "surrogatepass")
    classes = bytearray(len(folded))  # NO_EDGE
    for pattern, cls in ((_WORD_CHAR, WORD_EDGE), (_KATAKANA_CHAR, KATAKANA_EDGE)):
        for m in pattern.finditer(folded):
            classes[m.start()] = cls
    return bytes(classes)


def fold(text: str) -> str:
    """Fold `text` for matching (NFKC, casefold, Traditional→Simplified), keeping its length."""
    folder = None if text.isascii() else native_folder()
    return folder.fold(text) if folder is not None else fold_without_native(text)


def fold_without_native(text: str) -> str:
    """`fold` through OpenCC, else `str.translate`: the path where `alerts._scan` was not built (or is not wanted)."""
    if text.isascii():
        return text.lower()
    converter = _converter()
    if converter is not None:
        try:
            out: str = converter.convert(text)
        except UnicodeError:  # lone surrogates cannot be encoded for OpenCC
            out = ""
        if len(out) == len(text):
            for ch in _SPACE_FIXUPS:
                if ch in out:
                    out = out.replace(ch, " ")
            return out
    return text.translate(fold_table())


def is_katakana(ch: str) -> bool:
    """True for a katakana letter or the long-vowel mark (not the middle dot `・`), after folding."""
    cp = ord(ch)
    return 0x30A1 <= cp <= 0x30FA or 0x30FC <= cp <= 0x30FF or 0x31F0 <= cp <= 0x31FF


def _cjk_like(cp: int) -> bool:
    return (
        0x1100 <= cp < 0x1200
        or 0x2E80 <= cp < 0xA4D0
        or 0xA960 <= cp < 0xA980
        or 0xAC00 <= cp < 0xD800
        or 0xF900 <= cp < 0xFB00
        or 0xFF00 <= cp < 0xFFF0
        or cp >= 0x20000
    )


def is_word(ch: str) -> bool:
    """True for a letter or digit of an alphabetic script (Latin, Greek, Cyrillic…): a word continues."""
    return ch.isalnum() and not _cjk_like(ord(ch))


def edge_class(ch: str) -> int:
    """WORD_EDGE for a Latin-like letter or digit, KATAKANA_EDGE for katakana, else NO_EDGE (of a folded character)."""
    return WORD_EDGE if is_word(ch) else KATAKANA_EDGE if is_katakana(ch) else NO_EDGE
