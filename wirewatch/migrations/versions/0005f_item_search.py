"""item search: an FTS5 trigram index on SQLite, pg_trgm GIN indexes on PostgreSQL (revision 0005f, after 0005d, 2026-12-07 11:50:00)

Trigrams index every script alike, so Chinese and Japanese need no word segmentation. On
SQLite, `item_fts` is an external-content FTS5 table over item(title, text), kept in step by
triggers. A later migration that rebuilds `item` in batch mode (SQLite copies and drops the
table) drops those triggers and must create them again (`create_sqlite_triggers`).
"""

from alembic import op

revision = '0005f'
down_revision = '0005d'

SQLITE_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS item_fts_ai AFTER INSERT ON item BEGIN "
    "INSERT INTO item_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END",
    "CREATE TRIGGER IF NOT EXISTS item_fts_ad AFTER DELETE ON item BEGIN "
    "INSERT INTO item_fts(item_fts, rowid, title, text) VALUES ('delete', old.id, old.title, old.text); END",
    "CREATE TRIGGER IF NOT EXISTS item_fts_au AFTER UPDATE OF title, text ON item BEGIN "
    "INSERT INTO item_fts(item_fts, rowid, title, text) VALUES ('delete', old.id, old.title, old.text); "
    "INSERT INTO item_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END",
)


def create_sqlite_triggers() -> None:
    for statement in SQLITE_TRIGGERS:
        op.execute(statement)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE IF NOT EXISTS item_fts USING fts5("
                   "title, text, content='item', content_rowid='id', tokenize='trigram')")
        op.execute("INSERT INTO item_fts(item_fts) VALUES ('rebuild')")
        create_sqlite_triggers()
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX IF NOT EXISTS ix_item_title_trgm ON item USING gin (title gin_trgm_ops)")
        op.execute("CREATE INDEX IF NOT EXISTS ix_item_text_trgm ON item USING gin (text gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("item_fts_ai", "item_fts_ad", "item_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS item_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_item_text_trgm")
        op.execute("DROP INDEX IF EXISTS ix_item_title_trgm")
