"""HTML fragments to text, and the normal form."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wirewatch.ingest.html import html_to_text, nfkc, normalise


@pytest.mark.parametrize(
    ("fragment", "text"),
    [
        ("<p>One</p><p>Two</p>", "One\n\nTwo"),
        ("<div>One<br>two<br/>three</div>", "One\ntwo\nthree"),
        ("<p>a <b>bold</b> and <a href='x'>link</a></p>", "a bold and link"),
        ("Lead text<p>Para</p>tail", "Lead text\n\nPara\n\ntail"),
        ("<p>AT&amp;T &lt;b&gt; &#25105; &eacute;t&eacute;&nbsp;ok</p>", "AT&T <b> 我 été ok"),  # runs of any whitespace, nbsp included, are one space
        ("<p>x</p><script>alert(1)</script><style>p{}</style><iframe src='ad'></iframe><p>y</p>", "x\n\ny"),
        ("<p>Body</p><img src='https://pixel.example/t.gif' width='1' height='1'><p>More</p>", "Body\n\nMore"),
        ("<p>Body</p><div class=\"feedflare\"><a href=\"http://feeds.feedburner.com/~ff/x?a=1\">"
         "<img src=\"http://feeds.feedburner.com/~ff/x?d=2\"></a></div>", "Body"),
        ("<p>Body <a href='http://feeds.feedburner.com/~a/x'>Ad</a></p>", "Body"),
        ("<ul><li>one</li><li>two</li></ul>", "one\n\ntwo"),
        ("<p>  spaced\n   out  </p>", "spaced out"),
        ("<pre>line 1\nline 2</pre>", "line 1\nline 2"),
        ("<p>unclosed<p>second", "unclosed\n\nsecond"),
        ("<!-- note --><p>kept</p>", "kept"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_html_to_text(fragment: str, text: str) -> None:
    assert html_to_text(fragment) == text


@pytest.mark.parametrize(
    ("plain", "text"),
    [
        ("one\ntwo", "one\n\ntwo"),  # no blank line: each line is a paragraph (the seed article)
        ("one\ntwo\n\nthree", "one\ntwo\n\nthree"),  # blank lines separate paragraphs
        ("a &amp; b", "a & b"),
        ("x < y and y > z", "x < y and y > z"),
        ("line\r\nnext", "line\n\nnext"),
    ],
)
def test_a_fragment_without_tags_is_plain_text(plain: str, text: str) -> None:
    assert html_to_text(plain) == text


def test_deeply_nested_html_does_not_recurse() -> None:
    assert html_to_text("<div>" * 5000 + "deep" + "</div>" * 5000) == "deep"


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("ＡＢＣ１２３，（全角）！", "ABC123,(全角)!"),
        ("\u3000\u3000段落开头", "段落开头"),
        ("zero\u200bwidth\ufeff joiner\u200d", "zerowidth joiner"),
        ("a  \t b\xa0\xa0c", "a b c"),
        ("p1\n\n\n\np2\n  \np3", "p1\n\np2\n\np3"),
        ("line1\nline2", "line1\nline2"),
        ("ｶﾀｶﾅ", "カタカナ"),
        ("e\u0301", "é"),
    ],
)
def test_normalise(raw: str, normal: str) -> None:
    assert normalise(raw) == normal


@given(st.text())
def test_fast_nfkc_equals_unicodedata(text: str) -> None:
    assert nfkc(text) == unicodedata.normalize("NFKC", text)


@given(st.text(alphabet=st.characters(min_codepoint=0x3000, max_codepoint=0xFFEF)))
def test_fast_nfkc_equals_unicodedata_on_cjk_and_wide_forms(text: str) -> None:
    assert nfkc(text) == unicodedata.normalize("NFKC", text)
