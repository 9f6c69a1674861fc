"""Fair scheduling of updates: one chat never holds more than `per_chat` of the bot's concurrent slots.

PTB's processor takes one of its `max_concurrent_updates` slots before `do_process_update` runs. An update
whose chat already has `per_chat` updates running does not wait inside that slot: it joins the chat's queue and
gives the slot back at once; the chat's running update takes it on when done. So a flood from one chat waits in
its own queue while other chats' updates use the free slots. With `per_chat=1` a chat's updates run in order.

Queues are keyed by chat id in this process's memory only, for as long as the chat has updates running or
waiting; the id is never logged or stored.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

log = logging.getLogger(__name__)


@dataclass
class _Chat:
    running: int = 0
    waiting: deque[tuple[object, Awaitable[Any]]] = field(default_factory=deque)


class FairUpdateProcessor(BaseUpdateProcessor):
    def __init__(self, max_concurrent_updates: int, per_chat: int = 1):
        super().__init__(max_concurrent_updates)
        if not 1 <= per_chat <= max_concurrent_updates:
            raise ValueError("per_chat must be between 1 and max_concurrent_updates")
        self._per_chat = per_chat
        self._chats: dict[int, _Chat] = {}
        self.handled: Callable[[object], Awaitable[None]] | None = None
        """Called once each update has been handled, however it ended (the intake forgets it then)."""

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat_id = _chat_of(update)
        if chat_id is None:
            await self._run(update, coroutine)
            return
        chat = self._chats.setdefault(chat_id, _Chat())
        chat.waiting.append((update, coroutine))
        if chat.running >= self._per_chat:
            return  # the chat's running update takes it on; this slot is free for other chats
        chat.running += 1
        try:
            while chat.waiting:
                await self._run(*chat.waiting.popleft())
        finally:
            chat.running -= 1
            if not chat.running:
                del self._chats[chat_id]
                for _update, left in chat.waiting:  # only when cancelled: the application is going down, and the
                    if isinstance(left, Coroutine):  # intake keeps these updates for the next start
                        left.close()

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free: the application waits for running updates before shutting down."""

    async def _run(self, update: object, coroutine: Awaitable[Any]) -> None:
        """PTB's `process_update` hands handler errors to the error handler itself; anything left is logged here,
        without the update, so the chat's next update still runs."""
        try:
            await coroutine
        except Exception as error:
            log.error("processing an update failed: %s", type(error).__name__, exc_info=error)
        if self.handled is not None:
            await self.handled(update)


def _chat_of(update: object) -> int | None:
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    return update.effective_user.id if update.effective_user is not None else None
