"""Drafts that leave nothing behind: draft files under a random bundle id instead of the chat's HMAC, a
table of chats to clear later under random ids, and on PostgreSQL these tables UNLOGGED (never written to
the write-ahead log).

Revision ID: 0005
Revises: 0004
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NO_ROWID = {"sqlite_with_rowid": False}
PER_CHAT_TABLES = ("drafts", "draft_files", "clearings", "code_attempts")


def _new_draft_files(name: str) -> None:
    op.create_table(
        name,
        sa.Column("ref", sa.String(32), primary_key=True),
        sa.Column("bundle", sa.String(64), nullable=False),
        sa.Column("mime", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("stored_at", sa.DateTime, nullable=False),
        **NO_ROWID,
    )


def upgrade() -> None:
    # Files of drafts begun before this version keep the draft's key as their bundle: the draft still finds them.
    _new_draft_files("draft_files_new")
    hour = datetime.now().replace(minute=0, second=0, microsecond=0)
    op.execute(
        sa.text(
            "INSERT INTO draft_files_new (ref, bundle, mime, data, stored_at) "
            "SELECT ref, draft_key, mime, data, :hour FROM draft_files"
        ).bindparams(hour=hour)
    )
    op.drop_index("ix_draft_files_draft_key", table_name="draft_files")
    op.drop_table("draft_files")
    op.rename_table("draft_files_new", "draft_files")
    op.create_index("ix_draft_files_bundle", "draft_files", ["bundle"])
    op.create_table(
        "clearings",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
        **NO_ROWID,
    )
    if op.get_bind().dialect.name == "postgresql":
        for table in PER_CHAT_TABLES:
            op.execute(f"ALTER TABLE {table} SET UNLOGGED")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in PER_CHAT_TABLES:
            op.execute(f"ALTER TABLE {table} SET LOGGED")
    op.drop_table("clearings")
    op.drop_index("ix_draft_files_bundle", table_name="draft_files")
    op.drop_table("draft_files")
    op.create_table(
        "draft_files",
        sa.Column("ref", sa.String(32), primary_key=True),
        sa.Column("draft_key", sa.String(64), sa.ForeignKey("drafts.key", ondelete="CASCADE"), nullable=False),
        sa.Column("mime", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        **NO_ROWID,
    )
    op.create_index("ix_draft_files_draft_key", "draft_files", ["draft_key"])
