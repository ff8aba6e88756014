"""The console's guards: token check (bearer or basic-auth password), security headers, CSRF tokens.

Every response carries a Content-Security-Policy that allows no script at all and styles only
from the console's own stylesheet. Every form POST must carry the `csrf` field equal to the
`ww_csrf` cookie (double submit; the cookie is SameSite=Strict and HttpOnly) and, when the
browser sends one, an Origin of this host.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]
CSRF_COOKIE = "ww_csrf"
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def token_ok(header: str | None, token: str) -> bool:
    """Whether an Authorization header carries `token` as a bearer token or as the basic-auth password."""
    if not header:
        return False
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return hmac.compare_digest(value.encode(), token.encode())
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return hmac.compare_digest(decoded.partition(":")[2].encode(), token.encode())
    return False


def new_csrf() -> str:
    """A fresh CSRF token (the cookie's value, repeated in every form)."""
    return secrets.token_urlsafe(32)


def csrf_ok(cookie: str | None, submitted: str | None) -> bool:
    """Whether the form's CSRF field matches the cookie."""
    if not cookie or not submitted:
        return False
    return hmac.compare_digest(cookie.encode(), submitted.encode())


def origin_ok(origin: str | None, host: str | None) -> bool:
    """A request's Origin (when the browser sent one) must name this host."""
    if origin is None:
        return True
    if host is None:
        return False
    return origin.split("://", 1)[-1].rstrip("/") == host


class Guard:
    """ASGI middleware: refuse requests without the token (401), add the security headers to every answer."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        if self.token is not None:
            headers = dict(scope.get("headers", []))
            raw = headers.get(b"authorization")
            if not token_ok(raw.decode("latin-1") if raw else None, self.token):
                await with_headers({"type": "http.response.start", "status": 401, "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"www-authenticate", b'Basic realm="wirewatch", charset="UTF-8"')]})
                await send({"type": "http.response.body", "body": b"401: this console needs web.token "
                            b"(Authorization: Bearer TOKEN, or any user name with TOKEN as password)\n"})
                return
        await self.app(scope, receive, with_headers)
