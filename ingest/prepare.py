"""Parse and clean a fetched document, without the database: the CPU-heavy half of a poll.

`prepare_document` turns the bytes of one fetch into items with identity, raw hash and a first
cleaning pass (the feed's rules and packs; lines learned from the feed's history are the store's
business and are applied afterwards when there are any). It is pure, so it can run anywhere:
`ParsePool` runs it in worker processes, which lets parsing and cleaning use the cores that the
daemon's one interpreter cannot (the event loop and the database thread share its lock). A
hostile document that exhausts a worker costs that poll, not the daemon.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import multiprocessing
import os
import re
import signal
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from wirewatch.config.models import CleanRuleConfig, FeedConfig
from wirewatch.ingest import clean as cleaning
from wirewatch.ingest import dedupe
from wirewatch.ingest.errors import WorkerError
from wirewatch.ingest.event import AliasTable, EventSignature, event_signature
from wirewatch.ingest.item import Cleaned, Entry, Item
from wirewatch.ingest.lifetime import die_with_parent, watch_owner
from wirewatch.ingest.shortwords import stored_tokens
from wirewatch.ingest.sources import parse_document
from wirewatch.ingest.urls import canonical_url, entry_identity

log = logging.getLogger("wirewatch.ingest")

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """Text both databases can hold: NUL dropped (PostgreSQL refuses it), lone surrogates as U+FFFD.

    JSON Feed escapes (`\\u0000`, an unpaired `\\ud800`) reach us as such characters; XML cannot carry them.
    """
    if _UNSTORABLE.search(text) is None:
        return text
    return _UNSTORABLE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", text)


def make_storable(entry: Entry) -> Entry:
    """The entry with every text field `storable` (in place; returned for chaining)."""
    entry.title, entry.summary, entry.content = storable(entry.title), storable(entry.summary), storable(entry.content)
    entry.guid = storable(entry.guid) if entry.guid is not None else None
    entry.link = storable(entry.link) if entry.link is not None else None
    entry.author = storable(entry.author) if entry.author is not None else None
    entry.source = storable(entry.source) if entry.source is not None else None
    return entry


def raw_hash(entry: Entry) -> str:
    """A hash of the raw fields, to tell an edit from a repeat of the same item."""
    h = hashlib.sha256()
    for part in (entry.title, entry.summary, entry.content, entry.link or ""):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def to_item(feed: str, entry: Entry, fetched_at: datetime, tracking_params: Sequence[str]) -> Item:
    """Turn a parsed entry into an item with identity and canonical URL (nothing cleaned yet)."""
    url = canonical_url(entry.link, tracking_params) if entry.link else ""
    return Item(
        feed=feed, identity=entry_identity(entry), guid=entry.guid, url=url, title=entry.title.strip(),
        raw_summary=entry.summary, raw_content=entry.content, published_at=entry.published or fetched_at,
        fetched_at=fetched_at, source=entry.source,
    )


@dataclass(slots=True)
class Prepared:
    """One entry made ready for the store: the item, its raw hash, the first cleaning and its lines.

    `content_hash` and `signature` are those of `cleaned.text` (worked out here, off the database thread).
    """

    item: Item
    raw_hash: str
    cleaned: Cleaned
    lines: list[str]
    content_hash: str = ""
    signature: dedupe.Signature | None = None
    event: EventSignature | None = None
    search_short: str | None = None
    """The short search tokens of `cleaned.title or item.title` and `cleaned.text` (see `shortwords`)."""


@dataclass(slots=True)
class PreparedDocument:
    """A fetched document, parsed (one entry per identity, first wins) and cleaned once."""

    warning: str | None
    entries: list[Prepared]
    skipped: int = 0
    """Items of a JSON or HTML source left out for a missing required field."""


def prepare_document(feed: FeedConfig, ruleset: cleaning.Ruleset, body: bytes, headers: Mapping[str, str],
                     url: str, now: datetime, tracking_params: Sequence[str],
                     full_text: Mapping[str, str] | None = None,
                     aliases: AliasTable | None = None) -> PreparedDocument:
    """Parse `body` and clean every entry with `ruleset`; `full_text` maps a link to its fetched article.

    The article replaces the entry's content, while the raw hash stays that of the entry as the feed gave it.
    With `aliases` (the watchlists' entities), each entry's event signature is worked out here too.
    """
    parsed = parse_document(feed, body, headers, url)  # by the feed's kind: feed, JSON API or HTML page
    entries: dict[str, Entry] = {}
    for entry in parsed.entries:
        make_storable(entry)  # before identity and raw hash, so both are what the store keeps
        entries.setdefault(entry_identity(entry), entry)
    out: list[Prepared] = []
    for entry in entries.values():
        item = to_item(feed.name, entry, now, tracking_params)
        if full_text and entry.link and entry.link in full_text:
            item.raw_content = storable(full_text[entry.link])
        cleaned = cleaning.clean_item(item.title, item.raw_summary, item.raw_content, ruleset, source=entry.source)
        out.append(Prepared(item, raw_hash(entry), cleaned, cleaning.item_lines(cleaned.text),
                            dedupe.text_hash(cleaned.text) if cleaned.text else "", dedupe.signature(cleaned.text),
                            event_signature(item.title, cleaned.text, aliases) if aliases is not None else None,
                            stored_tokens(cleaned.title or item.title, cleaned.text)))
    return PreparedDocument(parsed.warning, out, parsed.skipped)


_PACKS: Mapping[str, Sequence[CleanRuleConfig]] = {}


def _start_worker(packs: Mapping[str, Sequence[CleanRuleConfig]], owner: int | None = None) -> None:
    """In a new worker: keep the packs; leave stop signals to the daemon, which ends workers as it closes.

    `owner` is the daemon's pid: the worker exits as soon as that process is gone, even if it was
    SIGKILLed and never closed the pool (see `ingest.lifetime`).
    """
    global _PACKS
    _PACKS = packs
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    die_with_parent()  # the forkserver, which itself dies with the daemon (ingest/forkserver_guard.py)
    if owner is not None:
        watch_owner(owner)


def _prepare_in_worker(feed: FeedConfig, body: bytes, headers: Mapping[str, str], url: str, now: datetime,
                       tracking_params: Sequence[str], full_text: Mapping[str, str] | None,
                       aliases: AliasTable | None = None) -> PreparedDocument:
    ruleset = cleaning.compile_ruleset(_PACKS, feed.clean, feed.name, urlsplit(feed.url).hostname or "")
    return prepare_document(feed, ruleset, body, headers, url, now, tracking_params, full_text, aliases)


def default_workers() -> int:
    """Worker processes when the config does not say: one per CPU beyond the first, at most 4."""
    return max(0, min(4, (os.cpu_count() or 1) - 1))


class ParsePool:
    """Worker processes that run `prepare_document`; started on first use, started again if one dies."""

    def __init__(self, workers: int, packs: Mapping[str, Sequence[CleanRuleConfig]]) -> None:
        self.workers, self.packs = workers, packs
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")  # no fork of a process that runs threads
            context.set_forkserver_preload(["wirewatch.ingest.forkserver_guard", "wirewatch.ingest.prepare"])
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_start_worker,
                                             initargs=(self.packs, os.getpid()))
        return self._pool

    async def prepare(self, feed: FeedConfig, body: bytes, headers: Mapping[str, str], url: str, now: datetime,
                      tracking_params: Sequence[str], full_text: Mapping[str, str] | None,
                      aliases: AliasTable | None = None) -> PreparedDocument:
        """`prepare_document` in a worker; raises WorkerError if the worker died on it."""
        pool = self._executor()
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(pool, _prepare_in_worker, feed, body, headers, url, now,
                                              list(tracking_params), dict(full_text) if full_text else None,
                                              aliases)
        except BrokenProcessPool as exc:
            if self._pool is pool:  # the next poll gets fresh workers
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
            log.error("a parse worker died on %s (%d bytes)", feed.name, len(body))
            raise WorkerError(f"the parse worker died on this document ({len(body)} bytes)") from exc

    def close(self) -> None:
        """Stop the workers after the documents they hold."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
