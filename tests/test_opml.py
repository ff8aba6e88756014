"""OPML import and export, and `feeds_files:` (the feeds file an import writes, included from the config)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from wirewatch.cli import main
from wirewatch.config import ConfigError, load_config
from wirewatch.config.errors import OpmlError
from wirewatch.config.opml import MAX_OPML_BYTES, Outline, feed_name, parse_opml, plan_import, to_opml

NESTED = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My subscriptions</title></head>
  <body>
    <outline text="Markets" title="Markets">
      <outline type="rss" text="Reuters Business" title="Reuters Business" xmlUrl="https://example.com/reuters.xml"/>
      <outline text="Asia">
        <outline type="rss" text="\xe6\x96\xb0\xe6\xb5\xaa\xe8\xb4\xa2\xe7\xbb\x8f" xmlUrl="https://finance.sina.com.cn/rss/roll.xml"/>
        <outline type="rss" text="Nikkei &amp; Asia" xmlurl="https://asia.example.org/feed"/>
      </outline>
    </outline>
    <outline type="rss" text="Reuters Business" xmlUrl="https://example.com/reuters.xml/"/>
    <outline type="rss" title="Caf\xc3\xa9 de la Bourse" xmlUrl="http://bourse.example.fr/rss"/>
    <outline type="rss" text="Newsletter" xmlUrl="feed://old.example/rss"/>
    <outline type="rss" text="" xmlUrl="https://www.ft.example/markets?format=rss"/>
  </body>
</opml>
"""


def test_nested_outlines_are_read_in_order_with_their_folders() -> None:
    assert parse_opml(NESTED) == [
        Outline("https://example.com/reuters.xml", "Reuters Business", ("Markets",)),
        Outline("https://finance.sina.com.cn/rss/roll.xml", "新浪财经", ("Markets", "Asia")),
        Outline("https://asia.example.org/feed", "Nikkei & Asia", ("Markets", "Asia")),
        Outline("https://example.com/reuters.xml/", "Reuters Business"),
        Outline("http://bourse.example.fr/rss", "Café de la Bourse"),
        Outline("feed://old.example/rss", "Newsletter"),
        Outline("https://www.ft.example/markets?format=rss", ""),
    ]


def test_plan_derives_unique_names_and_reports_every_skip() -> None:
    plan = plan_import(parse_opml(NESTED), [("reuters-business", "https://other.example/x"),
                                            ("bourse", "HTTP://Bourse.example.fr/rss")])
    assert plan.feeds == [
        ("reuters-business-2", "https://example.com/reuters.xml"),  # the name is taken by another feed
        ("finance-sina-com-cn", "https://finance.sina.com.cn/rss/roll.xml"),  # no Latin title: from the host
        ("nikkei-asia", "https://asia.example.org/feed"),
        ("ft-example", "https://www.ft.example/markets?format=rss"),
    ]
    assert plan.skipped == [
        ("https://example.com/reuters.xml/", "a repeat in this file (imported as reuters-business-2)"),
        ("http://bourse.example.fr/rss", "already configured as bourse"),
        ("feed://old.example/rss", "not an http:// or https:// URL"),
    ]


@pytest.mark.parametrize(("title", "url", "taken", "expected"), [
    ("Reuters: Business News", "https://x.example/f", set(), "reuters-business-news"),
    ("Café de la Bourse", "https://x.example/f", set(), "cafe-de-la-bourse"),
    ("日本経済新聞", "https://www.nikkei.example/rss", set(), "nikkei-example"),
    ("---", "https://feeds.example/rss", set(), "feeds-example"),
    ("日本", "not a url", set(), "feed"),
    ("Markets", "https://x.example/f", {"markets", "markets-2"}, "markets-3"),
    ("A" * 80, "https://x.example/f", set(), "a" * 60),
    ("A" * 80, "https://x.example/f", {"a" * 60}, "a" * 58 + "-2"),
])
def test_feed_names_fit_the_name_rule(title: str, url: str, taken: set[str], expected: str) -> None:
    assert feed_name(title, url, taken) == expected


