"""alerts, digests, deliveries, channel state (revision 0002, after 0001, 2026-11-28 11:52:55)."""

from alembic import op
import sqlalchemy as sa

from wirewatch.migrations.steps import drop_tables

revision = '0002'
down_revision = '0001'


def _send_state() -> list[sa.Column]:
    """The attempt, lease and creation columns `alert_digests` and `alert_deliveries` share, in table order."""
    return [
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('step', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('first_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('claimed_by', sa.String(length=200), nullable=True),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:

    op.create_table('alert_channel_states',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('config_hash', sa.String(length=64), nullable=True),
    sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('alert_digests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=200), nullable=False),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('message_id', sa.String(length=40), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    *_send_state(),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('channel', 'window_end', name='uq_alert_digests_channel_window'),
    sa.UniqueConstraint('message_id')
    )
    op.create_index(op.f('ix_alert_digests_next_attempt_at'), 'alert_digests', ['next_attempt_at'], unique=False)

    op.create_table('alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=40), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('story_id', sa.BigInteger(), nullable=False),
    sa.Column('watchlist', sa.String(length=200), nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('item_id', sa.BigInteger(), nullable=True),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('throttled', sa.Boolean(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('public_id'),
    sa.UniqueConstraint('story_id', 'watchlist', 'key', name='uq_alerts_story_watchlist_key')
    )
    op.create_index(op.f('ix_alerts_created_at'), 'alerts', ['created_at'], unique=False)
    op.create_index(op.f('ix_alerts_watchlist'), 'alerts', ['watchlist'], unique=False)

    op.create_table('alert_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=200), nullable=False),
    sa.Column('message_id', sa.String(length=40), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('batched', sa.Boolean(), nullable=False),
    sa.Column('digest_id', sa.Integer(), nullable=True),
    *_send_state(),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['digest_id'], ['alert_digests.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('alert_id', 'channel', name='uq_alert_deliveries_alert_channel'),
    sa.UniqueConstraint('message_id')
    )
    op.create_index(op.f('ix_alert_deliveries_channel'), 'alert_deliveries', ['channel'], unique=False)
    op.create_index(op.f('ix_alert_deliveries_digest_id'), 'alert_deliveries', ['digest_id'], unique=False)
    op.create_index('ix_alert_deliveries_due', 'alert_deliveries', ['state', 'next_attempt_at'], unique=False)




def downgrade() -> None:
    drop_tables(
        ('alert_deliveries', ('ix_alert_deliveries_due', 'ix_alert_deliveries_digest_id', 'ix_alert_deliveries_channel')),
        ('alerts', ('ix_alerts_watchlist', 'ix_alerts_created_at')),
        ('alert_digests', ('ix_alert_digests_next_attempt_at',)),
        ('alert_channel_states', ()),
    )
