"""Tables. Nothing here may hold a Telegram identifier or an exact time of a tip.

Tips and their files are encrypted blobs; dates are days; ids are random. Tables are WITHOUT ROWID on
SQLite so that no hidden insertion counter reveals the order in which tips arrived.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, DateTime, ForeignKey, Integer, LargeBinary, String, Text
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
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    """Where staff are with it: new, reviewing, verified or closed."""
    keep: Mapped[bool] = mapped_column(Boolean, default=False)
    """Staff asked to keep it beyond the retention period."""
    alerted: Mapped[bool] = mapped_column(Boolean, default=False)
    """For urgent tips: the immediate alert reached every staff chat."""
    flow_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """Content hash of the flow version the tip was filed under."""

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
    exchange_id: Mapped[str | None] = mapped_column(ForeignKey("exchanges.id", ondelete="CASCADE"), index=True)
    """Set for files a reporter sent later, in answer to staff; None for the report's own files."""

    tip: Mapped[Tip] = relationship(back_populates="attachments")


class Delivery(Base):
    """A staff chat has accepted every message of a tip's digest entry."""

    __tablename__ = "deliveries"
    __table_args__ = NO_ROWID

    tip_id: Mapped[str] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class Draft(Base):
    """A conversation in progress, keyed by HMAC of the chat id; deleted when the conversation ends.

    On PostgreSQL this table (like draft_files, clearings and code_attempts) is UNLOGGED, so its rows never
    reach the write-ahead log, and the bot rewrites it after conversations end (see storage/scrub.py)."""

    __tablename__ = "drafts"
    __table_args__ = NO_ROWID

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    touched_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class DraftFile(Base):
    """A sanitized attachment waiting in a draft until the tip is submitted.

    `bundle` is a random id the draft keeps (encrypted) for all its files, so no chat's HMAC is stored
    beside the files; `stored_at` (to the hour) only lets files of a lost draft expire."""

    __tablename__ = "draft_files"
    __table_args__ = NO_ROWID

    ref: Mapped[str] = mapped_column(String(32), primary_key=True)
    bundle: Mapped[str] = mapped_column(String(64), index=True)
    mime: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    stored_at: Mapped[datetime] = mapped_column(DateTime)


class InboxEntry(Base):
    """An update taken from Telegram and not yet handled, encrypted, so that a crash loses none (see
    bot/telegram/intake.py). Deleted as soon as it has been handled; UNLOGGED on PostgreSQL and rewritten with
    the other per-chat tables after conversations end."""

    __tablename__ = "inbox"
    __table_args__ = NO_ROWID

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    owner: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """The instance handling it (storage/coordination.py); another takes it over only once that one is gone."""


class ChatLease(Base):
    """A chat whose update one instance is handling now, by the chat's HMAC: updates of one chat are applied one
    at a time, in order, whichever instance received them. Deleted when the update is handled; a lease of an
    instance that is gone is taken over. UNLOGGED on PostgreSQL."""

    __tablename__ = "chat_leases"
    __table_args__ = NO_ROWID

    chat_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[int] = mapped_column(BigInteger)


class HandledCommand(Base):
    """A staff or admin update already handled, by its Telegram update id (a counter of this bot's updates, not
    a person's or a chat's): Telegram delivering it twice, or a replay after a crash, changes nothing twice.
    Forgotten after two days."""

    __tablename__ = "handled_commands"
    __table_args__ = NO_ROWID

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    day: Mapped[date] = mapped_column(Date)


class Clearing(Base):
    """A chat to clear later (the receipt screen after a report was sent): how to reach it and which
    messages to delete, encrypted, under a random id that no chat's HMAC leads to. Deleted once cleared."""

    __tablename__ = "clearings"
    __table_args__ = NO_ROWID

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class DeliveredPart(Base):
    """One piece of a tip's digest entry (its text, or file number n) that a staff chat has accepted.

    Several tips share one message where they fit: each of them gets its part recorded when it is accepted,
    so a digest that broke off sends only what is missing.
    """

    __tablename__ = "delivered_parts"
    __table_args__ = NO_ROWID

    tip_id: Mapped[str] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    part: Mapped[str] = mapped_column(String(16), primary_key=True)


