"""Staff side: tip status and keep flag, urgent alerts, per-part deliveries, staff chats, notes, follow-up
exchanges, audit log, state, receipt-code attempts.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

NO_ROWID = {"sqlite_with_rowid": False}


def upgrade() -> None:
    with op.batch_alter_table("tips", recreate="auto", table_kwargs=NO_ROWID) as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="new"))
        batch.add_column(sa.Column("keep", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("alerted", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.create_index("ix_tips_status", ["status"])
    op.create_table(
        "exchanges",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("tip_id", sa.String(32), sa.ForeignKey("tips.id", ondelete="CASCADE"), nullable=False),
        sa.Column("sender", sa.String(16), nullable=False),
        sa.Column("text", sa.LargeBinary, nullable=False),
        sa.Column("created_on", sa.Date, nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("delivered", sa.Boolean, nullable=False),
        **NO_ROWID,
    )
    op.create_index("ix_exchanges_tip_id", "exchanges", ["tip_id"])
    with op.batch_alter_table("attachments", recreate="auto", table_kwargs=NO_ROWID) as batch:
        batch.add_column(sa.Column("exchange_id", sa.String(32), nullable=True))
        batch.create_foreign_key("fk_attachments_exchange_id", "exchanges", ["exchange_id"], ["id"], ondelete="CASCADE")
        batch.create_index("ix_attachments_exchange_id", ["exchange_id"])
    op.create_table(
        "delivered_parts",
        sa.Column("tip_id", sa.String(32), sa.ForeignKey("tips.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("chat_id", sa.BigInteger, primary_key=True),
        sa.Column("part", sa.String(16), primary_key=True),
        **NO_ROWID,
    )
    op.create_table(
        "staff_chats",
        sa.Column("chat_id", sa.BigInteger, primary_key=True),
        sa.Column("language", sa.String(8), nullable=False),
    )
    op.create_table(
        "notes",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("tip_id", sa.String(32), sa.ForeignKey("tips.id", ondelete="CASCADE"), nullable=False),
        sa.Column("author_id", sa.BigInteger, nullable=False),
        sa.Column("text", sa.LargeBinary, nullable=False),
        sa.Column("created_on", sa.Date, nullable=False),
        **NO_ROWID,
    )
    op.create_index("ix_notes_tip_id", "notes", ["tip_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("staff_id", sa.BigInteger, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("tip_id", sa.String(32), sa.ForeignKey("tips.id", ondelete="SET NULL"), nullable=True),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_audit_log_tip_id", "audit_log", ["tip_id"])
    op.create_table(
        "state",
        sa.Column("key", sa.String(40), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )
    op.create_table(
        "code_attempts",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("hour", sa.DateTime, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        **NO_ROWID,
    )


def downgrade() -> None:
    op.drop_table("code_attempts")
    op.drop_table("state")
    op.drop_table("audit_log")
    op.drop_table("notes")
    op.drop_table("staff_chats")
    op.drop_table("delivered_parts")
    with op.batch_alter_table("attachments", recreate="auto", table_kwargs=NO_ROWID) as batch:
        batch.drop_index("ix_attachments_exchange_id")
        batch.drop_constraint("fk_attachments_exchange_id", type_="foreignkey")
        batch.drop_column("exchange_id")
    op.drop_table("exchanges")
    with op.batch_alter_table("tips", recreate="auto", table_kwargs=NO_ROWID) as batch:
        batch.drop_index("ix_tips_status")
        batch.drop_column("alerted")
        batch.drop_column("keep")
        batch.drop_column("status")
