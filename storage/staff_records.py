"""SQL for the staff side beyond the tips themselves: staff chat settings, notes, follow-up exchanges with
reporters, small persistent state, and per-chat rate counters. Texts are encrypted like answers, bound
to their tip; a note or exchange that does not decrypt is left out with a log line."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import case, delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.privacy.clean import file_kind
from bot.privacy.crypto import Cipher

from .models import Admin, Attachment, Counter, Exchange, HandledCommand, Note, StaffChat, StateValue
from .repository import (
    AuditRecord,
    StoredFile,
    add_audit,
    bound_context,
    log_skipped,
    open_blob,
    random_id,
    to_hour,
)


@dataclass(frozen=True)
class StoredNote:
    author_id: int
    text: str
    created_on: date


@dataclass(frozen=True)
class StoredExchange:
    id: str
    tip_id: str
    number: int
    sender: str
    text: str
    created_on: date
    files: list[StoredFile] = field(default_factory=list)


class StaffRecords:
    def __init__(self, sessions: async_sessionmaker, cipher: Cipher):
        self._sessions = sessions
        self._cipher = cipher

    # ---- staff chats and state ------------------------------------------------------------------------------

    async def staff_language(self, chat_id: int) -> str | None:
        async with self._sessions() as session:
            row = await session.get(StaffChat, chat_id)
            return row.language if row else None

    async def set_staff_language(self, chat_id: int, language: str, audit: AuditRecord | None = None) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(StaffChat, chat_id)
            if row is None:
                session.add(StaffChat(chat_id=chat_id, language=language, added=False))
            else:
                row.language = language
            add_audit(session, audit)

    async def added_staff_chats(self) -> list[int]:
        async with self._sessions() as session:
            rows = await session.execute(select(StaffChat.chat_id).where(StaffChat.added.is_(True)))
            return sorted(row[0] for row in rows)

    async def set_staff_chat(self, chat_id: int, added: bool, audit: AuditRecord | None = None) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(StaffChat, chat_id)
            if row is None:
                session.add(StaffChat(chat_id=chat_id, language=None, added=added))
            else:
                row.added = added
            add_audit(session, audit)

    async def admins(self) -> list[int]:
        async with self._sessions() as session:
            return sorted(row[0] for row in await session.execute(select(Admin.user_id)))

    async def set_admin(self, user_id: int, admin: bool, audit: AuditRecord | None = None) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(Admin, user_id)
            if admin and row is None:
                session.add(Admin(user_id=user_id))
            elif not admin and row is not None:
                await session.delete(row)
            add_audit(session, audit)

    async def state(self, key: str) -> str | None:
        async with self._sessions() as session:
            row = await session.get(StateValue, key)
            return row.value if row else None

    async def set_state(self, key: str, value: str, audit: AuditRecord | None = None) -> None:
        async with self._sessions.begin() as session:
            await session.merge(StateValue(key=key, value=value))
            add_audit(session, audit)

    async def first_handling(self, update_id: int, day: date) -> bool:
        """True the first time a staff or admin update is handled; False when Telegram delivers it again."""
        async with self._sessions.begin() as session:
            insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
            statement = insert(HandledCommand).values(update_id=update_id, day=day).on_conflict_do_nothing()
            return (await session.execute(statement)).rowcount == 1

    async def forget_handled(self, before: date) -> int:
        async with self._sessions.begin() as session:
            return (await session.execute(delete(HandledCommand).where(HandledCommand.day < before))).rowcount

    # ---- notes ----------------------------------------------------------------------------------------------

    async def add_note(
        self, tip_id: str, author_id: int, text: str, day: date, audit: AuditRecord | None = None
    ) -> None:
        note_id = random_id()
        blob = self._cipher.encrypt(text.encode(), bound_context("note", tip_id, note_id))
        async with self._sessions.begin() as session:
            session.add(Note(id=note_id, tip_id=tip_id, author_id=author_id, text=blob, created_on=day))
            add_audit(session, audit)

    async def notes(self, tip_id: str) -> list[StoredNote]:
        async with self._sessions() as session:
            rows = (await session.execute(select(Note).where(Note.tip_id == tip_id))).scalars().all()
        notes = []
        for row in rows:
            text = open_blob(self._cipher, row.text, bound_context("note", row.tip_id, row.id))
            if text is not None:
                notes.append(StoredNote(row.author_id, text.decode(), row.created_on))
        log_skipped(len(rows) - len(notes), "note")
        return sorted(notes, key=lambda note: note.created_on)

    # ---- follow-up exchanges ----------------------------------------------------------------------------------

    async def add_exchange(
        self,
        tip_id: str,
        sender: str,
        text: str,
        day: date,
        files: list[tuple[str, bytes]] = (),
        audit: AuditRecord | None = None,
    ) -> StoredExchange:
        """A message on a tip from staff (read by the reporter with the code) or from the reporter."""
        exchange_id = random_id()
        async with self._sessions.begin() as session:
            count = await session.execute(select(func.count()).where(Exchange.tip_id == tip_id))
            number = count.scalar_one() + 1
            session.add(
                Exchange(
                    id=exchange_id,
                    tip_id=tip_id,
                    sender=sender,
                    text=self._cipher.encrypt(text.encode(), bound_context("exchange", tip_id, exchange_id)),
                    created_on=day,
                    number=number,
                    delivered=sender == "staff",
                )
            )
            await session.flush()
            stored_files = []
            for position, (mime, data) in enumerate(files):
                attachment_id = random_id()
                session.add(
                    Attachment(
                        id=attachment_id,
                        tip_id=tip_id,
                        position=position,
                        kind=file_kind(mime),
                        mime=mime,
                        data=self._cipher.encrypt(data, bound_context("attachment", tip_id, attachment_id)),
                        exchange_id=exchange_id,
                    )
                )
                stored_files.append(StoredFile(attachment_id, file_kind(mime), mime, data))
            add_audit(session, audit)
        return StoredExchange(exchange_id, tip_id, number, sender, text, day, stored_files)

    async def exchanges(self, tip_id: str) -> list[StoredExchange]:
        return await self._load(select(Exchange).where(Exchange.tip_id == tip_id).order_by(Exchange.number))

    async def undelivered_answers(self) -> list[StoredExchange]:
        """Reporters' answers not yet posted to every staff chat."""
        query = select(Exchange).where(Exchange.sender == "reporter", Exchange.delivered.is_(False))
        return await self._load(query.order_by(Exchange.tip_id, Exchange.number))

    async def mark_delivered(self, exchange_id: str) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(Exchange, exchange_id)
            if row is not None:
                row.delivered = True

    async def _load(self, query) -> list[StoredExchange]:
        """Files are opened under the exchange's tip: one moved to another tip's exchange does not decrypt."""
        result, broken, broken_files = [], 0, 0
        async with self._sessions() as session:
            rows = (await session.execute(query)).scalars().all()
            for row in rows:
                text = open_blob(self._cipher, row.text, bound_context("exchange", row.tip_id, row.id))
                if text is None:
                    broken += 1
                    continue
                attachments = (
                    await session.execute(
                        select(Attachment).where(Attachment.exchange_id == row.id).order_by(Attachment.position)
                    )
                ).scalars()
                files = []
                for a in attachments:
                    data = open_blob(self._cipher, a.data, bound_context("attachment", row.tip_id, a.id))
                    if data is None:
                        broken_files += 1
                    else:
                        files.append(StoredFile(a.id, a.kind, a.mime, data))
                day = row.created_on
                result.append(StoredExchange(row.id, row.tip_id, row.number, row.sender, text.decode(), day, files))
        log_skipped(broken, "message")
        log_skipped(broken_files, "attachment")
        return result

    # ---- rate counters ----------------------------------------------------------------------------------------

    async def count(
        self, key: str, now: datetime, window: timedelta, limit: int, amount: int = 1, restart: bool = False
    ) -> bool:
        """Add `amount` to `key`'s count unless that would pass `limit` (then False, nothing added).

        One statement, so concurrent counts are all counted. A window begins at the hour of its first count and
        lasts `window`; `restart` begins a new one now, whatever was counted before."""
        if amount > limit:
            return False
        now = now.replace(tzinfo=None)
        async with self._sessions.begin() as session:
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            statement = insert(Counter).values(key=key, hour=to_hour(now), count=amount)
            new = statement.excluded
            if restart:
                statement = statement.on_conflict_do_update(
                    index_elements=[Counter.key], set_={"hour": new.hour, "count": new.count}
                )
            else:
                running = Counter.hour > now - window
                statement = statement.on_conflict_do_update(
                    index_elements=[Counter.key],
                    set_={
                        "hour": case((running, Counter.hour), else_=new.hour),
                        "count": case((running, Counter.count + new.count), else_=new.count),
                    },
                    where=or_(~running, Counter.count + new.count <= limit),
                )
            counted = await session.execute(statement.returning(Counter.count))
            return counted.first() is not None

    async def counted_since(self, key: str) -> datetime | None:
        """When `key`'s current window began (naive, in the bot's time zone)."""
        async with self._sessions() as session:
            return await session.scalar(select(Counter.hour).where(Counter.key == key))

    async def delete_counters(self, ended: dict[str, datetime]) -> int:
        """Delete counters whose window has passed: `ended` maps a key prefix to the latest window start that
        has ended. Rows of no listed prefix (left by an earlier version) are deleted too."""
        async with self._sessions.begin() as session:
            removed = 0
            for prefix, latest in ended.items():
                old = Counter.key.startswith(prefix, autoescape=True) & (Counter.hour <= latest.replace(tzinfo=None))
                removed += (await session.execute(delete(Counter).where(old))).rowcount or 0
            known = or_(*(Counter.key.startswith(prefix, autoescape=True) for prefix in ended))
            removed += (await session.execute(delete(Counter).where(~known))).rowcount or 0
            return removed
