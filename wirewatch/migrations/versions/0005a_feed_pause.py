"""feed pause state (revision 0005a, after 0004, 2026-12-07 11:40:00)."""

from alembic import op
import sqlalchemy as sa

revision = '0005a'
down_revision = '0004'


def upgrade() -> None:

    with op.batch_alter_table('feed', schema=None) as batch_op:
        batch_op.add_column(sa.Column('paused_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table('feed', schema=None) as batch_op:
        batch_op.drop_column('paused_at')
