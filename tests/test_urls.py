"""canonical_url and entry_identity: tables of input -> expected."""

from __future__ import annotations

import pytest

from wirewatch.config.models import DEFAULT_TRACKING_PARAMS
from wirewatch.ingest.item import Entry
from wirewatch.ingest.urls import canonical_url, entry_identity


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://bz.example/a/1.html?utm_source=rss&utm_medium=feed&utm_campaign=c69",
         "https://bz.example/a/1.html"),
        ("HTTPS://News.Example.COM:443/a?id=7&fbclid=abc&b=2#frag", "https://news.example.com/a?id=7&b=2"),
        ("http://example.com:80", "http://example.com/"),
        ("http://example.com:8080/x", "http://example.com:8080/x"),
        ("https://example.com/x?b=2&a=1&UTM_Source=x", "https://example.com/x?b=2&a=1"),
        ("https://example.com/x?spm=a.b&from=rss&keep=1", "https://example.com/x?keep=1"),
        ("https://example.com/x?flag&utm_x", "https://example.com/x?flag"),
        ("https://example.com/x?q=%E4%B8%AD&q2=a+b", "https://example.com/x?q=%E4%B8%AD&q2=a+b"),
        ("https://user@Example.com/Path/Case", "https://user@example.com/Path/Case"),
        ("http://[2001:DB8::1]:80/p", "http://[2001:db8::1]/p"),
        ("  https://example.com/p?  ", "https://example.com/p"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url, DEFAULT_TRACKING_PARAMS) == expected


def test_patterns_are_only_the_given_ones() -> None:
    assert canonical_url("https://e.com/?utm_source=x&ref=y", ["ref"]) == "https://e.com/?utm_source=x"
    assert canonical_url("https://e.com/?a=1&a_b=2&ab=3", ["a_*"]) == "https://e.com/?a=1&ab=3"


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (Entry(guid=" g-1 ", link="https://e.com/a", title="t"), "g-1"),
        (Entry(guid=None, link="HTTPS://E.com/a?utm_source=rss", title="t"), "https://e.com/a"),
        (Entry(guid="", link="https://e.com/a#x", title="t"), "https://e.com/a"),
    ],
)
def test_entry_identity_prefers_guid_then_link(entry: Entry, expected: str) -> None:
    assert entry_identity(entry) == expected


def test_entry_identity_falls_back_to_a_hash_of_title_and_content() -> None:
    a = Entry(guid=None, link=None, title="Title", content="<p>body</p>")
    b = Entry(guid=None, link=None, title="Title", content="<p>other</p>")
    assert entry_identity(a).startswith("sha1:") and len(entry_identity(a)) == 45
    assert entry_identity(a) == entry_identity(Entry(guid=None, link=None, title="Title", content="<p>body</p>"))
    assert entry_identity(a) != entry_identity(b)
