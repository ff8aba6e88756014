"""Security codes and key figures as written in text, in any script: the number-reading half of `ingest.event`.

One pass over the digit runs of a text (`scan_numbers`) reads each as a security code in any
written form (`600519.SH`, `（600519）`, `sh600519`, `<7203>`, `7203.T`, `0700.HK`, `证券代码：600519`,
a bare six-digit A-share code touching Chinese text) or as a figure: money with its currency and
scale (`500億ドル`, `500亿美元`, `$50 billion`, `2兆2380億円`, `1812元`), a percentage, a count
(`45万2318台`, `452,318`), a date (`11月24日`, `Nov. 24`) or a year. `letter_codes` finds codes
written with letters (`NVDA.O`, `NASDAQ: NVDA`, `$NVDA`). Features are the strings `ingest.event`
documents (`c:CN:600519`, `m:USD:5e+10`, `p:1.2`, `q:452318`, `d:11-24`, `y:2019`).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["MONTHS", "code_key", "letter_codes", "parse_code", "scan_numbers"]

_KANA = re.compile("[\u3040-\u30ff]")

# --- security codes --------------------------------------------------------------------------

_SUFFIX_MARKET = {"sh": "CN", "ss": "CN", "sz": "CN", "bj": "CN", "t": "JP", "jp": "JP", "hk": "HK",
                  "o": "US", "oq": "US", "n": "US", "us": "US", "tw": "TW", "ks": "KR", "kq": "KR"}
_EXCHANGE_MARKET = {"nasdaq": "US", "nyse": "US", "amex": "US", "nysearca": "US", "otc": "US", "hkex": "HK",
                    "sehk": "HK", "sse": "CN", "szse": "CN", "tse": "JP", "tyo": "JP", "jpx": "JP", "twse": "TW",
                    "krx": "KR", "lse": "UK", "港交所": "HK", "纳斯达克": "US", "纽交所": "US", "上交所": "CN",
                    "深交所": "CN", "東証": "JP", "东证": "JP"}
_LETTER_CODES = [
    # NVDA.O, TSLA.US (capitals and a market suffix; the search starts at the dot, the fast way)
    re.compile(r"\.(O|OQ|N|US)(?![A-Za-z0-9])"),
    # NASDAQ: NVDA, (NYSE:V)
    re.compile(r"(NASDAQ|Nasdaq|NYSE|AMEX|NYSEARCA|OTC)\s?:\s?([A-Z]{1,5})(?![A-Za-z0-9])"),
    # $NVDA cashtag (capitals)
    re.compile(r"\$([A-Z]{1,5})(?![A-Za-z0-9])"),
]
_OPEN = "(<[【〈"
_CLOSE = ")>]】〉"
_EXCHANGE_BEFORE = re.compile(r"(?:^|[^A-Za-z])(" + "|".join(sorted(map(re.escape, _EXCHANGE_MARKET), key=len,
                                                                      reverse=True)) + r")\s?:\s?$", re.I)
_SUFFIX_AFTER = re.compile(r"\.(SH|SS|SZ|BJ|T|JP|HK|TW|KS|KQ)(?![A-Za-z0-9])", re.I)
_CODE_LABEL = re.compile(r"(?:代码|代碼|コード|ticker|stock code)\s?[:]?\s?$", re.I)
_UNIT_AFTER = frozenset("万亿億元円股辆台人家件吨年月日%倍只个位名次点")


def code_key(symbol: str, market: str | None) -> str | None:
    """The `c:` feature of a code: `600519`→CN, 4 digits→JP, 5 digits→HK, letters→US unless told."""
    symbol = symbol.strip().upper()
    if symbol.isdigit():
        if market is None:
            market = {6: "CN", 4: "JP", 5: "HK"}.get(len(symbol))
        if market is None:
            return None
        if market == "HK":
            symbol = symbol.lstrip("0") or "0"
        return f"c:{market}:{symbol}"
    if not symbol.isalpha():
        return None
    return f"c:{market or 'US'}:{symbol}"


def parse_code(raw: str) -> str | None:
    """A configured ticker (`NVDA`, `600519.SH`, `7203.T`, `0700.HK`, `600519`) as its `c:` feature."""
    text = unicodedata.normalize("NFKC", raw).strip()
    symbol, dot, suffix = text.partition(".")
    market = _SUFFIX_MARKET.get(suffix.lower()) if dot else None
    if dot and market is None:
        return None
    return code_key(symbol, market)


def _is_cjk(ch: str) -> bool:
    return "\u3040" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def _digit_code(text: str, start: int, end: int, kana: bool) -> tuple[int, int, str] | None:
    """The code a digit run of 4-6 digits at [start, end) is written as, if it is one."""
    digits = text[start:end]
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    m = _SUFFIX_AFTER.match(text, end)
    if m is not None:
        key = code_key(digits, _SUFFIX_MARKET[m.group(1).lower()])
        return (start, m.end(), key) if key else None
    window = text[max(0, start - 12):start]
    ex = _EXCHANGE_BEFORE.search(window)
    if ex is not None:
        key = code_key(digits, _EXCHANGE_MARKET[ex.group(1).lower()])
        return (start, end, key) if key else None
    if _CODE_LABEL.search(window) is not None:
        key = code_key(digits, None)
        return (start, end, key) if key else None  # 证券代码：600519, 銘柄コード:7203
    glued = text[max(0, start - 2):start].lower()
    if len(digits) >= 5 and glued in ("sh", "sz", "hk") \
            and (start < 3 or not (text[start - 3].isascii() and text[start - 3].isalpha())):
        key = code_key(digits, {"sh": "CN", "sz": "CN", "hk": "HK"}[glued])
        return (start - 2, end, key) if key else None
    inner_before = text[start - 2] if before == " " and start >= 2 else before
    inner_after = text[end + 1] if after == " " and end + 1 < len(text) else after
    if inner_before in _OPEN and inner_after in _CLOSE:
        if len(digits) == 4 and digits[:2] in ("19", "20") and not kana:
            return None  # (2019) in Chinese or English text is a year
        key = code_key(digits, None)
        return (start, end, key) if key else None
    if len(digits) == 6 and digits[0] in "036" and after not in _UNIT_AFTER and not after.isdigit() \
            and after not in ".," and ((_is_cjk(before) and before not in "年月日") or _is_cjk(after)):
        return start, end, f"c:CN:{digits}"  # a bare A-share code in Chinese text: 贵州茅台600519涨停
    return None


# --- figures -----------------------------------------------------------------------------------

_CJK_SCALE = {"兆": 1e12, "億": 1e8, "亿": 1e8, "万": 1e4, "萬": 1e4, "千": 1e3}
_EN_SCALE = {"trillion": 1e12, "tn": 1e12, "billion": 1e9, "bn": 1e9, "b": 1e9, "million": 1e6, "mn": 1e6,
             "m": 1e6, "mln": 1e6, "thousand": 1e3, "k": 1e3}
_CJK_CURRENCY = {"美元": "USD", "美金": "USD", "米ドル": "USD", "ドル": "USD", "円": "JPY", "日元": "JPY", "日圆": "JPY",
                 "元": "CNY", "人民币": "CNY", "人民元": "CNY", "港元": "HKD", "港币": "HKD", "香港ドル": "HKD",
                 "欧元": "EUR", "ユーロ": "EUR", "英镑": "GBP", "ポンド": "GBP", "韩元": "KRW", "ウォン": "KRW"}
_CJK_CURRENCY_RE = re.compile(r"\s?(" + "|".join(sorted(_CJK_CURRENCY, key=len, reverse=True)) + ")")
_SYMBOL_BEFORE = re.compile(r"(US\$|HK\$|\$|€|£|¥|RMB|USD|CNY|JPY|HKD|EUR)\s?$")
_SYMBOL_CURRENCY = {"US$": "USD", "$": "USD", "HK$": "HKD", "€": "EUR", "£": "GBP", "¥": "JPY", "RMB": "CNY",
                    "USD": "USD", "CNY": "CNY", "JPY": "JPY", "HKD": "HKD", "EUR": "EUR"}
_WORD_CURRENCY = {"dollar": "USD", "yuan": "CNY", "renminbi": "CNY", "yen": "JPY", "euro": "EUR"}
_EN_AFTER = re.compile(r"\s?(trillion|billion|million|thousand|mln|tn|bn|mn|b|m|k)(?![A-Za-z])"
                       r"(?:\s(dollar|yuan|renminbi|yen|euro)s?(?![A-Za-z]))?|\s(dollar|yuan|renminbi|yen|euro)s?"
                       r"(?![A-Za-z])", re.I)
_PERCENT_AFTER = re.compile(r"\s?(?:%|percent(?![A-Za-z])|per cent(?![A-Za-z])|percentage points?(?![A-Za-z])"
                            r"|个百分点|パーセント|ポイント)", re.I)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")  # one branch starting with a digit: the regex engine skips ahead fast
_GROUPED = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
MONTHS = {m: n for n, names in enumerate(
    ("jan january", "feb february", "mar march", "apr april", "may", "jun june", "jul july", "aug august",
     "sep sept september", "oct october", "nov november", "dec december"), start=1) for m in names.split()}
_MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))
_MONTH_BEFORE = re.compile(rf"(?:^|[^A-Za-z])({_MONTH_RE})\.?\s$", re.I)
_MONTH_AFTER = re.compile(rf"(?:st|nd|rd|th)?\s({_MONTH_RE})(?![A-Za-z])", re.I)
_CJK_DAY = re.compile(r"月(\d{1,2})日")


def _value(x: float) -> str:
    return f"{x:.6g}"


def _num(digits: str) -> float:
    return float(digits.replace(",", ""))


def _compound(text: str, end: int, value: float) -> tuple[float, int, bool]:
    """Extend a number over CJK scale characters (2兆2380億, 45万2318): (value, end, scaled)."""
    total, current, scaled, n = 0.0, value, False, len(text)
    while end < n and text[end] in _CJK_SCALE:
        total += current * _CJK_SCALE[text[end]]
        current, scaled, end = 0.0, True, end + 1
        more = _NUMBER.match(text, end)
        if more is None:
            break
        try:
            current, end = _num(more.group()), more.end()
        except ValueError:  # `0.1,234.5`: keep the well-formed number it starts with
            grouped = _GROUPED.match(text, end)
            assert grouped is not None  # `_NUMBER` matched a digit here
            current, end = _num(grouped.group()), grouped.end()
    return total + current, end, scaled


def _cjk_figure(text: str, digits: str, end: int, value: float) -> tuple[str, int] | None:
    """A date (11月24日), year (2019年) or percentage right after an unscaled number."""
    after = text[end] if end < len(text) else ""
    if after == "月":
        day = _CJK_DAY.match(text, end)
        month = int(value) if digits.isdigit() else 0
        if day and 1 <= month <= 12 and 1 <= int(day.group(1)) <= 31:
            return f"d:{month:02d}-{int(day.group(1)):02d}", day.end()
        return "", end
    if after == "年" and len(digits) == 4 and digits[:2] in ("19", "20"):
        return f"y:{digits}", end
    pct = _PERCENT_AFTER.match(text, end)
    if pct is not None:
        return f"p:{_value(value)}", pct.end()
    return None


def _money(text: str, start: int, end: int, value: float, cjk: bool, kana: bool) -> tuple[str, int] | None:
    """Money written the Latin way ($50 billion, 50 billion dollars, ¥1,812) or a scaled count (3.9 million)."""
    after = text[end] if end < len(text) else ""
    en = _EN_AFTER.match(text, end) if not cjk or after in " bmkBMKtT" else None
    scale_word = (en.group(1) or "") if en is not None else ""
    scale = _EN_SCALE.get(scale_word.lower(), 1.0)
    word = (en.group(2) or en.group(3)) if en is not None else None
    symbol = _SYMBOL_BEFORE.search(text[max(0, start - 4):start])
    stop = en.end() if en is not None else end
    if symbol is not None:
        currency = _SYMBOL_CURRENCY[symbol.group(1)]
        if currency == "JPY" and cjk and not kana:
            currency = "CNY"  # ¥ in Chinese text is the yuan
        return f"m:{currency}:{_value(value * scale)}", stop
    if scale_word.lower() in ("b", "m", "k"):
        return None  # 5m, 3b without a currency symbol: too ambiguous
    if word is not None:
        return f"m:{_WORD_CURRENCY[word.lower()]}:{_value(value * scale)}", stop
    if len(scale_word) > 2:
        return f"q:{_value(value * scale)}", stop
    return None


def _plain(text: str, start: int, end: int, digits: str, value: float, cjk: bool) -> str | None:
    """A bare number: a Latin date (Nov. 24, 24 November), a year, or a long count (452,318)."""
    after = text[end] if end < len(text) else ""
    if not cjk and digits.isdigit() and 1 <= int(digits) <= 31:
        month = _MONTH_BEFORE.search(text[max(0, start - 11):start])
        month_after = _MONTH_AFTER.match(text, end) if month is None else None
        name = month.group(1) if month is not None else month_after.group(1) if month_after else None
        if name is not None:
            return f"d:{MONTHS[name.lower()]:02d}-{int(digits):02d}"
    if len(digits) == 4 and digits[:2] in ("19", "20") and not after.isalnum() and after != "%":
        return f"y:{digits}"
    if (len(digits.replace(",", "").split(".")[0]) >= 5 or "," in digits) and after not in ".-/" \
            and not (after.isascii() and after.isalpha()):
        return f"q:{_value(value)}"  # a long count: 452318辆, 452,318 vehicles
    return None


def scan_numbers(text: str, cjk: bool) -> tuple[list[tuple[int, int, str]], list[tuple[int, str]]]:
    """One pass over the digit runs of `text`: (codes as (start, end, c:), figures as (position, feature))."""
    codes: list[tuple[int, int, str]] = []
    figures: list[tuple[int, str]] = []
    kana = _KANA.search(text) is not None
    pos = 0
    while (m := _NUMBER.search(text, pos)) is not None:
        start, pos, digits = m.start(), m.end(), m.group()
        if ("," in digits or digits.count(".") > 1) and (exact := _GROUPED.match(digits)) is not None:
            digits = exact.group()  # 1,234.5 stays whole; 1,2 or 1.2.3 is cut where the number ends
            pos = start + len(digits)
        if 4 <= len(digits) <= 6 and digits.isdigit():
            code = _digit_code(text, start, pos, kana)
            if code is not None:
                codes.append(code)
                pos = code[1]
                continue
        value, end, scaled = _compound(text, pos, _num(digits))
        found = None if scaled else _cjk_figure(text, digits, end, value)
        if found is None:
            cur = _CJK_CURRENCY_RE.match(text, end)
            if cur is not None:
                found = f"m:{_CJK_CURRENCY[cur.group(1)]}:{_value(value)}", cur.end()
            elif scaled:
                found = f"q:{_value(value)}", end
            else:
                found = _money(text, start, end, value, cjk, kana)
        if found is None:
            plain = _plain(text, start, end, digits, value, cjk)
            found = (plain, end) if plain else None
        if found is not None:
            if found[0]:
                figures.append((start, found[0]))
            pos = max(pos, found[1])
    return codes, figures


def letter_codes(text: str) -> list[tuple[int, int, str]]:
    """(start, end, c:) of codes written with letters: NVDA.O, NASDAQ: NVDA, $NVDA."""
    found = []
    suffix, exchange, cashtag = _LETTER_CODES
    if "." in text:
        for m in suffix.finditer(text):
            start = m.start()
            while start > 0 and "A" <= text[start - 1] <= "Z" and m.start() - start < 6:
                start -= 1
            symbol = text[start:m.start()]
            if 1 <= len(symbol) <= 5 and (start == 0 or not text[start - 1].isalnum()):
                found.append((start, m.end(), f"c:US:{symbol}"))
    if ":" in text:
        for m in exchange.finditer(text):
            if m.start() == 0 or not text[m.start() - 1].isalpha():
                found.append((m.start(), m.end(), f"c:US:{m.group(2)}"))
    if "$" in text:
        for m in cashtag.finditer(text):
            found.append((m.start(), m.end(), f"c:US:{m.group(1)}"))
    return found
