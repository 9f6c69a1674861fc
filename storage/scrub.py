"""Making deleted per-chat rows unrecoverable from a copy of the database's files.

Drafts, draft files, chats to clear and rate counters are deleted when a conversation ends. Deleting a row
is not enough against a copy of the disk:

- SQLite runs with secure_delete (freed space is overwritten with zeros), but the write-ahead log keeps the
  pages as they were until a checkpoint. After an ending the WAL is checkpointed into the database and
  truncated to zero bytes (`PRAGMA wal_checkpoint(TRUNCATE)`), retried in the background while readers
  hold old snapshots.
- PostgreSQL keeps deleted tuples in the table's pages until they are vacuumed, and a plain VACUUM does not
  zero them. The per-chat tables are UNLOGGED (never in pg_wal); after endings the small tables holding a
  chat's HMAC are rewritten with VACUUM FULL, which replaces their files, at most once every few seconds.
  The draft files' table gets a plain VACUUM: encrypted bytes of deleted files may stay in its free space
  until overwritten, under a random bundle id that no chat's HMAC leads to (README says so).
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from .database import SQLITE_BUSY_TIMEOUT

log = logging.getLogger(__name__)
REWRITTEN = ("drafts", "clearings", "code_attempts", "inbox", "chat_leases")
"""PostgreSQL tables whose rows hold a chat's HMAC or how to reach a chat: rewritten after endings."""
VACUUMED = ("draft_files",)
PAUSE = 0.1
PG_INTERVAL = 2.0
"""Seconds between two rewrites on PostgreSQL; endings in between share the next one."""
CHECKPOINT_WAIT = 5.0
"""Seconds an SQLite checkpoint waits for readers of old pages. A waiting checkpoint holds back every writer,
so it gives up sooner than a reporter's write would (SQLITE_BUSY_TIMEOUT) and is tried again in the
background."""
REWRITE_LOCK_WAIT = 2.0
"""Seconds VACUUM FULL may wait for its exclusive lock on PostgreSQL (`lock_timeout`): every reporter's
statement on the table queues behind a waiting VACUUM FULL, so it gives up and is tried again later instead.
The rewrite itself runs under the engine's statement time-out, which small tables fit many times over."""


class Scrubber:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._wanted = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    async def after_ending(self) -> None:
        """Called when a conversation's rows were deleted. On SQLite it returns once the WAL is empty (so the
        reply that follows is sent with nothing left on disk); on PostgreSQL the rewrite runs in the background."""
        if self._sqlite:
            if not await self._checkpoint():
                self._request()
        else:
            self._request()

    async def settled(self) -> None:
        """Wait until no scrub is wanted or running (tests, and before closing)."""
        while self._wanted.is_set() or not self._idle.is_set():
            await asyncio.sleep(PAUSE)

    async def close(self) -> None:
        if self._task is not None:
            await asyncio.wait_for(self.settled(), timeout=30)
            self._task.cancel()

    def _request(self) -> None:
        self._wanted.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="scrub")

    async def _run(self) -> None:
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            self._idle.clear()
            try:
                done = await self._checkpoint() if self._sqlite else await self._rewrite()
            except Exception as error:  # a scrub that failed is tried again, never takes the bot down
                log.warning("scrubbing deleted conversations failed (%s); trying again", type(error).__name__)
                done = False
            if not done:
                self._wanted.set()
            self._idle.set()
            await asyncio.sleep(PAUSE if self._sqlite else PG_INTERVAL)

    async def _checkpoint(self) -> bool:
        """One try, waiting at most CHECKPOINT_WAIT; False while readers still need old pages."""
        async with self._engine.connect() as connection:
            await connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(CHECKPOINT_WAIT * 1000)}")
            try:
                busy, _log, _done = (await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).one()
            finally:
                await connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT * 1000)}")
        return not busy

    async def _rewrite(self) -> bool:
        autocommit = self._engine.execution_options(isolation_level="AUTOCOMMIT")
        async with autocommit.connect() as connection:
            await connection.execute(text(f"SET lock_timeout = {int(REWRITE_LOCK_WAIT * 1000)}"))
            try:
                for table in REWRITTEN:
                    await connection.execute(text(f"VACUUM FULL {table}"))
            finally:
                await connection.execute(text("RESET lock_timeout"))
            for table in VACUUMED:
                await connection.execute(text(f"VACUUM {table}"))
        return True
