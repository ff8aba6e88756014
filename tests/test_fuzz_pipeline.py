"""Fuzzing the pure middle of the pipeline: storable → clean → dedupe → match, on hostile Unicode.

Text is drawn from an alphabet built to hurt: CJK and kana, emoji with ZWJ and skin-tone
modifiers, combining marks, bidi controls and isolates, zero-width characters, odd line breaks,
lone surrogates and NUL (as JSON Feed escapes deliver them), HTML fragments and entities, and the
watchlist's own aliases and tickers so that matches actually happen. Properties:

- nothing raises, anywhere;
- cleaning is idempotent: the stored text, carried again HTML-escaped as a feed would, cleans to itself;
- the signature and band keys have their fixed shape; an exact copy always joins its story, and
  `dedupe.decide` never raises against any candidates;
- every mention's offsets lie inside its field, and the field's text at those offsets is the mention.
"""

from __future__ import annotations

import html

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wirewatch.alerts.match import MAX_MENTIONS, SNIPPET
from wirewatch.alerts.normalise import fold
from wirewatch.alerts.watchlist import compile_watchlists
from wirewatch.config.packs import load_packs
from wirewatch.config.watchlist import WatchlistConfig
from wirewatch.ingest import dedupe
from wirewatch.ingest.clean import clean_item, clean_text, compile_ruleset
from wirewatch.ingest.prepare import storable

RULES = compile_ruleset(load_packs())
MATCHER = compile_watchlists([WatchlistConfig.model_validate({
    "watchlist": "fuzz",
    "entities": [
        {"id": "ACME", "name": "Acme", "aliases": ["Acme", "ACME Corp", "阿克米"], "exclude": ["Acme Street"]},
        {"id": "MSFT", "name": "Microsoft", "aliases": ["Microsoft", "微软", "微軟", "マイクロソフト"],
         "tickers": ["MSFT"]},
        {"id": "NVDA", "name": "Nvidia", "aliases": ["Nvidia", "英伟达", "エヌビディア"], "tickers": ["NVDA"]},
        {"id": "700", "name": "Tencent", "aliases": ["Tencent", "腾讯"], "tickers": ["0700.HK", "600519"]},
    ],
})])

BIDI = "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u034f"
BREAKS = "\n\r\t\x0b\x0c\x85\u2028\u2029\u3000\u00a0 "
PIECES = ["Acme", "ACME Corp", "Acme Street", "阿克米", "Microsoft", "微软", "微軟", "マイクロソフト", "Nvidia",
          "英伟达", "エヌビディア", "Tencent", "腾讯", "MSFT", "$MSFT", "NASDAQ: NVDA", "(NVDA.O)", "0700.HK",
          "(00700)", "600519", "SH600519", "<p>", "</p>", "<br>", "<script>x</script>", "&amp;", "&lt;", "&#x202e;", "&#0;", "&nbsp;",
          "（来源：证券时报）", "Source: Reuters", "责任编辑：王凤", "...", "。", "，", "！", "👩🏽‍💻", "🇯🇵", "❤️", "1️⃣",
          "e\u0301", "\u0627\u0644\u0639\u0631\u0628\u064a\u0629", "\u05e2\u05d1\u05e8\u05d9\u05ea", "\ud800", "\udfff",
          "\x00", "\x1b[31m"]
CHARS = st.one_of(
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),  # CJK ideographs
    st.characters(min_codepoint=0x3040, max_codepoint=0x30FF),  # kana
    st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF),  # emoji
    st.characters(min_codepoint=0x0300, max_codepoint=0x036F),  # combining marks
    st.sampled_from(BIDI + INVISIBLE + BREAKS),
    st.characters(min_codepoint=0x20, max_codepoint=0x7E),  # ASCII
    st.characters(),  # anything else Unicode has (no surrogates: those come from PIECES)
)
TEXT = st.lists(st.one_of(st.sampled_from(PIECES), st.text(CHARS, min_size=1, max_size=12)), max_size=40).map("".join)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def pipeline_text(title: str, body: str) -> tuple[str, str]:
    """What the pipeline would match: the storable title and the cleaned storable body."""
    title = storable(title).strip()
    return title, clean_item(title, "", storable(body), RULES).text


@SETTINGS
@given(TEXT)
def test_storable_leaves_nothing_a_database_refuses(text: str) -> None:
    out = storable(text)
    assert "\x00" not in out
    out.encode("utf-8")  # no lone surrogates left
    assert storable(out) == out


@SETTINGS
@given(title=TEXT, summary=TEXT, content=TEXT)
def test_cleaning_never_raises_and_is_idempotent(title: str, summary: str, content: str) -> None:
    title = storable(title)
    result = clean_item(title, storable(summary), storable(content), RULES)
    assert result.text == result.text.strip()
    assert "\n\n\n" not in result.text
    assert not any(ch in result.text for ch in BIDI + "\x00\r")
    again = clean_item(title, "", html.escape(result.text), RULES)
    assert again.text == result.text
    assert clean_text(result.text, title, RULES).text == result.text


@SETTINGS
@given(text=TEXT, others=st.lists(TEXT, max_size=4), threshold=st.floats(0.05, 1.0), short=st.integers(0, 200))
def test_dedupe_never_raises_and_an_exact_copy_joins_its_story(text: str, others: list[str], threshold: float,
                                                                short: int) -> None:
    text = pipeline_text("", text)[1]
    sig = dedupe.signature(text)
    assert len(sig.values) == dedupe.NUM_PERM
    assert dedupe.Signature.from_bytes(sig.to_bytes()) == sig
    assert len(dedupe.band_keys(sig)) == dedupe.BANDS
    assert len(dedupe.text_hash(text)) == 64
    index = dedupe.MemoryIndex()
    for n, other in enumerate(others, start=1):
        other = pipeline_text("", other)[1]
        index.add(n, 100 + n, dedupe.signature(other), len(other))
    decision = dedupe.decide(text, sig, index.candidates(sig), threshold=threshold, short_text=short)
    assert decision.story_id is None or decision.story_id in range(101, 101 + len(others))
    assert 0.0 <= decision.score <= 1.0
    copy = dedupe.decide(text, sig, [dedupe.Candidate(7, 1, sig, len(text))], threshold=threshold, short_text=short)
    if dedupe.normalise_for_dedupe(text):
        assert copy.story_id == 7 and not copy.is_update
    # a candidate whose stored length disagrees wildly (an edited row, another scheme) must not break it
    dedupe.decide(text, sig, [dedupe.Candidate(8, 2, sig, 0), dedupe.Candidate(9, 3, sig, 10**9)],
                  threshold=threshold, short_text=short)


@SETTINGS
@given(title=TEXT, body=TEXT)
def test_mention_offsets_lie_inside_their_field(title: str, body: str) -> None:
    title, text = pipeline_text(title, body)
    assert len(fold(f"{title}\n{text}")) == len(title) + 1 + len(text)  # folding keeps offsets
    for wm in MATCHER.match(title, text):
        assert wm.watchlist == "fuzz" and wm.entities
        for entity in wm.entities:
            assert 1 <= len(entity.mentions) <= MAX_MENTIONS and entity.count >= len(entity.mentions)
            for m in entity.mentions:
                field = title if m.field == "title" else text
                assert 0 <= m.start < m.end <= len(field)
                assert field[m.start:m.end] == m.text
                assert len(m.snippet) <= len(m.text) + 2 * SNIPPET
    for candidate in MATCHER.mentions(title, text):
        field = title if candidate.field == "title" else text
        assert 0 <= candidate.start < candidate.end <= len(field)
        assert field[candidate.start:candidate.end] == candidate.text
