"""Handlers for reporters in private chats: turn an update into a conversation event, send the reply.

The chat id is used to answer, to derive the HMAC key, and (encrypted in the draft or a clearing, never with
a tip) to clear the chat later; it is never logged.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta

from telegram import CallbackQuery, Message, Update
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from storage.database import database_unavailable

from .. import callbacks
from ..conversation import ChatClearing, Command, Event, Reply, Upload
from ..digest.jobs import send_notices
from ..flows.engine import Press, Text, Unsupported
from ..i18n import gettext_for, match_language
from ..privacy.clean import SanitizeError
from ..render import Screen
from ..screens import CLEARED, REPORTER_COMMANDS
from .intake import DurableQueue
from .keyboards import markup
from .retries import retried
from .runtime_access import runtime_of

log = logging.getLogger(__name__)
CLEARING_INTERVAL = timedelta(seconds=20)
"""How often conversations left idle and receipts not acknowledged are looked for."""
DELETE_BATCH = 100
COMMAND_NAMES = tuple(name for name, _description in REPORTER_COMMANDS)
FILE_KINDS = ("document", "voice", "audio", "video", "video_note", "animation")


def register(application: Application) -> None:
    """In the default group, after the staff and admin handlers (authorisation.GROUP), which let through
    what a stranger sends in a private chat. The patterns do not overlap, so the order here does not matter."""
    private = filters.ChatType.PRIVATE
    application.add_handler(CallbackQueryHandler(on_update, pattern=callbacks.REPORTER))
    application.add_handler(CallbackQueryHandler(on_unknown_press, pattern=callbacks.unknown))
    application.add_handler(MessageHandler(private & ~filters.StatusUpdate.ALL, on_update))


async def on_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A new message or a press in a private chat. Edits are not answers (an edited message would be taken
    twice) and a business account's chats are not the bot's: they are left alone, as are other chats."""
    chat = update.effective_chat
    if chat is None or chat.type != chat.PRIVATE or (update.message is None and update.callback_query is None):
        if update.callback_query:
            await update.callback_query.answer()
        return
    runtime = runtime_of(context)
    event = to_event(update)
    chat_key = runtime.keys.chat_key(chat.id)
    message_id = update.message.message_id if update.message else None
    query = update.callback_query
    pressed_id = query.message.message_id if query is not None and query.message is not None else None
    user = update.effective_user
    preferred = match_language(user.language_code if user else None)
    async with runtime.coordination.hold_chat(chat_key):  # held until what was sent is remembered: in order
        try:
            reply = await runtime.conversation.handle(
                chat_key, event, update.update_id, message_id, preferred, chat.id, pressed_id
            )
            sent = await deliver(update, context, reply)
        except Exception as error:
            if database_unavailable(error):
                raise  # the error handler says so at once: recovering would only wait for the database again
            # What was answered before is stored: the reporter gets an apology in their language and where they are.
            # If even that cannot be done (the database is down), the error handler says so in the phone's language.
            log.error("a reporter's step failed: %s", type(error).__name__, exc_info=error)
            reply = await runtime.conversation.recover(chat_key, preferred)
            sent = await deliver(update, context, reply)
        await runtime.conversation.remember(chat_key, sent, reply.clearing)
    if reply.ended and isinstance(context.application.update_queue, DurableQueue):
        context.application.update_queue.ended_conversation(update)
    if reply.notify_staff and context.application.running:  # otherwise the next digest run posts it
        context.application.create_task(send_notices(runtime, context.bot), name="staff-notices")


async def on_unknown_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Data no button of this bot carries (forged or garbled): answered, so no spinner stays; nothing changes."""
    assert update.callback_query is not None
    await update.callback_query.answer()


def schedule_clearing(application: Application) -> None:
    assert application.job_queue is not None
    application.job_queue.run_repeating(clear_chats, interval=CLEARING_INTERVAL, first=timedelta(seconds=3))


async def clear_chats(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Clear conversations left idle and receipts never acknowledged, also those from before a restart. One
    instance at a time, so no chat gets its "cleared" line twice."""
    runtime = runtime_of(context)
    async with runtime.coordination.serial("clearing"):
        await runtime.conversation.end_idle(timedelta(minutes=runtime.settings.clear_idle_minutes))
        for clearing_id, clearing in await runtime.conversation.due_clearings():
            if await _clear_chat(context, clearing):
                await runtime.conversation.finish_clearing(clearing_id)


async def _clear_chat(context: ContextTypes.DEFAULT_TYPE, clearing: ChatClearing) -> bool:
    """Delete the messages and leave the neutral line; False if Telegram could not be reached (tried again)."""
    await _delete(context, clearing.reach, clearing.message_ids)
    try:
        await context.bot.send_message(clearing.reach, gettext_for(clearing.lang)(CLEARED))
    except (Forbidden, BadRequest):
        pass  # the reporter blocked the bot or deleted the chat: nothing is left to clear there
    except TelegramError as error:
        log.warning("a chat could not be cleared yet (%s); trying again", type(error).__name__)
        return False
    return True


