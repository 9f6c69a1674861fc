"""Flow versions in the database, tips remember the flow's content hash, admins and staff chats added in Telegram.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

NO_ROWID = {"sqlite_with_rowid": False}


def upgrade() -> None:
    op.create_table(
        "flow_versions",
        sa.Column("flow_id", sa.String(40), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_on", sa.Date, nullable=False),
    )
    op.create_table("admins", sa.Column("user_id", sa.BigInteger, primary_key=True))
    with op.batch_alter_table("staff_chats") as batch:
        batch.alter_column("language", existing_type=sa.String(8), nullable=True)
        batch.add_column(sa.Column("added", sa.Boolean, nullable=False, server_default=sa.false()))
    with op.batch_alter_table("tips", recreate="auto", table_kwargs=NO_ROWID) as batch:
        batch.add_column(sa.Column("flow_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tips", recreate="auto", table_kwargs=NO_ROWID) as batch:
        batch.drop_column("flow_hash")
    with op.batch_alter_table("staff_chats") as batch:
        batch.drop_column("added")
        batch.alter_column("language", existing_type=sa.String(8), nullable=False)
    op.drop_table("admins")
    op.drop_table("flow_versions")
