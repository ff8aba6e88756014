"""The web console's search: every word of a query in an item's title or text, in any script.

SQLite answers through its FTS5 tables (`item_fts` trigrams, `item_short` short tokens), PostgreSQL
through a scan of the newest items and then its trigram and short-token indexes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, Engine

from wirewatch.ingest import shortwords
from wirewatch.ingest.store import ITEMS
from wirewatch.web.store import ITEM_COLUMNS, MATCHES


def _fts_available(conn: Connection, table: str = "item_fts") -> bool:
    if conn.dialect.name != "sqlite":
        return False
    return conn.execute(sa.text("SELECT 1 FROM sqlite_master WHERE name = :t"), {"t": table}).first() is not None


def _literal(q: str) -> str:
    return '"' + q.replace('"', '""') + '"'


RECENT_SCAN = 5_000
"""PostgreSQL: how many of the newest items a search scans before it turns to the indexes."""

_SHORT_ARRAY: sa.ColumnElement[Any] = sa.literal_column("string_to_array(item.search_short, ' ')")
"""PostgreSQL: the expression `ix_item_search_short` (migration 0005h) indexes, written as it is there."""


def _scan_contains(word: str) -> sa.ColumnElement[bool]:
    """Title or text contains `word`, ignoring case; no index can serve it (a scan, newest first)."""
    if word.lower() == word.upper():  # nothing to fold (Chinese, Japanese, digits): skip lower() on every row
        return sa.or_(sa.func.strpos(ITEMS.c.title, word) > 0, sa.func.strpos(ITEMS.c.text, word) > 0)
    needle = sa.func.lower(sa.literal(word))
    return sa.or_(sa.func.strpos(sa.func.lower(ITEMS.c.title), needle) > 0,
                  sa.func.strpos(sa.func.lower(ITEMS.c.text), needle) > 0)


def _like_contains(word: str) -> sa.ColumnElement[bool]:
    """Title or text ILIKE `%word%`: what pg_trgm's GIN indexes serve (three characters or more)."""
    pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return sa.or_(ITEMS.c.title.ilike(pattern, escape="\\"), ITEMS.c.text.ilike(pattern, escape="\\"))


@dataclass(slots=True)
class Words:
    """A query cut by how it is searched: trigram words, short tokens, words only a substring scan answers."""

    long: list[str]
    short: list[str]
    scan: list[str]


def split_query(q: str) -> Words:
    """Words of three characters or more, the short tokens of shorter words (`ingest.shortwords`), the rest."""
    words = Words([], [], [])
    for word in q.split():
        tokens = shortwords.query_tokens(word) if len(word) < 3 else None
        if len(word) >= 3:
            words.long.append(word)
        elif tokens is None:
            words.scan.append(word)
        else:
            words.short += [t for t in tokens if t not in words.short]
    return words


def _has_tokens(tokens: list[str]) -> sa.ColumnElement[bool]:
    """PostgreSQL: the item's short tokens hold all of `tokens` (served by `ix_item_search_short`)."""
    return _SHORT_ARRAY.op("@>")(sa.cast(sa.literal(tokens, ARRAY(sa.Text)), ARRAY(sa.Text)))


def search_items(engine: Engine, q: str, feed: str | None = None, entity: str | None = None,
                 since: datetime | None = None, until: datetime | None = None,
                 limit: int = 50) -> list[dict[str, Any]]:
    """Stored items whose title or text holds every word of `q` (any script), newest first, filtered.

    A word of three characters or more is a substring, ignoring case. A shorter word, normalised
    (NFKC, case folded), is a whole word of the title or text, or a substring if it holds a Han,
    kana or hangul character (`ingest.shortwords` gives the rules; `ai` finds `AI`, `ＡＩ`, `AI-led`,
    not `said`; `微` finds `微软`). A short word without a letter or digit (`$`) is a substring, scanned.
    SQLite: the FTS5 trigram table (`item_fts`) and the short-token table (`item_short`).
    PostgreSQL: the newest `RECENT_SCAN` items are scanned first (a common word fills the page
    there at once, where an index would fetch and sort every item holding it); if the page is
    not full, the older items through the trigram and short-token indexes (a rare word: few hits).
    """
    words = split_query(q)
    query = sa.select(*ITEM_COLUMNS).order_by(ITEMS.c.id.desc()).limit(limit)
    if feed:
        query = query.where(ITEMS.c.feed == feed)
    if entity:
        query = query.where(ITEMS.c.id.in_(sa.select(MATCHES.c.item_id).where(MATCHES.c.entity == entity)))
    if since is not None:
        query = query.where(ITEMS.c.fetched_at >= since)
    if until is not None:
        query = query.where(ITEMS.c.fetched_at < until)
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql" and (words.long or words.short or words.scan):
            return _search_postgres(conn, query, words, limit)
        return [dict(r._mapping) for r in conn.execute(_search_sqlite(conn, query, words))]


def _search_sqlite(conn: Connection, query: sa.Select[Any], words: Words) -> sa.Select[Any]:
    scan, lists, params = list(words.scan), [], {}
    if words.long and _fts_available(conn):
        lists.append("SELECT rowid FROM item_fts WHERE item_fts MATCH :m")
        params["m"] = " AND ".join(_literal(w) for w in words.long)
    else:
        scan += words.long
    if words.short and _fts_available(conn, "item_short"):
        lists.append("SELECT rowid FROM item_short WHERE item_short MATCH :s")
        params["s"] = " AND ".join(_literal(t) for t in words.short)
    elif words.short:  # not migrated to 0005h: the tokens as substrings (a superset of their matches)
        scan += words.short
    if lists:  # one list of ids: with two, SQLite would fetch every item of the first and probe the second
        query = query.where(ITEMS.c.id.in_(sa.text(" INTERSECT ".join(lists)).bindparams(**params)))
    return query.where(*(_like_contains(w) for w in scan))


def _search_postgres(conn: Connection, query: sa.Select[Any], words: Words, limit: int) -> list[dict[str, Any]]:
    top = conn.execute(sa.select(sa.func.max(ITEMS.c.id))).scalar() or 0
    border = top - RECENT_SCAN
    short = [_has_tokens(words.short)] if words.short else []
    recent = query.where(ITEMS.c.id > border, *short, *(_scan_contains(w) for w in words.long + words.scan))
    rows = [dict(r._mapping) for r in conn.execute(recent)]
    if len(rows) < limit and border > 0:
        # a word without a trigram or short token (`$`) has no index: through it the search reads everything
        older = query.where(ITEMS.c.id <= border, *short, *(_like_contains(w) for w in words.long),
                            *(_scan_contains(w) for w in words.scan)).limit(limit - len(rows))
        rows += [dict(r._mapping) for r in conn.execute(older)]
    return rows
