"""The only module that knows SQL. It takes and returns plain Python values and does the encryption,
so nothing above it handles ciphertext and nothing below it sees plaintext."""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.privacy.clean import file_kind
from bot.privacy.crypto import Cipher, DecryptionError

from .clearings import add_clearing
from .models import Attachment, AuditEntry, DeliveredPart, Delivery, Draft, DraftFile, Exchange, Note, StateValue, Tip


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
    status: str = "new"
    keep: bool = False
    flow_hash: str | None = None

    @property
    def short_id(self) -> str:
        return self.id[:8]


STATUSES = ("new", "reviewing", "verified", "closed")
OPEN_STATUSES = ("new", "reviewing")


@dataclass(frozen=True)
class NewTip:
    flow_id: str
    flow_version: int
    answers: dict[str, Any]
    urgent: bool
    created_on: date
    receipt_hash: str
    flow_hash: str | None = None


log = logging.getLogger(__name__)


def random_id() -> str:
    return secrets.token_hex(16)


def to_hour(moment: datetime) -> datetime:
    """A moment kept no finer than its hour (and without a time zone, as the columns are)."""
    return moment.replace(minute=0, second=0, microsecond=0, tzinfo=None)


@dataclass(frozen=True)
class AuditRecord:
    """A line of the audit log: who among staff did what, to which tip, when (never reporter data). Methods
    that change something take one and write it in their own transaction: both are stored, or neither."""

    staff_id: int
    action: str
    tip_id: str | None
    at: datetime


def add_audit(session: AsyncSession, audit: AuditRecord | None) -> None:
    if audit is not None:
        at = audit.at.replace(tzinfo=None)
        session.add(AuditEntry(staff_id=audit.staff_id, action=audit.action, tip_id=audit.tip_id, at=at))


def bound_context(kind: str, tip_id: str, row_id: str) -> bytes:
    """The context an attachment, note or exchange is encrypted under: its tip and its own id, so a row moved
    to another tip no longer decrypts."""
    return f"{kind}:{tip_id}:{row_id}".encode()


def open_blob(cipher: Cipher, blob: bytes, context: bytes) -> bytes | None:
    """The plaintext, or None for a blob that does not decrypt (tampered, moved, or its key is gone)."""
    try:
        return cipher.decrypt(blob, context)
    except DecryptionError:
        return None


