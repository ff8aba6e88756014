"""item teaser flag

Revision ID: 0005d
Revises: 0005c
Create Date: 2026-12-07 12:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0005d'
down_revision = '0005c'
branch_labels = None
depends_on = None


def upgrade() -> None:

    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('teaser', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:

    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.drop_column('teaser')
