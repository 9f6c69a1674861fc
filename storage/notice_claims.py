"""Staff notice messages on their way: which placeholder message in which staff chat is being edited into which
piece of which tip's part (bot/digest/notices.py says why). A claim is stored before the edit, and deleted in
the same transaction that records the part delivered, so at every moment either the part is delivered, or its
message is known, or nothing of its content has reached the chat.

The primary key (chat, tip, part, piece) makes the database the arbiter: of two senders claiming one piece,
one gets it and the other drops its placeholder, so a part never has two messages.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import async_sessionmaker

from .models import DeliveredPart, NoticeClaim, Tip
from .repository import Repository


@dataclass(frozen=True)
class Claim:
    tip_id: str
    part: str
    piece: int
    message_id: int
    language: str

    @property
    def key(self) -> tuple[str, str]:
        return self.tip_id, self.part


class NoticeClaims:
    def __init__(self, sessions: async_sessionmaker):
        self._sessions = sessions

    @classmethod
    def beside(cls, repository: Repository) -> NoticeClaims:
        """Claims in the repository's database: recording a part delivered and deleting its claims is one
        transaction there."""
        return cls(repository._sessions)  # noqa: SLF001 - the storage package shares its sessions

    async def of_chat(self, chat_id: int) -> list[Claim]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(NoticeClaim).where(NoticeClaim.chat_id == chat_id).order_by(NoticeClaim.message_id)
            )
            return [Claim(r.tip_id, r.part, r.piece, r.message_id, r.language) for r in rows.scalars()]

    async def claim(self, chat_id: int, message_id: int, language: str, pieces: list[tuple[str, str, int]]) -> bool:
        """Claim (tip, part, piece) triples for one message; False, claiming nothing, if any is claimed already."""
        rows = [
            {"chat_id": chat_id, "tip_id": tip_id, "part": part, "piece": piece,
             "message_id": message_id, "language": language}
            for tip_id, part, piece in pieces
        ]  # fmt: skip
        async with self._sessions.begin() as session:
            insert = postgresql_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
            taken = await session.execute(insert(NoticeClaim).values(rows).on_conflict_do_nothing())
            if taken.rowcount == len(rows):
                return True
            await session.execute(  # the pieces this message did get
                delete(NoticeClaim).where(NoticeClaim.chat_id == chat_id, NoticeClaim.message_id == message_id)
            )
            return False

    async def deliver(self, chat_id: int, parts: list[tuple[str, str]]) -> None:
        """After Telegram showed them: the parts delivered in this chat, and their claims gone, at once."""
        if not parts:
            return
        async with self._sessions.begin() as session:
            for tip_id, part in parts:
                await session.merge(DeliveredPart(tip_id=tip_id, chat_id=chat_id, part=part))
            await session.execute(
                delete(NoticeClaim).where(
                    NoticeClaim.chat_id == chat_id, tuple_(NoticeClaim.tip_id, NoticeClaim.part).in_(parts)
                )
            )

    async def release(self, chat_id: int, message_id: int) -> None:
        """The claimed message is gone from the chat (deleted by someone there): its parts are to be sent again."""
        async with self._sessions.begin() as session:
            await session.execute(
                delete(NoticeClaim).where(NoticeClaim.chat_id == chat_id, NoticeClaim.message_id == message_id)
            )

    async def forget(self, chat_id: int, parts: list[tuple[str, str]]) -> None:
        """Claims of parts that need no message any more (delivered already, or no longer waiting)."""
        if parts:
            async with self._sessions.begin() as session:
                await session.execute(
                    delete(NoticeClaim).where(
                        NoticeClaim.chat_id == chat_id, tuple_(NoticeClaim.tip_id, NoticeClaim.part).in_(parts)
                    )
                )

    async def alerted_since_digest(self) -> int:
        """Urgent reports alerted that no digest has carried yet: more than a few mean a surge."""
        async with self._sessions() as session:
            alerted = Tip.urgent.is_(True), Tip.alerted.is_(True), Tip.digest_status == "pending"
            return await session.scalar(select(func.count()).select_from(Tip).where(*alerted))

    async def keep_only(self, chat_ids: list[int]) -> None:
        """Claims in chats that are no longer staff chats are never finished: they go."""
        async with self._sessions.begin() as session:
            await session.execute(delete(NoticeClaim).where(NoticeClaim.chat_id.not_in(chat_ids)))
