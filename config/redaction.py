"""Secrets out of text: credentials in URLs, webhook secrets, tokens in query strings, auth headers.

Here, at the bottom of the import graph, so that logs (`wirewatch.logs`), stored errors
(`alerts.attempts` rows) and pages all redact alike.
"""

from __future__ import annotations

import re

__all__ = ["redact"]

_SECRET_PATTERNS = [
    (re.compile(r"(?P<pre>[a-z][a-z0-9+.-]*://)[^/@\s:]+:[^/@\s]+@", re.IGNORECASE), r"\g<pre>***:***@"),
    # user:password@host without the scheme (a URL's netloc quoted in an error message)
    (re.compile(r"(?P<pre>[\s('\"])[^\s/@:()'\"*]+:[^\s/@()'\"]+@(?=[\w\[])"), r"\g<pre>***:***@"),
    (re.compile(r"whsec_[A-Za-z0-9+/=]+"), "whsec_***"),
    (re.compile(r"(?i)(?P<k>[?&](?:token|access_token|api_key|apikey|key|secret|password|sig|signature)=)[^&\s]+"),
     r"\g<k>***"),
    (re.compile(r"(?i)(?P<k>authorization:\s*)(?:bearer|basic)?\s*\S+"), r"\g<k>***"),
]


def redact(text: str) -> str:
    """Remove credentials in URLs, webhook secrets, tokens in query strings and auth headers."""
    for pattern, repl in _SECRET_PATTERNS:
        text = pattern.sub(repl, text)
    return text