def to_event(update: Update) -> Event:
    if update.callback_query is not None:
        return Press(update.callback_query.data or "")
    message = update.effective_message
    assert message is not None
    if message.text is not None:
        if message.text.startswith("/"):
            name = message.text[1:].split(maxsplit=1)[0].split("@")[0].lower() if len(message.text) > 1 else ""
            language = message.from_user.language_code if message.from_user else None
            return Command(name if name in COMMAND_NAMES else "help", preferred=match_language(language))
        return Text(message.text)
    album = message.media_group_id
    if message.photo:
        largest = message.photo[-1]
        return Upload(largest.file_size, _fetcher(message, largest.file_id), album)
    for kind in FILE_KINDS:
        attachment = getattr(message, kind)
        if attachment is not None:
            return Upload(attachment.file_size, _fetcher(message, attachment.file_id), album)
    if message.contact or message.location or message.venue:
        return Unsupported("contact")
    return Unsupported("sticker" if message.sticker else "other")


def _fetcher(message: Message, file_id: str):
    async def fetch() -> bytes:
        try:
            telegram_file = await message.get_bot().get_file(file_id)
        except BadRequest as error:  # too big for a bot to download, or no longer there
            raise SanitizeError("too_large" if "too big" in str(error).lower() else "malformed") from error
        return bytes(await telegram_file.download_as_bytearray())

    return fetch


async def deliver(update: Update, context: ContextTypes.DEFAULT_TYPE, reply: Reply) -> list[int]:
    """Edit the pressed message, delete what should go, send new messages, and only then answer the
    button press. Returns the ids of the messages sent. When the pressed message cannot be edited and
    nothing else is to be sent, its new content comes as a new message: it is the next step."""
    query = update.callback_query
    chat = update.effective_chat
    assert chat is not None
    sent: list[int] = []
    try:
        edited = query is None or reply.edit is None or await _edit_pressed(query, reply.edit)
        if not edited and not reply.messages:
            reply.messages.append(reply.edit)
        await _delete(context, chat.id, reply.delete)
        if reply.rewrite is not None and not await _rewrite(context, chat.id, *reply.rewrite):
            reply.messages.append(reply.rewrite[1])
        for screen in reply.messages:
            message = await retried(
                lambda screen=screen: context.bot.send_message(chat.id, screen.text, reply_markup=markup(screen)),
                "sending a message to a reporter",
            )
            sent.append(message.message_id)
    finally:
        if query is not None:
            await _answer(query, reply.toast)
    return sent


async def _answer(query: CallbackQuery, toast: str | None) -> None:
    """Every press is answered, so no spinner stays; a press Telegram no longer knows (answered already, or
    older than it allows, as after a restart) needs no answer."""
    try:
        await retried(lambda: query.answer(toast), "answering a press")
    except BadRequest as error:
        log.info("a press could not be answered (%s)", type(error).__name__)


async def _edit_pressed(query: CallbackQuery, screen: Screen) -> bool:
    """False if the pressed message could not be edited: deleted, too old for the bot, or Telegram failed."""
    if not isinstance(query.message, Message):
        return False
    try:
        await retried(lambda: query.edit_message_text(screen.text, reply_markup=markup(screen)), "editing a message")
    except BadRequest as error:
        return "not modified" in str(error).lower()
    except TelegramError as error:
        log.warning("a pressed message could not be edited (%s)", type(error).__name__)
        return False
    return True


async def _rewrite(context: ContextTypes.DEFAULT_TYPE, chat_id: int, message_id: int, screen: Screen) -> bool:
    """Update one of the bot's earlier messages; False if it is gone (then it is sent as a new one)."""
    try:
        await retried(
            lambda: context.bot.edit_message_text(screen.text, chat_id, message_id, reply_markup=markup(screen)),
            "updating a message",
        )
    except BadRequest as error:
        return "not modified" in str(error).lower()
    return True


async def _delete(context: ContextTypes.DEFAULT_TYPE, chat_id: int, message_ids: list[int]) -> None:
    """Best effort: Telegram refuses messages older than 48 hours or already gone."""
    unique = sorted(set(message_ids))
    for start in range(0, len(unique), DELETE_BATCH):
        try:
            await context.bot.delete_messages(chat_id, unique[start : start + DELETE_BATCH])
        except TelegramError:
            for message_id in unique[start : start + DELETE_BATCH]:
                with contextlib.suppress(TelegramError):
                    await context.bot.delete_message(chat_id, message_id)
