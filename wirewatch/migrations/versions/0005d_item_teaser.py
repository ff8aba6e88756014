"""item teaser flag (revision 0005d, after 0005c, 2026-12-07 12:00:00)."""

from alembic import op
import sqlalchemy as sa

revision = '0005d'
down_revision = '0005c'


def upgrade() -> None:

    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('teaser', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:

    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.drop_column('teaser')
