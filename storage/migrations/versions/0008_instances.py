"""Several instances on one PostgreSQL: each inbox row names the instance handling it (so another instance takes
it over only when that one is gone), and a chat being handled is leased to one instance at a time. A lease is
keyed by the chat's HMAC, names only the instance, holds no time, and lives for the moment one update takes;
UNLOGGED on PostgreSQL like the other per-chat tables.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.add_column(sa.Column("owner", sa.BigInteger, nullable=True))
    op.create_table(
        "chat_leases",
        sa.Column("chat_key", sa.String(64), primary_key=True),
        sa.Column("owner", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE chat_leases SET UNLOGGED")


def downgrade() -> None:
    op.drop_table("chat_leases")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("owner")
