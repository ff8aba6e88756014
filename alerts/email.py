"""The e-mail channel: one multipart (text + HTML) message per alert or digest, over SMTP.

smtplib runs in a worker thread. Feed text is escaped in the HTML part and stripped of line
breaks and control characters wherever it reaches a header, so a title cannot add headers.
The `Message-ID` is derived from the delivery id, so a repeated send is recognisably the same mail.
Error messages name the server, never the password.
"""

from __future__ import annotations

import asyncio
import base64
import html
import re
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, parseaddr
from typing import Any

from wirewatch.alerts.errors import DeliveryError
from wirewatch.alerts.render import alert_lines, strip_controls
from wirewatch.config.clock import utcnow
from wirewatch.config.models import EmailChannel

__all__ = ["EmailSender", "build_message", "header_safe", "render_subject"]

_FIELD = re.compile(r"\{(\w+)\}")
_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u0085]+")
MAX_SUBJECT = 200


def header_safe(text: str) -> str:
    """Text fit for a header: no CR, LF or other control characters, bounded length."""
    cleaned = _HEADER_UNSAFE.sub(" ", text).strip()
    return cleaned if len(cleaned) <= MAX_SUBJECT else cleaned[: MAX_SUBJECT - 1] + "…"


def render_subject(pattern: str, fields: Mapping[str, str]) -> str:
    """Fill `{name}` fields of the configured subject; unknown fields stay as written."""
    filled = _FIELD.sub(lambda m: fields.get(m.group(1), m.group(0)), pattern)
    return header_safe(filled)


def _subject_fields(payloads: Sequence[Mapping[str, Any]], digest: bool) -> dict[str, str]:
    first = payloads[0] if payloads else {}
    item = first.get("item", {})
    watchlists = sorted({str(p.get("watchlist", "")) for p in payloads})
    return {
        "watchlist": ", ".join(watchlists),
        "title": f"digest of {len(payloads)} alerts" if digest else str(item.get("title", "")),
        "feed": "" if digest else str(item.get("feed", "")),
        "source": "" if digest else str(item.get("source") or ""),
        "count": str(len(payloads)),
        "entities": ", ".join(str(e.get("name", "")) for e in first.get("entities", [])),
    }


def _safe_href(url: str) -> str | None:
    return url if url.lower().startswith(("http://", "https://")) else None


def _html_alert(payload: Mapping[str, Any]) -> str:
    item = payload.get("item", {})
    title = html.escape(strip_controls(str(item.get("title") or "(untitled)")))
    href = _safe_href(str(item.get("url", "")))
    heading = f'<a href="{html.escape(href, quote=True)}">{title}</a>' if href else title
    rest = "".join(f"<li>{html.escape(line)}</li>" for line in alert_lines(payload)[1:])
    return (f"<h3>{html.escape(str(payload.get('watchlist', '')))}: {heading}</h3>\n"
            f"<ul>{rest}</ul>")


def _text_alert(payload: Mapping[str, Any]) -> str:
    return "\n".join(alert_lines(payload))


def build_message(config: EmailChannel, payloads: Sequence[Mapping[str, Any]], delivery_id: str,
                  digest: bool = False) -> EmailMessage:
    """The multipart message for one alert (or a digest), with a Message-ID stable per delivery."""
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["Subject"] = render_subject(config.subject, _subject_fields(payloads, digest))
    msg["From"] = header_safe(config.from_)
    msg["To"] = ", ".join(header_safe(a) for a in config.to)
    msg["Date"] = format_datetime(utcnow())
    domain = parseaddr(config.from_)[1].rpartition("@")[2] or "wirewatch.invalid"
    msg["Message-ID"] = f"<{delivery_id}@{header_safe(domain)}>"
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Wirewatch-Delivery"] = delivery_id
    head = f"wirewatch digest: {len(payloads)} alerts\n\n" if digest else ""
    msg.set_content(head + "\n\n".join(_text_alert(p) for p in payloads) + "\n")
    html_head = f"<p>wirewatch digest: {len(payloads)} alerts</p>\n" if digest else ""
    body = html_head + "\n".join(_html_alert(p) for p in payloads)
    msg.add_alternative(f"<!doctype html>\n<html><body>\n{body}\n</body></html>\n", subtype="html")
    return msg


class EmailSender:
    """A configured SMTP channel."""

    def __init__(self, name: str, config: EmailChannel, ssl_context: ssl.SSLContext | None = None) -> None:
        self.name = name
        self.config = config
        self._ssl = ssl_context

    async def send(self, payload: Mapping[str, Any], delivery_id: str) -> None:
        """Mail one alert."""
        await asyncio.to_thread(self._deliver, build_message(self.config, [payload], delivery_id))

    async def send_digest(self, payloads: Sequence[Mapping[str, Any]], delivery_id: str) -> None:
        """Mail one message listing several alerts."""
        msg = build_message(self.config, payloads, delivery_id, digest=True)
        await asyncio.to_thread(self._deliver, msg)

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    def _deliver(self, msg: EmailMessage) -> None:
        cfg = self.config
        where = f"channel {self.name!r} (SMTP {cfg.host}:{cfg.port})"
        try:
            self._transact(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = {code for code, _ in exc.recipients.values()}
            raise DeliveryError(f"{where}: every recipient refused {sorted(codes)}",
                                permanent=all(c >= 500 for c in codes)) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"{where}: login as {cfg.username!r} refused ({exc.smtp_code})") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"{where}: {self._redact(f'{type(exc).__name__}: {exc}')}") from None

    def _transact(self, msg: EmailMessage) -> None:
        cfg = self.config
        smtp: smtplib.SMTP
        if cfg.security == "tls":
            smtp = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout, context=self._context())
        else:
            smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
        with smtp:
            smtp.ehlo()
            if cfg.security == "starttls":
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if cfg.username:
                smtp.login(cfg.username, cfg.password or "")
            smtp.send_message(msg, from_addr=parseaddr(cfg.from_)[1] or cfg.from_, to_addrs=list(cfg.to))

    def _redact(self, text: str) -> str:
        password = self.config.password
        if not password:
            return text
        forms = {password, base64.b64encode(password.encode()).decode()}
        if self.config.username:
            plain = f"\0{self.config.username}\0{password}".encode()
            forms.add(base64.b64encode(plain).decode())
        for form in forms:
            text = text.replace(form, "***")
        return text
