"""Updates taken from Telegram and not yet handled (see bot/telegram/intake.py for why and when).

Each is kept encrypted under its update id, bound to it, and deleted as soon as it has been handled; at start
the ones left by a crash are handed back to be handled.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.privacy.crypto import Cipher, DecryptionError

from .models import InboxEntry

log = logging.getLogger(__name__)


def _context(update_id: int) -> bytes:
    return b"inbox:" + str(update_id).encode()


class Inbox:
    def __init__(self, sessions: async_sessionmaker, cipher: Cipher):
        self._sessions = sessions
        self._cipher = cipher

    async def add(self, update_id: int, update: dict[str, Any]) -> None:
        """Keep an update until it is handled; one kept already (Telegram sent it again) stays as it is."""
        blob = self._cipher.encrypt_json(update, _context(update_id))
        async with self._sessions.begin() as session:
            dialect = session.bind.dialect.name
            insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
            statement = insert(InboxEntry).values(update_id=update_id, data=blob)
            await session.execute(statement.on_conflict_do_nothing(index_elements=["update_id"]))

    async def done(self, update_id: int) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(InboxEntry).where(InboxEntry.update_id == update_id))

    async def waiting(self) -> list[dict[str, Any]]:
        """Updates a crash left unhandled, oldest first; one that does not decrypt (its key is gone) is dropped."""
        async with self._sessions() as session:
            rows = (await session.execute(select(InboxEntry).order_by(InboxEntry.update_id))).scalars().all()
        updates = []
        for row in rows:
            try:
                updates.append(self._cipher.decrypt_json(row.data, _context(row.update_id)))
            except DecryptionError:
                log.warning("an update left unhandled does not decrypt and is dropped")
                await self.done(row.update_id)
        return updates
