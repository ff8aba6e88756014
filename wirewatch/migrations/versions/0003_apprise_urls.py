"""apprise per-URL delivery state (revision 0003, after 0002, 2026-11-28 12:07:31)."""

from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'


def upgrade() -> None:

    op.create_table('alert_apprise_urls',
    sa.Column('delivery_id', sa.String(length=40), nullable=False),
    sa.Column('url_hash', sa.String(length=64), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('delivery_id', 'url_hash')
    )



def downgrade() -> None:

    op.drop_table('alert_apprise_urls')

