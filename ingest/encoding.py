"""Decide the character encoding of a feed document and decode it to clean text.

Order of evidence: a byte-order mark, then the HTTP `charset`, then the XML prolog's
`encoding`, then sniffing. Labels are mapped to the superset codecs browsers use
(gb2312 → gb18030, shift_jis → cp932, iso-8859-1 → windows-1252). A label is only
believed when the bytes decode under it; and bytes that are valid multi-byte UTF-8 are
taken as UTF-8 even when a single-byte label says otherwise (a server or prolog that says
ISO-8859-1 over UTF-8 bytes is far more common than Latin-1 text that happens to be valid
UTF-8). When nothing fits, UTF-8 with replacement characters is the last resort.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Decoded", "decode_document", "http_charset", "prolog_encoding"]

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_PROLOG = re.compile(rb"""^\s*<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']""")
_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]{1,40})""", re.IGNORECASE)
# Characters XML 1.0 forbids (C0 controls other than tab/LF/CR, and the two non-characters).
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

_HIGH_BYTES = bytes(range(0x80, 0x100))

# Labels mapped to the codec that decodes what servers actually send under them.
_SUPERSETS = {
    "gb2312": "gb18030", "gbk": "gb18030", "gb18030": "gb18030", "x-gbk": "gb18030",
    "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932",
    "ms_kanji": "cp932", "windows-31j": "cp932", "cp932": "cp932",
    "iso-8859-1": "cp1252", "iso8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252",
    "l1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252", "windows-1252": "cp1252",
    "cp1252": "cp1252", "euc-kr": "cp949", "ks_c_5601-1987": "cp949", "big5": "big5hkscs",
    "utf8": "utf-8", "unicode-1-1-utf-8": "utf-8",
}


@dataclass(frozen=True, slots=True)
class Decoded:
    """A document as text, the codec chosen, and why (for warnings and debugging)."""

    text: str
    encoding: str
    reason: str
    replaced: bool = False


def http_charset(headers: Mapping[str, str] | None) -> str | None:
    """The `charset` parameter of a Content-Type header, if any."""
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == "content-type":
            match = _CHARSET.search(value)
            return match.group(1) if match else None
    return None


def prolog_encoding(body: bytes) -> str | None:
    """The `encoding` named in an ASCII-compatible XML prolog, if any."""
    match = _PROLOG.match(body[:1024])
    return match.group(1).decode("ascii") if match else None


def _codec(label: str | None) -> str | None:
    """Map a charset label to a Python codec name, or None when unknown or unusable."""
    if not label:
        return None
    label = label.strip().lower()
    if label in _SUPERSETS:
        return _SUPERSETS[label]
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    if name.startswith(("utf-16", "utf-32")):
        return None  # an ASCII-readable prolog cannot be UTF-16; ignore the lie
    return _SUPERSETS.get(name, name)


def _single_byte(codec: str) -> bool:
    """True for codecs that map every byte to a character on their own (Latin-1 and kin)."""
    try:
        return len(bytes(range(0xA0, 0xA4)).decode(codec)) == 4
    except UnicodeDecodeError:
        return False


def _try(body: bytes, codec: str) -> str | None:
    """Decode strictly, or None if the bytes do not fit the codec."""
    try:
        return body.decode(codec)
    except UnicodeDecodeError:
        if codec == "cp1252":  # five bytes are undefined in cp1252; browsers pass them through
            return body.decode("latin-1")
        return None


def _sniff_utf16(body: bytes) -> str | None:
    """Recognise BOM-less UTF-16 by the NUL pattern of an ASCII `<`."""
    if body[:2] == b"<\x00":
        return "utf-16-le"
    if body[:2] == b"\x00<":
        return "utf-16-be"
    return None


def clean_text(text: str) -> str:
    """Drop characters XML cannot carry (NUL and other C0 controls, U+FFFE/U+FFFF)."""
    return _ILLEGAL_XML.sub("", text)


def decode_document(body: bytes, headers: Mapping[str, str] | None = None) -> Decoded:
    """Decode a feed's bytes to text, choosing the encoding as described in the module docstring."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            text = body[len(bom):].decode(codec, errors="replace")
            return Decoded(clean_text(text), codec, "byte-order mark", "\ufffd" in text)
    utf16 = _sniff_utf16(body)
    if utf16:
        text = body.decode(utf16, errors="replace")
        return Decoded(clean_text(text), utf16, "UTF-16 pattern", "\ufffd" in text)

    as_utf8 = _try(body, "utf-8")
    multibyte_utf8 = as_utf8 is not None and not body.isascii()
    labels = (("HTTP charset", http_charset(headers)), ("XML prolog", prolog_encoding(body)))
    for source, label in labels:
        label_codec = _codec(label)
        if label_codec is None:
            continue
        codec = label_codec
        if multibyte_utf8 and codec != "utf-8" and _single_byte(codec):
            assert as_utf8 is not None
            return Decoded(clean_text(as_utf8), "utf-8", f"valid UTF-8 despite {source} {label}")
        candidate = as_utf8 if codec == "utf-8" else _try(body, codec)
        if candidate is not None:
            return Decoded(clean_text(candidate), codec, source)

    if as_utf8 is not None:
        return Decoded(clean_text(as_utf8), "utf-8", "valid UTF-8")
    if _looks_legacy_single_byte(body):
        legacy = _try(body, "cp1252")  # never None: cp1252 falls back to Latin-1
        assert legacy is not None
        return Decoded(clean_text(legacy), "cp1252", "invalid UTF-8 that reads as windows-1252")
    text = body.decode("utf-8", errors="replace")
    return Decoded(clean_text(text), "utf-8", "fallback with replacement", True)


def _looks_legacy_single_byte(body: bytes) -> bool:
    """True when invalid UTF-8 is mostly isolated high bytes (Latin-1 text), not broken UTF-8."""
    high = len(body) - len(body.translate(None, _HIGH_BYTES))
    broken = len(re.findall(rb"[\xc2-\xf4][\x80-\xbf]+", body))
    return high > 0 and broken * 4 < high
