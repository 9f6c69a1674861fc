"""Staff notices are claimed before they are shown (bot/digest/notices.py): a placeholder's message id per staff
chat and part, kept only until the part is recorded delivered there. The files of a reporter's answer become a
part of their own ("attached:N"), recorded apart from its text ("answer:N"): a chat that had the answer before
this upgrade had its files too.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_parts = sa.table("delivered_parts", sa.column("tip_id"), sa.column("chat_id"), sa.column("part"))


def upgrade() -> None:
    op.create_table(
        "notice_claims",
        sa.Column("chat_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("tip_id", sa.String(32), sa.ForeignKey("tips.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("part", sa.String(16), primary_key=True),
        sa.Column("piece", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("message_id", sa.BigInteger, nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sqlite_with_rowid=False,
    )
    answers = sa.select(
        _parts.c.tip_id,
        _parts.c.chat_id,
        sa.literal("attached:").concat(sa.func.substr(_parts.c.part, len("answer:") + 1)),
    ).where(_parts.c.part.like("answer:%"))
    op.execute(_parts.insert().from_select(["tip_id", "chat_id", "part"], answers))


def downgrade() -> None:
    op.drop_table("notice_claims")
    op.execute(_parts.delete().where(_parts.c.part.like("attached:%")))
