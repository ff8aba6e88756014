"""Full-text extraction from a fetched article page (summary-only feeds)."""

from __future__ import annotations

from wirewatch.ingest.clean import clean_item, compile_ruleset
from wirewatch.ingest.fulltext import extract_article

PARAS = [
    "Meta Platforms has agreed to rent tensor processing units from Google Cloud in a deal worth more than "
    "$10 billion over several years, according to three people familiar with the matter.",
    "Under the agreement, Meta will start using Google's latest-generation TPUs hosted in Google data centers "
    "in the first quarter of 2027, two of the people said.",
    "Google declined to comment. A Meta spokesperson said the company works with a range of partners to meet "
    "its compute needs and did not address the agreement directly.",
    "Analysts said the deal would make Google one of the few chip suppliers able to challenge Nvidia at scale.",
]

PAGE = f"""<!doctype html><html><head><title>Meta to rent Google TPUs | Example News</title>
<script>window.dataLayer = [];</script></head><body>
<header><nav><a href="/">Home</a> <a href="/markets">Markets</a> <a href="/tech">Technology</a></nav></header>
<main><article><h1>Meta agrees to rent Google TPUs in multibillion-dollar deal</h1>
<p class="byline">By Jane Doe, November 20, 2026</p>
{''.join(f'<p>{p}</p>' for p in PARAS)}
</article>
<aside><h3>Most read</h3><ul><li><a href="/a">Stocks rally on rate-cut hopes</a></li>
<li><a href="/b">Oil slips as supply worries ease</a></li></ul></aside></main>
<footer><p>© 2026 Example News. All rights reserved.</p><p>Terms of use | Privacy</p></footer>
</body></html>"""


def test_extract_article_returns_the_article_paragraphs() -> None:
    text = extract_article(PAGE, "https://news.example/a/meta-tpu.html")
    assert text is not None
    paragraphs = text.split("\n\n")
    for para in PARAS:
        assert para in paragraphs
    assert "Most read" not in text and "All rights reserved" not in text and "Markets" not in text


def test_extracted_text_cleans_like_feed_content() -> None:
    text = extract_article(PAGE, "https://news.example/a/meta-tpu.html")
    assert text is not None
    result = clean_item("Meta agrees to rent Google TPUs in multibillion-dollar deal", "", text, compile_ruleset({}))
    assert result.text.endswith(PARAS[-1])


def test_pages_without_an_article_give_none() -> None:
    assert extract_article("", "https://news.example/") is None
    assert extract_article("<html><body><nav><a href='/'>Home</a></nav></body></html>", "https://news.example/") is None
    assert extract_article("not html at all", "") is None