def log_skipped(count: int, what: str) -> None:
    """One line per listing, naming no row: which ones failed is for an operator with the database to find."""
    if count:
        log.warning("skipped %d %s(s) that do not decrypt", count, what)


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
        """`now` is kept to the hour, only to expire the draft. A state names its files' bundle under "bundle"
        (drafts begun before bundles existed used their key)."""
        touched = to_hour(now)
        blob = self._cipher.encrypt_json(state, b"draft:" + key.encode())
        async with self._sessions.begin() as session:
            await session.merge(Draft(key=key, data=blob, touched_at=touched))

    async def delete_draft(self, key: str, bundle: str | None = None) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(DraftFile).where(DraftFile.bundle == (bundle or key)))
            await session.execute(delete(Draft).where(Draft.key == key))

    async def add_draft_file(self, bundle: str, mime: str, data: bytes, now: datetime | None = None) -> str:
        ref = random_id()
        blob = self._cipher.encrypt(data, b"draft-file:" + ref.encode())
        stored_at = to_hour(now or datetime.now())
        async with self._sessions.begin() as session:
            session.add(DraftFile(ref=ref, bundle=bundle, mime=mime, data=blob, stored_at=stored_at))
        return ref

    async def delete_draft_files(self, bundle: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(DraftFile).where(DraftFile.bundle == bundle))

    async def expire_drafts(self, touched_before: datetime) -> int:
        """Delete drafts untouched since the cut-off with their files, and files whose draft is gone (stored
        a day before the cut-off)."""
        cutoff = to_hour(touched_before)
        async with self._sessions.begin() as session:
            stale = (await session.execute(select(Draft).where(Draft.touched_at < cutoff))).scalars().all()
            bundles = [self._bundle_of(row) for row in stale]
            await session.execute(delete(DraftFile).where(DraftFile.bundle.in_(bundles)))
            await session.execute(delete(DraftFile).where(DraftFile.stored_at < cutoff - timedelta(days=1)))
            await session.execute(delete(Draft).where(Draft.key.in_([row.key for row in stale])))
            return len(stale)

    def _bundle_of(self, row: Draft) -> str:
        """Drafts that do not decrypt leave their files to expire with the orphans."""
        state = self._open_draft(row)
        return (state or {}).get("bundle") or row.key

    def _open_draft(self, row: Draft) -> dict[str, Any] | None:
        state = open_blob(self._cipher, row.data, b"draft:" + row.key.encode())
        if state is None:
            log.warning("skipped a draft that does not decrypt")
        return None if state is None else json.loads(state)

    async def drafts(self) -> list[tuple[str, dict[str, Any]]]:
        """Every draft with its state (to find conversations left idle); drafts that do not decrypt are skipped."""
        async with self._sessions() as session:
            rows = (await session.execute(select(Draft))).scalars().all()
        states = [(row.key, self._open_draft(row)) for row in rows]
        return [(key, state) for key, state in states if state is not None]

    # ---- tips ---------------------------------------------------------------------------------------------

    async def submit_tip(
        self,
        draft_key: str,
        tip: NewTip,
        file_refs: list[str],
        bundle: str | None = None,
        clearing: tuple[str, dict[str, Any]] | None = None,
        after: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> str:
        """Store the tip and move its files out of the draft, all in one transaction; drop the draft (and the
        rest of its bundle), or replace it by `after`, the conversation's state once the report is sent (which
        holds the receipt until the reporter has written it down). `clearing` (a random id and what it takes to
        clear the chat, see storage/clearings.py) is stored in the same transaction, so neither the receipt
        nor the clearing of the chat is lost if the bot stops right after."""
        tip_id = random_id()
        bundle = bundle or draft_key
        async with self._sessions.begin() as session:
            files = (await session.execute(select(DraftFile).where(DraftFile.ref.in_(file_refs)))).scalars().all()
            by_ref = {row.ref: row for row in files if row.bundle == bundle}
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
                flow_hash=tip.flow_hash,
                status="new",
                keep=False,
                alerted=False,
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
                        data=self._cipher.encrypt(data, bound_context("attachment", tip_id, attachment_id)),
                    )
                )
            await session.flush()
            await session.execute(delete(DraftFile).where(DraftFile.bundle == bundle))
            await session.execute(delete(Draft).where(Draft.key == draft_key))
            if after is not None:
                assert now is not None, "the state after sending expires like a draft: pass now"
                blob = self._cipher.encrypt_json(after, b"draft:" + draft_key.encode())
                session.add(Draft(key=draft_key, data=blob, touched_at=to_hour(now)))
            if clearing is not None:
                add_clearing(session, self._cipher, *clearing)
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

    async def get_tip(self, tip_id: str, files: bool = True) -> StoredTip | None:
        tips = await self._load_tips(select(Tip).where(Tip.id == tip_id), files=files)
        return tips[0] if tips else None

    async def delivered_parts(self, chat_id: int, tip_ids: list[str]) -> dict[str, set[str]]:
        """For each tip, the parts of its digest entry this chat has already accepted."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(DeliveredPart.tip_id, DeliveredPart.part).where(
                    DeliveredPart.chat_id == chat_id, DeliveredPart.tip_id.in_(tip_ids)
                )
            )
            parts: dict[str, set[str]] = {}
            for tip_id, part in rows:
                parts.setdefault(tip_id, set()).add(part)
            return parts

    async def record_parts(self, chat_id: int, parts: list[tuple[str, str]], complete: list[str]) -> None:
        """After Telegram accepted a message: its parts, and the tips now complete in this chat."""
        async with self._sessions.begin() as session:
            for tip_id, part in parts:
                await session.merge(DeliveredPart(tip_id=tip_id, chat_id=chat_id, part=part))
            for tip_id in complete:
                await session.merge(Delivery(tip_id=tip_id, chat_id=chat_id))

    async def urgent_unalerted(self) -> list[StoredTip]:
        return await self._load_tips(select(Tip).where(Tip.urgent.is_(True), Tip.alerted.is_(False)), files=False)

    async def mark_alerted(self, tip_id: str) -> None:
        async with self._sessions.begin() as session:
            tip = await session.get(Tip, tip_id)
            if tip is not None:
                tip.alerted = True

    # ---- staff work ---------------------------------------------------------------------------------------

    async def find_tip_ids(self, prefix: str) -> list[str]:
        """Tip ids starting with `prefix` (staff may type the first 8 characters)."""
        cleaned = prefix.strip().lower()
        if not cleaned or any(ch not in "0123456789abcdef" for ch in cleaned):
            return []
        async with self._sessions() as session:
            rows = await session.execute(select(Tip.id).where(Tip.id.like(f"{cleaned}%")).limit(2))
            return [row[0] for row in rows]

    async def list_tips(self, statuses: tuple[str, ...] | None, limit: int = 50) -> list[StoredTip]:
        query = select(Tip).order_by(Tip.created_on.desc(), Tip.id).limit(limit)
        if statuses is not None:
            query = query.where(Tip.status.in_(statuses))
        return await self._load_tips(query, files=False)

    async def tips_since(self, day: date, files: bool = True) -> list[StoredTip]:
        query = select(Tip).where(Tip.created_on >= day).order_by(Tip.created_on, Tip.id)
        return await self._load_tips(query, files=files)

    async def set_status(self, tip_id: str, status: str, audit: AuditRecord | None = None) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        async with self._sessions.begin() as session:
            tip = await session.get(Tip, tip_id)
            if tip is not None:
                tip.status = status
                add_audit(session, audit)

    async def set_keep(self, tip_id: str, keep: bool, audit: AuditRecord | None = None) -> None:
        async with self._sessions.begin() as session:
            tip = await session.get(Tip, tip_id)
            if tip is not None:
                tip.keep = keep
                add_audit(session, audit)

    async def tip_by_receipt(self, receipt_hashes: list[str]) -> str | None:
        """The tip whose receipt code hashes to one of `receipt_hashes` (one per key, current and previous)."""
        async with self._sessions() as session:
            row = await session.execute(select(Tip.id).where(Tip.receipt_hash.in_(receipt_hashes)))
            found = row.first()
            return found[0] if found else None

    async def audit(self, staff_id: int, action: str, tip_id: str | None, at: datetime) -> None:
        """The audit row of an action that changes nothing here (a view, a list, an export): written before
        the action, which does not happen if this fails."""
        async with self._sessions.begin() as session:
            add_audit(session, AuditRecord(staff_id, action, tip_id, at))

    async def audit_entries(self) -> list[tuple[int, str, str | None, datetime]]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(AuditEntry.staff_id, AuditEntry.action, AuditEntry.tip_id, AuditEntry.at).order_by(AuditEntry.id)
            )
            return [tuple(row) for row in rows]

    # ---- retention ----------------------------------------------------------------------------------------

    async def expiring_on(self, day: date) -> list[StoredTip]:
        """Tips created on `day` that are not kept: the ones retention removes on a given later day."""
        query = select(Tip).where(Tip.created_on == day, Tip.keep.is_(False)).order_by(Tip.id)
        return await self._load_tips(query, files=False)

    async def purge(self, created_before: date) -> int:
        """Delete every tip older than the cut-off that staff did not keep, with everything that belongs to it
        (files, notes, exchanges, deliveries; audit entries lose the reference)."""
        async with self._sessions.begin() as session:
            old = select(Tip.id).where(Tip.created_on < created_before, Tip.keep.is_(False))
            removed = (await session.execute(delete(Tip).where(Tip.id.in_(old)))).rowcount or 0
        if removed:
            await self._forget_deleted_pages()
        return removed

    async def _forget_deleted_pages(self) -> None:
        """SQLite overwrites deleted rows (secure_delete), but the write-ahead log still holds the old pages
        until a checkpoint: fold it into the database and truncate it."""
        async with self._sessions() as session:
            if session.bind.dialect.name == "sqlite":
                await session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))

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

    async def _load_tips(self, query, files: bool = True) -> list[StoredTip]:
        """A tip or a file that does not decrypt is left out with a log line; the rest load."""
        async with self._sessions() as session:
            rows = (await session.execute(query)).scalars().all()
            by_tip: dict[str, list[StoredFile]] = {}
            if files and rows:
                attachments = await session.execute(
                    select(Attachment)
                    .where(Attachment.tip_id.in_([row.id for row in rows]), Attachment.exchange_id.is_(None))
                    .order_by(Attachment.tip_id, Attachment.position)
                )
                broken = 0
                for a in attachments.scalars():
                    data = open_blob(self._cipher, a.data, bound_context("attachment", a.tip_id, a.id))
                    if data is None:
                        broken += 1
                        continue
                    by_tip.setdefault(a.tip_id, []).append(StoredFile(a.id, a.kind, a.mime, data))
                log_skipped(broken, "attachment")
        tips = []
        for row in rows:
            answers = open_blob(self._cipher, row.answers, b"tip:" + row.id.encode())
            if answers is None:
                continue
            tips.append(
                StoredTip(
                    id=row.id,
                    flow_id=row.flow_id,
                    flow_version=row.flow_version,
                    answers=json.loads(answers),
                    created_on=row.created_on,
                    urgent=row.urgent,
                    files=by_tip.get(row.id, []),
                    status=row.status,
                    keep=row.keep,
                    flow_hash=row.flow_hash,
                )
            )
        log_skipped(len(rows) - len(tips), "report")
        return tips


# ---- tip-bound encryption of rows stored before it --------------------------------------------------------

BOUND_STATE = "blobs_bound_to_tips"
"""Set in the state table once the rows encrypted without their tip in the context were re-encrypted."""
_LEGACY_BLOBS = (
    (Attachment, Attachment.data, "attachment"),
    (Note, Note.text, "note"),
    (Exchange, Exchange.text, "exchange"),
)
_BATCH = 200


async def bind_old_blobs(sessions: async_sessionmaker, cipher: Cipher) -> None:
    """Attachments, notes and exchanges stored before their tip was part of their encryption context
    ("attachment:<id>") are re-encrypted once, at start (Runtime.open), under the bound context; reading never
    accepts the old form, so an old row moved to another tip does not open either. The state table records
    that it was done: later starts only look that up."""
    rebound = 0
    async with sessions.begin() as session:
        if await session.get(StateValue, BOUND_STATE) is not None:
            return
        for model, column, kind in _LEGACY_BLOBS:
            ids = (await session.execute(select(model.id))).scalars().all()
            for start in range(0, len(ids), _BATCH):
                batch = await session.execute(
                    select(model.id, model.tip_id, column).where(model.id.in_(ids[start : start + _BATCH]))
                )
                for row_id, tip_id, blob in batch.all():
                    plain = open_blob(cipher, blob, f"{kind}:{row_id}".encode())
                    if plain is None:  # already bound, or broken: reading skips it
                        continue
                    fresh = cipher.encrypt(plain, bound_context(kind, tip_id, row_id))
                    await session.execute(update(model).where(model.id == row_id).values({column.key: fresh}))
                    rebound += 1
        session.add(StateValue(key=BOUND_STATE, value="done"))
    if rebound:
        log.info("re-encrypted %d stored files, notes and messages, each bound to its report", rebound)
