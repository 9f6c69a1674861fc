"""Staff commands. Authorisation is checked on every call: staff chats and admins only; anyone else
gets the same neutral help a reporter would get."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes

from ..conversation import help_screen
from ..digest.send import send_digest
from ..i18n import gettext_for, match_language
from ..runtime import Runtime
from .runtime_access import runtime_of

log = logging.getLogger(__name__)


def register(application: Application) -> None:
    application.add_handler(CommandHandler("digest", on_digest))


def is_staff(runtime: Runtime, update: Update) -> bool:
    chat, user = update.effective_chat, update.effective_user
    settings = runtime.settings
    in_staff_chat = chat is not None and chat.id in settings.staff_chat_ids
    is_admin = user is not None and user.id in settings.admin_ids and chat is not None and chat.type == chat.PRIVATE
    return in_staff_chat or is_admin


async def on_digest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    runtime = runtime_of(context)
    chat = update.effective_chat
    assert chat is not None
    if not is_staff(runtime, update):
        if chat.type == chat.PRIVATE:
            user = update.effective_user
            lang = match_language(user.language_code if user else None) or "ru"
            await context.bot.send_message(chat.id, help_screen(lang).text)
        return
    await run_digest(context.application, runtime)
    if chat.id not in runtime.settings.staff_chat_ids:
        _ = gettext_for(runtime.settings.staff_language)
        await context.bot.send_message(chat.id, _("The digest has been sent to the staff chats."))


async def run_digest(application: Application, runtime: Runtime) -> None:
    settings = runtime.settings
    await send_digest(
        application.bot,
        runtime.repository,
        runtime.flows,
        settings.staff_chat_ids,
        settings.staff_language,
        runtime.today(),
    )
