"""feed health and cadence (revision 0004, after 0003, 2026-11-28 12:10:08)."""

from alembic import op
import sqlalchemy as sa
import sqlmodel

revision = '0004'
down_revision = '0003'


def upgrade() -> None:

    with op.batch_alter_table('feed', schema=None) as batch_op:
        batch_op.add_column(sa.Column('new_item_gap', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('health', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False, server_default='ok'))
        batch_op.add_column(sa.Column('health_since', sa.DateTime(timezone=True), nullable=True))




def downgrade() -> None:

    with op.batch_alter_table('feed', schema=None) as batch_op:
        batch_op.drop_column('health_since')
        batch_op.drop_column('health')
        batch_op.drop_column('new_item_gap')


