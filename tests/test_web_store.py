"""The console's store (search on SQLite FTS5 and PostgreSQL pg_trgm), its pure helpers and its guards."""

from __future__ import annotations

import base64
import random
import re
import unicodedata
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from sqlmodel import Session

from wirewatch import db
from wirewatch.config.clock import utcnow
from wirewatch.config.models import WebConfig
from wirewatch.ingest.store import ItemRow, LearnedRule
from wirewatch.web import searchstore, store
from wirewatch.web.security import csrf_ok, origin_ok, token_ok
from wirewatch.web.views import bars, duration, segments

TEXTS = [
    ("Microsoft to invest in Japan cloud", "Microsoft will spend 5 billion dollars on cloud data centres.", "wire"),
    ("微软将向日本云计算投资", "微软周一表示，将在未来两年内向日本的云计算数据中心投资50亿美元。", "sina"),
    ("マイクロソフト、日本に投資", "マイクロソフトは日本のクラウド事業に投資すると発表した。", "nikkei"),
    ("Bond yields steady", "Treasury yields held near four percent; 100% of traders waited.", "wire"),
]


@pytest.fixture
def engine(db_url: str) -> sa.Engine:
    engine = db.make_engine(db_url)
    db.upgrade(engine)
    now = utcnow()
    with Session(engine) as session:
        for i, (title, text, feed) in enumerate(TEXTS):
            session.add(ItemRow(feed=feed, identity=f"i{i}", url=f"http://example.invalid/{i}", title=title,
                                raw_summary="", raw_content="", raw_hash="h", text=text, content_hash=f"c{i}",
                                fetched_at=now - timedelta(hours=i), story_id=i + 1))
        session.add(LearnedRule(feed="wire", line_hash="x", line="Follow us", state="learned", learned_at=now))
        session.commit()
    return engine


def titles(rows: list[dict[str, object]]) -> list[object]:
    return [r["title"] for r in rows]


@pytest.mark.parametrize(("query", "expected"), [
    ("微软", ["微软将向日本云计算投资"]),                       # two Han characters: below a trigram
    ("云计算数据中心", ["微软将向日本云计算投资"]),               # Chinese, trigram index
    ("クラウド事業", ["マイクロソフト、日本に投資"]),            # Japanese
    ("cloud data", ["Microsoft to invest in Japan cloud"]),  # every word, any order of the text
    ("MICROSOFT", ["Microsoft to invest in Japan cloud"]),   # case does not matter
    ("100%", ["Bond yields steady"]),                        # LIKE wildcards are literal
    ("nothing-like-this", []),
])
def test_search_finds_items_in_every_script(engine: sa.Engine, query: str, expected: list[str]) -> None:
    assert titles(searchstore.search_items(engine, query)) == expected


@pytest.mark.parametrize("recent", [1, 2, 20_000])
def test_search_finds_old_items_beyond_the_recent_scan(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch,
                                                       recent: int) -> None:
    monkeypatch.setattr(searchstore, "RECENT_SCAN", recent)  # PostgreSQL: newest items scanned, older ones indexed
    assert titles(searchstore.search_items(engine, "日本")) == ["マイクロソフト、日本に投資", "微软将向日本云计算投资"]
    assert titles(searchstore.search_items(engine, "cloud data")) == ["Microsoft to invest in Japan cloud"]
    assert titles(searchstore.search_items(engine, "日本", limit=1)) == ["マイクロソフト、日本に投資"]


def test_search_filters_by_feed_and_date_and_follows_edits_and_deletes(engine: sa.Engine) -> None:
    assert titles(searchstore.search_items(engine, "投资", feed="nikkei")) == []
    assert titles(searchstore.search_items(engine, "yields", since=utcnow() - timedelta(hours=1))) == []
    assert titles(searchstore.search_items(engine, "yields", since=utcnow() - timedelta(hours=5))) == ["Bond yields steady"]
    with engine.begin() as conn:
        conn.execute(store.ITEMS.update().where(store.ITEMS.c.identity == "i3").values(title="Gilts rally hard"))
        conn.execute(store.ITEMS.delete().where(store.ITEMS.c.identity == "i0"))
    assert titles(searchstore.search_items(engine, "Gilts rally")) == ["Gilts rally hard"]
    assert titles(searchstore.search_items(engine, "Bond yields")) == []
    assert titles(searchstore.search_items(engine, "cloud data")) == []


