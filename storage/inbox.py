"""Updates taken from Telegram and not yet handled (see bot/telegram/intake.py for why and when).

Each is kept encrypted under its update id, bound to it, with the number of the instance handling it, and
deleted as soon as it has been handled. The ones an instance left when it died (a crash, or an instance of
several that is gone) are taken over by a live instance and handled there (storage/coordination.py says how
"gone" is known).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.privacy.crypto import Cipher, DecryptionError

from .models import InboxEntry

log = logging.getLogger(__name__)


def _context(update_id: int) -> bytes:
    return b"inbox:" + str(update_id).encode()


class Inbox:
    def __init__(
        self, sessions: async_sessionmaker, cipher: Cipher, owner: int, alive: Callable[[int | None], Awaitable[bool]]
    ):
        self._sessions = sessions
        self._cipher = cipher
        self._owner = owner
        """This instance's number."""
        self._alive = alive

    async def add(self, update_id: int, update: dict[str, Any]) -> bool:
        """Keep an update until this instance has handled it. False when a live instance has it already
        (Telegram sent it to two instances, or again while the first was handling it): it is not handled here.
        One left by an instance that is gone is taken over."""
        blob = self._cipher.encrypt_json(update, _context(update_id))
        async with self._sessions.begin() as session:
            dialect = session.bind.dialect.name
            insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
            statement = insert(InboxEntry).values(update_id=update_id, data=blob, owner=self._owner)
            added = await session.execute(statement.on_conflict_do_nothing(index_elements=["update_id"]))
            if added.rowcount:
                return True
            holder = await session.scalar(select(InboxEntry.owner).where(InboxEntry.update_id == update_id))
        if holder == self._owner or await self._alive(holder):
            return False
        return bool(await self._take_over(holder, update_id))

    async def done(self, update_id: int) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(InboxEntry).where(InboxEntry.update_id == update_id))

    async def take_over(self) -> list[dict[str, Any]]:
        """The updates instances that are gone left unhandled, now this instance's, oldest first; one that does
        not decrypt (its key is gone) is dropped. At start that is whatever a crash of this bot left."""
        async with self._sessions() as session:
            owners = set((await session.execute(select(InboxEntry.owner).distinct())).scalars())
        taken: list[tuple[int, bytes]] = []
        for owner in owners - {self._owner}:
            if not await self._alive(owner):
                taken.extend(await self._take_over(owner))
        updates = []
        for update_id, data in sorted(taken):
            try:
                updates.append(self._cipher.decrypt_json(data, _context(update_id)))
            except DecryptionError:
                log.warning("an update left unhandled does not decrypt and is dropped")
                await self.done(update_id)
        return updates

    async def kept(self) -> list[dict[str, Any]]:
        """Every update the inbox holds now, whichever instance handles it, oldest first (to inspect it)."""
        async with self._sessions() as session:
            rows = (await session.execute(select(InboxEntry).order_by(InboxEntry.update_id))).scalars().all()
        return [self._cipher.decrypt_json(row.data, _context(row.update_id)) for row in rows]

    async def _take_over(self, owner: int | None, update_id: int | None = None) -> list[tuple[int, bytes]]:
        """Make the rows of a gone instance (all, or one) this instance's. Of two instances taking over at once,
        each row goes to one: the second finds its owner changed."""
        held_by = InboxEntry.owner.is_(None) if owner is None else InboxEntry.owner == owner
        condition = [held_by] if update_id is None else [held_by, InboxEntry.update_id == update_id]
        async with self._sessions.begin() as session:
            taken = await session.execute(
                update(InboxEntry)
                .where(*condition)
                .values(owner=self._owner)
                .returning(InboxEntry.update_id, InboxEntry.data)
            )
            return [(row.update_id, row.data) for row in taken]
