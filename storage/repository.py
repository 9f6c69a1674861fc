"""The only module that knows SQL. It takes and returns plain Python values and does the encryption,
so nothing above it handles ciphertext and nothing below it sees plaintext."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.privacy.clean import file_kind
from bot.privacy.crypto import Cipher

from .models import Attachment, Delivery, Draft, DraftFile, Tip


@dataclass(frozen=True)
class StoredFile:
    id: str
    kind: str
    mime: str
    data: bytes


@dataclass(frozen=True)
class StoredTip:
    id: str
    flow_id: str
    flow_version: int
    answers: dict[str, Any]
    created_on: date
    urgent: bool
    files: list[StoredFile] = field(default_factory=list)

    @property
    def short_id(self) -> str:
        return self.id[:8]


@dataclass(frozen=True)
class NewTip:
    flow_id: str
    flow_version: int
    answers: dict[str, Any]
    urgent: bool
    created_on: date
    receipt_hash: str


def random_id() -> str:
    return secrets.token_hex(16)


class Repository:
    def __init__(self, sessions: async_sessionmaker, cipher: Cipher):
        self._sessions = sessions
        self._cipher = cipher

    # ---- drafts -------------------------------------------------------------------------------------------

    async def load_draft(self, key: str) -> dict[str, Any] | None:
        async with self._sessions() as session:
            row = await session.get(Draft, key)
            return None if row is None else self._cipher.decrypt_json(row.data, b"draft:" + key.encode())

    async def save_draft(self, key: str, state: dict[str, Any], now: datetime) -> None:
        """`now` is kept to the hour, only to expire the draft."""
        touched = now.replace(minute=0, second=0, microsecond=0, tzinfo=None)
        blob = self._cipher.encrypt_json(state, b"draft:" + key.encode())
        async with self._sessions.begin() as session:
            await session.merge(Draft(key=key, data=blob, touched_at=touched))

    async def delete_draft(self, key: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(DraftFile).where(DraftFile.draft_key == key))
            await session.execute(delete(Draft).where(Draft.key == key))

    async def add_draft_file(self, key: str, mime: str, data: bytes) -> str:
        ref = random_id()
        blob = self._cipher.encrypt(data, b"draft-file:" + ref.encode())
        async with self._sessions.begin() as session:
            session.add(DraftFile(ref=ref, draft_key=key, mime=mime, data=blob))
        return ref

    async def delete_draft_files(self, key: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(DraftFile).where(DraftFile.draft_key == key))

    async def expire_drafts(self, touched_before: datetime) -> int:
        cutoff = touched_before.replace(tzinfo=None)
        async with self._sessions.begin() as session:
            stale = select(Draft.key).where(Draft.touched_at < cutoff)
            await session.execute(delete(DraftFile).where(DraftFile.draft_key.in_(stale)))
            result = await session.execute(delete(Draft).where(Draft.touched_at < cutoff))
            return result.rowcount or 0

    # ---- tips ---------------------------------------------------------------------------------------------

    async def submit_tip(self, draft_key: str, tip: NewTip, file_refs: list[str]) -> str:
        """Store the tip and move its files out of the draft, all in one transaction; drop the draft."""
        tip_id = random_id()
        async with self._sessions.begin() as session:
            files = (await session.execute(select(DraftFile).where(DraftFile.ref.in_(file_refs)))).scalars().all()
            by_ref = {row.ref: row for row in files if row.draft_key == draft_key}
            missing = [ref for ref in file_refs if ref not in by_ref]
            if missing:
                raise LookupError(f"{len(missing)} attachment(s) of the draft are missing")
            row = Tip(
                id=tip_id,
                flow_id=tip.flow_id,
                flow_version=tip.flow_version,
                answers=self._cipher.encrypt_json(tip.answers, b"tip:" + tip_id.encode()),
                created_on=tip.created_on,
                urgent=tip.urgent,
                digest_status="pending",
                receipt_hash=tip.receipt_hash,
            )
            session.add(row)
            for position, ref in enumerate(file_refs):
                draft_file = by_ref[ref]
                data = self._cipher.decrypt(draft_file.data, b"draft-file:" + ref.encode())
                attachment_id = random_id()
                session.add(
                    Attachment(
                        id=attachment_id,
                        tip_id=tip_id,
                        position=position,
                        kind=file_kind(draft_file.mime),
                        mime=draft_file.mime,
                        data=self._cipher.encrypt(data, b"attachment:" + attachment_id.encode()),
                    )
                )
            await session.flush()
            await session.execute(delete(DraftFile).where(DraftFile.draft_key == draft_key))
            await session.execute(delete(Draft).where(Draft.key == draft_key))
        return tip_id

    async def tips_pending_for(self, chat_id: int) -> list[StoredTip]:
        """Tips not yet digested that this staff chat has not accepted yet, oldest day first."""
        delivered = select(Delivery.tip_id).where(Delivery.chat_id == chat_id)
        query = (
            select(Tip).where(Tip.digest_status == "pending", Tip.id.not_in(delivered)).order_by(Tip.created_on, Tip.id)
        )
        return await self._load_tips(query)

    async def pending_tips(self) -> list[StoredTip]:
        query = select(Tip).where(Tip.digest_status == "pending").order_by(Tip.created_on, Tip.id)
        return await self._load_tips(query)

    async def get_tip(self, tip_id: str) -> StoredTip | None:
        tips = await self._load_tips(select(Tip).where(Tip.id == tip_id))
        return tips[0] if tips else None

    async def record_delivery(self, tip_id: str, chat_id: int) -> None:
        async with self._sessions.begin() as session:
            await session.merge(Delivery(tip_id=tip_id, chat_id=chat_id))

    async def mark_digested(self, chat_ids: list[int]) -> int:
        """Pending tips that every one of `chat_ids` has accepted become digested."""
        if not chat_ids:
            return 0
        async with self._sessions.begin() as session:
            delivered = (
                select(Delivery.tip_id)
                .where(Delivery.chat_id.in_(chat_ids))
                .group_by(Delivery.tip_id)
                .having(func.count(func.distinct(Delivery.chat_id)) == len(set(chat_ids)))
            )
            tips = (
                (await session.execute(select(Tip).where(Tip.digest_status == "pending", Tip.id.in_(delivered))))
                .scalars()
                .all()
            )
            for tip in tips:
                tip.digest_status = "sent"
            return len(tips)

    async def count_tips(self) -> int:
        async with self._sessions() as session:
            return (await session.execute(select(func.count()).select_from(Tip))).scalar_one()

    async def _load_tips(self, query) -> list[StoredTip]:
        async with self._sessions() as session:
            rows = (await session.execute(query)).scalars().all()
            result = []
            for row in rows:
                attachments = (
                    (
                        await session.execute(
                            select(Attachment).where(Attachment.tip_id == row.id).order_by(Attachment.position)
                        )
                    )
                    .scalars()
                    .all()
                )
                result.append(
                    StoredTip(
                        id=row.id,
                        flow_id=row.flow_id,
                        flow_version=row.flow_version,
                        answers=self._cipher.decrypt_json(row.answers, b"tip:" + row.id.encode()),
                        created_on=row.created_on,
                        urgent=row.urgent,
                        files=[
                            StoredFile(
                                a.id,
                                a.kind,
                                a.mime,
                                self._cipher.decrypt(a.data, b"attachment:" + a.id.encode()),
                            )
                            for a in attachments
                        ],
                    )
                )
            return result
