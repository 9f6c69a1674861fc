"""Questionnaire files uploaded by admins and waiting for Preview, Publish or Discard are stored (encrypted,
under the random token of their buttons) instead of in one instance's memory, so a press reaching any instance
finds them.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_uploads",
        sa.Column("token", sa.String(16), primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("uploaded_at", sa.DateTime, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_pending_uploads_uploaded_at", "pending_uploads", ["uploaded_at"])


def downgrade() -> None:
    op.drop_index("ix_pending_uploads_uploaded_at", "pending_uploads")
    op.drop_table("pending_uploads")