HOSTILE = [
    ("billion laughs", b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
     b'<opml version="2.0"><body><outline text="&b;" xmlUrl="https://x.example/f"/></body></opml>', "refused: "),
    ("external entity", b'<?xml version="1.0"?><!DOCTYPE opml SYSTEM "file:///etc/passwd">'
     b'<opml version="2.0"><body/></opml>', "refused: the document declares a DTD"),
    ("parameter entity", b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY % p SYSTEM "http://127.0.0.1/x"> %p;]>'
     b'<opml version="2.0"/>', "refused: "),
    ("not OPML", b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>', "the root element is <rss>"),
    ("malformed", b'<opml version="2.0"><body><outline xmlUrl="https://x.example/f"></body></opml>',
     "not well-formed XML: mismatched tag at line 1"),
    ("empty", b"", "not well-formed XML"),
    ("too large", b"<opml>" + b" " * MAX_OPML_BYTES + b"</opml>", "refused: the file is larger than 10 MiB"),
]


@pytest.mark.parametrize(("case", "data", "message"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_or_broken_opml_is_refused(case: str, data: bytes, message: str) -> None:
    with pytest.raises(OpmlError) as err:
        parse_opml(data)
    assert message in str(err.value), case


def test_export_escapes_and_parses_back() -> None:
    feeds = [("a-b", "https://x.example/f?a=1&b=<2>"), ("quote", 'https://y.example/"q"')]
    text = to_opml(feeds)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">')
    assert [(o.title, o.url) for o in parse_opml(text.encode())] == feeds


CONFIG = """\
database: sqlite:///w.db
feeds:
  - name: own
    url: https://own.example/feed.xml
"""


def write_config(tmp: Path, text: str = CONFIG) -> Path:
    path = tmp / "wirewatch.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_import_writes_an_included_feeds_file_that_check_accepts(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    opml = tmp_path / "subs.opml"
    opml.write_bytes(NESTED.replace(b"https://example.com/reuters.xml/", b"https://own.example/feed.xml")
                     + b"")
    assert main(["--config", str(config), "feeds", "import", str(opml)]) == 0
    out = capsys.readouterr()
    assert "imported 5 feeds into" in out.out
    assert "skipped https://own.example/feed.xml: already configured as own" in out.err
    assert "skipped feed://old.example/rss: not an http:// or https:// URL" in out.err
    assert 'feeds_files: ["feeds.yaml"]' in config.read_text(encoding="utf-8")
    loaded = load_config(config)
    assert [f.name for f in loaded.config.feeds] == ["own", "reuters-business", "finance-sina-com-cn", "nikkei-asia",
                                                     "cafe-de-la-bourse", "ft-example"]
    assert main(["--config", str(config), "check"]) == 0
    before = (tmp_path / "feeds.yaml").read_text(encoding="utf-8")
    capsys.readouterr()
    assert main(["--config", str(config), "feeds", "import", str(opml)]) == 0  # again: nothing new
    assert "nothing to import" in capsys.readouterr().out
    assert (tmp_path / "feeds.yaml").read_text(encoding="utf-8") == before
    assert config.read_text(encoding="utf-8").count("feeds_files:") == 1


def test_import_skips_private_addresses_unless_allowed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    opml = tmp_path / "subs.opml"
    opml.write_text(to_opml([("lan", "http://192.168.0.9/rss"), ("pub", "https://pub.example/rss")]), encoding="utf-8")
    assert main(["--config", str(config), "feeds", "import", str(opml)]) == 0
    assert ("skipped http://192.168.0.9/rss: 192.168.0.9 is a private address, and fetch.allow_private_networks "
            "is false") in capsys.readouterr().err
    assert [f.name for f in load_config(config).config.feeds] == ["own", "pub"]


def test_import_refuses_hostile_opml_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    opml = tmp_path / "bad.opml"
    opml.write_bytes(HOSTILE[0][1])
    assert main(["--config", str(config), "feeds", "import", str(opml)]) == 2
    assert "refused: the document declares a DTD" in capsys.readouterr().err
    assert not (tmp_path / "feeds.yaml").exists() and "feeds_files" not in config.read_text(encoding="utf-8")


def test_import_of_a_missing_file_says_it_cannot_read_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    missing = tmp_path / "nowhere.opml"
    assert main(["--config", str(config), "feeds", "import", str(missing)]) == 2
    assert f"error: cannot read {missing}: No such file or directory" in capsys.readouterr().err


def test_export_then_import_round_trips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "a"
    source.mkdir()
    (source / "more.yaml").write_text("feeds:\n  - {name: extra, url: 'https://extra.example/rss', interval: 2m}\n",
                                      encoding="utf-8")
    config = write_config(source, CONFIG + "  - {name: second, url: 'https://s.example/f?x=1&y=2'}\n"
                          "feeds_files: [more.yaml]\n")
    assert main(["--config", str(config), "feeds", "export"]) == 0
    exported = capsys.readouterr().out
    target = tmp_path / "b"
    target.mkdir()
    fresh = write_config(target, "database: sqlite:///w.db\n")
    (target / "subs.opml").write_text(exported, encoding="utf-8")
    assert main(["--config", str(fresh), "feeds", "import", str(target / "subs.opml")]) == 0
    original = [(f.name, f.url) for f in load_config(config).config.feeds]
    assert original == [("own", "https://own.example/feed.xml"), ("second", "https://s.example/f?x=1&y=2"),
                        ("extra", "https://extra.example/rss")]
    assert [(f.name, f.url) for f in load_config(fresh).config.feeds] == original


def test_import_merges_into_an_existing_feeds_file_keeping_its_settings(tmp_path: Path) -> None:
    config = write_config(tmp_path, CONFIG + "feeds_files: [feeds.yaml]\n")
    (tmp_path / "feeds.yaml").write_text(
        "feeds:\n  - {name: kept, url: 'https://kept.example/rss', interval: 2m, full_text: true}\n",
        encoding="utf-8")
    opml = tmp_path / "subs.opml"
    opml.write_text(to_opml([("kept", "https://kept.example/rss"), ("new", "https://new.example/rss")]),
                    encoding="utf-8")
    assert main(["--config", str(config), "feeds", "import", str(opml)]) == 0
    feeds = {f.name: f for f in load_config(config).config.feeds}
    assert sorted(feeds) == ["kept", "new", "own"]
    assert feeds["kept"].interval == 120 and feeds["kept"].full_text


def test_import_into_an_empty_included_feeds_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, CONFIG + "feeds_files: [feeds.yaml]\n")
    (tmp_path / "feeds.yaml").write_text("feeds: []\n", encoding="utf-8")
    opml = tmp_path / "subs.opml"
    opml.write_text(to_opml([("new", "https://new.example/rss")]), encoding="utf-8")
    assert main(["--config", str(config), "feeds", "import", str(opml)]) == 0
    assert "note:" not in capsys.readouterr().err
    assert [f.name for f in load_config(config).config.feeds] == ["own", "new"]


def test_feeds_file_problems_name_that_file_and_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, CONFIG + "feeds_files: [feeds/*.yaml]\n")
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "x.yaml").write_text(
        "feeds:\n  - name: ok\n    url: https://ok.example/f\n  - name: own\n    url: https://dup.example/f\n"
        "  - name: lan\n    url: http://10.1.2.3/rss\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(config)
    messages = [str(p).replace(str(tmp_path) + "/", "") for p in err.value.problems]
    assert "feeds/x.yaml:4: feeds[1].name: feed name 'own' is used twice; names must be unique" in messages
    assert any(m.startswith("feeds/x.yaml:7: feeds[2].url: 10.1.2.3 is a private address") for m in messages)
    (tmp_path / "feeds" / "x.yaml").write_text("feeds:\n  - name: ok\n    urll: https://ok.example/f\n",
                                               encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(config)
    assert "feeds/x.yaml:3: feeds[0].urll: unknown key 'urll'; did you mean 'url'?" in [
        str(p).replace(str(tmp_path) + "/", "") for p in err.value.problems]
    (tmp_path / "feeds" / "x.yaml").unlink()
    with pytest.raises(ConfigError) as err:
        load_config(config)
    assert "matches no file" in str(err.value)
