"""Who may use a staff or admin handler, declared once on the handler: `@staff_only` or `@admin_only`.

Asked on every call (admins add staff chats and admins at run time). These handlers sit in `GROUP`, before
the reporter's: for someone allowed, the handler runs and the update goes no further. For anyone else nothing
happens here. In a private chat the update goes on to the reporter's handlers, so a stranger is answered
exactly as any reporter would be (a command they may not use gets the help; /status checks a receipt code; a
file is one more upload). In a group, supergroup or channel that is not a staff chat the bot says nothing at
all: any answer there would tell the whole group that the bot is there and what it is for. A button press
there gets a bare answer, so that no spinner stays.

The bot does not leave such chats. Admins add it to a new staff group before they list the group (in
TIPBOT_STAFF_CHAT_IDS or with /staff), and a member trying a command in between would make it leave a group
it was just added to; leaving is itself a notice in the group. Silent, it tells nobody anything.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from ..runtime import Runtime
from .runtime_access import runtime_of

GROUP = -1
"""PTB handler group of every staff and admin handler; the reporter's handlers are in the default group 0."""
Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]
Check = Callable[[Runtime, Update], Awaitable[bool]]


async def is_staff(runtime: Runtime, update: Update) -> bool:
    """Someone in a staff chat, or an admin in a private chat. A post without a sender (a channel's) is no
    one's: every staff action is audited under who took it."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return False
    if chat.id in await runtime.staff_chat_ids():
        return True
    return chat.type == chat.PRIVATE and await runtime.is_admin(user.id)


async def is_admin(runtime: Runtime, update: Update) -> bool:
    """An admin (TIPBOT_ADMIN_IDS, or added by an admin) in a private chat."""
    user, chat = update.effective_user, update.effective_chat
    return user is not None and chat is not None and chat.type == chat.PRIVATE and await runtime.is_admin(user.id)


def staff_only(handler: Handler) -> Handler:
    return _guarded(handler, is_staff)


def admin_only(handler: Handler) -> Handler:
    return _guarded(handler, is_admin)


def required(handler: object) -> Check | None:
    """The check a handler's callback was declared with, or None for one open to everyone."""
    return getattr(handler, "allowed_by", None)


def _guarded(handler: Handler, allowed: Check) -> Handler:
    @functools.wraps(handler)
    async def guarded(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        runtime = runtime_of(context)
        if await allowed(runtime, update):
            if await runtime.records.first_handling(update.update_id, runtime.today()):
                await handler(update, context)
            elif update.callback_query is not None:  # delivered again: answered, nothing done twice
                await update.callback_query.answer()
            raise ApplicationHandlerStop
        await _refuse(update)

    guarded.allowed_by = allowed  # type: ignore[attr-defined]
    return guarded


async def _refuse(update: Update) -> None:
    query, chat = update.callback_query, update.effective_chat
    if query is None and chat is not None and chat.type == chat.PRIVATE:
        return  # the reporter's handlers take it, as from anyone
    if query is not None:
        await query.answer()
    raise ApplicationHandlerStop
