"""No update is lost at a crash: each is recorded before Telegram is told it arrived, and forgotten once handled.

Polling confirms updates to Telegram with the next getUpdates, right after they were queued; a webhook answers
Telegram once an update is queued. With several instances behind a load balancer an update may reach two of
them: the one that records it first handles it. Either way an update still in flight at a crash would be gone for good:
Telegram does not send it again. So the application's update queue records every update in the inbox
(encrypted, storage/inbox.py) before queuing it, which is before Telegram hears of it; the update processor
removes it once handled; at start the updates a crash left are handled first. An update handled twice (a crash
after handling, before the removal) is harmless: the conversation drops an update it has applied (it remembers
each chat's last update id) and shows a receipt again rather than sending a report twice.

Only what handling needs is recorded: a button press keeps the pressed message's id and chat, not its text, and
the person is reduced to their id and app language.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Bot, Update

from storage.database import database_unavailable
from storage.inbox import Inbox

log = logging.getLogger(__name__)
RECORD_WITHIN = 3.0
"""Seconds an update waits for its record before it is handled anyway (the database is down or very slow). A
burst of webhook deliveries on a busy PostgreSQL takes up to a second; more is an outage, whose reporters must
hear "try again in a minute" within a few seconds (the handling tries the database again, PING_TIMEOUT)."""
UNRECORDED_FOR = 10
"""Seconds after a failed record during which updates are not recorded (each try would wait for the database)."""
RECORDED, ELSEWHERE, UNRECORDED = "recorded", "elsewhere", "unrecorded"
"""What became of an update arriving: kept in the inbox by this instance; already kept by another live instance
(it is handled there); not recorded (the database is unavailable: handled all the same)."""
BARE_USER = ("id", "is_bot", "language_code")
BARE_CHAT = ("id", "type", "title")
BARE_MESSAGE = ("message_id", "date", "chat")


class DurableQueue(asyncio.Queue):
    """The application's update queue (PTB's Updater and webhook put updates here)."""

    def __init__(self) -> None:
        super().__init__()
        self.inbox: Inbox | None = None
        """Set once the database is open; until then nothing can be handled anyway."""
        self._kept: set[int] = set()
        """Ids of the updates in the inbox that this process is handling."""
        self._ending: set[int] = set()
        """Ids of updates that ended a conversation: once forgotten, the database is scrubbed again."""
        self.scrub: Callable[[], Awaitable[None]] | None = None
        self._unrecorded_until = 0.0
        self._forgetting: set[asyncio.Task[None]] = set()

    async def put(self, item: Any) -> None:
        if isinstance(item, Update) and self.inbox is not None:
            if item.update_id in self._kept:
                return  # Telegram sent it again (it was not confirmed before a crash): it is being handled
            outcome = await self._record(item)
            if outcome == ELSEWHERE:
                return
            if outcome == RECORDED:
                self._kept.add(item.update_id)
        await super().put(item)

    async def _record(self, update: Update) -> str:
        """Record an update: RECORDED, ELSEWHERE (another live instance is handling it) or UNRECORDED. While the
        database is down or slow it is handled unrecorded: the reporter is told to try again at once, and
        polling goes on (it stops for good on an error it does not expect)."""
        loop = asyncio.get_running_loop()
        if loop.time() < self._unrecorded_until:
            return UNRECORDED
        adding = loop.create_task(self.inbox.add(update.update_id, recorded(update)), name="intake-record")
        done, _pending = await asyncio.wait({adding}, timeout=RECORD_WITHIN)
        error = adding.exception() if adding in done else None
        if adding in done and error is None:
            return RECORDED if adding.result() else ELSEWHERE
        if error is not None and not database_unavailable(error):  # handled all the same: polling must go on
            log.error("an update could not be recorded: %s", type(error).__name__, exc_info=error)
            return UNRECORDED
        log.warning("the database is unavailable: updates are handled unrecorded for %d s", UNRECORDED_FOR)
        self._unrecorded_until = loop.time() + UNRECORDED_FOR
        if adding not in done:  # it may still be written: then it is deleted again, the update is handled now
            adding.add_done_callback(lambda late, update=update: self._drop_late(late, update))
        return UNRECORDED

    def _drop_late(self, late: asyncio.Task[bool], update: Update) -> None:
        if not late.cancelled() and late.exception() is None and late.result():
            self._forget_later(update)

    async def replay(self, bot: Bot) -> int:
        """Queue the updates left unhandled by a crash, or by another instance that is gone, oldest first;
        returns how many."""
        assert self.inbox is not None
        waiting = await self.inbox.take_over()
        for payload in waiting:
            update = Update.de_json(payload, bot)
            self._kept.add(update.update_id)
            await super().put(update)
        return len(waiting)

    def ended_conversation(self, update: Update) -> None:
        """This update ended a conversation: its own record must not outlive the scrub of that conversation."""
        self._ending.add(update.update_id)

    async def handled(self, update: object) -> None:
        """Called by the update processor once an update has been handled, however it ended. The record is
        deleted in the background, so the chat's next update does not wait for it."""
        if not isinstance(update, Update) or update.update_id not in self._kept or self.inbox is None:
            return
        self._kept.discard(update.update_id)
        self._forget_later(update)

    def _forget_later(self, update: Update) -> None:
        task = asyncio.get_running_loop().create_task(self._forget(update), name="intake-forget")
        self._forgetting.add(task)
        task.add_done_callback(self._forgetting.discard)

    async def forgotten(self) -> None:
        """Wait until the records of handled updates are deleted (before closing, and in tests)."""
        await asyncio.gather(*self._forgetting, return_exceptions=True)

    async def _forget(self, update: Update) -> None:
        assert self.inbox is not None
        try:
            await self.inbox.done(update.update_id)
            if update.update_id in self._ending and self.scrub is not None:
                await self.scrub()
        except Exception as error:  # kept: handled once more at the next start, which is harmless
            log.warning("a handled update could not be forgotten (%s)", type(error).__name__)
        finally:
            self._ending.discard(update.update_id)


def recorded(update: Update) -> dict[str, Any]:
    """The update as it is kept until handled: no more of the person, the chat and a pressed message than
    handling needs (ids, the chat's type, the app's language)."""
    data = update.to_dict()
    for kind in ("message", "callback_query"):
        part = data.get(kind)
        if isinstance(part, dict) and isinstance(part.get("from"), dict):
            part["from"] = _only(part["from"], BARE_USER) | {"first_name": "-"}
        if isinstance(part, dict) and isinstance(part.get("chat"), dict):
            part["chat"] = _only(part["chat"], BARE_CHAT)
    query = data.get("callback_query")
    if isinstance(query, dict) and isinstance(query.get("message"), dict):
        query["message"] = _only(query["message"], BARE_MESSAGE)
        if isinstance(query["message"].get("chat"), dict):
            query["message"]["chat"] = _only(query["message"]["chat"], BARE_CHAT)
    return data


def _only(part: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: part[key] for key in keys if key in part}
