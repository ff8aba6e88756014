"""The event-signature extraction gives exactly what it gave before its speed-up (`tests/event_reference/`).

Both run on a broad table of texts: generated edge cases (full-width digits, mixed scripts, units,
currencies, dates, codes in every written form, names, update markers, NFKC-changed characters), every
string of `tests/test_event.py`, the templated events of `tests/events_corpus.py`, the benchmark's
synthetic items, and (marked `corpus`) the shared corpus and the real-world items. Signatures are
compared whole, without and with watchlist aliases, and so are the number and code scans, the language
guess and the comparisons of signatures (conflicts, agreement, index features).
"""

from __future__ import annotations

import ast
import itertools
import json
import random
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests import events_corpus
from tests.conftest import CORPUS, REALWORLD
from tests.event_reference import event as ref_event
from tests.event_reference import figures as ref_figures
from wirewatch.ingest import event, figures

HERE = Path(__file__).resolve().parent

_NUMBERS = [
    "452318", "452,318", "1,234.5", "0.1,234.5", "1.2.3", "1,2", "１２３４５", "４５．２万", "45万2318", "2兆2380億",
    "500億ドル", "500亿美元", "５００億円", "$50 billion", "50 billion dollars", "US$3.9bn", "HK$12", "€5m", "£7.5 mln",
    "¥1,812", "￥1812", "1812元", "3.9 million", "5m", "3b", "12k", "4 tn", "1.5 trillion yen", "20 yuan", "7 euros",
    "RMB 30", "USD 2.5 billion", "12%", "1.2％", "1.2 percent", "3 per cent", "2 percentage points", "5个百分点",
    "3パーセント", "0.5ポイント", "2倍", "11月24日", "１１月２４日", "13月5日", "2月30日", "Nov. 24", "24 November",
    "24th November", "Sept 3", "may 5", "May 32", "2019年", "in 2019", "(2019)", "（２０１９）", "2019%", "20190",
    "3.14", "10.", ".5", "1..2", "9,99", "1,000,000", "12,345.678", "0", "007", "99999", "100000", "1000000",
    "45.2万辆", "387.5万辆", "1兆", "3千万", "5萬", "2.5亿股", "100人", "3家", "10件", "2吨",
]
_CODES = [
    "600519.SH", "600519.sh", "（600519）", "(600519)", "( 600519 )", "sh600519", "xsh600519", "SZ000858", "hk00700",
    "7203.T", "7203.JP", "<7203>", "【7203】", "〈7203〉", "( 7203 )", "0700.HK", "00700", "（00700）", "9988.HK",
    "005930.KS", "2330.TW", "NASDAQ: NVDA", "Nasdaq:AAPL", "(NYSE:V)", "nyse: v", "NYSEARCA: SPY", "OTC: ABCD",
    "$NVDA", "$nvda", "$TOOLONG", "NVDA.O", "TSLA.US", "BRK.N", "MSFT.OQ", "A.O", "ABCDEF.O", "证券代码：600519",
    "股票代码: 000858", "銘柄コード:7203", "ticker: 7203", "stock code 600036", "東証:7203", "TSE: 6758",
    "港交所:00700", "纳斯达克：NVDA", "600519涨停", "贵州茅台600519", "600519年", "300750.SZ", "688981", "000001",
    "code600519", "(2019)", "<2019>", "【1999】", "ＮＡＳＤＡＱ：ＮＶＤＡ", "６００５１９．ＳＨ", "＄ＮＶＤＡ",
]
_NAMES = [
    "OpenAI", "Microsoft", "AWS", "Azure", "eBay", "3M", "Monday", "November", "Frontier", "AT&T", "O'Neil",
    "Coca-Cola", "ＡＢＣ Corp", "İstanbul", "Straße", "NVIDIA", "Nvidia", "Kweichow Moutai", "Toyota Motor",
    "JPMorgan Chase", "Ping An", "Amazon.com", "Amazon Web Services", "Google", "Alphabet", "Apple Inc", "Xi", "Li",
    "BYD", "CATL", "Sony Group", "Mitsubishi UFJ Financial", "A-B", "X'", "Ab-", "Ultra-Long-Name-Of-Company",
    "Fed", "The", "Reuters", "SoftBank", "ＯｐｅｎＡＩ", "Ｍｉｃｒｏｓｏｆｔ", "DeepSeek", "iPhone", "McDonald's",
]
_CJK = [
    "贵州茅台", "盘中涨停", "トヨタ自動車が反発", "。", "，", "　", "比亚迪", "宁德时代", "微软", "亚马逊", "英伟达", "公司", "发布",
    "销量为", "同比增长", "营收", "净利润", "年初来高値", "を更新", "ソフトバンクグループ", "マイクロソフト", "삼성전자",
    "ｶﾀｶﾅ", "㍿", "㈱", "①", "Ⅻ", "℃", "²", "ﬁ", "萬", "億", "兆", "亿", "万", "千", "元", "円", "ドル", "美元",
    "港元", "日元", "人民币", "股", "辆", "台", "年", "月", "日", "%", "倍", "上交所", "深交所", "東証", "港交所",
    "（", "）", "【", "】", "〈", "〉", "＜", "＞", "：", "、", "「", "」", "中国平安", "招商银行", "任天堂", "索尼集团",
]
_MARKERS = ["UPDATE 1-", "UPDATE 2 - ", "REFILE-", "CORRECTED:", "（更新）", "[update 2]", "【続報】", "訂正：", "(更新)",
            "更新: ", "Updated 3 -", "（訂正）"]
