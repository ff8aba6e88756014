"""Exceptions raised by the ingest side.

    IngestError
    ├── FetchError            a feed could not be fetched (network, HTTP status, limits)
    │   ├── HTTPStatusError   the server answered with a non-success status
    │   ├── BodyTooLargeError the body (or its decompressed form) passed the cap
    │   ├── UnsafeURLError    a URL or redirect points at a refused scheme or address
    │   ├── FetchTimeoutError connect or read timeout, or the per-fetch deadline passed
    │   ├── RedirectError     a redirect loop, too many hops, or a redirect without a target
    │   ├── IncompleteBodyError  the body ended early, overran its Content-Length, the
    │   │                     connection was reset mid-body, or it would not decompress
    │   └── ConnectError      the server could not be reached (DNS, refused, TLS)
    ├── ParseError            the bytes are not a feed we can read, or hold no entries
    │   └── SelectorError     a `select:` path or selector matched nothing on a page that loaded
    └── WorkerError           the worker process parsing a document died on it

Errors are values recorded on the feed (`last_error`, `consecutive_errors`), never
reasons for the daemon to stop.
"""

from __future__ import annotations


class IngestError(Exception):
    """Base of every error raised by `ingest`."""


class FetchError(IngestError):
    """A feed or page could not be fetched."""


class HTTPStatusError(FetchError):
    """The server answered with a status that is not a success."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class BodyTooLargeError(FetchError):
    """The body passed the configured size cap (raw or decompressed)."""


class UnsafeURLError(FetchError, ValueError):
    """A URL or redirect target uses a refused scheme or network address."""


class FetchTimeoutError(FetchError, TimeoutError):
    """Connecting or reading timed out, or the whole fetch passed its deadline."""


class RedirectError(FetchError):
    """A redirect loop, more redirects than allowed, or a redirect without a usable target."""


class IncompleteBodyError(FetchError):
    """The body did not arrive as announced: cut short, longer than Content-Length, reset, or corrupt."""


class ConnectError(FetchError, ConnectionError):
    """The server could not be reached: name resolution, refused connection or TLS failure."""


class ParseError(IngestError, ValueError):
    """The document is not a feed, or a feed without any usable entry."""


class SelectorError(ParseError):
    """A JSON path or CSS selector of a feed's `select:` matched nothing: the source changed its layout."""


class WorkerError(IngestError):
    """The worker process that was parsing and cleaning a document died (crash, memory)."""
