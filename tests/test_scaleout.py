"""Three `wirewatch run` daemons on one PostgreSQL, as separate processes, with one killed mid-run.

What sharing one database must guarantee, checked against real servers on 127.0.0.1:

- every item is stored once, though any daemon may poll any feed (feed leases, ON CONFLICT);
- copies of one event published in several feeds at once make one story, alerted once per
  watchlist (the story advisory lock, the alerts' unique key);
- every alert reaches the webhook at least once, and a repeat carries the same `webhook-id`;
- the feeds a SIGKILLed daemon held are polled again once its leases run out, not before;
- the survivors stop with exit code 0 on SIGTERM and give their leases back.

Also pinned here: daemons started at the same moment (feed rows, story index scheme), a stop signal
while a delivery is being sent, and a daemon claiming more as soon as polls finish.
"""

from __future__ import annotations

import functools
import hashlib
import json
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from tests.feedserver import FeedServer, SeenRequest
from tests.helpers import rss
from tests.receivers import Receiver, Reply
from wirewatch import db
from wirewatch.ingest.feedstore import FeedSpec, sync_feeds
from wirewatch.ingest.store import FeedRow, IndexMeta
from wirewatch.ingest.storystore import ensure_index_scheme

FEEDS = 200
DAEMONS = 3
INTERVAL = 2.0  # seconds between polls of one feed
LEASE = 6.0  # seconds a claim lasts without renewal
SLOW_EVERY = 10  # every 10th feed answers after SLOW_DELAY, so claims are held while a daemon dies
SLOW_DELAY = 0.5
ROUNDS = 7  # rounds of new items while the daemons run
ROUND_GAP = 2.5
KILL_FROM_ROUND = 2  # the victim dies in a round from this one on, with a round or more left after it
HOOK_DELAY = 1.0  # the webhook receiver answers after this, so deliveries are in flight when the victim dies
COPIES = 3  # feeds that publish each watched event at the same moment
ALIAS = "Globex Corporation"
SYLLABLES = "ka ri to ne mo sa lu vi pe da zo ha ki ru fe no mi ta so be gu la xe po yu ci".split()
VOCABULARY = [a + b + c for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES[:8]]


def prose(seed: str, words: int = 60) -> str:
    """Deterministic filler text, different enough per seed that no two seeds share a story."""
    out: list[str] = []
    counter = 0
    while len(out) < words:
        digest = hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        out += [VOCABULARY[int.from_bytes(digest[i:i + 2], "big") % len(VOCABULARY)] for i in range(0, 32, 2)]
        counter += 1
    return " ".join(out[:words])


