"""The inbox: updates taken from Telegram and not yet handled, so that a crash loses none. UNLOGGED on
PostgreSQL like the other per-chat tables (its rows hold chat ids and what people sent, encrypted, for the
seconds it takes to handle them).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("update_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sqlite_with_rowid=False,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE inbox SET UNLOGGED")


def downgrade() -> None:
    op.drop_table("inbox")
