"""Tables. Nothing here may hold a Telegram identifier or an exact time of a tip.

Tips and their files are encrypted blobs; dates are days; ids are random. Tables are WITHOUT ROWID on
SQLite so that no hidden insertion counter reveals the order in which tips arrived.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, DateTime, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NO_ROWID = {"sqlite_with_rowid": False}


class Base(DeclarativeBase):
    pass


class Tip(Base):
    __tablename__ = "tips"
    __table_args__ = NO_ROWID

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    flow_id: Mapped[str] = mapped_column(String(40))
    flow_version: Mapped[int] = mapped_column(Integer)
    answers: Mapped[bytes] = mapped_column(LargeBinary)
    created_on: Mapped[date] = mapped_column(Date, index=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    digest_status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    receipt_hash: Mapped[str] = mapped_column(String(64), unique=True)

    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="tip", cascade="all, delete-orphan", order_by="Attachment.position"
    )


class Attachment(Base):
    __tablename__ = "attachments"
    __table_args__ = NO_ROWID

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tip_id: Mapped[str] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    mime: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)

    tip: Mapped[Tip] = relationship(back_populates="attachments")


class Delivery(Base):
    """A staff chat has accepted every message of a tip's digest entry."""

    __tablename__ = "deliveries"
    __table_args__ = NO_ROWID

    tip_id: Mapped[str] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class Draft(Base):
    """A conversation in progress, keyed by HMAC of the chat id; deleted on submit, cancel or expiry."""

    __tablename__ = "drafts"
    __table_args__ = NO_ROWID

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    touched_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class DraftFile(Base):
    """A sanitized attachment waiting in a draft until the tip is submitted."""

    __tablename__ = "draft_files"
    __table_args__ = NO_ROWID

    ref: Mapped[str] = mapped_column(String(32), primary_key=True)
    draft_key: Mapped[str] = mapped_column(ForeignKey("drafts.key", ondelete="CASCADE"), index=True)
    mime: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
