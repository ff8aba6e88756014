"""The e-mail channel against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.helpers import free_port
from tests.test_outbox_helpers import deliver_pass, make_item, make_match, make_story
from wirewatch.alerts.create import create_alerts
from wirewatch.alerts.email import EmailSender, header_safe, render_subject
from wirewatch.alerts.errors import DeliveryError
from wirewatch.alerts.outbox import Outbox
from wirewatch.alerts.render import sample_payload
from wirewatch.alerts.route import build_channels
from wirewatch.config.models import EmailChannel, RetryConfig

QUICK = RetryConfig(schedule=[0.001, 0.001, 0.001])


class Inbox:
    """An aiosmtpd handler that keeps every envelope."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 OK"

    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(e.content, policy=policy.default) for e in self.envelopes]


def email_config(port: int, **extra: Any) -> EmailChannel:
    return EmailChannel.model_validate({"type": "email", "host": "127.0.0.1", "port": port, "security": "none",
                                        "from": "Wirewatch <alerts@example.com>", "to": ["desk@example.com"],
                                        "timeout": "5s", **extra})


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def payload(title: str = "Acme Corp beats estimates", url: str = "https://news.example/1") -> dict[str, Any]:
    data = sample_payload("acme")
    data["item"] = {**data["item"], "title": title, "url": url}
    return data


def send(config: EmailChannel, data: dict[str, Any], delivery_id: str = "msg_01TEST",
         context: ssl.SSLContext | None = None) -> None:
    asyncio.run(EmailSender("mail", config, context).send(data, delivery_id))


def test_an_alert_arrives_as_multipart_text_and_html(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    send(email_config(port), payload())
    [envelope] = inbox.envelopes
    assert envelope.mail_from == "alerts@example.com" and envelope.rcpt_tos == ["desk@example.com"]
    [msg] = inbox.messages()
    assert msg["Subject"] == "[wirewatch] acme: Acme Corp beats estimates"
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "https://news.example/1" in text and "Example Co" in text


def test_the_message_id_is_stable_per_delivery(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    send(email_config(port), payload(), "msg_01AAA")
    send(email_config(port), payload(), "msg_01AAA")  # a resend after a crash
    send(email_config(port), payload(), "msg_01BBB")
    assert [m["Message-ID"] for m in inbox.messages()] == [
        "<msg_01AAA@example.com>", "<msg_01AAA@example.com>", "<msg_01BBB@example.com>"]


def test_feed_text_is_escaped_in_html(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    send(email_config(port), payload('<script>alert(1)</script> & "Q3"', url="javascript:alert(1)"))
    html = inbox.messages()[0].get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Q3&quot;" in html
    assert "href" not in html  # a javascript: URL is not linked


def test_a_title_with_crlf_cannot_add_headers(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    send(email_config(port), payload("Hi\r\nBcc: evil@example.net\r\nX-Injected: 1"))
    [envelope] = inbox.envelopes
    [msg] = inbox.messages()
    assert envelope.rcpt_tos == ["desk@example.com"]
    assert msg["Bcc"] is None and msg["X-Injected"] is None
    assert msg["Subject"] == "[wirewatch] acme: Hi Bcc: evil@example.net X-Injected: 1"


@pytest.mark.parametrize(("pattern", "fields", "expected"), [
    ("[wirewatch] {watchlist}: {title}", {"watchlist": "a", "title": "b\nc"}, "[wirewatch] a: b c"),
    ("{title} {unknown} {0}", {"title": "t"}, "t {unknown} {0}"),
    ("{watchlist.__class__}", {"watchlist": "w"}, "{watchlist.__class__}"),
])
def test_subject_patterns(pattern: str, fields: dict[str, str], expected: str) -> None:
    assert render_subject(pattern, fields) == expected


def test_header_safe_bounds_length_and_drops_controls() -> None:
    assert header_safe("a\u2028b\x00c\rd") == "a b c d"
    assert len(header_safe("x" * 1000)) == 200


def test_smtp_down_then_up_is_delivered_on_retry(engine: Engine) -> None:
    port = free_port()
    configs = {"mail": email_config(port)}
    with Session(engine) as session:
        create_alerts(session, make_item(1), make_story(1), [make_match()], {"acme": ["mail"]})
        session.commit()
    outbox = Outbox(engine, "w", QUICK, channels=configs)
    channels = build_channels(configs)
    assert asyncio.run(deliver_pass(outbox, channels))["retrying"] == 1
    [delivery] = outbox.list_deliveries()
    assert "SMTP 127.0.0.1" in (delivery.last_error or "")
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        asyncio.run(asyncio.sleep(0.01))
        assert asyncio.run(deliver_pass(outbox, channels))["delivered"] == 1
    finally:
        controller.stop()
    [msg] = inbox.messages()
    assert msg["Message-ID"] == f"<{delivery.message_id}@example.com>"
    assert outbox.list_deliveries()[0].attempts == 2


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"right-horse"
    return AuthResult(success=ok, handled=False)


def test_login_and_a_refused_password_is_not_echoed() -> None:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=_authenticator,
                            auth_require_tls=False)
    controller.start()
    try:
        send(email_config(port, username="bot", password="right-horse"), payload())
        assert len(inbox.envelopes) == 1
        with pytest.raises(DeliveryError) as caught:
            send(email_config(port, username="bot", password="wrong-battery-staple"), payload())
        assert "wrong-battery-staple" not in str(caught.value) and "login as 'bot' refused" in str(caught.value)
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_starttls_and_implicit_tls(certificate: tuple[Path, Path], security: str) -> None:
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    client_tls = ssl.create_default_context(cafile=str(cert))
    inbox, port = Inbox(), free_port()
    if security == "starttls":
        controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=server_tls,
                                require_starttls=True)
    else:
        controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=server_tls)
    controller.start()
    try:
        send(email_config(port, security=security), payload(), context=client_tls)
        with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            send(email_config(port, security=security), payload())  # the system store does not trust it
    finally:
        controller.stop()
    assert len(inbox.envelopes) == 1
