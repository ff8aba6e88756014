"""${message} (revision ${up_revision}, after ${down_revision | comma,n}, ${create_date.strftime("%Y-%m-%d %H:%M:%S")})."""

from alembic import op
import sqlalchemy as sa
import sqlmodel
${imports if imports else ""}
revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
