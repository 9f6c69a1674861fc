"""Everything the bot needs at run time, wired once from the settings (used by every CLI command)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from storage.clearings import Clearings
from storage.coordination import Coordination
from storage.database import create_engine, session_factory, upgrade
from storage.flow_versions import FlowVersions
from storage.inbox import Inbox
from storage.repository import Repository, bind_old_blobs
from storage.scrub import Scrubber
from storage.staff_records import StaffRecords
from storage.uploads import PendingUploads

from .config import Settings
from .conversation import Conversation, Services
from .flow_admin import FlowAdmin
from .flows.catalog import FlowCatalog
from .limits import Limits, expire_counters
from .privacy.clean import CleanFile
from .privacy.crypto import Cipher
from .privacy.keys import Keys, load_secret
from .privacy.sandbox import Sandbox
from .privacy.sanitize import sanitize_file

DRAFT_LIFETIME = timedelta(hours=24)


@dataclass
class Runtime:
    settings: Settings
    keys: Keys
    engine: AsyncEngine
    repository: Repository
    records: StaffRecords
    flows: FlowCatalog
    flow_admin: FlowAdmin
    sandbox: Sandbox
    conversation: Conversation
    scrubber: Scrubber
    inbox: Inbox
    coordination: Coordination
    """Which work runs where when several instances share the database (one at a time, once)."""

    @classmethod
    async def open(cls, settings: Settings, migrate: bool = True) -> Runtime:
        secret_key = settings.secret_key.get_secret_value() if settings.secret_key else None
        previous = [Keys(key.get_secret_value().encode()) for key in settings.previous_secret_keys]
        keys = Keys(load_secret(secret_key, settings.data_dir))
        engine = create_engine(settings.effective_database_url)
        if migrate:
            await upgrade(engine)
        coordination = await Coordination.open(engine)
        cipher = Cipher(keys.data_key, *(old.data_key for old in previous))
        sessions = session_factory(engine)
        repository, records = Repository(sessions, cipher), StaffRecords(sessions, cipher)
        async with coordination.serial("first-start"):  # instances starting together seed and convert once
            await bind_old_blobs(sessions, cipher)
            versions = FlowVersions(sessions)
            uploads = PendingUploads(sessions, cipher)
            flow_admin = await FlowAdmin.load(versions, records, uploads, lambda: datetime.now(settings.tz))
        flows = flow_admin.catalog
        sandbox = Sandbox()
        scrubber = Scrubber(engine)

        async def sanitize(data: bytes) -> CleanFile:
            return await sandbox.run(sanitize_file, data, settings.voice_pitch_shift)

        services = Services(
            repository=repository,
            flows=flows,
            sanitize=sanitize,
            receipt_salts=(keys.receipt_salt, *(old.receipt_salt for old in previous)),
            records=records,
            today=lambda: datetime.now(settings.tz).date(),
            now=lambda: datetime.now(settings.tz),
            max_file_bytes=settings.max_file_bytes,
            clearings=Clearings(sessions, cipher),
            scrub=scrubber.after_ending,
            voice_pitch_shift=settings.voice_pitch_shift,
            discreet=settings.discreet,
            idle_minutes=settings.clear_idle_minutes,
            limits=Limits(
                reports_per_day=settings.max_reports_per_day,
                answers_per_hour=settings.max_follow_up_messages_per_hour,
                files_per_hour=settings.max_files_per_hour,
                report_mb=settings.max_report_mb,
                key=keys.derive("rate-counters"),
            ),
            hold_chat=coordination.hold_chat,
        )
        conversation = Conversation(services)
        inbox = Inbox(sessions, cipher, coordination.instance, coordination.alive)
        return cls(
            settings,
            keys,
            engine,
            repository,
            records,
            flows,
            flow_admin,
            sandbox,
            conversation,
            scrubber,
            inbox,
            coordination,
        )

    def today(self) -> date:
        return datetime.now(self.settings.tz).date()

    def now(self) -> datetime:
        return datetime.now(self.settings.tz)

    async def staff_chat_ids(self) -> list[int]:
        """Chats from TIPBOT_STAFF_CHAT_IDS and those admins added with /staff."""
        added = await self.records.added_staff_chats()
        return list(dict.fromkeys([*self.settings.staff_chat_ids, *added]))

    async def is_admin(self, user_id: int) -> bool:
        return user_id in self.settings.admin_ids or user_id in await self.records.admins()

    async def expire_drafts(self) -> int:
        removed = await self.repository.expire_drafts(datetime.now(self.settings.tz) - DRAFT_LIFETIME)
        await self.flow_admin.uploads.expire(self.now())
        if removed:
            await self.scrubber.after_ending()
        return removed

    async def expire_counters(self) -> int:
        """Delete rate counters whose window has passed; they hold an HMAC of a chat, like drafts."""
        removed = await expire_counters(self.records, self.now())
        if removed:
            await self.scrubber.after_ending()
        return removed

    async def close(self) -> None:
        await self.coordination.close()
        await self.scrubber.close()
        await self.sandbox.close()
        await self.engine.dispose()
