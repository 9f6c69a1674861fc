"""Handlers for reporters in private chats: turn an update into a conversation event, send the reply.

The chat id is used only to answer and to derive the HMAC key; it is never stored or logged.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from telegram import Message, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from ..conversation import RECEIPT_DONE, REPORTER_COMMANDS, Command, Event, Reply, Upload
from ..digest.jobs import send_notices
from ..flows.engine import Press, Text, Unsupported
from ..i18n import match_language
from .keyboards import markup
from .runtime_access import runtime_of

RECEIPT_LIFETIME = timedelta(minutes=10)
DELETE_BATCH = 100
COMMAND_NAMES = tuple(name for name, _description in REPORTER_COMMANDS)
FILE_KINDS = ("document", "voice", "audio", "video", "video_note", "animation")


def register(application: Application) -> None:
    private = filters.ChatType.PRIVATE
    application.add_handler(CallbackQueryHandler(on_update))
    application.add_handler(MessageHandler(private & ~filters.StatusUpdate.ALL, on_update))


async def on_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    chat = update.effective_chat
    if chat is None or chat.type != chat.PRIVATE:
        if update.callback_query:
            await update.callback_query.answer()
        return
    runtime = runtime_of(context)
    event = to_event(update)
    chat_key = runtime.keys.chat_key(chat.id)
    message_id = update.message.message_id if update.message else None
    user = update.effective_user
    preferred = match_language(user.language_code if user else None)
    reply = await runtime.conversation.handle(chat_key, event, update.update_id, message_id, preferred)
    sent = await deliver(update, context, reply)
    await runtime.conversation.remember(chat_key, sent)
    if reply.submitted:
        schedule_receipt_clearing(context, chat.id)
    if reply.notify_staff and context.application.running:  # otherwise the next digest run posts it
        context.application.create_task(send_notices(runtime, context.bot), name="staff-notices")


def schedule_receipt_clearing(context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> None:
    """Delete the conversation even if the reporter never presses "I have written it down".

    The chat id lives only in this in-memory job; after a restart the next message from the chat
    clears what is left.
    """
    assert context.job_queue is not None
    context.job_queue.run_once(_clear_receipt, when=RECEIPT_LIFETIME, data=chat_id)


async def _clear_receipt(context: ContextTypes.DEFAULT_TYPE) -> None:
    runtime = runtime_of(context)
    chat_id = context.job.data  # type: ignore[union-attr]
    reply = await runtime.conversation.handle(runtime.keys.chat_key(chat_id), Press(RECEIPT_DONE))
    await _delete(context, chat_id, reply.delete)
    for screen in reply.messages:
        await context.bot.send_message(chat_id, screen.text, reply_markup=markup(screen))


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
    if message.photo:
        largest = message.photo[-1]
        return Upload(largest.file_size, _fetcher(message, largest.file_id))
    for kind in FILE_KINDS:
        attachment = getattr(message, kind)
        if attachment is not None:
            return Upload(attachment.file_size, _fetcher(message, attachment.file_id))
    if message.contact or message.location or message.venue:
        return Unsupported("contact")
    return Unsupported("sticker" if message.sticker else "other")


def _fetcher(message: Message, file_id: str):
    async def fetch() -> bytes:
        telegram_file = await message.get_bot().get_file(file_id)
        return bytes(await telegram_file.download_as_bytearray())

    return fetch


async def deliver(update: Update, context: ContextTypes.DEFAULT_TYPE, reply: Reply) -> list[int]:
    """Edit the pressed message, delete what should go, send new messages, and only then answer the
    button press. Returns the ids of the messages sent."""
    query = update.callback_query
    chat = update.effective_chat
    assert chat is not None
    sent: list[int] = []
    try:
        if query is not None and reply.edit is not None and query.message is not None:
            try:
                await query.edit_message_text(reply.edit.text, reply_markup=markup(reply.edit))
            except BadRequest as error:
                if "not modified" not in str(error).lower():
                    raise
        await _delete(context, chat.id, reply.delete)
        for screen in reply.messages:
            message = await context.bot.send_message(chat.id, screen.text, reply_markup=markup(screen))
            sent.append(message.message_id)
    finally:
        if query is not None:
            await query.answer(reply.toast)
    return sent


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