def test_sqlite_search_uses_the_fts5_trigram_table(tmp_path: object) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path}/fts.db")
    db.upgrade(engine)
    with engine.connect() as conn:
        assert searchstore._fts_available(conn)
        sql = conn.execute(sa.text("SELECT sql FROM sqlite_master WHERE name = 'item_fts'")).scalar_one()
    assert "trigram" in sql


def test_rule_state_is_written_where_boilerplate_reads_it(engine: sa.Engine) -> None:
    from wirewatch.reports import boilerplate_rows

    rule = store.learned_lines(engine, "wire")[0]
    assert store.set_rule_state(engine, "wire", rule["id"], "disabled")
    assert boilerplate_rows(engine, "wire")[1][1] == "disabled"
    assert not store.set_rule_state(engine, "sina", rule["id"], "pinned")  # another feed's line: untouched
    with pytest.raises(ValueError):
        store.set_rule_state(engine, "wire", rule["id"], "deleted")


def test_language_of_reads_the_script() -> None:
    assert [store.language_of(t) for t, _, _ in TEXTS] == ["en", "zh", "ja", "en"]


@pytest.mark.parametrize(("spans", "expected"), [
    ([], [("Microsoft and 微软", False)]),
    ([(0, 9)], [("Microsoft", True), (" and 微软", False)]),
    ([(14, 16), (0, 3), (2, 9)], [("Microsoft", True), (" and ", False), ("微软", True)]),
    ([(10, 99), (-5, 0)], [("Microsoft ", False), ("and 微软", True)]),
])
def test_segments_merge_and_clip_spans(spans: list[tuple[int, int]], expected: list[tuple[str, bool]]) -> None:
    assert segments("Microsoft and 微软", spans) == expected


def test_bars_scale_to_the_peak_and_durations_read_short() -> None:
    out = bars([("00", 0), ("01", 5), ("02", 10)], width=300, height=80)
    assert [b.height for b in out] == [0, 40, 80]
    assert [b.x for b in out] == [0, 100, 200]
    assert [duration(s) for s in (None, 0, 90, 7260, 90000)] == ["-", "0s", "1m 30s", "2h 1m", "1d 1h"]


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(("header", "ok"), [
    (None, False), ("", False), ("Bearer tok-0123456789abcdef", True), ("bearer tok-0123456789abcdef", True),
    ("Bearer tok-0123456789abcdeX", False), (_basic("ops", "tok-0123456789abcdef"), True),
    (_basic("tok-0123456789abcdef", ""), False), ("Basic !!notbase64", False), ("Token tok-0123456789abcdef", False),
])
def test_token_is_a_bearer_token_or_the_basic_auth_password(header: str | None, ok: bool) -> None:
    assert token_ok(header, "tok-0123456789abcdef") is ok


def test_csrf_and_origin_checks() -> None:
    assert csrf_ok("abc", "abc") and not csrf_ok("abc", "abd") and not csrf_ok(None, "x") and not csrf_ok("x", "")
    assert origin_ok(None, "127.0.0.1:8080") and origin_ok("http://127.0.0.1:8080", "127.0.0.1:8080")
    assert not origin_ok("http://evil.example", "127.0.0.1:8080")


@pytest.mark.parametrize(("web", "error"), [
    ({}, None),
    ({"listen": "127.0.0.1:8080"}, None),
    ({"listen": "[::1]:8080"}, None),
    ({"listen": "0.0.0.0:8080"}, "set web.token"),
    ({"listen": "10.0.0.5:8080", "token": "0123456789abcdef"}, None),
    ({"listen": "10.0.0.5:8080", "token": "short"}, "at least 16"),
    ({"listen": "8080"}, "host:port"),
])
def test_web_config_needs_a_token_off_loopback(web: dict[str, str], error: str | None) -> None:
    if error is None:
        WebConfig.model_validate(web)
        return
    with pytest.raises(ValidationError, match=error):
        WebConfig.model_validate(web)


def test_a_pasted_watchlist_never_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from wirewatch.web.pages import _pasted_matcher

    monkeypatch.setenv("WIREWATCH_TEST_SECRET", "hunter2-secret")
    matcher = _pasted_matcher('watchlist: t\nentities:\n  - {id: X, name: X, aliases: ["${WIREWATCH_TEST_SECRET}"]}\n')
    assert [c.alias for c in matcher.mentions("", "a ${WIREWATCH_TEST_SECRET} b")] == ["${WIREWATCH_TEST_SECRET}"]
    assert matcher.mentions("", "hunter2-secret") == []


