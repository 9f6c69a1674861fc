"""Staff commands in staff chats (and from admins in a private chat). Every handler is `@staff_only`
(see authorisation.py): anyone else is answered as a reporter would be, and nothing changes.

Commands are read from new messages only: an edited message would run its command again, and a channel post
has no sender to audit."""

from __future__ import annotations

import logging
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Message, Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, filters

from storage.repository import AuditRecord

from .. import callbacks
from ..digest.jobs import run_digest
from ..digest.send import albums, send_album
from ..i18n import LANGUAGE_NAMES, LANGUAGES, N_, gettext_for
from ..render import split_message
from ..runtime import Runtime
from ..staffdesk import DeskAnswer, StaffDesk
from .authorisation import GROUP, staff_only
from .runtime_access import runtime_of

log = logging.getLogger(__name__)
STAFF_COMMANDS = ("digest", "tip", "tips", "status", "keep", "note", "reply", "export", "stats")
LANGUAGE_ACTION = f"{callbacks.STAFF_LANGUAGE}:"
"""The data of a language button, before the language's code (tests forge presses with it)."""
LANGUAGE_PROMPT = N_("Language of this staff chat")
OWN_REPORT_CHECK = filters.ChatType.PRIVATE & filters.Regex(re.compile(r"^/status(@\w+)?\s*$", re.IGNORECASE))
"""/status alone in a private chat is a reporter checking a report by its code, an admin's own included."""


def register(application: Application) -> None:
    new = filters.UpdateType.MESSAGE
    application.add_handler(CommandHandler(STAFF_COMMANDS, on_staff_command, filters=new & ~OWN_REPORT_CHECK), GROUP)
    application.add_handler(
        CommandHandler("language", on_staff_language, filters=new & ~filters.ChatType.PRIVATE), GROUP
    )
    application.add_handler(CallbackQueryHandler(on_staff_language_choice, pattern=callbacks.STAFF), GROUP)


async def staff_language(runtime: Runtime, chat_id: int) -> str:
    return await runtime.records.staff_language(chat_id) or runtime.settings.staff_language


@staff_only
async def on_staff_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    runtime = runtime_of(context)
    message, chat = update.effective_message, update.effective_chat
    assert message is not None and chat is not None
    command = (message.text or "").split(maxsplit=1)[0][1:].split("@")[0].lower()
    args = context.args or []
    lang = await staff_language(runtime, chat.id)
    answer = await _dispatch(runtime, context, update, command, args, lang)
    if answer is not None:
        await _send(context, chat.id, answer)


async def _dispatch(runtime, context, update, command: str, args: list[str], lang: str) -> DeskAnswer | None:
    desk = StaffDesk(runtime)
    staff_id = update.effective_user.id
    first, rest = (args[0] if args else ""), " ".join(args[1:])
    _ = gettext_for(lang)
    if command == "digest":
        await runtime.repository.audit(staff_id, "digest", None, runtime.now())
        await run_digest(runtime, context.bot)
        if update.effective_chat.id not in await runtime.staff_chat_ids():
            return DeskAnswer([_("The digest has been sent to the staff chats.")])
        return None
    if command == "tips":
        return await desk.tips(staff_id, first, lang)
    if command == "stats":
        return await desk.stats(staff_id, lang)
    if command == "export":
        since = " ".join(args[1:]) if first.lower() == "since" else " ".join(args)
        return await desk.export(staff_id, since, lang)
    if not first:
        return DeskAnswer([usage(command, lang)])
    if command == "tip":
        return await desk.tip(staff_id, first, lang)
    if command == "status":
        return await desk.set_status(staff_id, first, rest.strip().lower(), lang)
    if command == "keep":
        return await desk.keep(staff_id, first, rest.strip().lower() not in ("off", "no"), lang)
    if command == "note":
        return await desk.note(staff_id, first, rest, lang)
    return await desk.reply(staff_id, first, rest, lang)


def usage(command: str, lang: str) -> str:
    _ = gettext_for(lang)
    return {
        "tip": _("Use: /tip NUMBER"),
        "status": _("Use: /status NUMBER new|reviewing|verified|closed"),
        "keep": _("Use: /keep NUMBER (or /keep NUMBER off)"),
        "note": _("Use: /note NUMBER text"),
        "reply": _("Use: /reply NUMBER text"),
    }[command]


async def _send(context: ContextTypes.DEFAULT_TYPE, chat_id: int, answer: DeskAnswer) -> None:
    for text in answer.texts:
        for part in split_message(text):
            await context.bot.send_message(chat_id, part)
    if answer.picture is not None:
        await context.bot.send_photo(chat_id, InputFile(answer.picture, filename="chart.png"))
    for album in albums(answer.files):
        await send_album(context.bot, chat_id, album, pause=0.5)
    for name, data in answer.documents:
        await context.bot.send_document(chat_id, InputFile(data, filename=name))


@staff_only
async def on_staff_language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    chat = update.effective_chat
    assert chat is not None
    buttons = [
        [InlineKeyboardButton(LANGUAGE_NAMES[lang], callback_data=callbacks.staff_language(lang))] for lang in LANGUAGES
    ]
    text = "\n".join(gettext_for(lang)(LANGUAGE_PROMPT) for lang in LANGUAGES)
    await context.bot.send_message(chat.id, text, reply_markup=InlineKeyboardMarkup(buttons))


@staff_only
async def on_staff_language_choice(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    runtime = runtime_of(context)
    query, chat = update.callback_query, update.effective_chat
    assert query is not None and chat is not None
    pressed = callbacks.decode(query.data)
    lang = pressed.args[0] if pressed is not None and pressed.kind == callbacks.STAFF_LANGUAGE else ""
    if lang not in LANGUAGES:  # a language no longer offered
        await query.answer()
        return
    audit = AuditRecord(update.effective_user.id, f"language:{lang}", None, runtime.now())
    await runtime.records.set_staff_language(chat.id, lang, audit)
    _ = gettext_for(lang)
    chosen = _("This chat now gets digests in {language}.").format(language=LANGUAGE_NAMES[lang])
    try:  # an inaccessible message is a menu Telegram no longer gives the bot
        shown = isinstance(query.message, Message) and bool(await query.edit_message_text(chosen))
    except BadRequest:  # the menu is gone or too old to edit
        shown = False
    await query.answer(None if shown else chosen)  # without the menu, the answer says what was chosen