class TimedFeedServer(FeedServer):
    """The test feed server, also logging when each request arrived (wall clock, as the database's)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[float, str]] = []

    def _enter(self, request: SeenRequest) -> None:
        self.arrivals.append((time.time(), request.path.split("?", 1)[0]))
        super()._enter(request)

    def first_after(self, path: str, since: float) -> float | None:
        """When `path` was first requested after `since` (None if not yet)."""
        return min((t for t, p in list(self.arrivals) if p == path and t > since), default=None)


@dataclass
class Newsroom:
    """What every feed publishes; `publish` adds items to routes while the daemons poll them."""

    server: TimedFeedServer
    items: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    events: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # watched event → (feed, guid)

    @staticmethod
    def feed(n: int) -> str:
        return f"feed-{n:03d}"

    @staticmethod
    def path(name: str) -> str:
        return f"/{name}.xml"

    def serve(self, name: str) -> None:
        items = self.items[name]
        delay = SLOW_DELAY if int(name.rsplit("-", 1)[1]) % SLOW_EVERY == 0 else 0.0
        self.server.add(self.path(name), rss(items, title=name), etag=f'"{name}-{len(items)}"', delay=delay)

    def add_item(self, name: str, guid: str, title: str, body: str, link: str) -> None:
        self.items.setdefault(name, []).insert(0, {"title": title, "link": link, "guid": guid, "body": body})

    def add_plain(self, name: str, tag: str) -> None:
        guid = f"{name}-{tag}"
        self.add_item(name, guid, f"Market note {guid}", f"<p>{prose(guid)}.</p>", f"http://news.invalid/{guid}")

    def add_event(self, event: str, feeds: list[str]) -> None:
        """One watched event, copied word for word into several feeds (syndication)."""
        body = f"<p>{ALIAS} said on Tuesday that {prose(event)}.</p><p>{prose(event + '/2', 40)}.</p>"
        for name in feeds:
            guid = f"{name}-{event}"
            self.add_item(name, guid, f"{ALIAS} update {event}", body, f"http://wire.invalid/{event}")
            self.events.setdefault(event, []).append((name, guid))

    def published(self) -> set[tuple[str, str]]:
        return {(name, i["guid"]) for name, items in self.items.items() for i in items}


def worker_of(proc: subprocess.Popen[bytes]) -> str:
    """The worker id the daemon claims under (`wirewatch.app.worker_id`)."""
    return f"{socket.gethostname()}:{proc.pid}"


def write_setup(tmp: Path, db_url: str, server: TimedFeedServer, hook: str, names: list[str]) -> Path:
    (tmp / "watchlists").mkdir()
    (tmp / "watchlists" / "globex.yaml").write_text(
        "watchlist: globex\nchannels: [hook]\nentities:\n"
        f"  - {{id: GLOBEX, name: Globex, aliases: ['{ALIAS}']}}\n", encoding="utf-8")
    feeds = "\n".join(f"  - {{name: {n}, url: '{server.url(Newsroom.path(n))}'}}" for n in names)
    config = tmp / "wirewatch.yaml"
    config.write_text(
        f"database: '{db_url}'\n"
        f"defaults: {{interval: {INTERVAL:.0f}s, jitter: 0}}\n"
        "fetch: {allow_private_networks: true, concurrency: 32, per_host: 32, timeout: 10s, deadline: 15s}\n"
        f"lease: {LEASE:.0f}s\nshutdown_grace: 10s\n"
        "retry: {schedule: [0, 1s, 2s, 5s, 10s]}\n"
        f"watchlists: [watchlists/*.yaml]\n"
        f"channels:\n  hook: {{type: webhook, url: '{hook}', secret: 'whsec_c2NhbGVvdXQtdGVzdC1zZWNyZXQ=', "
        "timeout: 5s}\n"
        f"feeds:\n{feeds}\n", encoding="utf-8")
    return config


def start(config: Path, index: int) -> subprocess.Popen[bytes]:
    log = open(config.parent / f"daemon-{index}.log", "wb")  # the process owns it
    return subprocess.Popen([sys.executable, "-m", "wirewatch.cli", "--config", str(config), "run"],
                            stdout=log, stderr=subprocess.STDOUT, cwd=config.parent)


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def rows(engine: sa.Engine, query: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(query), params))


def table_exists(engine: sa.Engine, name: str) -> bool:
    return bool(rows(engine, "select to_regclass(:n) is not null", n=name)[0][0])


def logs(tmp: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in sorted(tmp.glob("daemon-*.log")))


@pytest.fixture
def feed_server() -> Iterator[TimedFeedServer]:
    server = TimedFeedServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(Reply(200, delay=HOOK_DELAY)) as hook:
        yield hook


@dataclass
class Kill:
    """When the victim died, the feeds it held then (with each lease's end, epoch seconds) and its deliveries."""

    at: float = 0.0
    held: dict[str, float] = field(default_factory=dict)
    deliveries: set[str] = field(default_factory=set)  # webhook-ids it had claimed


def kill(victim: subprocess.Popen[bytes], engine: sa.Engine) -> Kill:
    """SIGKILL the victim and read what it was holding."""
    me = worker_of(victim)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    at = time.time()
    held = {name: until.timestamp() for name, until in rows(
        engine, "select name, lease_until from feed where claimed_by = :w", w=me)}
    sending = {m for (m,) in rows(engine, "select message_id from alert_deliveries where claimed_by = :w "
                                          "and state <> 'delivered'", w=me)}
    return Kill(at, held, sending)


def publish_and_kill(news: Newsroom, names: list[str], victim: subprocess.Popen[bytes], engine: sa.Engine) -> Kill:
    """Rounds of new items (plain ones, watched events in several feeds, watched solo items); SIGKILL mid-way.

    The kill waits (a round at most) for the victim to hold a feed lease and a delivery claim at once,
    so both takeovers are exercised; on the last chance a feed lease alone will do.
    """
    me = worker_of(victim)
    killed: Kill | None = None

    def holding(last: bool) -> bool:
        feeds = rows(engine, "select count(*) from feed where claimed_by = :w", w=me)[0][0]
        sending = rows(engine, "select count(*) from alert_deliveries where claimed_by = :w", w=me)[0][0]
        return bool(feeds and (sending or last))

    for rnd in range(ROUNDS):
        touched = {names[(rnd * 31 + k * 13) % FEEDS] for k in range(15)}
        for name in sorted(touched):
            news.add_plain(name, f"r{rnd}")
        copies = [names[(rnd * 17 + c * 67 + 5) % FEEDS] for c in range(COPIES)]
        solo = [names[(rnd * 7 + 100) % FEEDS]]
        news.add_event(f"ev-{rnd}", copies)
        news.add_event(f"solo-{rnd}", solo)
        for name in touched | set(copies) | set(solo):
            news.serve(name)
        if killed is None and KILL_FROM_ROUND <= rnd:
            last = rnd == ROUNDS - 2
            if wait_for(functools.partial(holding, last), ROUND_GAP + (5 if last else 0)):
                killed = kill(victim, engine)
        time.sleep(ROUND_GAP)
    assert killed is not None, "the victim never held a feed lease, so nothing was tested"
    return killed


def settled(engine: sa.Engine, news: Newsroom, server: TimedFeedServer, died: Kill) -> Callable[[], bool]:
    """Every published item stored, every alert delivered, every feed of the victim polled again."""
    expected = news.published()

    def check() -> bool:
        if {(f, g) for f, g in rows(engine, "select feed, guid from item")} != expected:
            return False
        if rows(engine, "select count(*) from alert_deliveries where state <> 'delivered'")[0][0]:
            return False
        if rows(engine, "select count(*) from alerts")[0][0] < len(news.events):
            return False
        return all(server.first_after(Newsroom.path(n), died.at) for n in died.held)

    return check


def check_items(engine: sa.Engine, news: Newsroom) -> dict[str, int]:
    """Each (feed, guid) stored once; each watched event one story. Returns event → story id."""
    assert rows(engine, "select feed, guid, count(*) from item group by feed, guid having count(*) > 1") == []
    story_of = {(f, g): s for f, g, s in rows(engine, "select feed, guid, story_id from item")}
    assert set(story_of) == news.published()
    event_story: dict[str, int] = {}
    for event, copies in news.events.items():
        stories = {story_of[c] for c in copies}
        assert len(stories) == 1, f"{event} split into stories {stories}"
        event_story[event] = stories.pop()
    return event_story


def check_alerts(engine: sa.Engine, event_story: dict[str, int], receiver: Receiver) -> None:
    """One alert per watched story; each received at least once, always under its delivery's webhook-id."""
    alerts = rows(engine, "select story_id, watchlist, type from alerts")
    assert sorted(s for s, _, _ in alerts) == sorted(event_story.values())
    assert {(w, t) for _, w, t in alerts} == {("globex", "alert.created")}
    message_of = dict(rows(engine, "select a.public_id, d.message_id from alerts a "
                                   "join alert_deliveries d on d.alert_id = a.id"))
    received: dict[str, set[str]] = defaultdict(set)
    for request in receiver.delivered():
        headers = {k.lower(): v for k, v in request["headers"].items()}
        received[json.loads(request["body"])["id"]].add(headers["webhook-id"])
    assert set(received) == set(message_of)
    assert {a: ids for a, ids in received.items() if ids != {message_of[a]}} == {}


def check_takeover(server: TimedFeedServer, died: Kill) -> None:
    """The victim's feeds were polled again once its leases ran out (not before), within about one lease."""
    for name, until in died.held.items():
        again = server.first_after(Newsroom.path(name), died.at)
        assert again is not None, f"{name} never polled again"
        assert again >= until - 0.5, f"{name} taken over {until - again:.1f}s before its lease ran out"
        assert again - died.at <= 2 * LEASE, f"{name} polled again only {again - died.at:.1f}s after the kill"


@pytest.mark.slow
@pytest.mark.postgres
def test_three_daemons_share_one_postgres_and_survive_a_sigkill(
        tmp_path: Path, pg_url: str, feed_server: TimedFeedServer, receiver: Receiver) -> None:
    news = Newsroom(feed_server)
    names = [Newsroom.feed(n) for n in range(FEEDS)]
    for name in names:
        news.add_plain(name, "a")
        news.add_plain(name, "b")
    news.add_event("ev-start", names[1:4])
    for name in names:
        news.serve(name)
    config = write_setup(tmp_path, pg_url, feed_server, receiver.url, names)
    engine = sa.create_engine(pg_url)
    procs = [start(config, i) for i in range(DAEMONS)]  # all at once: migrations, index scheme, feed rows race
    try:
        assert wait_for(lambda: all(feed_server.first_after(Newsroom.path(n), 0) for n in names), 45), logs(tmp_path)
        assert all(p.poll() is None for p in procs), logs(tmp_path)
        victim, survivors = procs[0], procs[1:]
        died = publish_and_kill(news, names, victim, engine)
        assert died.held, "the killed daemon held no feed lease, so nothing was tested"
        assert wait_for(settled(engine, news, feed_server, died), 40), logs(tmp_path)
        assert all(p.poll() is None for p in survivors), logs(tmp_path)
        for proc in survivors:
            proc.send_signal(signal.SIGTERM)
        assert [proc.wait(timeout=30) for proc in survivors] == [0] * len(survivors), logs(tmp_path)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)

    check_alerts(engine, check_items(engine, news), receiver)
    check_takeover(feed_server, died)
    # the survivors gave every lease back (the victim's included, once taken over); no poll failed
    assert rows(engine, "select name, claimed_by from feed where claimed_by is not null") == []
    assert rows(engine, "select name, last_error from feed where consecutive_errors > 0") == []
    for index in range(1, DAEMONS):
        text = (tmp_path / f"daemon-{index}.log").read_text(errors="replace")
        assert "Traceback" not in text and " ERROR " not in text, text[-4000:]
    engine.dispose()


