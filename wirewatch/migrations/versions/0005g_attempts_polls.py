"""delivery_attempt (one row per try of a delivery or digest) and poll_log (recent polls per feed) (revision 0005g, after 0005f, 2026-12-07 12:55:00)

Both are new tables: `item` is not touched, so its FTS triggers (0005f) stay in place.
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel

from wirewatch.migrations.steps import drop_tables

revision = '0005g'
down_revision = '0005f'


def upgrade() -> None:
    op.create_table(
        'delivery_attempt',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('delivery_id', sa.Integer(), nullable=True),
        sa.Column('digest_id', sa.Integer(), nullable=True),
        sa.Column('channel', sa.String(length=200), nullable=False),
        sa.Column('attempt', sa.Integer(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('http_status', sa.Integer(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(['delivery_id'], ['alert_deliveries.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['digest_id'], ['alert_digests.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_delivery_attempt_delivery_id'), 'delivery_attempt', ['delivery_id'], unique=False)
    op.create_index(op.f('ix_delivery_attempt_digest_id'), 'delivery_attempt', ['digest_id'], unique=False)
    op.create_table(
        'poll_log',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('feed', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column('http_status', sa.Integer(), nullable=True),
        sa.Column('new', sa.Integer(), nullable=False),
        sa.Column('updated', sa.Integer(), nullable=False),
        sa.Column('duplicate', sa.Integer(), nullable=False),
        sa.Column('duration', sa.Float(), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_poll_log_feed_id', 'poll_log', ['feed', 'id'], unique=False)


def downgrade() -> None:
    drop_tables(
        ('poll_log', ('ix_poll_log_feed_id',)),
        ('delivery_attempt', ('ix_delivery_attempt_digest_id', 'ix_delivery_attempt_delivery_id')),
    )