_GLUE = [" ", "", "\n", "\n\n", "、", "：", ":", ".", ",", "-", "/", " (", ") ", "（", "）", "$", "#", "'"]


def _generated(count: int = 3000, seed: int = 20) -> Iterator[tuple[str, str]]:
    """Titles and texts made of the pieces above, glued in random ways (deterministic)."""
    rng = random.Random(seed)
    pieces = _NUMBERS + _CODES + _NAMES + _CJK
    for n in range(count):
        def run(k: int) -> str:
            out = []
            for _ in range(k):
                pick = rng.random()
                if pick < 0.1:
                    out.append(str(rng.randint(0, 10 ** rng.randint(1, 9))))
                elif pick < 0.15:
                    out.append(f"{rng.randint(0, 9999)}.{rng.randint(0, 999)}")
                elif pick < 0.2:
                    out.append(unicodedata.normalize("NFKC", rng.choice(pieces)).translate(_FULL_WIDTH))
                else:
                    out.append(rng.choice(pieces))
                out.append(rng.choice(_GLUE))
            return "".join(out)
        title = (rng.choice(_MARKERS) if n % 7 == 0 else "") + run(rng.randint(0, 6)) \
            + (rng.choice(_MARKERS) if n % 11 == 0 else "")
        text = run(rng.randint(0, 60)) if n % 13 else ""
        if n % 17 == 0:
            text = text.upper()
        elif n % 19 == 0:
            text = text.lower()
        yield title, text


_FULL_WIDTH = {c: c + 0xFEE0 for c in range(0x21, 0x7F)}


_CAPS = ["OpenAI", "AWS", "NVDA", "IBM", "eBay", "iPhone", "3M", "X", "AB", "ABC", "A-B-C", "AT&T", "O'Neil",
         "McDonald's", "Coca-Cola", "Q3", "FY2026", "GPT-4o", "B2B", "U.S.", "S&P", "Dow", "Nikkei", "MONDAY",
         "Sept", "SEPT", "Nov", "December", "Mayday", "May", "Fri", "Friday", "ÉLYSÉE", "Éric", "Zürich", "Straße",
         "ＡＢＣ", "Ｘｙｚ", "TSLA", "NVDA.O", "BRK-B", "A&", "B'", "C-", "D--E", "F&&G", "H''I", "J-K-", "L1", "M12x"]
_EDGES = ["", " ", "a", "1", "_", "é", "ß", "贵", "ア", "。", "-", "'", "&", ".", "(", "（", "$", "\n", "\t", "\u3000"]
_KANA_HAN_LATIN = ["ア", "トヨタ", "の", "ソフトバンク", "株", "自動車", "贵州茅台", "涨停", "a", "Toyota", "NVIDIA", "de",
                   "ヴ", "ー", "・", "々", "〇", "ｱ", "ｶﾀｶﾅ", "漢", "字"]