# --- two daemons starting at the same moment --------------------------------------------------------


def blocked_behind(engine: sa.Engine, started: Future[object], timeout: float = 10.0) -> bool:
    """Whether the work in `started` is waiting for a row lock (another daemon's uncommitted insert)."""
    def waiting() -> bool:
        query = ("select count(*) from pg_stat_activity where datname = current_database() "
                 "and wait_event_type = 'Lock'")
        return started.done() or rows(engine, query)[0][0] > 0
    return wait_for(waiting, timeout) and not started.done()


def race(pg_url: str, other_first: Callable[[Session], None], ours: Callable[[sa.Engine], object]) -> None:
    """Run `ours` while another daemon's transaction has done `other_first` but not committed yet."""
    engine = db.make_engine(pg_url)
    db.upgrade(engine)
    try:
        with Session(engine) as other, ThreadPoolExecutor(1) as pool:
            other_first(other)
            other.flush()
            started = pool.submit(ours, engine)
            assert blocked_behind(engine, started)
            other.commit()
            started.result(timeout=30)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_feed_sync_tolerates_another_daemon_inserting_the_same_feeds(pg_url: str) -> None:
    specs = [FeedSpec("a", "http://127.0.0.1:9/a.xml", 60.0), FeedSpec("b", "http://127.0.0.1:9/b.xml", 60.0)]

    def other(session: Session) -> None:
        session.add(FeedRow(name="a", url="http://127.0.0.1:9/a.xml"))

    race(pg_url, other, lambda engine: sync_feeds(engine, specs))
    engine = sa.create_engine(pg_url)
    assert sorted(n for (n,) in rows(engine, "select name from feed")) == ["a", "b"]
    engine.dispose()


