"""Admin handlers: questionnaire files sent to the bot, /flows, /staff. Every handler is `@admin_only` (an
admin, from TIPBOT_ADMIN_IDS or added by an admin, in a private chat; see authorisation.py): anyone else is
answered as a reporter would be, so a stranger sending a flow file gets the neutral answer and nothing
changes. Files and commands are read from new messages only: an edited message would run again."""

from __future__ import annotations

import asyncio
import secrets

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from storage.repository import AuditRecord

from .. import callbacks
from ..flow_admin import FlowUpload, describe, read_flow_file
from ..flows.loader import FlowError
from ..i18n import LANGUAGE_NAMES, gettext_for
from ..runtime import Runtime
from . import reporter
from .authorisation import GROUP, admin_only
from .runtime_access import runtime_of

ACTION = f"{callbacks.FLOW_ADMIN}:"
"""The start of every flow button's data (tests forge presses with it)."""
PENDING_KEY = "tipbot.pending_flows"
FLOW_FILES = (
    filters.Document.FileExtension("yaml")
    | filters.Document.FileExtension("yml")
    | (filters.Document.FileExtension("xlsx"))
)


def register(application: Application) -> None:
    private = filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE
    application.add_handler(MessageHandler(private & FLOW_FILES, on_flow_file), GROUP)
    application.add_handler(CommandHandler("flows", on_flows, filters=private), GROUP)
    application.add_handler(CommandHandler("staff", on_staff, filters=private), GROUP)
    application.add_handler(CallbackQueryHandler(on_flow_action, pattern=callbacks.ADMIN), GROUP)


async def admin_language(runtime: Runtime) -> str:
    return runtime.settings.staff_language


def _pending(context: ContextTypes.DEFAULT_TYPE) -> dict[str, tuple[int, FlowUpload]]:
    """Uploaded drafts waiting for Preview / Publish / Discard, in memory only."""
    return context.application.bot_data.setdefault(PENDING_KEY, {})


