"""The ingest pipeline on one screen: `Pipeline.stages` lists a poll's stages, `store_document` the database's.

fetch (event loop) → prepare: parse, first clean, content hash, MinHash and event signatures (a
worker process when `parse_workers` > 0, pure) → on the database thread: skip entries stored
unchanged → finish cleaning with the feed's learned boilerplate → signatures of text cleaned again
→ match (the sink's pure half, before the story lock) → store the items in their stories
(`storystore.store_new_items`, which takes the story lock) → record matches and alerts (the sink's
other half) → one commit → the report. The composition root plugs matching and alerts in as the
`sink` (`wirewatch.app.AlertSink`); ingest never imports alerts.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import Session

from wirewatch.config.clock import utcnow
from wirewatch.config.models import CleanRuleConfig, Config, FeedConfig
from wirewatch.ingest import clean as cleaning
from wirewatch.ingest import dedupe
from wirewatch.ingest.boilerplate import UNLEARN_WINDOW, unlearn_boilerplate
from wirewatch.ingest.errors import FetchError, HTTPStatusError, IngestError, ParseError
from wirewatch.ingest.event import AliasTable, EventSignature, event_signature
from wirewatch.ingest.feedstore import known_entries, stored_items
from wirewatch.ingest.fetch import Fetcher, FetchResult
from wirewatch.ingest.item import Cleaned, Item, PollReport, StoryRef
from wirewatch.ingest.prepare import ParsePool, Prepared, PreparedDocument, prepare_document
from wirewatch.ingest.sources import parse_document
from wirewatch.ingest.store import (
    Known,
    LearnedRule,
    add_history,
    feed_history,
    known_items,
    learned_rules,
)
from wirewatch.ingest.storystore import BandTail, store_new_items, update_item
from wirewatch.ingest.urls import entry_identity

log = logging.getLogger("wirewatch.ingest")
DATABASE_UNAVAILABLE = "database unavailable"  # how a poll report's error starts when the store could not run
T = TypeVar("T")

MAX_RETRY_AFTER = 86400.0
"""Longest a feed server's Retry-After is honoured (seconds) when `fetch.max_backoff` is shorter."""

def _fields(**values: object) -> dict[str, object]:
    """`extra=` for a log call: the structured fields `wirewatch.logs` puts in JSON lines (None dropped)."""
    return {"fields": {k: v for k, v in values.items() if v is not None}}


M = TypeVar("M")


class Sink(Protocol[M]):
    """What the composition root does with each stored item (`wirewatch.app.AlertSink`: watchlists, alerts).

    Decide, then write: `match` is pure and runs before the story transaction; `record` runs inside
    the transaction that stored the item (new or materially edited), once the story is known.
    """

    def match(self, item: Item) -> M:
        """What the item's cleaned title and text decide (its watchlist matches); no database."""
        ...

    def record(self, session: Session, item: Item, story: StoryRef, matched: M) -> None:
        """Write what `match` decided for the item stored in `story` (matches, alerts), in the caller's transaction."""
        ...


