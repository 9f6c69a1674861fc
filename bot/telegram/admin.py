"""Admin handlers: questionnaire files sent to the bot, /flows, /staff. Every handler is `@admin_only` (an
admin, from TIPBOT_ADMIN_IDS or added by an admin, in a private chat; see authorisation.py): anyone else is
answered as a reporter would be, so a stranger sending a flow file gets the neutral answer and nothing
changes. Files and commands are read from new messages only: an edited message would run again.

An upload waits for its decision in the database (storage/uploads.py), and the list of questionnaires is read
fresh before it is shown, so an admin's presses work whichever instance of the bot they reach."""

from __future__ import annotations

import asyncio

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from storage.repository import AuditRecord

from .. import callbacks
from ..flow_admin import describe, read_flow_file
from ..flows.loader import FlowError
from ..i18n import LANGUAGE_NAMES, gettext_for
from ..runtime import Runtime
from . import reporter
from .authorisation import GROUP, admin_only
from .runtime_access import runtime_of

ACTION = f"{callbacks.FLOW_ADMIN}:"
"""The start of every flow button's data (tests forge presses with it)."""
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
    token = await runtime.flow_admin.keep(user.id, upload)
    await runtime.flow_admin.refresh(force=True)  # compared with the version active now, wherever it was published
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
        await _decide(update, context, kind, target, more[0] if more else "")
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
    text, buttons = await flows_overview(runtime, lang)
    await _show(update, context, text, buttons)
    await query.answer()


async def _decide(update: Update, context: ContextTypes.DEFAULT_TYPE, kind: str, token: str, code: str) -> None:
    """Preview, Publish or Discard an upload, read from the database: the press may reach any instance, and of
    two presses deciding on one upload (a double tap, or two instances) one wins."""
    runtime, query, user = runtime_of(context), update.callback_query, update.effective_user
    admin = runtime.flow_admin
    _ = gettext_for(await admin_language(runtime))
    decided = False
    if kind == "preview":
        upload = await admin.pending(token)
        if upload is not None:
            preview = runtime.flows.add_preview(upload.flow, token)
            chat_key = runtime.keys.chat_key(update.effective_chat.id)
            reply = await runtime.conversation.start_preview(chat_key, preview, code)
            reply.toast = _("Preview: answer as a reporter would. Nothing will be stored.")
            sent = await reporter.deliver(update, context, reply)
            await runtime.conversation.remember(chat_key, sent)
            return
    elif kind == "discard":
        upload = await admin.discard(token)
        if upload is not None:
            await runtime.repository.audit(user.id, f"flow-discard:{upload.flow.id}", None, runtime.now())
            await _show(update, context, _("Discarded: nothing was changed."))
            decided = True
    else:
        upload = await admin.pending(token)
        if upload is not None:
            audit = AuditRecord(user.id, f"flow-publish:{upload.flow.id}", None, runtime.now())
            flow = await admin.publish(upload, audit=audit, token=token)
            if flow is not None:
                published = _(
                    "Published: {id} version {version}. Reports already begun finish on the version they started with."
                )
                await _show(update, context, published.format(id=flow.id, version=flow.version))
                decided = True
    if decided:
        await query.answer()
    else:
        await query.answer(_("This upload is no longer waiting; send the file again."), show_alert=True)


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


async def flows_overview(runtime: Runtime, lang: str) -> tuple[str, InlineKeyboardMarkup]:
    """Every questionnaire and its versions as published now, also by another instance or `tipbot flows`."""
    await runtime.flow_admin.refresh(force=True)
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
    text, buttons = await flows_overview(runtime, lang)
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
