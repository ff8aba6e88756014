"""Chat rendering for Apprise channels: formats, escaping, limits per service, templates."""

from __future__ import annotations

from typing import Any

import pytest
from apprise import Apprise, NotifyFormat
from apprise.conversion import convert_between as _convert_between

from wirewatch.alerts.apprise_channel import AppriseSender
from wirewatch.alerts.apprise_render import ELLIPSIS, ChatTemplate, render_chat, render_chat_digest
from wirewatch.alerts.apprise_targets import ChatLimits, chat_limits
from wirewatch.alerts.errors import TemplateError
from wirewatch.alerts.render import sample_payload
from wirewatch.config.models import AppriseChannel

convert_between: Any = _convert_between  # untyped in apprise
HOSTILE = "**Bold** [click](http://evil.example) <script>alert(1)</script> {{ 7*7 }} @everyone"


def payload(title: str = "腾讯控股发布财报 / トヨタ決算", text: str = "第一行。\n\n日本語の二行目。\n三行目\n四行目",
            url: str = "https://news.example/a?x=1&y=(2)", sources: list[str] | None = None) -> dict[str, Any]:
    p = sample_payload("acme")
    p["item"].update(title=title, text=text, url=url)
    p["story"]["sources"] = sources if sources is not None else ["Reuters", "Nikkei", "Caixin", "Bloomberg"]
    return p


@pytest.mark.parametrize(("fmt", "title", "body_has"), [
    ("text", "acme · Example Co · 腾讯控股发布财报 / トヨタ決算",
     ["第一行。\n日本語の二行目。\n三行目", "Sources: 4 (Reuters, Nikkei, Caixin, …)",
      "https://news.example/a?x=1&y=(2)"]),
    ("markdown", "acme · Example Co · 腾讯控股发布财报 / トヨタ決算",
     ["第一行。\n\n日本語の二行目。\n\n三行目", "Sources: 4 (Reuters, Nikkei, Caixin, …)",
      "[Read on news.example](https://news.example/a?x=1&y=%282%29)"]),
    ("html", "acme · Example Co · 腾讯控股发布财报 / トヨタ決算",
     ["第一行。<br/>\n日本語の二行目。", '<a href="https://news.example/a?x=1&amp;y=(2)">Read on news.example</a>']),
])
def test_alert_has_title_line_first_lines_sources_and_link(fmt: str, title: str, body_has: list[str]) -> None:
    got_title, body = render_chat(payload(), fmt, 4000, 250)
    assert got_title == title
    for part in body_has:
        assert part in body
    assert "四行目" not in body  # only the first lines


def test_a_service_without_title_gets_the_title_as_a_bold_first_line() -> None:
    title, body = render_chat(payload(), "markdown", 4000, 0)
    assert title == ""
    assert body.startswith("**acme · Example Co · 腾讯控股发布财报 / トヨタ決算**\n\n第一行。")


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
@pytest.mark.parametrize(("max_body", "max_title"), [(2048, 0), (300, 0), (120, 50), (1000, 250), (90, 20)])
def test_limits_are_never_exceeded(fmt: str, max_body: int, max_title: int) -> None:
    long = payload(title="长" * 500 + HOSTILE, text="\n".join(["日本語" * 400, "x" * 3000, "<&>*_" * 300]))
    title, body = render_chat(long, fmt, max_body, max_title)
    assert len(title) <= max_title and len(body) <= max_body
    assert title.endswith(ELLIPSIS) or max_title == 0
    digest_title, digest_body = render_chat_digest([long] * 50, fmt, max_body, max_title)
    assert len(digest_title) <= max_title and len(digest_body) <= max_body


def test_a_long_excerpt_is_cut_with_an_ellipsis_and_the_link_survives() -> None:
    _, body = render_chat(payload(text="日本語のテキスト" * 200), "text", 300, 100)
    assert len(body) <= 300
    assert body.endswith("https://news.example/a?x=1&y=(2)")
    excerpt = body.split("\n\n")[0]
    assert excerpt.endswith(ELLIPSIS) and excerpt.startswith("日本語のテキスト")


def test_markdown_injection_in_title_and_text_is_neutralised() -> None:
    title, body = render_chat(payload(title=HOSTILE, text=HOSTILE + "\n# heading\n- item\n1. item"),
                              "markdown", 4000, 0)
    rendered = convert_between(NotifyFormat.MARKDOWN, NotifyFormat.HTML, body)  # as Apprise renders it
    assert rendered.count("<strong>") == 1  # our bold title line, nothing from the feed
    assert "**Bold** [click](http://evil.example) &lt;script&gt;" in rendered
    assert "<script" not in rendered and "<h1>" not in rendered and "<li>" not in rendered
    assert 'href="http://evil.example"' not in rendered
    assert "{{ 7\\*7 }}" in body  # literal, never evaluated
    assert "@\u200beveryone" in body  # a mention cannot ping


