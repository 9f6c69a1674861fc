"""Questionnaire files admins uploaded, waiting for their decision (Preview, Publish or Discard).

Several instances may serve one bot, and the admin's next press may reach any of them, so an upload is kept in
the database rather than in the memory of the instance that read it: the uploader's id and the flow's content,
encrypted and bound to the random token its buttons carry. Discard takes it, Publish deletes it in the
transaction that stores the new version (storage/flow_versions.py), so of two presses one wins; an upload
nobody decided on is deleted after `LIFETIME`.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.privacy.crypto import Cipher, DecryptionError

from .models import PendingUpload
from .repository import to_hour

log = logging.getLogger(__name__)

LIFETIME = timedelta(days=1)


@dataclass(frozen=True)
class StoredUpload:
    token: str
    uploader: int
    raw: dict[str, Any]
    """The flow as read from the file (an .xlsx already turned into the same structure)."""


def _context(token: str) -> bytes:
    return b"pending-upload:" + token.encode()


class PendingUploads:
    def __init__(self, sessions: async_sessionmaker, cipher: Cipher):
        self._sessions = sessions
        self._cipher = cipher

    async def add(self, uploader: int, raw: dict[str, Any], now: datetime) -> str:
        """Keep an upload and return its token: 8 hex digits, short enough for a button's data."""
        async with self._sessions.begin() as session:
            insert = postgresql_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
            while True:  # a token already waiting (one chance in 2^32 per upload) is drawn again
                token = secrets.token_hex(4)
                blob = self._cipher.encrypt_json({"uploader": uploader, "raw": raw}, _context(token))
                statement = insert(PendingUpload).values(token=token, data=blob, uploaded_at=to_hour(now))
                added = await session.execute(statement.on_conflict_do_nothing(index_elements=["token"]))
                if added.rowcount:
                    return token

    async def get(self, token: str, now: datetime) -> StoredUpload | None:
        """The upload if it is still waiting (not decided on, not expired)."""
        async with self._sessions() as session:
            row = await session.get(PendingUpload, token)
        return self._open(row) if row is not None and not _expired(row, now) else None

    async def take(self, token: str, now: datetime) -> StoredUpload | None:
        """Remove the upload for a decision and return it; None if it was decided on already (a second press,
        here or on another instance) or has expired."""
        async with self._sessions.begin() as session:
            taken = await session.execute(
                delete(PendingUpload).where(PendingUpload.token == token).returning(PendingUpload)
            )
            row = taken.scalar_one_or_none()
        return self._open(row) if row is not None and not _expired(row, now) else None

    async def expire(self, now: datetime) -> int:
        """Delete uploads waiting for longer than LIFETIME (run with the drafts' expiry)."""
        async with self._sessions.begin() as session:
            expired = await session.execute(delete(PendingUpload).where(PendingUpload.uploaded_at < _cutoff(now)))
            return expired.rowcount

    def _open(self, row: PendingUpload) -> StoredUpload | None:
        try:
            data = self._cipher.decrypt_json(row.data, _context(row.token))
        except DecryptionError:
            log.warning("skipped an upload that does not decrypt")
            return None
        return StoredUpload(row.token, data["uploader"], data["raw"])


def _cutoff(now: datetime) -> datetime:
    return to_hour(now - LIFETIME)


def _expired(row: PendingUpload, now: datetime) -> bool:
    return row.uploaded_at < _cutoff(now)
