"""Several instances of the bot on one PostgreSQL, coordinated by the database alone (no lock files, no extra
service). On SQLite there is one instance, and everything here is plain in-process locking.

- Each instance takes a random number at start and holds a PostgreSQL advisory lock on it for its life, on a
  connection of its own. While that lock is held the instance is alive; when its process dies, the server
  drops the connection and the lock with it. So "is instance N gone?" is one `pg_try_advisory_lock`.
- A chat is handled by one instance at a time: a row in `chat_leases` (the chat's HMAC and the instance's
  number, no time) taken before its update is read and deleted after its answer is stored. A lease of an
  instance that is gone is taken over. Waiting polls the row; no connection is held while waiting.
- Work that must run once across instances (staff notices, the digest, retention, clearing chats) runs under
  a named advisory lock, taken on a pooled connection for the length of the work. Polled with
  `pg_try_advisory_lock`, so no statement waits longer than the statement time-out allows.
- Migrations run under a transaction-level advisory lock (storage/database.py `upgrade`, namespace 7313);
  seeding the first questionnaire under a named one (`serial("first-start")` in bot/runtime.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import secrets
import zlib
from collections.abc import AsyncIterator

from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .models import ChatLease

log = logging.getLogger(__name__)

INSTANCES = 7311
"""Advisory lock namespace (the first key of the two-key form) of the instances' own locks."""
WORK = 7312
"""Advisory lock namespace of the named work that runs once across instances."""
POLL = 0.05
"""Seconds between two looks at a lease or lock held elsewhere."""
WAIT_LIMIT = 60.0
"""Seconds a chat's update waits for another instance to finish with that chat before it fails with the
"try again in a minute" message. An update takes well under a second, but the answer to it is sent while the
chat is held, and Telegram failing may hold it for half a minute (bot/telegram/retries.py)."""
KEEPER_EVERY = 10.0
"""Seconds between checks that the instance's own lock connection is still there."""


_HELD_CHATS: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("held_chats", default=frozenset())
"""The chats the running task holds."""


class LeaseTimeout(TimeoutError):
    """A chat stayed busy on another instance for WAIT_LIMIT: the reporter is asked to try again."""


class KeyedLocks:
    """One asyncio lock per key, forgotten when unused: the in-process half of every lock here."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


def work_key(name: str) -> int:
    """The second advisory key of a named piece of work: stable across instances and versions."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