@pytest.mark.postgres
def test_index_scheme_setup_waits_for_another_daemon_doing_it(pg_url: str) -> None:
    from wirewatch.ingest import dedupe
    from wirewatch.ingest.storystore import lock_story_assignment

    def other(session: Session) -> None:  # another daemon inside `ensure_index_scheme`, not committed yet
        lock_story_assignment(session)
        session.add(IndexMeta(key="dedupe.scheme", value=dedupe.SCHEME))

    race(pg_url, other, ensure_index_scheme)


# --- a stop signal while a scheduled job is running ----------------------------------------------------


def test_sigterm_while_a_delivery_is_in_flight_waits_for_it(tmp_path: Path, feed_server: TimedFeedServer) -> None:
    """The job that is sending when SIGTERM arrives finishes and records its result; nothing is cancelled."""
    news = Newsroom(feed_server)
    news.add_event("ev-stop", ["feed-001"])
    news.serve("feed-001")
    with Receiver(Reply(200, delay=2.0)) as hook:
        config = write_setup(tmp_path, f"sqlite:///{tmp_path / 'wirewatch.db'}", feed_server, hook.url,
                             ["feed-001"])
        proc = start(config, 0)
        try:
            assert wait_for(lambda: bool(hook.requests), 30), logs(tmp_path)
            proc.send_signal(signal.SIGTERM)  # the receiver is still holding the request
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'wirewatch.db'}")
    text = (tmp_path / "daemon-0.log").read_text(errors="replace")
    assert rows(engine, "select state, claimed_by from alert_deliveries") == [("delivered", None)], text[-4000:]
    engine.dispose()
    assert "Traceback" not in text and " ERROR " not in text, text[-4000:]
    assert len(hook.requests) == 1


