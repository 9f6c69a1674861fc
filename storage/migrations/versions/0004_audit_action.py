"""Audit actions as text: an action naming a flow with a long id no longer overflows VARCHAR(32) on PostgreSQL.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("action", existing_type=sa.String(32), type_=sa.Text, existing_nullable=False)


def downgrade() -> None:
    op.execute("UPDATE audit_log SET action = substr(action, 1, 32) WHERE length(action) > 32")
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("action", existing_type=sa.Text, type_=sa.String(32), existing_nullable=False)
