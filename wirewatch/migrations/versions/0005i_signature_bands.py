"""story index bounded per story: item_signature.bands and an index on (story_id, code) (revision 0005i, after 0005h, 2026-12-07 23:40:00)

`item_signature.bands` is a bit mask of the item's band keys that have rows in `story_band` (bit i:
band i). An item joining a story that already has `ingest.indexstore.BAND_COPIES` recent items
under one of its band keys adds no row for that key: the story's candidate lists stop growing with
its size. Items stored before were indexed under every band: the default, all 32 bits, is theirs.
`ix_item_signature_story_code` lets the look-up of a story's security codes read a few index
entries instead of every item of the story.
"""

import sqlalchemy as sa
from alembic import op

revision = '0005i'
down_revision = '0005h'

ALL_BANDS = (1 << 32) - 1


def upgrade() -> None:
    with op.batch_alter_table('item_signature', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bands', sa.BigInteger(), nullable=False, server_default=str(ALL_BANDS)))
        batch_op.create_index('ix_item_signature_story_code', ['story_id', 'code'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('item_signature', schema=None) as batch_op:
        batch_op.drop_index('ix_item_signature_story_code')
        batch_op.drop_column('bands')
