"""item search for words of one or two characters: item.search_short and its index (revision 0005h, after 0005g, 2026-12-07 17:40:00)

`item.search_short` holds the item's short tokens (`wirewatch.ingest.shortwords`: short whole
words, CJK characters and CJK pairs), separated by spaces. The writer fills it when an item is
stored or edited; this migration fills it for the items stored before, in batches of `BATCH` by id.
SQLite: `item_short`, an external-content FTS5 table over it (unicode61 keeps each token whole: a
token is letters and digits only), kept in step by triggers. PostgreSQL: a GIN index on
`string_to_array(search_short, ' ')`. Like 0005f, a later migration that rebuilds `item` in batch
mode on SQLite drops these triggers and must create them again (`create_sqlite_triggers`).

The token function is imported, not copied: the tokens must be the ones the search computes for
its words (a change of the rules, `shortwords.SCHEME`, comes with a migration that recomputes them).
"""

import sqlalchemy as sa
from alembic import op

from wirewatch.ingest.shortwords import stored_tokens

revision = '0005h'
down_revision = '0005g'

BATCH = 2000

SQLITE_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS item_short_ai AFTER INSERT ON item BEGIN "
    "INSERT INTO item_short(rowid, search_short) VALUES (new.id, new.search_short); END",
    "CREATE TRIGGER IF NOT EXISTS item_short_ad AFTER DELETE ON item BEGIN "
    "INSERT INTO item_short(item_short, rowid, search_short) VALUES ('delete', old.id, old.search_short); END",
    "CREATE TRIGGER IF NOT EXISTS item_short_au AFTER UPDATE OF search_short ON item BEGIN "
    "INSERT INTO item_short(item_short, rowid, search_short) VALUES ('delete', old.id, old.search_short); "
    "INSERT INTO item_short(rowid, search_short) VALUES (new.id, new.search_short); END",
)


def create_sqlite_triggers() -> None:
    for statement in SQLITE_TRIGGERS:
        op.execute(statement)


def backfill(conn: sa.Connection) -> int:
    """Compute `search_short` for every item that has none, `BATCH` items at a time; how many."""
    item = sa.table('item', sa.column('id', sa.Integer), sa.column('title', sa.Text), sa.column('text', sa.Text),
                    sa.column('search_short', sa.Text))
    query = (sa.select(item.c.id, item.c.title, item.c.text)
             .where(item.c.id > sa.bindparam('after'), item.c.search_short.is_(None)).order_by(item.c.id).limit(BATCH))
    write = item.update().where(item.c.id == sa.bindparam('key')).values(search_short=sa.bindparam('tokens'))
    after, done = 0, 0
    while True:
        rows = conn.execute(query, {'after': after}).all()
        if not rows:
            return done
        conn.execute(write, [{'key': r.id, 'tokens': stored_tokens(r.title, r.text)}
                             for r in rows])
        after, done = rows[-1].id, done + len(rows)


def upgrade() -> None:
    op.add_column('item', sa.Column('search_short', sa.Text(), nullable=True))
    conn = op.get_bind()
    backfill(conn)
    if conn.dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE IF NOT EXISTS item_short USING fts5("
                   "search_short, content='item', content_rowid='id', tokenize='unicode61 remove_diacritics 0')")
        op.execute("INSERT INTO item_short(item_short) VALUES ('rebuild')")
        create_sqlite_triggers()
    else:
        op.execute("CREATE INDEX IF NOT EXISTS ix_item_search_short ON item "
                   "USING gin (string_to_array(search_short, ' '))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("item_short_ai", "item_short_ad", "item_short_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS item_short")
        op.execute("ALTER TABLE item DROP COLUMN search_short")  # native (SQLite 3.35+): item_fts triggers stay
    else:
        op.execute("DROP INDEX IF EXISTS ix_item_search_short")
        op.drop_column('item', 'search_short')
