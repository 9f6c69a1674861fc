"""The conversation with one reporter, independent of Telegram: events in, screens out.

Both the Telegram handlers and `tipbot try` drive this class, so the terminal shows exactly what a
reporter would see. A chat is known here only by `chat_key` (an HMAC of its id). Its state (language
and the engine's draft) is kept encrypted in storage between events, so a restart loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from storage.repository import NewTip, Repository
from storage.staff_records import StaffRecords

from . import follow_up
from .flows import engine
from .flows.catalog import FlowCatalog
from .flows.engine import Draft, Press, Text, Unsupported
from .flows.model import Flow, QuestionType
from .i18n import LANGUAGE_NAMES, LANGUAGES, N_, gettext_for, ordered_languages
from .privacy.clean import CleanFile, SanitizeError
from .privacy.images import MAX_PIXELS
from .privacy.media import MAX_VOICE_DURATION
from .privacy.pii import MASK, find_identifiers
from .privacy.receipts import format_code, hash_code, new_code
from .privacy.sanitize import ACCEPTED_FORMATS
from .render import Button, Screen, format_answer, question_title, render_problem, render_step

BEGIN = "begin"
MAX_MEGAPIXELS = MAX_PIXELS // 1_000_000
MAX_VOICE_MINUTES = int(MAX_VOICE_DURATION // 60)
REPORTER_COMMANDS = (
    ("start", N_("begin a report or choose the language")),
    ("language", N_("change the language")),
    ("privacy", N_("what is stored and what is not")),
    ("cancel", N_("delete the report you are writing")),
    ("forget", N_("delete the report and this whole conversation")),
    ("status", N_("check a report you sent, with its receipt code")),
    ("help", N_("what this bot does")),
)
"""Commands with their descriptions, for /help and for Telegram's command menu."""
CHOOSE_LANGUAGE = N_("Choose your language")
CLEARED = N_("Chat cleared.")
"""The one neutral line left after a report was sent and the conversation deleted."""
FORGOTTEN = N_("Forgotten: your unfinished report and this conversation have been deleted.")
"""Shown in every language at once, so it is looked up in each catalogue by this msgid."""
LANGUAGE_PREFIX = "lang:"
RECEIPT_DONE = "receipt:done"
FLOW_PREFIX = "flow:"
REMOVE_IDENTIFIER, KEEP_IDENTIFIER = "identifier:remove", "identifier:keep"
MAX_TRACE = 1000
"""A conversation longer than this many messages keeps only the newest ids for deletion."""


@dataclass(frozen=True)
class Command:
    """/start, /language, /help, /privacy or /cancel. `preferred` only orders the language buttons."""

    name: str
    preferred: str | None = None


@dataclass(frozen=True)
class Upload:
    """A file the reporter sent; it is only fetched if the current question takes files."""

    size: int | None
    fetch: Callable[[], Awaitable[bytes]]


Event = Command | Press | Text | Upload | Unsupported


@dataclass
class Reply:
    messages: list[Screen] = field(default_factory=list)
    edit: Screen | None = None
    """New content for the message whose button was pressed."""
    toast: str | None = None
    """A short notice for a button press (shown by Telegram as a pop-up)."""
    delete: list[int] = field(default_factory=list)
    """Messages to delete from the chat before the new ones are sent."""
    submitted: bool = False
    """The report was stored; the receipt is on screen until the reporter has written it down."""
    notify_staff: bool = False
    """Something staff should see at once: an urgent report or a reporter's answer."""


