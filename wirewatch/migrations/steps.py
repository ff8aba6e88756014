"""Steps that several migrations take, written once (frozen like the migrations: change none of them)."""

from __future__ import annotations

from alembic import op


def drop_tables(*tables: tuple[str, tuple[str, ...]]) -> None:
    """Drop each (table, its indexes) in the order given: the indexes first, then the table."""
    for table, indexes in tables:
        if indexes:
            with op.batch_alter_table(table, schema=None) as batch_op:
                for name in indexes:
                    batch_op.drop_index(name)
        op.drop_table(table)
