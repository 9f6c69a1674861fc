"""Who may use a staff or admin handler, declared once on the handler: `@staff_only` or `@admin_only`.

Asked on every call (admins add staff chats and admins at run time). These handlers sit in `GROUP`, before
the reporter's: for someone allowed, the handler runs and the update goes no further. For anyone else nothing
happens here. In a private chat the update goes on to the reporter's handlers, so a stranger is answered
exactly as any reporter would be (a command they may not use gets the help; /status checks a receipt code; a
file is one more upload); in other chats a command gets the same neutral help and a button press a bare
answer, so that no spinner stays.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from ..i18n import match_language
from ..runtime import Runtime
from ..screens import help_screen
from .runtime_access import runtime_of

GROUP = -1
"""PTB handler group of every staff and admin handler; the reporter's handlers are in the default group 0."""
Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]
Check = Callable[[Runtime, Update], Awaitable[bool]]


async def is_staff(runtime: Runtime, update: Update) -> bool:
    """A staff chat, or an admin in a private chat."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None:
        return False
    if chat.id in await runtime.staff_chat_ids():
        return True
    return user is not None and chat.type == chat.PRIVATE and await runtime.is_admin(user.id)


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
        if await allowed(runtime_of(context), update):
            await handler(update, context)
            raise ApplicationHandlerStop
        await _refuse(update, context)

    guarded.allowed_by = allowed  # type: ignore[attr-defined]
    return guarded


async def _refuse(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query, chat, user = update.callback_query, update.effective_chat, update.effective_user
    if query is None and (chat is None or chat.type == chat.PRIVATE):
        return  # the reporter's handlers take it, as from anyone
    if query is not None:
        await query.answer()
    else:
        lang = match_language(user.language_code if user else None) or "ru"
        await context.bot.send_message(chat.id, help_screen(lang, runtime_of(context).settings.discreet).text)
    raise ApplicationHandlerStop