@dataclass
class Session:
    """One chat's state between events. `trace` holds the ids of the conversation's messages (the
    reporter's and the bot's) so they can all be deleted from the phone; it lives only as long as the
    conversation and is never stored with a tip."""

    lang: str | None = None
    draft: Draft | None = None
    last_update: int = 0
    trace: list[int] = field(default_factory=list)
    receipt_shown: bool = False
    checking: bool = False
    """Waiting for a receipt code."""
    preview: bool = False
    """An admin trying out an uploaded questionnaire: nothing is stored at the end."""
    answering: bool = False
    """Writing to staff about a checked report (the tip itself is known only in memory)."""
    identifier: dict[str, str] | None = None
    """A likely identifier found in an answer, waiting for the reporter to keep or remove it."""
    kept: list[str] = field(default_factory=list)
    """Identifiers the reporter chose to keep, so they are not asked about again."""
    discard: bool = False
    fallback: str = "ru"
    """Not stored: derived from Telegram's language code for this one event."""

    @property
    def language(self) -> str:
        """The chosen language, or until one is chosen the one Telegram reports (never stored)."""
        return self.lang or self.fallback

    def drop_draft(self) -> None:
        """Forget the report in progress but keep the trace, so a later /forget still clears the chat."""
        self.draft, self.identifier, self.kept, self.preview = None, None, [], False

    def to_json(self) -> dict[str, Any]:
        return {
            "lang": self.lang,
            "draft": self.draft.to_json() if self.draft else None,
            "last_update": self.last_update,
            "trace": self.trace[-MAX_TRACE:],
            "receipt_shown": self.receipt_shown,
            "checking": self.checking,
            "preview": self.preview,
            "answering": self.answering,
            "identifier": self.identifier,
            "kept": self.kept,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Session:
        draft = Draft.from_json(data["draft"]) if data.get("draft") else None
        return cls(
            lang=data.get("lang"),
            draft=draft,
            last_update=data.get("last_update", 0),
            trace=list(data.get("trace", [])),
            receipt_shown=bool(data.get("receipt_shown")),
            checking=bool(data.get("checking")),
            preview=bool(data.get("preview")),
            answering=bool(data.get("answering")),
            identifier=data.get("identifier"),
            kept=list(data.get("kept", [])),
        )


class KeyedLocks:
    """One lock per chat, so two updates of the same chat never interleave; forgotten when unused."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str):
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


@dataclass(frozen=True)
class Services:
    """What the conversation needs from the outside world, injected so tests can control it."""

    repository: Repository
    flows: FlowCatalog
    sanitize: Callable[[bytes], Awaitable[CleanFile]]
    receipt_salts: tuple[bytes, ...]
    """The current key's salt first, then those of previous keys (old receipt codes keep working)."""
    records: StaffRecords
    today: Callable[[], date]
    now: Callable[[], datetime]
    max_file_bytes: int
    voice_pitch_shift: bool = True


class Conversation:
    def __init__(self, services: Services):
        self.services = services
        self._locks = KeyedLocks()
        self._follow_ups = follow_up.FollowUps()

    async def handle(
        self,
        chat_key: str,
        event: Event,
        update_id: int | None = None,
        message_id: int | None = None,
        preferred: str | None = None,
    ) -> Reply:
        """Apply one event; updates Telegram delivers twice (after a restart) are applied once.

        `message_id` is the reporter's message that carried the event, kept only to delete it later;
        `preferred` is the language Telegram reports, used only until the reporter chooses one.
        """
        async with self._locks.hold(chat_key):
            stored = await self.services.repository.load_draft(chat_key)
            session = Session.from_json(stored) if stored else Session()
            if update_id is not None and update_id <= session.last_update:
                return Reply()
            leftover: list[int] = []
            if session.receipt_shown and not (isinstance(event, Press) and event.action == RECEIPT_DONE):
                leftover, session = session.trace, Session()  # a receipt never cleared (e.g. a restart)
            session.fallback = _fallback_language(preferred)
            if message_id is not None and not _is_shared_contact(event):
                session.trace.append(message_id)
            reply = await self._dispatch(chat_key, session, event)
            if _is_shared_contact(event) and message_id is not None:
                reply.delete.append(message_id)
            reply.delete[:0] = leftover
            if update_id is not None:
                session.last_update = update_id
            await self._persist(chat_key, session, existed=stored is not None)
            if stored and stored.get("draft") and session.draft is None and not session.discard:
                await self.services.repository.delete_draft_files(chat_key)
            return reply

    async def start_preview(self, chat_key: str, flow: Flow, lang: str) -> Reply:
        """An admin answers an uploaded questionnaire exactly as a reporter would; no tip is stored."""
        async with self._locks.hold(chat_key):
            stored = await self.services.repository.load_draft(chat_key)
            session = Session.from_json(stored) if stored else Session()
            session.drop_draft()
            session.lang, session.preview = lang, True
            outcome = engine.start(flow)
            session.draft = outcome.draft
            await self._persist(chat_key, session, existed=stored is not None)
            return Reply(messages=[render_step(flow, outcome.step, lang)])

    async def remember(self, chat_key: str, message_ids: list[int]) -> None:
        """Add the bot's messages just sent to the conversation's trace, for deletion later."""
        if not message_ids:
            return
        async with self._locks.hold(chat_key):
            stored = await self.services.repository.load_draft(chat_key)
            if stored is None:
                return
            session = Session.from_json(stored)
            session.trace.extend(message_ids)
            await self._persist(chat_key, session, existed=True)

    async def _persist(self, chat_key: str, session: Session, existed: bool) -> None:
        if session.discard:
            if existed:
                await self.services.repository.delete_draft(chat_key)
        elif session.lang or session.draft or session.trace:
            await self.services.repository.save_draft(chat_key, session.to_json(), self.services.now())

    # ---- dispatch ---------------------------------------------------------------------------------------

    async def _dispatch(self, chat_key: str, session: Session, event: Event) -> Reply:
        if isinstance(event, Press) and event.action == RECEIPT_DONE:
            # pressed, or the ten minutes passed: whichever comes second finds nothing left to clear
            return self._clear(session, session.language, CLEARED) if session.receipt_shown else Reply()
        if isinstance(event, Command) and event.name == "forget":
            return self._clear(session, session.language, FORGOTTEN)
        wants_check = isinstance(event, Command) and event.name == "status"
        if wants_check or (isinstance(event, Press) and event.action == follow_up.CHECK):
            return self._ask_code(chat_key, session, session.language)
        follow_up_press = isinstance(event, Press) and event.action in (follow_up.ANSWER, follow_up.DONE)
        if isinstance(event, Command) or (isinstance(event, Press) and not follow_up_press):
            session.checking = session.answering = False  # any other command or button ends a check
        if isinstance(event, Command):
            self._follow_ups.close(chat_key)
            return self._command(session, event)
        if _is_shared_contact(event):
            return self._refuse_contact(session)
        if session.checking and isinstance(event, Text):
            return await self._check_code(chat_key, session, event.text)
        if session.answering or follow_up_press:
            return await self._follow_up(chat_key, session, event)
        if isinstance(event, Press) and event.action.startswith(LANGUAGE_PREFIX):
            return self._choose_language(session, event.action.removeprefix(LANGUAGE_PREFIX))
        if session.lang is None:
            return Reply(messages=[language_picker(None, has_draft=False)])
        if isinstance(event, Press) and event.action == BEGIN:
            return self._begin(session)
        if isinstance(event, Press) and event.action.startswith(FLOW_PREFIX) and session.draft is None:
            return self._begin(session, event.action.removeprefix(FLOW_PREFIX))
        if session.draft is None:
            return Reply(messages=[start_screen(session.lang)])
        flow = self.services.flows.get(session.draft.flow_id, session.draft.flow_version)
        if flow is None:
            session.drop_draft()
            _ = gettext_for(session.lang)
            text = _("The questionnaire has been updated since you started. Please start again.")
            return Reply(messages=[Screen(text, ((Button(_("Start a report"), BEGIN),),))])
        return await self._answer(chat_key, session, flow, event)

    def _ask_code(self, chat_key: str, session: Session, lang: str) -> Reply:
        self._follow_ups.close(chat_key)
        session.checking, session.answering = True, False
        return Reply(messages=[follow_up.ask_code_screen(lang)])

    async def _check_code(self, chat_key: str, session: Session, text: str) -> Reply:
        lang = session.language
        services = self.services
        found = await follow_up.check_code(
            text, chat_key, services.repository, services.records, services.receipt_salts, services.now()
        )
        if found.tip_id is None:
            if found.problem == "limit":
                session.checking = False
            return Reply(messages=[Screen(follow_up.code_problem(found.problem or "unknown", lang))])
        session.checking = False
        self._follow_ups.open(chat_key, found.tip_id)
        return Reply(messages=[await self._report_screen(found.tip_id, lang)])

    async def _report_screen(self, tip_id: str, lang: str) -> Screen:
        tip = await self.services.repository.get_tip(tip_id, files=False)
        exchanges = await self.services.records.exchanges(tip_id)
        return follow_up.report_screen(tip.status if tip else "closed", exchanges, lang)

    async def _follow_up(self, chat_key: str, session: Session, event: Event) -> Reply:
        """Reading and answering staff messages on a checked report; "Done" clears the chat."""
        lang = session.language
        _ = gettext_for(lang)
        if isinstance(event, Press) and event.action == follow_up.DONE:
            self._follow_ups.close(chat_key)
            session.answering = False
            cleared = Reply(delete=list(session.trace), messages=[Screen(_(CLEARED))])
            session.trace = []
            return cleared
        tip_id = self._follow_ups.get(chat_key)
        if tip_id is None:
            session.answering = False
            text = _("This has taken too long; please check your report again with the code.")
            return Reply(messages=[Screen(text, ((Button(_("Check my report"), follow_up.CHECK),),))])
        if isinstance(event, Press) and event.action == follow_up.ANSWER:
            session.answering = True
            return Reply(edit=None, messages=[follow_up.answer_prompt(lang)])
        today = self.services.today()
        if isinstance(event, Text) and event.text.strip():
            await self.services.records.add_exchange(tip_id, "reporter", event.text.strip(), today)
            return Reply(messages=[follow_up.answer_sent(lang, files=False)], notify_staff=True)
        if isinstance(event, Upload):
            clean = await self._clean_upload(event, lang)
            if isinstance(clean, Reply):
                return clean
            await self.services.records.add_exchange(tip_id, "reporter", "", today, [(clean.mime, clean.data)])
            return Reply(messages=[follow_up.answer_sent(lang, files=True)], notify_staff=True)
        return Reply(messages=[follow_up.answer_prompt(lang)])

    async def _clean_upload(self, upload: Upload, lang: str) -> CleanFile | Reply:
        """Fetch and sanitize a file, or the reply that explains why it is refused."""
        problem = None
        if upload.size is not None and upload.size > self.services.max_file_bytes:
            problem = "too_large"
        else:
            try:
                return await self.services.sanitize(await upload.fetch())
            except SanitizeError as error:
                problem = error.reason
        return Reply(messages=[Screen(file_refusal(problem, lang, self.services.max_file_bytes))])

    def _clear(self, session: Session, lang: str, message: str) -> Reply:
        """Delete the draft and every message of the conversation, leaving one line."""
        session.discard = True
        return Reply(delete=list(session.trace), messages=[Screen(gettext_for(lang)(message))])

    def _refuse_contact(self, session: Session) -> Reply:
        """A shared contact or location would identify the reporter: it is deleted, never stored."""
        lang = session.language
        _ = gettext_for(lang)
        text = _(
            "For your safety I have deleted the contact or location you sent: it could show who you are. "
            "Please describe the place in words instead."
        )
        reply = Reply(messages=[Screen(text)])
        if session.draft is not None:
            flow = self.services.flows.get(session.draft.flow_id, session.draft.flow_version)
            if flow is not None:
                reply.messages.append(self._screen(session, flow, engine.view(flow, session.draft)))
        return reply

    def _command(self, session: Session, command: Command) -> Reply:
        lang = session.language
        if command.name in ("start", "language"):
            return Reply(messages=[language_picker(command.preferred, has_draft=session.draft is not None)])
        if command.name == "privacy":
            return Reply(messages=[privacy_screen(lang, False, self.services.voice_pitch_shift)])
        if command.name == "cancel":
            _ = gettext_for(lang)
            if session.draft is None:
                return Reply(messages=[Screen(_("There is no report in progress."))])
            session.drop_draft()
            return Reply(messages=[Screen(_("Your unfinished report has been deleted. Send /start to begin again."))])
        return Reply(messages=[help_screen(lang)])

    def _choose_language(self, session: Session, lang: str) -> Reply:
        if lang not in LANGUAGES:  # a button of a language that is no longer offered
            return Reply(toast=render_problem(engine.Problem("stale"), session.language))
        session.lang = lang
        _ = gettext_for(lang)
        chosen = Screen(_("Language: {language}").format(language=LANGUAGE_NAMES[lang]))
        if session.draft is None:
            return Reply(edit=chosen, messages=[privacy_screen(lang, True, self.services.voice_pitch_shift)])
        flow = self.services.flows.get(session.draft.flow_id, session.draft.flow_version)
        if flow is None:
            return Reply(edit=chosen, messages=[start_screen(lang)])
        return Reply(edit=chosen, messages=[self._screen(session, flow, engine.view(flow, session.draft))])

    def _begin(self, session: Session, flow_id: str | None = None) -> Reply:
        """Continue the report in progress, or start one: on the chosen flow when several are active."""
        assert session.lang is not None
        if session.draft is not None:
            flow = self.services.flows.get(session.draft.flow_id, session.draft.flow_version)
            if flow is not None:
                return Reply(messages=[self._screen(session, flow, engine.view(flow, session.draft))])
        active = self.services.flows.active_flows()
        chosen = next((flow for flow in active if flow.id == flow_id), None)
        if chosen is None and len(active) > 1:
            return Reply(messages=[flow_picker(active, session.lang)])
        flow = chosen or self.services.flows.active
        outcome = engine.start(flow)
        session.draft = outcome.draft
        return Reply(messages=[render_step(flow, outcome.step, session.lang)])

    # ---- answering ----------------------------------------------------------------------------------------

    async def _answer(self, chat_key: str, session: Session, flow: Flow, event: Event) -> Reply:
        lang, draft = session.lang, session.draft
        assert lang is not None and draft is not None
        _ = gettext_for(lang)
        if session.identifier is not None:
            return self._decide_identifier(session, flow, event)
        if isinstance(event, Upload):
            received = await self._receive_file(chat_key, session, flow, event)
            if isinstance(received, Reply):
                return received
            event = received
        before = render_step(flow, engine.view(flow, draft), lang)
        asked = draft.current
        outcome = engine.step(flow, draft, event, self.services.today())
        session.draft = outcome.draft
        if isinstance(outcome.step, engine.Submitted):
            return await self._submit(chat_key, session, flow, outcome.step, before)
        if isinstance(outcome.step, engine.Cancelled):
            session.drop_draft()
            done = Screen(_("Your report has been deleted. Nothing was sent."))
            return Reply(edit=Screen(before.text), messages=[done, start_screen(lang)])
        screen = self._screen(session, flow, outcome.step)
        if outcome.problem is not None:
            message = render_problem(outcome.problem, lang, flow, flow.question(asked or ""))
            return Reply(toast=message) if isinstance(event, Press) else Reply(messages=[Screen(message), screen])
        if outcome.event == "updated":
            return Reply(edit=screen)
        if outcome.event == "file_added" and isinstance(event, engine.File):
            notices = [Screen(_("Your voice was changed so that it is harder to recognise."))]
            voice = event.kind == "voice" and self.services.voice_pitch_shift
            return Reply(messages=[*notices, screen] if voice else [screen])
        if isinstance(event, Press):
            answered = outcome.event == "answered"
            return Reply(
                edit=_answered(flow, before, asked, outcome.draft, lang) if answered else Screen(before.text),
                messages=[screen],
            )
        return Reply(messages=[screen])

    def _screen(self, session: Session, flow: Flow, step: engine.Step) -> Screen:
        """The screen for a step; before the review, any likely identifier in the answers is asked about."""
        lang = session.language
        if isinstance(step, engine.Review) and session.draft is not None:
            session.identifier = session.identifier or _next_identifier(flow, session.draft, session.kept)
            if session.identifier is not None:
                return identifier_screen(flow, session.identifier, lang)
        return render_step(flow, step, lang)

    def _decide_identifier(self, session: Session, flow: Flow, event: Event) -> Reply:
        pending, draft, lang = session.identifier, session.draft, session.language
        assert pending is not None and draft is not None
        _ = gettext_for(lang)
        prompt = identifier_screen(flow, pending, lang)
        if not isinstance(event, Press) or event.action not in (REMOVE_IDENTIFIER, KEEP_IDENTIFIER):
            message = render_problem(engine.Problem("use_buttons"), lang)
            return Reply(toast=message) if isinstance(event, Press) else Reply(messages=[Screen(message), prompt])
        if event.action == REMOVE_IDENTIFIER:
            answer = draft.answers.get(pending["question"])
            if isinstance(answer, str):
                draft.answers[pending["question"]] = answer.replace(pending["text"], MASK)
            decision = _("Removed from the report.")
        else:
            session.kept.append(pending["text"])
            decision = _("Kept.")
        session.identifier = None
        screen = self._screen(session, flow, engine.view(flow, draft))
        return Reply(edit=Screen(f"{prompt.text}\n\n→ {decision}"), messages=[screen])

    async def _receive_file(
        self, chat_key: str, session: Session, flow: Flow, upload: Upload
    ) -> engine.File | Unsupported | Reply:
        draft, lang = session.draft, session.lang
        assert draft is not None and lang is not None
        if not engine.accepts_file(flow, draft):
            return Unsupported("file")
        clean = await self._clean_upload(upload, lang)
        if isinstance(clean, Reply):
            clean.messages.append(self._screen(session, flow, engine.view(flow, draft)))
            return clean
        await self.services.repository.save_draft(chat_key, session.to_json(), self.services.now())
        ref = await self.services.repository.add_draft_file(chat_key, clean.mime, clean.data)
        return engine.File(ref, clean.kind)

    async def _submit(
        self, chat_key: str, session: Session, flow: Flow, submitted: engine.Submitted, review: Screen
    ) -> Reply:
        lang = session.lang
        assert lang is not None
        _ = gettext_for(lang)
        if session.preview:
            session.drop_draft()
            done = Screen(_("Preview finished: nothing was stored."))
            return Reply(edit=Screen(review.text), messages=[done])
        answers, file_refs = _detach_files(flow, submitted.answers)
        code = new_code()
        tip = NewTip(
            flow_id=flow.id,
            flow_version=flow.version,
            answers=answers,
            urgent=submitted.urgent,
            created_on=self.services.today(),
            receipt_hash=await asyncio.to_thread(hash_code, code, self.services.receipt_salts[0]),
            flow_hash=self.services.flows.hash_of(flow),
        )
        await self.services.repository.submit_tip(chat_key, tip, file_refs)
        session.drop_draft()
        session.receipt_shown = True
        receipt = Screen(
            _("Thank you. Your report has been received.")
            + "\n\n"
            + _("Your receipt code: {code}").format(code=format_code(code))
            + "\n\n"
            + _("Write the code down somewhere safe, not on this phone. Staff read new reports every day.")
            + "\n\n"
            + _("When you press the button, this whole conversation is deleted from the chat."),
            ((Button(_("I have written it down"), RECEIPT_DONE),),),
        )
        sent = Screen(review.text + "\n\n" + _("✅ Sent."))
        return Reply(edit=sent, messages=[receipt], submitted=True, notify_staff=submitted.urgent)


# ---- screens not driven by the engine -----------------------------------------------------------------------


def language_picker(preferred: str | None, has_draft: bool) -> Screen:
    order = ordered_languages(preferred)
    lines = [gettext_for(lang)(CHOOSE_LANGUAGE) for lang in order]
    if has_draft:
        _ = gettext_for(_fallback_language(preferred))
        lines.extend(["", _("Your unfinished report is kept.")])
    buttons = tuple((Button(LANGUAGE_NAMES[lang], LANGUAGE_PREFIX + lang),) for lang in order)
    return Screen("\n".join(lines), buttons)


def privacy_screen(lang: str, with_start: bool, voice_shift: bool = True) -> Screen:
    """The same facts as the README's "What tipbot stores and what it does not", for reporters."""
    _ = gettext_for(lang)
    voice = _("• Voice messages are re-recorded with a changed voice, so that it is harder to recognise.")
    text = "\n\n".join(
        [
            _("Before you start:"),
            _(
                "• This bot does not keep your Telegram name, username, phone number or account number. "
                "Your report is stored encrypted, with the date only, not the time."
            ),
            _(
                "• Do not write your own name or anything that could identify you. Names and posts of "
                "officials who gave orders are welcome."
            ),
            _(
                "• Files are rebuilt without their hidden data (place, camera, author, comments). What can be "
                "seen or heard in them stays: check that a photo does not show you or your documents."
            ),
            *([voice] if voice_shift else []),
            _(
                "• If an answer seems to contain a phone number, a passport number or the like, the bot shows it "
                "and asks whether to remove it before you send."
            ),
            _(
                "• Telegram itself can see this chat, as it sees every chat with a bot. Once your report is "
                "sent, the bot deletes this conversation from the chat."
            ),
            _("• /cancel deletes an unfinished report; /forget deletes it and this whole conversation at once."),
        ]
    )
    start = ((Button(_("Start a report"), BEGIN),), (Button(_("Check my report"), follow_up.CHECK),))
    buttons = start if with_start else ()
    return Screen(text, buttons)


def help_screen(lang: str) -> Screen:
    _ = gettext_for(lang)
    lines = [_("This bot takes anonymous reports about forced and child labour."), ""]
    lines.extend(f"/{name}: {_(description)}" for name, description in REPORTER_COMMANDS)
    return Screen("\n".join(lines))


def start_screen(lang: str) -> Screen:
    _ = gettext_for(lang)
    buttons = ((Button(_("Start a report"), BEGIN),), (Button(_("Check my report"), follow_up.CHECK),))
    return Screen(_("Press the button to begin a new report."), buttons)


def flow_picker(flows: list[Flow], lang: str) -> Screen:
    _ = gettext_for(lang)
    buttons = tuple((Button(flow.text(flow.title, lang)[:60], FLOW_PREFIX + flow.id),) for flow in flows)
    return Screen(_("What is your report about?"), buttons)


def identifier_screen(flow: Flow, pending: dict[str, str], lang: str) -> Screen:
    _ = gettext_for(lang)
    question = flow.question(pending["question"])
    title = question_title(flow, question, lang) if question else pending["question"]
    intro = {
        "phone": _("Your answer to “{question}” seems to contain a phone number:"),
        "email": _("Your answer to “{question}” seems to contain an e-mail address:"),
        "username": _("Your answer to “{question}” seems to contain a Telegram username:"),
        "passport": _("Your answer to “{question}” seems to contain a passport number:"),
        "personal_id": _("Your answer to “{question}” seems to contain a personal identification number:"),
    }[pending["kind"]].format(question=title)
    text = "\n\n".join([intro, pending["text"], _("It could identify you or someone else. Remove it from the report?")])
    buttons = ((Button(_("Remove it"), REMOVE_IDENTIFIER), Button(_("Keep it"), KEEP_IDENTIFIER)),)
    return Screen(text, buttons)


def file_refusal(reason: str, lang: str, max_bytes: int) -> str:
    _ = gettext_for(lang)
    if reason == "too_large":
        text = _(
            "This file is too large or too complex to be checked safely. Files up to {limit} MB are accepted, "
            "images up to {megapixels} megapixels and voice messages up to {minutes} minutes."
        )
        return text.format(limit=max_bytes // (1024 * 1024), megapixels=MAX_MEGAPIXELS, minutes=MAX_VOICE_MINUTES)
    if reason == "malformed":
        return _("This file could not be read. Please try another one.")
    formats = {family: ", ".join(names) for family, names in ACCEPTED_FORMATS.items()}
    return _(
        "This type of file is not accepted. You can send photos and images ({images}), documents "
        "({documents}), voice messages, audio ({audio}) and video ({video})."
    ).format(**formats)


# ---- helpers ------------------------------------------------------------------------------------------------


def _next_identifier(flow: Flow, draft: Draft, kept: list[str]) -> dict[str, str] | None:
    answers = engine.effective_answers(flow, draft.answers)
    for question in flow.questions:
        answer = answers.get(question.id)
        if question.type is QuestionType.TEXT and isinstance(answer, str):
            for finding in find_identifiers(answer):
                if finding.text not in kept:
                    return {"question": question.id, "kind": finding.kind, "text": finding.text}
    return None


def _is_shared_contact(event: Event) -> bool:
    return isinstance(event, Unsupported) and event.kind == "contact"


def _fallback_language(preferred: str | None) -> str:
    return preferred if preferred in LANGUAGES else "ru"


def _answered(flow: Flow, before: Screen, question_id: str | None, draft: Draft, lang: str) -> Screen:
    """The question message once answered: its text plus the answer, without buttons."""
    question = flow.question(question_id or "")
    if question is None or not question.asks or question.id not in draft.answers:
        return Screen(before.text)
    answer = format_answer(flow, question, draft.answers[question.id], lang)
    return Screen(f"{before.text}\n\n→ {answer}")


def _detach_files(flow: Flow, answers: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Replace attachment references in answers by the file kinds, returning the references in order."""
    refs: list[str] = []
    result = dict(answers)
    for question in flow.questions:
        if question.type is QuestionType.ATTACHMENTS and answers.get(question.id):
            files = answers[question.id]
            refs.extend(item["ref"] for item in files)
            result[question.id] = [item["kind"] for item in files]
    return result, refs
