"""Where an item says it comes from: source lines in their real grammars, wire datelines, title suffixes.

Pure, matched on the folded (NFKC) form of a line, so `（来源：X）` and `(来源:X)` are one pattern:
- labelled source lines: `来源：X`, `（文章来源：X）`, `转自：X`, `(出典:X)`, `Source: X` (`SOURCE_LINE` whole,
  `SOURCE_START`/`SOURCE_END` as a bracketed prefix or suffix of a line); an outlet followed by a
  writer's name (`来源：华尔街见闻 葛佳明`) keeps the outlet;
- other whole-line grammars (`named_source`): WeChat reposts (`本文来自微信公众号“X”，作者：Y，Z经授权发布。`),
  Yahoo!ニュース's `X 3/9(木) 18:45配信`, a relay's `X 10月14日报道`;
- a wire dateline opening the text (`DATELINE`: `MOSCOW (Reuters) -`), which stays in the text;
- a provider suffix on a title (`title_provider`: `…(Impress Watch)`), never a ticker or an update mark.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["DATELINE", "SOURCE_END", "SOURCE_LINE", "SOURCE_START", "named_source", "source_name", "title_provider"]

RELAY_MAX = 80  # `CNET Japan 3/9(木) 18:45配信`, `某某科技 12月7日报道`: short lines
# A writer's name after an outlet, separated by a space: two to four Han characters.
_TRAILING_PERSON = re.compile(r"\s+[\u4e00-\u9fff]{2,4}\Z")

_LABEL = r"(?P<label>(?:文章|本文|新闻|消息)?(?:来源|來源)(?:于)?|转自|转载自|轉自|轉載自|出典|出所|(?i:source))"
_NAME = r"[^()\[\]【】〔〕\n:]{1,60}?(?:\([^()\n]{1,30}\)[^()\[\]【】〔〕\n]{0,20}?)?"
_SOURCE_PAREN = rf"[(\[【〔]\s*{_LABEL}\s*:\s*(?P<src>{_NAME})\s*[)\]】〕]"
SOURCE_LINE = re.compile(
    rf"{_SOURCE_PAREN}|{_LABEL.replace('label', 'blabel')}\s*:\s*(?P<bsrc>[^\n。!?;]{{1,40}}?)\.?"
)
SOURCE_START = re.compile(_SOURCE_PAREN)
SOURCE_END = re.compile(rf"{_SOURCE_PAREN}\s*\Z")


def source_name(m: re.Match[str], written: Callable[[int, int], str]) -> str:
    """The outlet a `SOURCE_LINE`/`SOURCE_START`/`SOURCE_END` match names, as written (`written(a, b)`)."""
    groups = m.groupdict()
    key = "src" if groups.get("src") else "bsrc" if groups.get("bsrc") else ""
    name = written(m.start(key), m.end(key)).strip() if key else ""
    label = groups.get("label") or groups.get("blabel") or ""
    if label == "本文来源" and name.endswith("报道") and len(name) > 2:
        name = name[: -len("报道")]
    person = _TRAILING_PERSON.search(name)
    if person is not None and person.start() > 0:  # `来源：华尔街见闻 葛佳明`: the outlet, then its writer
        name = name[: person.start()]
    return name.strip()


# Whole lines that name the outlet in other grammars (matched on the folded line):
# `本文来自微信公众号“X”,作者:Y,36氪经授权发布。` (WeChat reposts), `CNET Japan 3/9(木) 18:45配信` (Yahoo!ニュース),
# `TNW中文站 10月14日报道` (a relay's own source line).
_WECHAT = re.compile(
    r"(?:本文|文章)?(?:转?载?自|来自|来源于?)\s*:?\s*(?:微信)?公众号\s*[:：]?\s*[“\"「『](?P<account>[^”\"」』\n]{1,40})[”\"」』]"
    r"\s*[,，]?\s*(?:作者\s*:\s*(?P<author>[^,，。\n]{1,30})\s*[,，]?\s*)?"
    r"(?:(?P<site>[^,，。\n]{1,20}?)\s*经授权发布|经授权发布(?:于|在)?\s*(?P<site2>[^,，。\n]{1,20}?))?\s*[。.]?")
_DELIVERED = re.compile(
    r"(?P<src>\S[^\n]{0,40}?)\s+(?:\d{4}[/年])?\d{1,2}[/月]\d{1,2}日?\s*(?:\([月火水木金土日]\))?\s*(?:\d{1,2}:\d{2})?\s*配信")
_RELAY = re.compile(r"(?P<src>[^\s,。:]{2,20})\s*(?:\d{4}年)?\d{1,2}月\d{1,2}日\s*(?:电|报道|消息|讯)")
# A wire dateline opening the text: `MOSCOW (Reuters) -`, `NEW YORK, March 3 (AP) —`; the text keeps it.
DATELINE = re.compile(
    r"[A-Z][A-Z.'’ -]{1,40}(?:,\s*[A-Z][\w.' -]{1,30})?\s*\((?P<src>[A-Z][\w&.' -]{1,30}?)\)\s*[-–—]")
# A provider named at the end of a title: `…ほぼ回復」(Impress Watch)`, `… (ZDNet Japan)`.
_TITLE_PROVIDER = re.compile(r"\s*[(（](?P<src>[^()（）\n]{2,30})[)）]\s*\Z")
_TICKER = re.compile(r"[A-Z]{1,5}(?:[.:][A-Z]{1,4})?")  # `(AAPL)`, `(BRK.B)` in a Latin title
_NOT_PROVIDER = re.compile(r".*\d.*|[a-z].*")  # `(Update 2)`, `(300657.SZ)`, `(updated)`
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
_KANA_OR_LATIN = re.compile(r"[A-Za-z\u3040-\u30ff\uff66-\uff9f]")


def _wechat_source(m: re.Match[str]) -> str:
    """`微信公众号“X”（作者：Y），经授权发布于Z` from a WeChat repost line."""
    out = f"微信公众号“{m.group('account').strip()}”"
    if m.group("author"):
        out += f"（作者：{m.group('author').strip()}）"
    site = (m.group("site") or m.group("site2") or "").strip()
    return out + (f"，经授权发布于{site}" if site else "")


def title_provider(title: str) -> tuple[str, str | None]:
    """The title without a provider suffix, and the provider (None when the title names none)."""
    title = title.rstrip()
    m = _TITLE_PROVIDER.search(title, max(0, len(title) - 40))  # the suffix is short: never scan a long title
    if m is None or m.start() == 0:
        return title, None
    name = m.group("src").strip()
    if _NOT_PROVIDER.fullmatch(name) or not _KANA_OR_LATIN.search(name):  # `(Update 2)`, `(图)`
        return title, None
    if _TICKER.fullmatch(name) and not _CJK.search(title[: m.start()]):  # `(AAPL)`; `…回復」(BCN)` is a provider
        return title, None
    return title[: m.start()].rstrip(), name


def named_source(folded: str) -> str | None:
    """The outlet a whole line names in the WeChat, 配信 or relay grammar, else None."""
    if "公众号" in folded:
        m = _WECHAT.fullmatch(folded)
        if m is not None:
            return _wechat_source(m)
    if len(folded) > RELAY_MAX:
        return None
    m = (_DELIVERED.fullmatch(folded) if "配信" in folded
         else _RELAY.fullmatch(folded) if "月" in folded and "日" in folded else None)
    return m.group("src").strip() if m is not None else None