class Coordination:
    def __init__(self, engine: AsyncEngine, instance: int, keeper: AsyncConnection | None):
        self.engine = engine
        self.instance = instance
        """This process's number: in the inbox rows it is handling and the chat leases it holds."""
        self._keeper = keeper
        self._chats = KeyedLocks()
        self._work = KeyedLocks()
        self._watch: asyncio.Task[None] | None = None
        self._releasing: set[asyncio.Task[None]] = set()

    @property
    def shared(self) -> bool:
        """Whether other instances may use the same database (PostgreSQL)."""
        return self.engine.dialect.name == "postgresql"

    @classmethod
    async def open(cls, engine: AsyncEngine) -> Coordination:
        if engine.dialect.name != "postgresql":
            return cls(engine, secrets.randbelow(2**31 - 1) + 1, None)
        while True:
            instance = secrets.randbelow(2**31 - 1) + 1
            keeper = await engine.connect()
            if await _try_lock(keeper, INSTANCES, instance):
                await keeper.commit()
                coordination = cls(engine, instance, keeper)
                coordination._watch = asyncio.get_running_loop().create_task(coordination._keep(), name="instance")
                return coordination
            await keeper.close()  # another live instance drew the same number

    async def _keep(self) -> None:
        """If the server dropped the lock connection (a restart of PostgreSQL), take the lock again: without it
        other instances would take this one's work over while it still does it."""
        while True:
            await asyncio.sleep(KEEPER_EVERY)
            try:
                assert self._keeper is not None
                await self._keeper.execute(text("SELECT 1"))
                await self._keeper.commit()
            except Exception:
                log.warning("the instance's lock connection was lost; taking the lock again")
                with contextlib.suppress(Exception):
                    await self._keeper.invalidate()
                    await self._keeper.close()
                with contextlib.suppress(Exception):
                    self._keeper = await self.engine.connect()
                    await _try_lock(self._keeper, INSTANCES, self.instance)
                    await self._keeper.commit()

    async def alive(self, instance: int | None) -> bool:
        """Whether the instance numbered `instance` is still running (this one is)."""
        if instance == self.instance:
            return True
        if instance is None or not self.shared:
            return False  # on SQLite every other number is a process that has ended
        async with self.engine.connect() as connection:
            try:
                if not await _try_lock(connection, INSTANCES, instance):
                    return True
                await connection.execute(text("SELECT pg_advisory_unlock(:a, :b)"), {"a": INSTANCES, "b": instance})
                await connection.commit()
            except BaseException:  # never back into the pool holding a gone instance's lock
                await connection.invalidate()
                raise
            return False

    async def live_instances(self) -> int:
        """How many instances are running on this database now, this one included."""
        if not self.shared:
            return 1
        async with self.engine.connect() as connection:
            return await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = :namespace"
                    " AND objsubid = 2 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                ),
                {"namespace": INSTANCES},
            )

    @contextlib.asynccontextmanager
    async def hold_chat(self, chat_key: str) -> AsyncIterator[None]:
        """Handle one chat's update here and nowhere else until done. Re-entrant within one task: the Telegram
        handler holds the chat from reading the update to remembering what it sent, and the conversation it
        calls holds it again."""
        held = _HELD_CHATS.get()
        if chat_key in held:
            yield
            return
        async with self._chats.hold(chat_key):
            if self.shared:
                await self._lease(chat_key)
            token = _HELD_CHATS.set(held | {chat_key})
            try:
                yield
            finally:
                _HELD_CHATS.reset(token)
                if self.shared:
                    await self._release(chat_key)

    async def _lease(self, chat_key: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_LIMIT
        while True:
            async with self.engine.begin() as connection:
                taken = await connection.execute(
                    postgresql_insert(ChatLease)
                    .values(chat_key=chat_key, owner=self.instance)
                    .on_conflict_do_nothing(index_elements=["chat_key"])
                )
                if taken.rowcount:
                    return
                holder = await connection.scalar(select(ChatLease.owner).where(ChatLease.chat_key == chat_key))
            if holder is not None and not await self.alive(holder):
                async with self.engine.begin() as connection:  # left by an instance that is gone
                    await connection.execute(
                        delete(ChatLease).where(ChatLease.chat_key == chat_key, ChatLease.owner == holder)
                    )
                continue
            if loop.time() > deadline:
                raise LeaseTimeout("a chat stayed busy on another instance")
            await asyncio.sleep(POLL)

    async def _release(self, chat_key: str) -> None:
        """Failing (the database went away meanwhile), it is tried again in the background: a lease left behind
        by a live instance would keep the chat waiting."""
        try:
            await self._delete_lease(chat_key)
        except Exception as error:
            log.warning("a chat lease could not be released yet (%s)", type(error).__name__)
            task = asyncio.get_running_loop().create_task(self._release_later(chat_key), name="lease-release")
            self._releasing.add(task)
            task.add_done_callback(self._releasing.discard)

    async def _release_later(self, chat_key: str) -> None:
        while True:
            await asyncio.sleep(1.0)
            with contextlib.suppress(Exception):
                await self._delete_lease(chat_key)
                return

    async def _delete_lease(self, chat_key: str) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(
                delete(ChatLease).where(ChatLease.chat_key == chat_key, ChatLease.owner == self.instance)
            )

    @contextlib.asynccontextmanager
    async def serial(self, name: str) -> AsyncIterator[None]:
        """Run the enclosed work one at a time across all instances: a second caller waits for the first."""
        async with self._work.hold(name):
            if not self.shared:
                yield
                return
            async with self.engine.connect() as connection:
                while not await _try_lock(connection, WORK, work_key(name)):
                    await connection.commit()
                    await asyncio.sleep(POLL * 4)
                await connection.commit()
                try:
                    yield
                finally:
                    try:
                        await connection.execute(
                            text("SELECT pg_advisory_unlock(:a, :b)"), {"a": WORK, "b": work_key(name)}
                        )
                        await connection.commit()
                    except Exception:  # never back into the pool still holding the lock
                        await connection.invalidate()

    async def close(self) -> None:
        for task in [self._watch, *self._releasing]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._keeper is not None:  # closed for real, not handed back to the pool: the lock goes with it
            with contextlib.suppress(Exception):
                await self._keeper.invalidate()
                await self._keeper.close()


async def _try_lock(connection: AsyncConnection, namespace: int, key: int) -> bool:
    return bool(await connection.scalar(text("SELECT pg_try_advisory_lock(:a, :b)"), {"a": namespace, "b": key}))
