"""Full text for summary-only feeds: the article of a fetched web page (fetching is the caller's job).

trafilatura finds the main text of the page (dropping navigation, comments, share bars and footers);
the result is returned in the cleaning step's shape: paragraphs separated by a blank line, in the same
tidied form as `ingest.clean.tidy` (characters as written), so it can be passed to `clean_item` as the item's content.
"""

from __future__ import annotations

from wirewatch.ingest.html import tidy

__all__ = ["MIN_CHARS", "extract_article"]

MIN_CHARS = 20


def extract_article(html: str, url: str) -> str | None:
    """The article text of a web page, paragraphs separated by blank lines; None when none is found."""
    if not html or not html.strip():
        return None
    import trafilatura  # here, not at the top: it costs ~0.3 s and 20 MB, and only full_text feeds use it

    try:
        text = trafilatura.extract(
            html,
            url=url or None,
            output_format="txt",
            include_comments=False,
            include_tables=False,
            include_images=False,
            favor_precision=True,
            deduplicate=True,
        )
    except (ValueError, TypeError, LookupError):
        return None
    if not text:
        return None
    article = tidy("\n\n".join(line for line in text.split("\n") if line.strip()))
    return article if len("".join(article.split())) >= MIN_CHARS else None