def _mixed_scripts(count: int = 1200, seed: int = 21) -> Iterator[tuple[str, str]]:
    """Capitals, acronyms and names against every kind of neighbour; kana, Han and Latin in every proportion
    (the language guess's thresholds and its 400-character sample)."""
    rng = random.Random(seed)
    for n in range(count):
        out = []
        for _ in range(rng.randint(1, 80)):
            pick = rng.random()
            if pick < 0.45:
                out.append(rng.choice(_CAPS))
            elif pick < 0.75:
                out.append(rng.choice(_KANA_HAN_LATIN) * rng.randint(1, 3))
            elif pick < 0.85:
                out.append(rng.choice(_NUMBERS + _CODES))
            out.append(rng.choice(_EDGES + _GLUE))
        text = "".join(out)
        if n % 5 == 0:
            text = "x" * rng.choice([390, 396, 399, 400, 401]) + text  # the sample boundary
        title = "".join(rng.choices(_CAPS + _KANA_HAN_LATIN + [" "] * 6, k=rng.randint(0, 12)))
        yield title, text


def _test_strings() -> Iterator[tuple[str, str]]:
    """Every string written in tests/test_event.py, as a text and as a title."""
    tree = ast.parse((HERE / "test_event.py").read_text(encoding="utf-8"))
    seen = sorted({n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)})
    for s in seen:
        yield "", s
        yield s, ""
    yield from zip(seen, seen[1:], strict=False)


def _events_corpus() -> Iterator[tuple[str, str]]:
    for piece in events_corpus.pieces(events_corpus.build()):
        yield piece.title, piece.body


def _bench_items() -> Iterator[tuple[str, str]]:
    from bench.dedupe import Synth

    synth = Synth()
    for i in range(0, 600, 3):
        yield "", synth.stored(i)[0]
    for q in range(0, 100, 7):
        yield "", synth.query(q)[0]