@admin_only
async def on_flow_file(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    runtime = runtime_of(context)
    message, user = update.effective_message, update.effective_user
    document = message.document
    lang = await admin_language(runtime)
    _ = gettext_for(lang)
    try:
        data = bytes(await (await document.get_file()).download_as_bytearray())
    except BadRequest:  # Telegram cannot give it (too big for bots, or gone)
        await message.reply_text(_("This file could not be read. Please try another one."))
        return
    try:
        upload = await asyncio.to_thread(read_flow_file, document.file_name or "flow.yaml", data)
    except FlowError as error:
        problems = "\n".join(f"• {problem}" for problem in error.problems[:40])
        more = len(error.problems) - 40
        text = _("This questionnaire has problems; nothing was changed:") + "\n" + problems
        if more > 0:
            text += "\n" + _("…and {count} more.").format(count=more)
        await message.reply_text(text[:4000])
        return
    await runtime.repository.audit(user.id, f"flow-upload:{upload.flow.id}", None, runtime.now())
    token = secrets.token_hex(4)
    _pending(context)[token] = (user.id, upload)
    current = next((flow for flow in runtime.flows.active_flows() if flow.id == upload.flow.id), None)
    buttons = [
        [
            InlineKeyboardButton(
                _("Preview ({language})").format(language=LANGUAGE_NAMES.get(code, code)),
                callback_data=callbacks.flow_preview(token, code),
            )
        ]
        for code in upload.flow.languages
    ]
    buttons.append(
        [
            InlineKeyboardButton(_("Publish"), callback_data=callbacks.flow_publish(token)),
            InlineKeyboardButton(_("Discard"), callback_data=callbacks.flow_discard(token)),
        ]
    )
    await message.reply_text(describe(upload.flow, current, lang), reply_markup=InlineKeyboardMarkup(buttons))


@admin_only
async def on_flow_action(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    runtime = runtime_of(context)
    query = update.callback_query
    assert query is not None
    pressed = callbacks.decode(query.data)
    if pressed is None or pressed.kind != callbacks.FLOW_ADMIN:
        await query.answer()
        return
    user = update.effective_user
    lang = await admin_language(runtime)
    _ = gettext_for(lang)
    kind, target, *more = pressed.args
    admin = runtime.flow_admin
    if kind in ("preview", "publish", "discard"):
        token, code = target, (more[0] if more else "")
        pending = _pending(context).get(token)
        if pending is None:
            await query.answer(_("This upload is no longer waiting; send the file again."), show_alert=True)
            return
        upload = pending[1]
        if kind == "preview":
            preview = runtime.flows.add_preview(upload.flow)
            chat_key = runtime.keys.chat_key(update.effective_chat.id)
            reply = await runtime.conversation.start_preview(chat_key, preview, code)
            reply.toast = _("Preview: answer as a reporter would. Nothing will be stored.")
            sent = await reporter.deliver(update, context, reply)
            await runtime.conversation.remember(chat_key, sent)
            return
        _pending(context).pop(token, None)
        if kind == "discard":
            await runtime.repository.audit(user.id, f"flow-discard:{upload.flow.id}", None, runtime.now())
            await _show(update, context, _("Discarded: nothing was changed."))
        else:
            audit = AuditRecord(user.id, f"flow-publish:{upload.flow.id}", None, runtime.now())
            flow = await admin.publish(upload, audit=audit)
            await _show(
                update,
                context,
                _(
                    "Published: {id} version {version}. Reports already begun finish on the version they started with."
                ).format(id=flow.id, version=flow.version),
            )
        await query.answer()
        return
    flow_id, version = target, (more[0] if more else "")
    audit = AuditRecord(user.id, f"flow-{kind}:{flow_id}{':v' + version if version else ''}", None, runtime.now())
    if kind == "default":
        await admin.set_default(flow_id, audit)
    elif kind == "off":
        if not await admin.deactivate(flow_id, audit):
            await query.answer(_("At least one questionnaire must stay active."), show_alert=True)
            return
    elif kind == "on":
        await admin.activate(flow_id, int(version), audit)
    text, buttons = flows_overview(runtime, lang)
    await _show(update, context, text, buttons)
    await query.answer()


async def _show(
    update: Update, context: ContextTypes.DEFAULT_TYPE, text: str, buttons: InlineKeyboardMarkup | None = None
) -> None:
    """The outcome of a press, in place of the pressed message; below it when that one cannot be edited
    (deleted, or too old)."""
    query = update.callback_query
    if isinstance(query.message, Message):  # otherwise Telegram no longer gives the bot that message
        try:
            await query.edit_message_text(text, reply_markup=buttons)
            return
        except BadRequest as error:
            if "not modified" in str(error).lower():  # the press changed nothing
                return
    await context.bot.send_message(update.effective_chat.id, text, reply_markup=buttons)


def flows_overview(runtime: Runtime, lang: str) -> tuple[str, InlineKeyboardMarkup]:
    _ = gettext_for(lang)
    catalog = runtime.flows
    lines, rows = [_("Questionnaires (★ default, ● active):")], []
    for flow_id in catalog.flow_ids():
        versions = catalog.versions(flow_id)
        latest = versions[-1]
        marks = ("★ " if flow_id == catalog.default_id else "") + (
            "● " if any(catalog.is_active(f) for f in versions) else "○ "
        )
        listed = ", ".join(f"v{f.version}{' ●' if catalog.is_active(f) else ''}" for f in versions)
        lines.append(f"{marks}{latest.text(latest.title, lang)} ({flow_id}): {listed}")
        buttons = [
            InlineKeyboardButton(
                _("★ Make default {id}").format(id=flow_id), callback_data=callbacks.flow_default(flow_id)
            )
        ]
        if any(catalog.is_active(f) for f in versions):
            buttons.append(
                InlineKeyboardButton(_("Retire {id}").format(id=flow_id), callback_data=callbacks.flow_retire(flow_id))
            )
        rows.append(buttons)
        rows.extend(
            [
                InlineKeyboardButton(
                    _("Activate {id} v{version}").format(id=flow_id, version=f.version),
                    callback_data=callbacks.flow_activate(flow_id, f.version),
                )
            ]
            for f in versions
            if not catalog.is_active(f)
        )
    return "\n".join(lines), InlineKeyboardMarkup(rows)


@admin_only
async def on_flows(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    runtime = runtime_of(context)
    lang = await admin_language(runtime)
    await runtime.repository.audit(update.effective_user.id, "flows", None, runtime.now())
    text, buttons = flows_overview(runtime, lang)
    await update.effective_message.reply_text(text, reply_markup=buttons)


@admin_only
async def on_staff(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/staff lists staff chats and admins; /staff add|remove chat|admin ID changes them."""
    runtime = runtime_of(context)
    lang = await admin_language(runtime)
    _ = gettext_for(lang)
    args, user = context.args or [], update.effective_user
    settings = runtime.settings
    if len(args) == 3 and args[0] in ("add", "remove") and args[1] in ("chat", "admin") and _is_id(args[2]):
        target, adding = int(args[2]), args[0] == "add"
        fixed = settings.staff_chat_ids if args[1] == "chat" else settings.admin_ids
        if not adding and target in fixed:
            await update.effective_message.reply_text(
                _("{id} comes from the settings and can only be removed there.").format(id=target)
            )
            return
        audit = AuditRecord(user.id, f"staff-{args[0]}-{args[1]}:{target}", None, runtime.now())
        if args[1] == "chat":
            await runtime.records.set_staff_chat(target, adding, audit)
        else:
            await runtime.records.set_admin(target, adding, audit)
    elif args:
        await update.effective_message.reply_text(
            _("Use: /staff, /staff add chat ID, /staff remove chat ID, /staff add admin ID, /staff remove admin ID")
        )
        return
    chats = await runtime.staff_chat_ids()
    admins = sorted({*settings.admin_ids, *await runtime.records.admins()})
    text = "\n".join(
        [
            _("Staff chats: {list}").format(list=", ".join(map(str, chats)) or "—"),
            _("Admins: {list}").format(list=", ".join(map(str, admins)) or "—"),
        ]
    )
    await update.effective_message.reply_text(text)


def _is_id(text: str) -> bool:
    return text.lstrip("-").isdigit()
