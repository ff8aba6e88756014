"""Ticker symbols: parse the configured form, then decide whether a place in folded text names one.

Forms that count (all on folded text, so `ＮＶＤＡ`, `（7203）` and `ＮＡＳＤＡＱ：` work too):

    $TSLA  $V                         cashtag, any length
    NASDAQ: NVDA  (NYSE:V)  HKEX: 700 exchange-qualified, any length; the exchange fixes the market
    NVDA.O  TSLA.US  0700.HK  7203.T  a market suffix (letters: three or more only)
    [7203]  <7203>  (7203)  【7203】  a digit code in brackets
    sh600519  hk00700                 a digit code glued to its market prefix
    NVDA  600519  002594  00700       bare: three or more capitals as a whole token, a six-digit
                                      A-share code or five-digit Hong Kong code as a whole digit run

One- and two-letter symbols (`V`, `F`, `GS`) count only as cashtags or exchange-qualified.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from wirewatch.alerts.normalise import is_word

__all__ = ["ANCHORS", "Ticker", "anchor_symbol", "core_end", "parse_ticker"]

# market suffix (folded) → market
SUFFIXES: dict[str, str] = {
    "hk": "HK", "sh": "CN", "ss": "CN", "sz": "CN", "t": "JP", "jp": "JP", "tw": "TW", "two": "TW",
    "ks": "KR", "kq": "KR", "us": "US", "o": "US", "oq": "US", "n": "US", "l": "UK", "to": "CA",
    "ax": "AU", "de": "DE", "pa": "FR", "si": "SG",
}
# exchange names (folded) that qualify the symbol after a colon → market; "$" is the cashtag
ANCHORS: dict[str, str | None] = {"$": None}
for _market, _names in {
    "US": "nasdaq nasdaqgs nasdaqgm nasdaqcm nyse nysearca amex otc otcmkts otcqx otcqb bats cboe "
          "纳斯达克 纽交所 纽约证券交易所 美股",
    "HK": "hkex sehk hkg 港交所 联交所 港股",
    "CN": "sse szse sha she shse 上交所 深交所 上证 深证",
    "JP": "tyo tse jpx 东证 东证プライム 东证スタンダード 东证グロース 东京证券交易所",
    "TW": "twse tpe tpex 台湾证券交易所 台证所",
    "KR": "krx kospi kosdaq",
    "UK": "lse lon",
}.items():
    for _name in _names.split():
        ANCHORS[_name] = _market
for _name in ("nyse arca", "nyse american"):
    ANCHORS[_name] = "US"

_OPEN = "([<【〈《「"
_CLOSE = ")]>】〉》」"
_SUFFIX_RE = re.compile(r"\.([a-z]{1,3})")
_AFTER_EXCHANGE = re.compile(r"[ \t]?:[ \t]?(\d{3,6}|[a-z][a-z0-9]{0,5}(?:[.-][a-z]{1,2})?)")
_AFTER_CASHTAG = re.compile(r"[a-z][a-z0-9]{0,5}(?:[.-][a-z]{1,2})?")
_RAW = re.compile(r"^(?:(\d{3,6})|([A-Za-z][A-Za-z0-9]{0,5}(?:[.-][A-Za-z]{1,2})?))(?:\.([A-Za-z]{1,3}))?$")


@dataclass(frozen=True, slots=True)
class Ticker:
    """A configured ticker: folded symbol without its market suffix, the market, and its type."""

    raw: str
    symbol: str
    market: str | None
    digits: bool

    @property
    def key(self) -> str:
        """The lookup key of this symbol after a cashtag or exchange name."""
        return "#" + (self.symbol.lstrip("0") or "0") if self.digits else self.symbol

    def cores(self) -> list[str]:
        """Folded strings to put into the automaton; each place they match is checked by `core_end`."""
        if self.digits:
            if self.market == "HK":
                return sorted({self.symbol.zfill(4), self.symbol.zfill(5)})
            return [self.symbol]
        if _letters(self.symbol) < 3:
            return []  # only as a cashtag or exchange-qualified: found through ANCHORS
        return sorted({self.symbol, self.symbol.replace(".", "-")})

    def bare_ok(self, core: str) -> bool:
        """Whether the code may stand alone (a whole token or digit run) without market context."""
        if not self.digits:
            return True
        if self.market == "HK":
            return len(core) == 5
        return self.market is None or (self.market == "CN" and len(core) == 6)


def _letters(symbol: str) -> int:
    return sum(ch.isalpha() for ch in symbol)


def parse_ticker(raw: str) -> Ticker:
    """Parse `NVDA`, `BRK.B`, `0700.HK`, `600519.SH`, `7203.T`, `600519`; ValueError if it is none of those."""
    text = unicodedata.normalize("NFKC", raw).strip()
    m = _RAW.match(text)
    if m is None:
        raise ValueError(f"ticker {raw!r} is not a symbol like NVDA, BRK.B, 0700.HK or 600519")
    digits, letters, suffix = m.group(1), m.group(2), m.group(3)
    market: str | None = None
    if suffix is not None:
        market = SUFFIXES.get(suffix.lower())
        if market is None:
            if digits is None and "." not in letters and len(suffix) == 1:
                return Ticker(raw, (letters + "." + suffix).lower(), "US", False)  # a share class: BRK.B
            raise ValueError(f"ticker {raw!r}: unknown market suffix .{suffix} (known: {', '.join(sorted(SUFFIXES))})")
    if digits is not None:
        if market is None and len(digits) != 6:
            raise ValueError(f"ticker {raw!r}: a bare number must be a six-digit A-share code; add a market suffix like .HK or .T")
        return Ticker(raw, digits, market, True)
    return Ticker(raw, letters.lower(), market or "US", False)


def _market_of_suffix(folded: str, end: int) -> tuple[str, int] | None:
    m = _SUFFIX_RE.match(folded, end)
    if m is None or (m.end() < len(folded) and is_word(folded[m.end()])):
        return None
    market = SUFFIXES.get(m.group(1))
    return (market, m.end()) if market is not None else None


def core_end(ticker: Ticker, core: str, folded: str, original: str, start: int, end: int) -> int | None:
    """Where the mention ends if the core match at [start, end) is a valid form of `ticker`, else None."""
    before = folded[start - 1] if start > 0 else " "
    after = folded[end] if end < len(folded) else " "
    if ticker.digits:
        if before.isdigit() or after.isdigit():
            return None
        suffix = _market_of_suffix(folded, end)
        if suffix is not None:
            return suffix[1] if suffix[0] == (ticker.market or "CN") else None
        if before in _OPEN and after in _CLOSE:
            return end
        glued = folded[max(0, start - 2):start]
        if is_word(before):
            lead = folded[start - 3] if start >= 3 else " "
            if SUFFIXES.get(glued) == (ticker.market or "CN") and not is_word(lead):
                return end
            return None
        if is_word(after) or _in_number(folded, start, end):
            return None
        return end if ticker.bare_ok(core) else None
    if is_word(before) or is_word(after) or before in ".-/":
        return None
    if unicodedata.normalize("NFKC", original[start:end]) != core.upper():
        return None  # a bare or suffixed symbol must be written in capitals
    suffix = _market_of_suffix(folded, end)
    if suffix is not None:
        return suffix[1] if suffix[0] == ticker.market else end
    return end


def _in_number(folded: str, start: int, end: int) -> bool:
    """True when the digit run is part of a longer number such as 1,600519 or 600519.5."""
    if start >= 2 and folded[start - 1] in ".," and folded[start - 2].isdigit():
        return True
    return end + 1 < len(folded) and folded[end] in ".," and folded[end + 1].isdigit()


def anchor_symbol(
    folded: str, original: str, start: int, end: int, anchor: str
) -> tuple[list[str], str | None, int] | None:
    """After a cashtag or exchange name at [start, end): (lookup keys, market, end of the mention) or None.

    One- and two-letter symbols must be written in capitals here (`NYSE: F`, not `on the NYSE: a`).
    """
    if start > 0 and is_word(folded[start - 1]):
        return None
    market = ANCHORS[anchor]
    m = (_AFTER_CASHTAG if anchor == "$" else _AFTER_EXCHANGE).match(folded, end)
    if m is None:
        return None
    group = 0 if anchor == "$" else 1
    symbol = m.group(group)
    stop = m.end()
    if stop < len(folded) and (is_word(folded[stop]) or folded[stop] == "$"):
        return None
    if symbol.isdigit():
        return ["#" + (symbol.lstrip("0") or "0")], market, stop
    written = unicodedata.normalize("NFKC", original[m.start(group):stop])
    if _letters(symbol) < 3 and written != written.upper():
        return None
    keys = [symbol]
    base, dot, suffix = symbol.partition(".")
    if dot and suffix in SUFFIXES:
        keys.append(base)  # $NVDA.O, NYSE: BABA.N
    return keys, market, stop