def _shared_corpus() -> Iterator[tuple[str, str]]:
    for line in (CORPUS / "articles.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            article = json.loads(line)
            yield article["title"], "\n\n".join(article["paragraphs"])
    for line in (CORPUS / "built" / "gold.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            gold = json.loads(line)
            yield gold["title"], gold["text"]
    seed = CORPUS / "seed-article.txt"
    if seed.is_file():
        yield "", seed.read_text(encoding="utf-8")


def _realworld() -> Iterator[tuple[str, str]]:
    for line in (REALWORLD / "items.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            yield item["title"], item["gold_text"]
            yield item["title"], item["raw"]


def _triples(watchlist_yaml: str) -> list[tuple[str, list[str], list[str]]]:
    entities = yaml.safe_load(watchlist_yaml)["entities"]
    return [(str(e["id"]), [str(a) for a in e.get("aliases", [])] + [str(e.get("name", ""))],
             [str(t) for t in e.get("tickers", [])]) for e in entities]


def _alias_sets() -> list[list[tuple[str, list[str], list[str]]]]:
    sets = [_triples(events_corpus.watchlists()["desk.yaml"])]
    catalogue = CORPUS / "entities.yaml"
    if catalogue.is_file():
        sets.append(_triples(catalogue.read_text(encoding="utf-8")))
    edge = [("fw", ["ＡＢＣ", "abc"], ["600519.SH", "NVDA", "0700.HK"]), ("jp", ["トヨタ", "toyota"], ["7203.T"]),
            ("short", ["x", "AT&T", "o'neil"], ["TSLA.US", "bad.XX", "7203"]), ("dup", ["abc"], ["NVDA"])]
    sets.append(edge)
    return sets


def _tables() -> list[tuple[event.AliasTable | None, ref_event.AliasTable | None]]:
    out: list[tuple[event.AliasTable | None, ref_event.AliasTable | None]] = [(None, None)]
    out += [(event.AliasTable.build(t), ref_event.AliasTable.build(t)) for t in _alias_sets()]
    return out


def _assert_same(texts: list[tuple[str, str]]) -> int:
    """Compare everything the two extractions give on `texts`; the number of signatures compared."""
    tables = _tables()
    for new_table, ref_table in tables[1:]:
        assert new_table is not None and ref_table is not None
        assert dict(new_table.aliases) == dict(ref_table.aliases)
        assert dict(new_table.codes) == dict(ref_table.codes)
        assert new_table.fingerprint == ref_table.fingerprint
    compared = 0
    signatures: list[tuple[event.EventSignature, ref_event.EventSignature]] = []
    for title, text in texts:
        for new_table, ref_table in tables:
            new = event.event_signature(title, text, new_table)
            ref = ref_event.event_signature(title, text, ref_table)
            assert new.to_json() == ref.to_json(), (title, text)
            assert new == event.EventSignature.from_json(ref.to_json())
            compared += 1
        signatures.append((new, ref))
        for part in (title, text):
            folded = unicodedata.normalize("NFKC", part)
            for cjk in (False, True):
                assert figures.scan_numbers(folded, cjk) == ref_figures.scan_numbers(folded, cjk), part
            assert figures.letter_codes(folded) == ref_figures.letter_codes(folded), part
            assert event.language(part) == ref_event.language(part), part
            assert event.nfkc(part) == folded, part
            assert figures.parse_code(part[:12]) == ref_figures.parse_code(part[:12])
    rng = random.Random(len(signatures))
    pairs = list(zip(signatures, signatures[1:], strict=False))
    pairs += [(rng.choice(signatures), rng.choice(signatures)) for _ in range(len(signatures))]
    for (new_a, ref_a), (new_b, ref_b) in pairs:
        assert event.conflicts(new_a, new_b) == ref_event.conflicts(ref_a, ref_b)
        assert event.agreement(new_a, new_b) == ref_event.agreement(ref_a, ref_b)
        assert event.revision(new_a, new_b) == ref_event.revision(ref_a, ref_b)
    for new, ref in signatures:
        assert event.index_features(new) == ref_event.index_features(ref)
    return compared


def test_generated_edge_cases_give_the_reference_signatures() -> None:
    texts = list(_generated())
    assert _assert_same(texts) == len(texts) * len(_tables())


def test_capitals_acronyms_and_mixed_scripts_give_the_reference_signatures() -> None:
    texts = list(_mixed_scripts())
    assert _assert_same(texts) == len(texts) * len(_tables())
    langs = {ref_event.language(title[:400] + "\n" + text[:400]) for title, text in texts}
    assert langs >= {"ja", "zh", "latin"}
    names = {f for title, text in texts for f in ref_event.event_signature(title, text).entities if f[0] == "n"}
    assert len(names) > 30  # the table is only a test of `_names` if the reference finds many names in it


def test_test_tables_templated_events_and_bench_items_give_the_reference_signatures() -> None:
    texts = list(itertools.chain(_test_strings(), _events_corpus(), _bench_items()))
    assert len(texts) > 500
    assert _assert_same(texts) == len(texts) * len(_tables())


def test_the_generated_table_reaches_every_kind_of_feature() -> None:
    # the table is only broad if the reference finds every kind of feature in it
    kinds: set[str] = set()
    table = ref_event.AliasTable.build(_alias_sets()[-1])
    for title, text in _generated():
        sig = ref_event.event_signature(title, text, table)
        kinds |= {f.split(":", 2)[0] + (":" + f.split(":")[1] if f[0] == "c" else "")
                  for f in sig.entities | sig.figures}
        kinds |= {"update"} if sig.update else set()
    assert {"e", "n", "c:CN", "c:JP", "c:HK", "c:US", "c:KR", "c:TW", "m", "p", "q", "d", "y", "update"} <= kinds


@pytest.mark.corpus
def test_shared_corpus_and_real_world_items_give_the_reference_signatures() -> None:
    texts = list(itertools.chain(_shared_corpus(), _realworld()))
    assert len(texts) > 150
    assert _assert_same(texts) == len(texts) * len(_tables())