# --- a daemon claims more as soon as polls finish -----------------------------------------------------


def test_finished_polls_start_the_next_claim_without_waiting_for_the_tick(
        tmp_path: Path, feed_server: TimedFeedServer) -> None:
    """One dispatch with 2 × concurrency slots goes on claiming until every due feed is polled, once."""
    import asyncio

    from wirewatch.app import App
    from wirewatch.daemon import Daemon
    from wirewatch.ingest.fetch import Fetcher

    news = Newsroom(feed_server)
    names = [Newsroom.feed(n) for n in range(1, 41)]  # not a multiple of SLOW_EVERY: all answer at once
    for name in names:
        news.add_plain(name, "a")
        news.serve(name)
    config = write_setup(tmp_path, f"sqlite:///{tmp_path / 'wirewatch.db'}", feed_server, "http://127.0.0.1:9/",
                         names)
    config.write_text(config.read_text().replace("concurrency: 32, per_host: 32", "concurrency: 2, per_host: 2")
                      .replace(f"interval: {INTERVAL:.0f}s", "interval: 10m"))
    app = App.open(config)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'wirewatch.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("update feed set next_poll_at = '2000-01-01 00:00:00'"))
    engine.dispose()

    async def one_dispatch() -> None:
        daemon = Daemon(app, str(config))
        async with Fetcher(app.wiring.loaded.config.fetch) as fetcher:
            daemon.fetcher = fetcher
            await daemon.dispatch()  # the one-second tick never fires here: no scheduler
            while daemon.inflight or daemon.jobs:
                await asyncio.wait(set(daemon.inflight) | set(daemon.jobs))
            assert daemon.claimed == set()

    try:
        asyncio.run(one_dispatch())
    finally:
        app.close()
    hits: dict[str, int] = defaultdict(int)
    for _, path in feed_server.arrivals:
        hits[path] += 1
    assert {Newsroom.path(n): 1 for n in names} == dict(hits)


def test_a_poll_that_stores_new_items_sends_their_alerts_without_waiting_for_the_tick(
        tmp_path: Path, feed_server: TimedFeedServer) -> None:
    import asyncio

    from wirewatch.app import App
    from wirewatch.daemon import Daemon
    from wirewatch.ingest.fetch import Fetcher

    news = Newsroom(feed_server)
    news.add_event("ev-now", ["feed-001"])
    news.serve("feed-001")
    with Receiver() as hook:
        config = write_setup(tmp_path, f"sqlite:///{tmp_path / 'wirewatch.db'}", feed_server, hook.url, ["feed-001"])
        app = App.open(config)
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'wirewatch.db'}")
        with engine.begin() as conn:
            conn.execute(sa.text("update feed set next_poll_at = '2000-01-01 00:00:00'"))
        engine.dispose()

        async def one_dispatch() -> None:
            daemon = Daemon(app, str(config))
            async with Fetcher(app.wiring.loaded.config.fetch) as fetcher:
                daemon.fetcher = fetcher
                await daemon.dispatch()  # no scheduler: the deliver job never runs on its own
                while daemon.inflight or daemon.jobs:
                    await asyncio.wait(set(daemon.inflight) | set(daemon.jobs))
            await app.close_channels()

        try:
            asyncio.run(one_dispatch())
        finally:
            app.close()
        assert [b["item"]["guid"] for b in hook.bodies()] == ["feed-001-ev-now"]
