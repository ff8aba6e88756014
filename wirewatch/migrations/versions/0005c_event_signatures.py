"""event signatures: item_signature.event/code/joined, the story_feature index, signatures for stored items (revision 0005c, after 0005b, 2026-12-07 12:00:00)

Stored items get their event signature here, on SQLite and PostgreSQL alike. Migrations must not
import model code; `ingest.event.event_signature` is not model code but a pure function of an
item's title and text (no tables, no session), so the migration calls it rather than carry a copy
of the rules that would drift. Watchlist entities are not known to a migration: stored items get
codes, figures and Latin names, and the daemon adds entities for the items it stores from now on.
Only items still in the story index (an `item_signature` row: inside `dedupe.window`) need one.
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel

from wirewatch.ingest.event import EVENT_SCHEME, event_signature, index_features

revision = '0005c'
down_revision = '0005b'


def upgrade() -> None:
    with op.batch_alter_table('item_signature', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.add_column(sa.Column('joined', sa.Text(), nullable=True))
    op.create_table('story_feature',
    sa.Column('feature', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('story_id', sa.Integer(), nullable=False),
    sa.Column('lang', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('feature', 'item_id')
    )
    op.create_index('ix_story_feature_created', 'story_feature', ['created_at'], unique=False)
    _backfill()


_META = sa.table('index_meta', sa.column('key', sa.String), sa.column('value', sa.Text))


def _backfill() -> None:
    conn = op.get_bind()
    signature = sa.table('item_signature', sa.column('item_id', sa.Integer), sa.column('story_id', sa.Integer),
                         sa.column('created_at', sa.DateTime(timezone=True)), sa.column('event', sa.Text),
                         sa.column('code', sa.String))
    item = sa.table('item', sa.column('id', sa.Integer), sa.column('title', sa.Text), sa.column('text', sa.Text))
    feature = sa.table('story_feature', sa.column('feature', sa.String), sa.column('item_id', sa.Integer),
                       sa.column('story_id', sa.Integer), sa.column('lang', sa.String),
                       sa.column('created_at', sa.DateTime(timezone=True)))
    last = -1
    while True:
        rows = conn.execute(
            sa.select(signature.c.item_id, signature.c.story_id, signature.c.created_at, item.c.title, item.c.text)
            .select_from(signature.join(item, item.c.id == signature.c.item_id))
            .where(signature.c.item_id > last).order_by(signature.c.item_id).limit(500)).all()
        if not rows:
            conn.execute(_META.delete().where(_META.c.key == "event.scheme"))  # an earlier upgrade's, if any
            conn.execute(_META.insert(), [{"key": "event.scheme", "value": EVENT_SCHEME}])
            return
        updates, features = [], []
        for item_id, story_id, created_at, title, text in rows:
            event = event_signature(title or "", text or "")
            updates.append({"key": item_id, "event": event.to_json(), "code": event.code})
            features += [{"feature": f, "item_id": item_id, "story_id": story_id, "lang": event.lang,
                          "created_at": created_at} for f in index_features(event)]
        conn.execute(signature.update().where(signature.c.item_id == sa.bindparam("key"))
                     .values(event=sa.bindparam("event"), code=sa.bindparam("code")), updates)
        if features:
            conn.execute(feature.insert(), features)
        last = rows[-1][0]


def downgrade() -> None:
    op.get_bind().execute(_META.delete().where(_META.c.key == "event.scheme"))
    with op.batch_alter_table('story_feature', schema=None) as batch_op:
        batch_op.drop_index('ix_story_feature_created')
    op.drop_table('story_feature')
    with op.batch_alter_table('item_signature', schema=None) as batch_op:
        batch_op.drop_column('joined')
        batch_op.drop_column('code')
        batch_op.drop_column('event')
