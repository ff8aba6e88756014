"""feed.polled_by: which daemon recorded a feed's last poll (daemons sharing a database take turns) (revision 0005b, after 0005a, 2026-12-07 11:50:00)."""

from alembic import op
import sqlalchemy as sa
import sqlmodel

revision = '0005b'
down_revision = '0005a'


def upgrade() -> None:
    with op.batch_alter_table('feed', schema=None) as batch_op:
        batch_op.add_column(sa.Column('polled_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('feed', schema=None) as batch_op:
        batch_op.drop_column('polled_by')
