"""Chats waiting to be cleared: the receipt screen after a report was sent stays on the phone until the
reporter has written the code down, or a few minutes have passed.

What it takes to reach the chat (its id, the messages to delete, the language of the last line, when to do
it) is encrypted under a random id, which only the conversation holding the receipt points to (until the code
is written down); the tip does not lead to it, and the row is deleted as soon as the chat has been cleared.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.privacy.crypto import Cipher, DecryptionError

from .models import Clearing

log = logging.getLogger(__name__)


def _context(clearing_id: str) -> bytes:
    return b"clearing:" + clearing_id.encode()


def add_clearing(session: AsyncSession, cipher: Cipher, clearing_id: str, state: dict[str, Any]) -> None:
    """Add a clearing inside the caller's transaction (the tip's, when a report is sent)."""
    session.add(Clearing(id=clearing_id, data=cipher.encrypt_json(state, _context(clearing_id))))


class Clearings:
    def __init__(self, sessions: async_sessionmaker, cipher: Cipher):
        self._sessions = sessions
        self._cipher = cipher

    async def get(self, clearing_id: str) -> dict[str, Any] | None:
        async with self._sessions() as session:
            row = await session.get(Clearing, clearing_id)
        return None if row is None else self._open(row)

    async def save(self, clearing_id: str, state: dict[str, Any]) -> None:
        async with self._sessions.begin() as session:
            await session.merge(Clearing(id=clearing_id, data=self._cipher.encrypt_json(state, _context(clearing_id))))

    async def delete(self, clearing_id: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(Clearing).where(Clearing.id == clearing_id))

    async def all(self) -> list[tuple[str, dict[str, Any]]]:
        """Every clearing that decrypts; one that does not (its key is gone) can never be done and is dropped."""
        async with self._sessions() as session:
            rows = (await session.execute(select(Clearing))).scalars().all()
        found = []
        for row in rows:
            state = self._open(row)
            if state is None:
                await self.delete(row.id)
            else:
                found.append((row.id, state))
        return found

    def _open(self, row: Clearing) -> dict[str, Any] | None:
        try:
            return self._cipher.decrypt_json(row.data, _context(row.id))
        except DecryptionError:
            log.warning("a chat clearing does not decrypt and is dropped")
            return None