class DatabaseRunner(Protocol):
    """Where async code runs blocking database work (`wirewatch.gateway.Gateway`: one writer thread on SQLite)."""

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(*args, **kwargs)` on the database threads and wait for its result."""


Rematch = Callable[[Session, Item, StoryRef], None]
"""Called by `reprocess` for each stored item it cleaned again, in its transaction (match again; alert if asked)."""


@dataclass
class Pipeline:
    """Runs polls for the daemon and `wirewatch poll`; owns no global state besides its collaborators."""

    engine: Engine
    config: Config
    cleaner: Cleaner
    db: DatabaseRunner
    """Where the database stages run: the composition root's gateway (`wirewatch.gateway.Gateway`)."""
    sink: Sink[Any] | None = None
    """Matches and alerts (the composition root's, `wirewatch.app.AlertSink`): decided before the story lock, recorded in."""
    rematch: Rematch | None = None
    """What `reprocess` calls for the feed's earlier items cleaned again after learning boilerplate (never alerts)."""
    tail: BandTail = field(default_factory=BandTail)
    parse_pool: ParsePool | None = None
    aliases: AliasTable | None = None
    """The watchlists' entities for event signatures (`ingest.event`), set by the composition root."""
    _slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = field(default=None, init=False, repr=False)

    async def poll(self, fetcher: Fetcher, feed: FeedConfig, etag: str | None = None,
                   last_modified: str | None = None) -> PollReport:
        """Fetch one feed and process what it holds; every failure becomes a report, never an exception."""
        async with self.documents_in_flight():
            started, report = time.monotonic(), PollReport(feed=feed.name, status="error")
            try:
                await self.stages(fetcher, feed, etag, last_modified, report)
            except Exception as exc:  # one broken feed must never stop the daemon
                failed(report, exc)
            return self.finish(report, started)

    async def stages(self, fetcher: Fetcher, feed: FeedConfig, etag: str | None, last_modified: str | None,
                     report: PollReport) -> None:
        """One poll, stage by stage; the comment says where each runs (`store_document` lists the last ones)."""
        fetched = await self.fetch(fetcher, feed, etag, last_modified, report)  # event loop: conditional GET, caps
        if fetched is None:  # 304: nothing new
            return
        pages = await self.full_text(fetcher, feed, fetched) if feed.full_text else {}  # event loop: articles
        now = utcnow()
        doc = await self.prepare(feed, fetched, pages, now)  # worker process (or database thread): parse, clean once
        await self.run_db(self.store_document, feed, doc, now, report)  # database thread: clean … record, one commit
        report.status, report.etag, report.last_modified = "ok", fetched.etag, fetched.last_modified

    def store_document(self, feed: FeedConfig, doc: PreparedDocument, now: datetime, report: PollReport) -> None:
        """The database thread's stages for a prepared document; entries stored unchanged are skipped."""
        fresh = self.unseen(feed, doc, report)  # database, reading: entries new or edited since stored
        if not fresh:
            return
        sink = self.sink  # one wiring for the whole batch, though a reload swaps it meanwhile
        with Session(self.engine) as session:
            batch = self.cleaner.clean_batch(session, feed, [p for p, _ in fresh])  # learned boilerplate, history
            report.removed_lines += sum(len(c.removed) for c in batch.results)
            signatures, events = self.signatures(fresh)  # here only for text cleaned again, else the worker's
            matched = [sink.match(p.item) if sink is not None else None for p, _ in fresh]  # pure, before the story lock
            stories = self.store_stories(session, fresh, signatures, events, now)  # story lock held until commit
            self.record(session, sink, feed, fresh, stories, matched, report)  # matches and alerts written
            session.commit()
        if batch.learned:  # the feed's earlier items still hold the newly learned lines
            self.reclean(feed, len(batch.learned))

    async def run_db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking database work through the gateway (its threads: one writer on SQLite)."""
        return await self.db.run(fn, *args, **kwargs)

    def close(self) -> None:
        """Stop the parse workers (the gateway's threads are its owner's to stop)."""
        if self.parse_pool is not None:
            self.parse_pool.close()

    def documents_in_flight(self) -> asyncio.Semaphore:
        """This event loop's bound on polls between the start of a fetch and the end of storing it.

        Fetching is faster than storing; without a bound, a pass over many feeds holds every
        fetched body and prepared batch in memory while they queue for the database thread.
        Twice the fetch concurrency keeps the fetcher and the database thread both busy.
        """
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(2 * self.config.fetch.concurrency))
        return self._slots[1]

    async def fetch(self, fetcher: Fetcher, feed: FeedConfig, etag: str | None, last_modified: str | None,
                    report: PollReport) -> FetchResult | None:
        """Fetch the feed (conditional GET); None when the server answered 304 Not Modified."""
        result = await fetcher.fetch(feed.url, etag=etag, last_modified=last_modified, headers=feed.headers)
        report.http_status, report.bytes, report.retry_after = result.status, result.bytes_read, result.retry_after
        if result.not_modified:
            report.status, report.etag, report.last_modified = "not-modified", etag, last_modified
            return None
        return result

    async def prepare(self, feed: FeedConfig, fetched: FetchResult, pages: Mapping[str, str],
                      now: datetime) -> PreparedDocument:
        """Parse the document and clean each entry once (`pages`: a summary-only feed's articles by link).

        In a parse worker process when there are any, else on the database thread; also works out
        each entry's content hash, MinHash and event signatures and search tokens.
        """
        aliases, tracking = self.aliases or AliasTable(), self.config.fetch.tracking_params
        if self.parse_pool is not None:
            return await self.parse_pool.prepare(feed, fetched.body, fetched.headers, fetched.url, now, tracking,
                                                 pages, aliases)
        return await self.run_db(lambda: prepare_document(feed, self.cleaner.compiled(feed), fetched.body,
                                                          fetched.headers, fetched.url, now, tracking, pages, aliases))

    async def full_text(self, fetcher: Fetcher, feed: FeedConfig, result: FetchResult) -> dict[str, str]:
        """Summary-only feeds: fetch each new entry's page and use the extracted article as content."""
        from wirewatch.ingest.fulltext import extract_article

        parsed = parse_document(feed, result.body, result.headers, result.url)
        known = await self.run_db(known_entries, self.engine, feed.name, [entry_identity(e) for e in parsed.entries])
        pages: dict[str, str] = {}
        for entry in parsed.entries:
            if entry_identity(entry) in known or not entry.link:
                continue
            try:
                page = await fetcher.fetch(entry.link)
                article = extract_article(page.body.decode("utf-8", "replace"), entry.link)
            except (FetchError, ValueError) as exc:
                log.warning("full text failed for %s: %s", entry.link, exc, extra=_fields(feed=feed.name, url=entry.link))
                continue
            if article:
                pages[entry.link] = article
        return pages

    def unseen(self, feed: FeedConfig, doc: PreparedDocument, report: PollReport) -> list[tuple[Prepared, Known | None]]:
        """The entries not stored as they are now, each with what is stored of it (None: a new item)."""
        report.warning, report.skipped = doc.warning, doc.skipped
        if doc.warning:
            log.info("feed %s parsed with a warning: %s", feed.name, doc.warning, extra=_fields(feed=feed.name))
        with Session(self.engine) as session:
            known = known_items(session, feed.name, [p.item.identity for p in doc.entries])
        fresh: list[tuple[Prepared, Known | None]] = []
        for prepared in doc.entries:
            old = known.get(prepared.item.identity)
            if old is not None and old.raw_hash == prepared.raw_hash:
                report.duplicate += 1
                continue
            fresh.append((prepared, old))
        return fresh

    def event(self, prepared: Prepared) -> EventSignature:
        """The entry's event signature: the prepared one if its text was not cleaned again, else worked out now."""
        if prepared.event is not None and prepared.cleaned.text == prepared.item.text:
            return prepared.event
        return event_signature(prepared.item.title, prepared.item.text, self.aliases)

    def signatures(self, fresh: Sequence[tuple[Prepared, Known | None]]
                   ) -> tuple[list[dedupe.Signature], list[EventSignature]]:
        """Each entry's MinHash and event signatures: the worker's, unless its text was cleaned again since."""
        return ([p.signature or dedupe.signature(p.item.text) for p, _ in fresh],
                [self.event(p) for p, _ in fresh])

    def store_stories(self, session: Session, fresh: Sequence[tuple[Prepared, Known | None]],
                      signatures: Sequence[dedupe.Signature], events: Sequence[EventSignature],
                      now: datetime) -> list[StoryRef | None]:
        """New items into their stories (taking the story lock), edits in place; None where another daemon was first."""
        cfg = self.config.dedupe
        new = [n for n, (_, old) in enumerate(fresh) if old is None]
        xlang = cfg.cross_language.threshold if cfg.cross_language.enabled else None
        stored = iter(store_new_items(session, [(fresh[n][0].item, fresh[n][0].raw_hash) for n in new], cfg.window,
                                      cfg.threshold, cfg.short_text, now, self.tail, [signatures[n] for n in new],
                                      [events[n] for n in new], xlang))
        return [next(stored) if old is None else update_item(session, old.id, p.item, p.raw_hash, events[n])
                for n, (p, old) in enumerate(fresh)]

    def record(self, session: Session, sink: Sink[Any] | None, feed: FeedConfig,
               fresh: Sequence[tuple[Prepared, Known | None]], stories: Sequence[StoryRef | None],
               matched: Sequence[Any], report: PollReport) -> None:
        """Write each stored item's matches and alerts (the sink) in feed order, and count it in the report."""
        for (prepared, old), story, matches in zip(fresh, stories, matched, strict=True):
            item = prepared.item
            if story is None:  # another daemon stored it first
                report.duplicate += 1
                continue
            log.debug("item %s of %s %s story %d", item.id, feed.name,
                      "edited in" if old is not None else "started" if story.created else "joined", story.id,
                      extra=_fields(feed=feed.name, item=item.id, story=story.id,
                                    event="item.updated" if old is not None else "item.new"))
            if sink is not None:
                sink.record(session, item, story, matches)
            if old is None:
                report.new += 1
                report.stories_created += int(story.created)
            else:
                report.updated += 1

    def reclean(self, feed: FeedConfig, lines: int) -> None:
        """Clean the feed's stored items again with the lines just learned, and re-match them (`reprocess`)."""
        try:
            n = reprocess(self.engine, self.config, self.cleaner, self.rematch, feed.name)
        except Exception:  # the batch is committed; `wirewatch reprocess` can redo this
            log.exception("re-cleaning %s after learning boilerplate failed", feed.name, extra=_fields(feed=feed.name))
        else:
            log.info("re-cleaned %d stored items of %s after learning %d lines", n, feed.name, lines,
                     extra=_fields(feed=feed.name, items=n, lines=lines))

    def finish(self, report: PollReport, started: float) -> PollReport:
        """Cap the server's Retry-After, zero what a failed store did not keep, and time the poll."""
        if report.retry_after is not None:  # a server may ask for years (or overflow the clock): cap it
            report.retry_after = min(report.retry_after, max(self.config.fetch.max_backoff, MAX_RETRY_AFTER))
        if report.status == "error":  # the store rolled back: nothing counted as stored was kept
            report.new = report.updated = report.stories_created = report.removed_lines = 0
        report.duration = time.monotonic() - started
        return report


def failed(report: PollReport, exc: Exception) -> None:
    """Put a poll's failure in its report: the feed's doing (HTTP, parse), the database's, or a bug of ours."""
    if isinstance(exc, HTTPStatusError):
        report.http_status, report.error, report.retry_after = exc.status, str(exc), exc.retry_after
    elif isinstance(exc, IngestError | ValueError):
        report.error = f"{type(exc).__name__}: {exc}"
    elif isinstance(exc, OperationalError | InterfaceError):  # database down or busy: the daemon logs the outage once
        report.error = f"{DATABASE_UNAVAILABLE}: {(str(exc.orig or exc).strip().splitlines() or [type(exc).__name__])[0]}"
        log.debug("poll of %s not stored: %s", report.feed, report.error, extra=_fields(feed=report.feed))
    else:
        log.exception("unexpected error polling %s", report.feed, extra=_fields(feed=report.feed))
        report.error = f"internal error: {type(exc).__name__}: {exc}"


@dataclass(slots=True)
class CleanedBatch:
    """A cleaned batch: one result per item, and the boilerplate lines this batch taught."""

    results: list[Cleaned]
    learned: set[str]


class Cleaner:
    """Cleans a batch of one feed's items: shipped packs, feed rules, and boilerplate learned from history."""

    def __init__(self, packs: Mapping[str, Sequence[CleanRuleConfig]]) -> None:
        self.packs = packs

    def compiled(self, feed: FeedConfig, learned: frozenset[str] = frozenset()) -> cleaning.Ruleset:
        """The feed's rules with these learned lines (cheap: each rule is compiled once per process)."""
        return cleaning.compile_ruleset(self.packs, feed.clean, feed.name, urlsplit(feed.url).hostname or "",
                                        learned=learned)

    def clean_batch(self, session: Session, feed: FeedConfig, prepared: Sequence[Prepared]) -> CleanedBatch:
        """Finish cleaning prepared entries (filling text, source, content_hash); learn and store boilerplate lines.

        Each entry was cleaned once with the feed's rules and packs; when the feed has learned
        lines in force (from its history and this batch), the items are cleaned again with them.
        """
        items = [p.item for p in prepared]
        lines = [p.lines for p in prepared]  # counted before learned rules apply
        active, learned = self.active_lines(session, feed, lines)
        if active:
            ruleset = self.compiled(feed, frozenset(active))
            results = [cleaning.clean_item(i.title, i.raw_summary, i.raw_content, ruleset) for i in items]
        else:
            results = [p.cleaned for p in prepared]
        for entry, result in zip(prepared, results, strict=True):
            item = entry.item
            item.text, item.teaser = result.text, result.teaser
            from_field = feed.select is not None and feed.select.source is not None and item.source
            # a JSON/HTML source's own field first; else the body's source line, then the entry's <source>
            item.source = item.source if from_field else (result.source or entry.cleaned.source)
            item.title = result.title or item.title  # a provider suffix (`…(Impress Watch)`) went to `source`
            if result.text != entry.cleaned.text:  # cleaned again: what was worked out for the first text is stale
                entry.content_hash, entry.signature = "", None
            item.content_hash = entry.content_hash or (dedupe.text_hash(result.text) if result.text else "")
            same = result.text == entry.cleaned.text and result.title == entry.cleaned.title  # title and text as prepared
            item.search_short = entry.search_short if same else None  # None: the writer works them out
        add_history(session, feed.name, lines)
        return CleanedBatch(results, learned)

    def ruleset(self, session: Session, feed: FeedConfig) -> cleaning.Ruleset:
        """The feed's rules as they stand (packs, feed rules, learned lines in force); learns nothing."""
        active, _ = self.active_lines(session, feed, [], learn=False)
        return self.compiled(feed, frozenset(active))

    def active_lines(self, session: Session, feed: FeedConfig, batch: Sequence[Sequence[str]],
                     learn: bool = True) -> tuple[set[str], set[str]]:
        """Learned lines in force (learned from history + batch, plus pinned, minus disabled) and the new ones."""
        cfg = feed.clean.learned
        stored = {r.line: r for r in learned_rules(session, feed.name)}
        new: set[str] = set()
        if cfg.enabled and learn:
            newest_first = [*batch, *feed_history(session, feed.name)]  # a feed lists its newest items first
            for line in unlearn_boilerplate(newest_first, [x for x, r in stored.items() if r.state == "learned"]):
                session.delete(stored.pop(line))  # the site stopped printing it
                log.info("unlearned boilerplate", extra={"feed": feed.name, "line": line[:80]})
            new = cleaning.learn_boilerplate(newest_first[:UNLEARN_WINDOW]) - stored.keys()  # the same window
            for line in new:
                rule = LearnedRule(feed=feed.name, line=line, line_hash=hashlib.sha256(line.encode()).hexdigest(),
                                   state="learned", learned_at=utcnow())
                session.add(rule)
                stored[line] = rule
                log.info("learned boilerplate of %s: %r", feed.name, line[:80], extra=_fields(feed=feed.name, line=line[:80]))
        disabled = {cleaning.normalise(x) for x in cfg.disable} | {x for x, r in stored.items() if r.state == "disabled"}
        active = {line for line, r in stored.items() if r.state in ("learned", "pinned")} if cfg.enabled else set()
        return (active | {cleaning.normalise(x) for x in cfg.pin}) - disabled, new - disabled


def reprocess(engine: Engine, config: Config, cleaner: Cleaner, rematch: Rematch | None,
              feed: str | None = None) -> int:
    """Re-run cleaning over stored items from their raw fields, and `rematch` on each (matches; alerts if it makes them)."""
    feeds = {f.name: f for f in config.feeds}
    rulesets: dict[str, cleaning.Ruleset] = {}
    count = 0
    with Session(engine) as session:
        for row in stored_items(session, feed):
            fcfg = feeds.get(row.feed) or FeedConfig(name=row.feed, url="https://unknown.invalid/")
            item = Item(feed=row.feed, identity=row.identity, guid=row.guid, url=row.url, title=row.title,
                        raw_summary=row.raw_summary, raw_content=row.raw_content,
                        published_at=row.published_at or utcnow(), fetched_at=row.fetched_at or utcnow(),
                        id=row.id, story_id=row.story_id)
            if row.feed not in rulesets:
                rulesets[row.feed] = cleaner.ruleset(session, fcfg)
            result = cleaning.clean_item(item.title, item.raw_summary, item.raw_content, rulesets[row.feed])
            keep = fcfg.select is not None and fcfg.select.source is not None and row.source  # from the field
            row.text, row.teaser = result.text, result.teaser
            # the stored title lost its provider suffix on the first clean: an older source stays
            row.source = row.source if keep else (result.source or row.source)
            row.title = result.title or row.title
            row.content_hash = dedupe.text_hash(result.text) if result.text else ""
            session.add(row)
            item.text, item.source, item.content_hash = row.text, row.source, row.content_hash
            item.title, item.teaser = row.title, row.teaser
            if rematch is not None and row.story_id is not None:
                rematch(session, item, StoryRef(row.story_id, row.fetched_at or utcnow(), [], 1))
            count += 1
        session.commit()
    return count


def describe_error(exc: BaseException) -> str:
    """A one-line description of an ingest error for logs and the feed row."""
    if isinstance(exc, ParseError | FetchError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