def test_html_injection_is_escaped_in_html() -> None:
    title, body = render_chat(payload(title=HOSTILE, url="javascript:alert(1)"), "html", 4000, 250)
    assert "<script>" not in title and "&lt;script&gt;" in title
    assert "javascript:" not in body and "<a " not in body  # only http(s) links


def test_digest_lists_alerts_with_links_and_says_how_many_did_not_fit() -> None:
    items = [payload(title=f"Story {i}", url=f"https://news.example/{i}") for i in range(40)]
    title, body = render_chat_digest(items, "markdown", 1000, 250)
    assert title == "wirewatch digest: 40 alerts (acme)"
    assert body.startswith("• [acme · Example Co · Story 0](https://news.example/0)")
    assert body.endswith(" more") and len(body) <= 1000
    shown = body.count("• ")
    assert f"{ELLIPSIS} and {40 - shown} more" in body


@pytest.mark.parametrize(("url", "expected"), [
    ("json://127.0.0.1:8080/hook", ChatLimits("markdown", 32768, 250)),
    ("json://127.0.0.1:8080/hook?format=text", ChatLimits("text", 32768, 250)),
    ("ntfy://127.0.0.1:8080/topic", ChatLimits("text", 1090, 200)),
    ("ntfy://127.0.0.1:8080/topic?format=markdown", ChatLimits("markdown", 1090, 200)),
    ("wecombot://abcdefgh-1234", ChatLimits("text", 2048, 0)),
    ("mmost://127.0.0.1:8065/token1234", ChatLimits("text", 4000, 0)),
    ("tgram://123456789:abcdefghij/12345", ChatLimits("markdown", 4096, 0)),
    ("dingtalk://token1234abcd", ChatLimits("markdown", 19735, 250)),
    ("line://token1234/U1234567890abcdef1234567890abcdef", ChatLimits("text", 5000, 0)),
])
def test_limits_follow_each_service(url: str, expected: ChatLimits) -> None:
    AppriseSender("probe", AppriseChannel(type="apprise", urls=[url]), None)  # loads the plugins quietly
    assert chat_limits(Apprise.instantiate(url)) == expected


def test_template_values_are_data_escaped_for_the_format() -> None:
    template = ChatTemplate("**{{ alert.watchlist }}**: {{ alert.item.title }} {{ alerts }}", "chat")
    context = {"alert": payload(title=HOSTILE), "alerts": None}
    md = template.render("markdown", context, 4000)
    assert md.startswith("**acme**: \\*\\*Bold\\*\\*") and "{{ 7\\*7 }}" in md
    assert template.render("text", context, 4000).startswith("**acme**: **Bold** [click]")
    assert len(template.render("text", {"alert": payload(title="x" * 500), "alerts": None}, 100)) == 100


@pytest.mark.parametrize(("source", "message"), [
    ("{{ alert.item.title", "channel 'chat': template line 1"),
    ("{{ alert.__class__.__mro__ }}", "template failed"),
    ("{{ nothing }}", "template failed"),
])
def test_template_errors_name_the_channel(source: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        ChatTemplate(source, "chat").render("text", {"alert": payload(), "alerts": None}, 100)


def test_a_url_apprise_cannot_use_fails_at_build_time_without_showing_it() -> None:
    config = AppriseChannel(type="apprise", urls=["json://127.0.0.1/ok", "nosuchthing://s3cr3t-token@host"])
    with pytest.raises(ValueError, match=r"urls\[1\] \(nosuchthing://…\)") as info:
        AppriseSender("chat", config, None)
    assert "s3cr3t" not in str(info.value)


@pytest.mark.parametrize(("text", "escaped"), [
    ("AT&T", "AT&T"),
    ("&amp; &#169;", "\\&amp; \\&#169;"),
    ("- item", "\\- item"),
    ("  + item", "  \\+ item"),
    ("1. one", "1\\. one"),
    ("2024) year", "2024\\) year"),
    ("a_b *c* `d`", "a\\_b \\*c\\* \\`d\\`"),
    ("# h", "\\# h"),
    ("x # y - z 3.5", "x # y - z 3.5"),
    ("<@U123> <!channel> @here", "\\<\u200b@U123\\> \\<\u200b!channel\\> @\u200bhere"),
])
def test_markdown_escapes_only_what_could_become_markup(text: str, escaped: str) -> None:
    _, body = render_chat(payload(text=text), "markdown", 4000, 250)
    assert body.split("\n\n")[0] == escaped.strip()
