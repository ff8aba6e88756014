"""Rendering: Slack and Discord bodies escape feed text, templates treat feed text as data, console output."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import pytest

from tests.receivers import Receiver
from wirewatch.alerts.console import ConsoleSender, format_alert
from wirewatch.alerts.errors import DeliveryError, TemplateError
from wirewatch.alerts.render import JsonTemplate, alert_lines, discord_message, sample_payload, slack_message
from wirewatch.alerts.route import build_channels, close_channels
from wirewatch.config.models import WebhookChannel

HOSTILE = '<script>alert("x")</script> & <@U123> <!channel> @everyone **bold** {{ 7*7 }}'


def payload(title: str = HOSTILE, url: str = "https://news.example/a?b=1&c=2") -> dict[str, Any]:
    data = sample_payload("acme")
    data["item"] = {**data["item"], "title": title, "url": url}
    return data


def test_slack_escapes_html_and_cannot_form_links_or_mentions() -> None:
    text = slack_message([payload()])["text"]
    assert "<script>" not in text and "<@U123>" not in text and "<!channel>" not in text
    assert "&lt;script&gt;alert(\"x\")&lt;/script&gt; &amp; &lt;@U123&gt; &lt;!channel&gt;" in text
    assert "<https://news.example/a?b=1&amp;c=2|" in text  # the one real link, escaped as Slack wants
    assert text.count("<") == 1


def test_slack_link_labels_cannot_break_out_of_the_link() -> None:
    text = slack_message([payload(title="a|b>c", url="https://x.example/p|q")])["text"]
    assert "<https://x.example/p%7Cq|a¦b&gt;c>" in text


def test_discord_neutralises_markdown_and_mentions() -> None:
    body = discord_message([payload()])
    content = body["content"]
    assert body["allowed_mentions"] == {"parse": []}
    assert "@everyone" not in content and "@\u200beveryone" in content
    assert "\\*\\*bold\\*\\*" in content and "\\<@\u200bU123\\>" in content
    assert "<https://news.example/a?b=1&c=2>" in content  # link kept, embed suppressed


@pytest.mark.parametrize("render", [slack_message, discord_message])
def test_digest_bodies_list_every_alert_and_stay_bounded(render: Any) -> None:
    body = render([payload(title=f"story {i}") for i in range(500)], digest=True)
    text = body.get("text") or body.get("content")
    assert "500 alerts" in text and "story 0" in text and len(text) <= 3000


def test_template_renders_feed_text_literally() -> None:
    template = JsonTemplate('{"msg": {{ alert.item.title | tojson }}, "n": {{ 6 * 7 }}}', "hook")
    body = json.loads(template.render_alert(payload(title="{{ 7*7 }} {% raw %}")))
    assert body == {"msg": "{{ 7*7 }} {% raw %}", "n": 42}


def test_template_html_in_feed_text_stays_valid_json() -> None:
    template = JsonTemplate('{"t": {{ item.title | tojson }}}', "hook")
    assert json.loads(template.render_alert(payload()))["t"] == HOSTILE


@pytest.mark.parametrize(("source", "message"), [
    ('{"a": {{ alert.item.title }', "template line 1"),
    ('{"a": "{{ alert.__class__.__mro__ }}"}', "template failed"),
    ('{"a": {{ alert.item.title }}}', "did not produce JSON"),
    ('{"a": {{ nothing.here | tojson }}}', "template failed"),
])
def test_bad_templates_fail_with_the_channel_named(source: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message) as caught:
        JsonTemplate(source, "hook").render_alert(payload())
    assert "'hook'" in str(caught.value)


def test_digest_template_sees_every_alert() -> None:
    template = JsonTemplate('{"count": {{ digest.count }}, "titles": {{ alerts | map(attribute="item.title")'
                            ' | list | tojson }}}', "hook")
    body = json.loads(template.render_digest([payload("a"), payload("b")], "msg_1"))
    assert body == {"count": 2, "titles": ["a", "b"]}


@pytest.mark.parametrize(("options", "key"), [
    ({"format": "slack"}, "text"), ({"format": "discord"}, "content"),
    ({"template": '{"headline": {{ alert.item.title | tojson }}}'}, "headline"),
])
def test_webhook_formats_reach_the_receiver(receiver: Receiver, options: dict[str, str], key: str) -> None:
    configs = {"hook": WebhookChannel.model_validate({"type": "webhook", "url": receiver.url, **options})}

    async def go() -> None:
        channels = build_channels(configs)
        try:
            await channels["hook"].send(payload(), "msg_01X")
        finally:
            await close_channels(channels)

    asyncio.run(go())
    [body] = receiver.bodies()
    if key == "headline":
        assert body == {"headline": HOSTILE}
    else:
        assert "<script>" not in body[key] and "Example Co" in body[key]


def test_a_template_that_breaks_at_send_time_is_a_permanent_failure(receiver: Receiver) -> None:
    configs = {"hook": WebhookChannel(type="webhook", url=receiver.url, template='{"x": {{ alert.item.nope }}}')}

    async def go() -> None:
        channels = build_channels(configs)
        try:
            await channels["hook"].send(payload(), "msg_01X")
        finally:
            await close_channels(channels)

    with pytest.raises(DeliveryError) as caught:
        asyncio.run(go())
    assert caught.value.permanent and receiver.requests == []


def test_a_template_that_does_not_compile_fails_when_channels_are_built() -> None:
    with pytest.raises(TemplateError, match="'hook'"):
        build_channels({"hook": WebhookChannel(type="webhook", url="http://127.0.0.1:9/", template="{% if %}")})


def test_console_prints_a_readable_block_without_terminal_escapes() -> None:
    stream = io.StringIO()
    data = payload(title="Acme \x1b[31mred\x1b[0m beats")
    asyncio.run(ConsoleSender("console", stream).send(data, "msg_1"))
    out = stream.getvalue()
    assert out.startswith("== ALERT acme: Acme [31mred[0m beats") and "\x1b" not in out
    assert "Link: https://news.example/a?b=1&c=2" in out
    assert format_alert({**data, "type": "alert.updated"}).startswith("== UPDATED")
    assert alert_lines(data)[1] == "Entities: Example Co"