# --- short words: the index against a brute-force reading of the rules ------------------------

SHORT = ["AI", "ai", "Ai", "ＡＩ", "a", "I", "5", "10", "US", "ＵＳ", "on", "ß", "é", "Ép"]
LONG = ["said", "AIR", "data", "Microsoft", "cloud", "rain", "Straße", "usual", "2026", "10x"]
CJK = ["微软", "日本", "云", "计算", "株", "カブ", "ｶﾌﾞ", "한국", "은행", "A股", "3月", "ＡＩ芯片", "々"]
GLUE = [" ", " ", " ", "-", ", ", "。", "、", "", "\u3000"]
QUERIES = ["ai", "AI", "ＡＩ", "a", "i", "5", "10", "us", "on", "ss", "ß", "é", "ép", "x", "微", "软", "微软", "日本",
           "云", "株", "カブ", "ｶﾌﾞ", "ブ", "한", "은행", "a股", "股", "3月", "3", "芯片", "々", "a.", "ai cloud",
           "微 data", "日本 ai", "ai 5", "云 计算", "us 微软", "said", "qz", "软a"]
CJK_RUN = re.compile(r"[\u1100-\u11ff\u3005-\u3007\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def generated(n: int, seed: int = 5) -> list[tuple[str, str, str]]:
    """`n` (title, text, feed): short and long words of mixed scripts, full-width forms and cases, glued."""
    rng = random.Random(seed)

    def phrase(k: int) -> str:
        return "".join(rng.choice(SHORT + LONG + CJK) + rng.choice(GLUE) for _ in range(k))

    return [(phrase(rng.randint(1, 4)), phrase(rng.randint(0, 12)), rng.choice(["wire", "sina"])) for _ in range(n)]


def brute_force(title: str, text: str, q: str) -> bool:
    """The search rules read directly: long words as substrings, short ones as whole words or CJK substrings."""
    for word in q.split():
        if len(word) >= 3:
            if word.lower() not in title.lower() and word.lower() not in text.lower():
                return False
            continue
        for piece in re.findall(r"[^\W_]+", unicodedata.normalize("NFKC", word).casefold()):
            fields = [unicodedata.normalize("NFKC", f).casefold() for f in (title, text)]
            if CJK_RUN.search(piece):
                found = any(piece in f for f in fields)
            else:  # whole words: runs of letters and digits, cut at CJK characters too
                found = any(piece in CJK_RUN.sub(" ", " ".join(re.findall(r"[^\W_]+", f))).split() for f in fields)
            if not found:
                return False
    return True


@pytest.mark.parametrize("recent", [7, 20_000])
def test_short_word_search_agrees_with_a_brute_force_scan(db_url: str, monkeypatch: pytest.MonkeyPatch,
                                                          recent: int) -> None:
    monkeypatch.setattr(searchstore, "RECENT_SCAN", recent)  # PostgreSQL: both the recent scan and the index
    engine = db.make_engine(db_url)
    db.upgrade(engine)
    items = generated(400)
    now = utcnow()
    rows = [{"feed": feed, "identity": f"g{i}", "url": f"http://x.invalid/{i}", "title": title, "raw_summary": "",
             "raw_content": "", "raw_hash": "h", "text": text, "content_hash": f"c{i}", "story_id": i + 1,
             "fetched_at": now - timedelta(minutes=i)} for i, (title, text, feed) in enumerate(items)]
    with Session(engine) as session:  # half through the ORM, half through a Core executemany (the batch writer's way)
        for row in rows[:200]:
            session.add(ItemRow(**row))
        session.commit()
    with engine.begin() as conn:
        conn.execute(store.ITEMS.insert(), rows[200:])
    with engine.connect() as conn:
        by_id = {r.id: (r.title, r.text, r.feed, r.identity) for r in conn.execute(
            sa.select(store.ITEMS.c.id, store.ITEMS.c.title, store.ITEMS.c.text, store.ITEMS.c.feed,
                      store.ITEMS.c.identity))}
    checked = 0
    for q in QUERIES:
        for feed in (None, "sina"):
            expected = [i for i in sorted(by_id, reverse=True)
                        if brute_force(by_id[i][0], by_id[i][1], q) and feed in (None, by_id[i][2])]
            got = [r["id"] for r in searchstore.search_items(engine, q, feed=feed, limit=1000)]
            assert got == expected, (q, feed)
            assert [r["id"] for r in searchstore.search_items(engine, q, feed=feed, limit=3)] == expected[:3], (q, feed)
            checked += len(expected)
    assert checked > 1000  # the generated items do hold the words searched
    since = now - timedelta(minutes=100)
    expected = [i for i in sorted(by_id, reverse=True) if brute_force(*by_id[i][:2], "微")
                and int(by_id[i][3][1:]) < 100]
    assert [r["id"] for r in searchstore.search_items(engine, "微", since=since, limit=1000)] == expected
    engine.dispose()


def test_short_words_follow_the_writer_edits_and_pruning(db_url: str) -> None:
    from wirewatch.config.models import Config
    from wirewatch.ingest import dedupe
    from wirewatch.ingest.item import Item
    from wirewatch.ingest.storystore import ensure_index_scheme, store_new_items, update_item
    from wirewatch.upkeep import prune

    engine = db.make_engine(db_url)
    db.upgrade(engine)
    ensure_index_scheme(engine)
    now = utcnow()

    def item(guid: str, title: str, text: str, fetched: datetime) -> Item:
        made = Item(feed="wire", identity=guid, guid=guid, url=f"http://wire.invalid/{guid}", title=title,
                    raw_summary=text, raw_content="", published_at=fetched, fetched_at=fetched)
        made.text, made.content_hash = text, dedupe.text_hash(text)
        return made

    old = item("old", "旧闻 UK", "An old note on the UK and 股.", now - timedelta(days=40))
    fresh = item("new", "AI chips", "Nvidia said its AI chips sold out in 日本.", now)
    with Session(engine) as session:
        store_new_items(session, [(old, "r1"), (fresh, "r2")], 86400.0, 0.5, 200, now, None)
        session.commit()
    assert titles(searchstore.search_items(engine, "ai")) == ["AI chips"]
    assert titles(searchstore.search_items(engine, "日")) == ["AI chips"]
    assert titles(searchstore.search_items(engine, "uk 旧")) == ["旧闻 UK"]
    edited = item("new", "EU chips", "Nvidia said its chips sold out in 韩国.", now)
    with Session(engine) as session:
        assert fresh.id is not None
        update_item(session, fresh.id, edited, "r3")
        session.commit()
    assert titles(searchstore.search_items(engine, "ai")) == []
    assert titles(searchstore.search_items(engine, "日")) == []
    assert titles(searchstore.search_items(engine, "eu 韩")) == ["EU chips"]
    assert prune(engine, Config(database="sqlite://"))["items"] == 1  # retention: 30 days
    assert titles(searchstore.search_items(engine, "uk")) == []
    assert titles(searchstore.search_items(engine, "股")) == []
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":  # the FTS5 table holds nothing of the pruned item
            n = conn.execute(sa.text("SELECT count(*) FROM item_short WHERE item_short MATCH 'uk'")).scalar()
            assert n == 0
    engine.dispose()


def test_sqlite_short_words_use_the_fts5_table(tmp_path: object) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path}/short.db")
    db.upgrade(engine)
    with engine.connect() as conn:
        assert searchstore._fts_available(conn, "item_short")
        plan = " ".join(str(r) for r in conn.execute(sa.text("EXPLAIN QUERY PLAN " + str(
            searchstore._search_sqlite(conn, sa.select(store.ITEMS.c.id), searchstore.split_query("ai 微"))
            .compile(compile_kwargs={"literal_binds": True})))))
    assert "item_short VIRTUAL TABLE" in plan and "LIKE" not in plan


def test_postgres_short_words_use_the_gin_index(pg_url: str) -> None:
    engine = db.make_engine(pg_url)
    db.upgrade(engine)
    condition = searchstore._has_tokens(searchstore.split_query("ai 微").short)
    with engine.connect() as conn:
        conn.execute(sa.text("SET enable_seqscan = off"))  # an empty table: the planner would read it whole
        sql = str(sa.select(store.ITEMS.c.id).where(condition)
                  .compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        plan = " ".join(r[0] for r in conn.execute(sa.text("EXPLAIN " + sql)))
    engine.dispose()
    assert "ix_item_search_short" in plan