class StaffChat(Base):
    """A staff chat's settings (its language, set with /language there), and whether an admin added it
    with /staff (chats from TIPBOT_STAFF_CHAT_IDS are staff chats without a row here)."""

    __tablename__ = "staff_chats"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    added: Mapped[bool] = mapped_column(Boolean, default=False)


class Admin(Base):
    """An admin added by another admin (those from TIPBOT_ADMIN_IDS are not stored)."""

    __tablename__ = "admins"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class FlowVersion(Base):
    """One version of a questionnaire, as its validated data (JSON) with a content hash. At most one
    version of a flow is active; tips keep the version (and hash) they were filed under."""

    __tablename__ = "flow_versions"

    flow_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    content: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_on: Mapped[date] = mapped_column(Date)


class Note(Base):
    """An internal note of staff on a tip (never shown to the reporter)."""

    __tablename__ = "notes"
    __table_args__ = NO_ROWID

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tip_id: Mapped[str] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[bytes] = mapped_column(LargeBinary)
    created_on: Mapped[date] = mapped_column(Date)


class Exchange(Base):
    """A message between staff and the reporter about a tip: staff write with /reply, the reporter reads
    it (and answers) only after checking with the receipt code. No chat is ever linked to a tip."""

    __tablename__ = "exchanges"
    __table_args__ = NO_ROWID

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tip_id: Mapped[str] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    sender: Mapped[str] = mapped_column(String(16))
    """"staff" or "reporter"."""
    text: Mapped[bytes] = mapped_column(LargeBinary)
    created_on: Mapped[date] = mapped_column(Date)
    number: Mapped[int] = mapped_column(Integer)
    """Order within the tip's conversation (1, 2, ...)."""
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)
    """For reporter answers: posted to every staff chat."""


class AuditEntry(Base):
    """Who among staff did what, when. Holds no reporter data: the action and the tip id only."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    staff_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(Text)
    tip_id: Mapped[str | None] = mapped_column(ForeignKey("tips.id", ondelete="SET NULL"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime)


class StateValue(Base):
    """Small facts the bot must remember across restarts, e.g. the day of the last digest."""

    __tablename__ = "state"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class Counter(Base):
    """How much one chat sent in a window (receipt-code tries, reports, messages to staff, files, kilobytes):
    `key` is the purpose and an HMAC of the chat's key, `hour` when the window began (to the hour). Deleted once
    the window has passed. The table keeps its first name, from when it counted receipt-code tries only."""

    __tablename__ = "code_attempts"
    __table_args__ = NO_ROWID

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime)
    count: Mapped[int] = mapped_column(Integer)


class PendingUpload(Base):
    """A questionnaire file an admin sent, waiting for Preview, Publish or Discard on whichever instance the
    press reaches: the uploader's id and the flow's content, encrypted, under the random token its buttons
    carry. Deleted on Publish or Discard, or after a day (storage/uploads.py)."""

    __tablename__ = "pending_uploads"
    __table_args__ = NO_ROWID

    token: Mapped[str] = mapped_column(String(16), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    """To the hour, to expire it."""


class NoticeClaim(Base):
    """A staff notice message on its way (bot/digest/notices.py): the placeholder a staff chat accepted, and which
    piece of which tip's part it is being edited into, so that a crash before the part is recorded delivered
    finishes that same message instead of posting the part again. The staff chat's message id sits beside the tip
    id only until the part is delivered there: the row is deleted in the transaction that records it."""

    __tablename__ = "notice_claims"
    __table_args__ = NO_ROWID

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tip_id: Mapped[str] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), primary_key=True)
    part: Mapped[str] = mapped_column(String(16), primary_key=True)
    piece: Mapped[int] = mapped_column(Integer, primary_key=True)
    """Which message of a part too long for one (1, 2, ...)."""
    message_id: Mapped[int] = mapped_column(BigInteger)
    language: Mapped[str] = mapped_column(String(8))
    """The language the message is written in, so that finishing it later writes the same text."""
