"""Tips, their attachments and deliveries; drafts and their files.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

NO_ROWID = {"sqlite_with_rowid": False}


def upgrade() -> None:
    op.create_table(
        "tips",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("flow_id", sa.String(40), nullable=False),
        sa.Column("flow_version", sa.Integer, nullable=False),
        sa.Column("answers", sa.LargeBinary, nullable=False),
        sa.Column("created_on", sa.Date, nullable=False),
        sa.Column("urgent", sa.Boolean, nullable=False),
        sa.Column("digest_status", sa.String(16), nullable=False),
        sa.Column("receipt_hash", sa.String(64), nullable=False, unique=True),
        **NO_ROWID,
    )
    op.create_index("ix_tips_created_on", "tips", ["created_on"])
    op.create_index("ix_tips_digest_status", "tips", ["digest_status"])
    op.create_table(
        "attachments",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("tip_id", sa.String(32), sa.ForeignKey("tips.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("mime", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        **NO_ROWID,
    )
    op.create_index("ix_attachments_tip_id", "attachments", ["tip_id"])
    op.create_table(
        "deliveries",
        sa.Column("tip_id", sa.String(32), sa.ForeignKey("tips.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("chat_id", sa.BigInteger, primary_key=True),
        **NO_ROWID,
    )
    op.create_table(
        "drafts",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("touched_at", sa.DateTime, nullable=False),
        **NO_ROWID,
    )
    op.create_index("ix_drafts_touched_at", "drafts", ["touched_at"])
    op.create_table(
        "draft_files",
        sa.Column("ref", sa.String(32), primary_key=True),
        sa.Column("draft_key", sa.String(64), sa.ForeignKey("drafts.key", ondelete="CASCADE"), nullable=False),
        sa.Column("mime", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        **NO_ROWID,
    )
    op.create_index("ix_draft_files_draft_key", "draft_files", ["draft_key"])


def downgrade() -> None:
    op.drop_table("draft_files")
    op.drop_table("drafts")
    op.drop_table("deliveries")
    op.drop_table("attachments")
    op.drop_table("tips")
