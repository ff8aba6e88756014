"""parse_feed on the shared corpus and the real-world fixtures: formats, encodings, fields, non-feeds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from wirewatch.ingest.errors import ParseError
from wirewatch.ingest.parse import parse_feed

pytestmark = pytest.mark.corpus

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
MINIFLUX = SHARED / "realfeeds" / "miniflux"
BUILT = SHARED / "corpus" / "built"

# realfeeds file -> (format, feed title, entry count, first entry title); the names say the answer.
REALFEEDS = {
    "encoding_ISO-8859-1.xml": ("rss20", "Golem.de", 40, "Red Dead Redemption 2: Hinweise auf PC-Umsetzung in App von Rockstar Games"),
    "encoding_WINDOWS-1251.xml": ("rss20", "iBash.Org.Ru", 50, "Цитата #17703"),
    "invalid-prolog.xml": ("atom", "테스트 피드", 1, "Café"),
    "iso-8859-1.xml": ("rss20", "Café", 0, None),
    "koi8r.xml": ("rss20", "Пример RSS ленты", 2, "Первая новость"),
    "large_atom.xml": ("atom10", "Artificial truth", 25, "Using vale with vim"),
    "large_rss.xml": ("rss20", "Artificial truth", 25, "Using vale with vim"),
    "no_encoding_ISO-8859-1.xml": ("rss20", "Flux RSS du magazine de psychologie Le Cercle Psy", 10,
                                   "Perturbateurs endocriniens : quels effets sur le cerveau ?"),
    "rdf_UTF8.xml": ("rss090", "heise online News", 60, "OLED-TVs: Vorsichtsmaßnahmen gegen Einbrennen"),
    "single_quote_xml_encoding.xml": ("atom10", "GitLab", 21, "What to expect at Predict 2019, a virtual reality conference"),
    "small_atom.xml": ("atom10", "Recent Commits to v2:main", 20, "Parse podcast categories"),
    "urdu_UTF8.xml": ("rss20", "BBC News  اردو - پاکستان کے لیے امریکی امداد کی بہار و خزاں", 26, None),
    "utf8-incorrect-prolog.xml": ("atom", "테스트 피드", 1, "Café"),
    "utf8.xml": ("atom", "테스트 피드", 1, "Café"),
    "windows-1252-incorrect-prolog.xml": ("rss20", "Euro €", 0, None),
    "windows-1252.xml": ("rss20", "Euro €", 0, None),
}
# realfeeds files that are not feeds -> words the ParseError must contain.
NOT_FEEDS = {
    "iso-8859-1.html": "HTML page titled 'Frédéric'",
    "iso-8859-1-meta-after-1024.html": "HTML page titled 'Frédéric'",
    "utf8.html": "HTML page titled 'Café'",
    "utf8-meta-after-1024.html": "HTML page titled 'Frédéric'",
    "iso88591.xml": "root <note>",
    "iso88591_utf8_mismatch.xml": "root <note>",
    "smallfile.xml": "no elements",
}


def test_every_realfeeds_file_is_covered() -> None:
    assert {p.name for p in MINIFLUX.iterdir()} == set(REALFEEDS) | set(NOT_FEEDS)


@pytest.mark.parametrize("name", sorted(REALFEEDS))
def test_realfeeds_feed(name: str) -> None:
    fmt, title, count, first = REALFEEDS[name]
    feed = parse_feed((MINIFLUX / name).read_bytes())
    assert (feed.format, feed.title, len(feed.entries)) == (fmt, title, count)
    if first is not None:
        assert feed.entries[0].title == first
    for entry in feed.entries:
        assert "\ufffd" not in entry.title + entry.summary + entry.content
        assert entry.published is None or entry.published.tzinfo is not None


@pytest.mark.parametrize("name", sorted(NOT_FEEDS))
def test_realfeeds_non_feed_is_parse_error(name: str) -> None:
    with pytest.raises(ParseError, match="not a feed") as caught:
        parse_feed((MINIFLUX / name).read_bytes(), url="http://example.com/x")
    assert NOT_FEEDS[name] in str(caught.value)
    assert "http://example.com/x" in str(caught.value)


def test_rdf_items_without_ids_have_link_and_no_guid() -> None:
    feed = parse_feed((MINIFLUX / "rdf_UTF8.xml").read_bytes())
    assert all(e.guid is None and e.link and e.link.startswith("https://www.") for e in feed.entries)


def test_fields_of_an_rss_entry() -> None:
    entry = parse_feed((MINIFLUX / "encoding_ISO-8859-1.xml").read_bytes()).entries[0]
    assert entry.guid == "https://www.golem.de/1810/137358-rss.html"
    assert entry.link is not None and entry.link.startswith("https://www.golem.de/news/red-dead")
    assert entry.published == datetime(2018, 10, 28, 12, 48, tzinfo=UTC)
    assert entry.summary and entry.content and "<" in entry.content


def test_atom_author_and_date_become_utc() -> None:
    entry = parse_feed((MINIFLUX / "large_atom.xml").read_bytes()).entries[0]
    assert entry.author == "jvoisin"
    assert entry.published == datetime(2024, 3, 10, 16, 15, tzinfo=UTC)  # +01:00 in the feed


def corpus_files() -> list[Path]:
    return sorted(p for p in BUILT.glob("round*/*") if p.is_file())


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_corpus_feed_parses(path: Path) -> None:
    feed = parse_feed(path.read_bytes())
    assert feed.title == path.stem
    assert feed.warning is None
    for entry in feed.entries:
        assert entry.guid and entry.link and entry.title
        assert entry.published is not None and entry.published.utcoffset() is not None
        assert "\ufffd" not in entry.title + entry.summary + entry.content


@pytest.mark.parametrize(
    ("name", "fmt", "title"),
    [
        ("eastmoney.xml", "rss20", "贵州茅台拟每股派发中期现金红利25.18元 合计约315亿元"),  # GBK, prolog says gb2312
        ("kabutan-jp.rdf", "rss10", "11月の東京都区部コアCPI、2.4%上昇\u3000日銀の12月利上げ判断に追い風"),  # Shift_JIS
        ("sina-jp.xml", "rss20", "11月の東京都区部コアCPI、2.4%上昇\u3000日銀の12月利上げ判断に追い風"),
        ("netease-tech.atom", "atom10", "贵州茅台拟每股派发中期现金红利25.18元 合计约315亿元"),
        ("sina-global.json", "json11", "Nvidia forecasts fourth-quarter revenue above estimates as Rubin shipments begin"),
    ],
)
def test_corpus_round2_known_titles(name: str, fmt: str, title: str) -> None:
    feed = parse_feed((BUILT / "round2" / name).read_bytes())
    assert feed.format == fmt
    assert title in [e.title for e in feed.entries]


def test_corpus_titles_match_gold() -> None:
    import json

    gold = [json.loads(line) for line in (BUILT / "gold.jsonl").read_text(encoding="utf-8").splitlines()]
    parsed: dict[str, dict[str, str]] = {}
    for path in (BUILT / "round2").iterdir():
        for e in parse_feed(path.read_bytes()).entries:
            parsed.setdefault(path.stem, {}).update({e.guid or "": e.title, e.link or "": e.title})
    # RDF items carry no guid of their own: the gold's synthetic guid is matched by link instead.
    missing = [g for g in gold if g["guid"] not in parsed[g["feed"]] and g["link"] not in parsed[g["feed"]]]
    assert not missing
    # Gold titles are cleaned ("UPDATE 1-" and similar styling removed later), so contained, not equal.
    assert all(g["title"] in parsed[g["feed"]].get(g["guid"], parsed[g["feed"]].get(g["link"], "")) for g in gold)
