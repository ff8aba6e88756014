"""URL canonicalisation and entry identity, so the same article is recognised across polls.

`canonical_url` drops tracking parameters (`utm_*`, `fbclid`, … — patterns may use `*`),
lower-cases scheme and host, drops default ports and fragments, and keeps every other
parameter in its original order and spelling. `entry_identity` picks the most stable
identifier an entry has: its guid, else its canonical link, else a hash of its text.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections.abc import Sequence
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

from wirewatch.config.models import DEFAULT_TRACKING_PARAMS
from wirewatch.ingest.item import Entry

__all__ = ["canonical_url", "entry_identity"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


@lru_cache(maxsize=64)
def _tracking_matcher(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One compiled, case-insensitive regex matching any of the parameter-name patterns."""
    if not patterns:
        return re.compile(r"(?!)")
    return re.compile("|".join(fnmatch.translate(p.lower()) for p in patterns), re.IGNORECASE)


def _netloc(scheme: str, netloc: str) -> str:
    """Lower-case the host, keep user info, drop the scheme's default port."""
    userinfo, at, hostport = netloc.rpartition("@")
    host, port = hostport, ""
    if hostport.startswith("["):  # IPv6 literal
        close = hostport.find("]")
        host, port = hostport[: close + 1], hostport[close + 2 :] if close >= 0 else ""
    elif ":" in hostport:
        host, _, port = hostport.rpartition(":")
    host = host.lower().rstrip(".") if host else host
    if port and port.isdigit() and int(port) == _DEFAULT_PORTS.get(scheme):
        port = ""
    return f"{userinfo}{at}{host}{':' + port if port else ''}"


def canonical_url(url: str, tracking_params: Sequence[str]) -> str:
    """Normalise `url` and drop tracking parameters matching `tracking_params` (shell-style `*`)."""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    netloc = _netloc(scheme, parts.netloc)
    matcher = _tracking_matcher(tuple(tracking_params))
    kept = [
        pair
        for pair in parts.query.split("&")
        if pair and not matcher.fullmatch(pair.split("=", 1)[0])
    ]
    path = parts.path or ("/" if netloc else "")
    return urlunsplit((scheme, netloc, path, "&".join(kept), ""))


def entry_identity(entry: Entry, tracking_params: Sequence[str] = tuple(DEFAULT_TRACKING_PARAMS)) -> str:
    """A stable identity for an entry: its guid, else its canonical link, else `sha1:` of title + content."""
    if entry.guid and entry.guid.strip():
        return entry.guid.strip()
    if entry.link and entry.link.strip():
        return canonical_url(entry.link, tracking_params)
    digest = hashlib.sha1(f"{entry.title}\n{entry.content or entry.summary}".encode()).hexdigest()
    return f"sha1:{digest}"
