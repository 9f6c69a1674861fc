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
from datetime import date, datetime, timedelta
from typing import Any

from storage.clearings import Clearings
from storage.repository import NewTip, Repository, random_id
from storage.staff_records import StaffRecords

from . import follow_up
from .flows import engine
from .flows.catalog import FlowCatalog
from .flows.engine import Draft, Press, Text, Unsupported
from .flows.model import Flow, QuestionType
from .i18n import LANGUAGE_NAMES, LANGUAGES, N_, gettext_for, ordered_languages
from .limits import ANSWERS, FILES, REPORT_KB, REPORTS, Limits, kilobytes, reached_text
from .privacy.clean import CleanFile, SanitizeError
from .privacy.images import MAX_PIXELS
from .privacy.media import MAX_VOICE_DURATION
from .privacy.pii import MASK, find_identifiers
from .privacy.receipts import format_code, new_code
from .privacy.sanitize import ACCEPTED_FORMATS
from .render import ERASE, Button, Screen, erase_row, format_answer, question_title, render_problem, render_step

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
DISCREET_COMMANDS = (
    ("start", N_("start")),
    ("language", N_("change the language")),
    ("privacy", N_("privacy")),
    ("cancel", N_("cancel and clear the chat")),
    ("forget", N_("clear the chat")),
    ("status", N_("check with a code")),
    ("help", N_("help")),
)
"""The same commands described so that a look at the phone's menu says nothing about what the bot is for."""
CHOOSE_LANGUAGE = N_("Choose your language")
CLEARED = N_("Chat cleared.")
"""The one neutral line left after a conversation was deleted from the chat (in discreet mode, always)."""
FORGOTTEN = N_("Forgotten: your unfinished report and this conversation have been deleted.")
LANGUAGE_PREFIX = "lang:"
RECEIPT_DONE = "receipt:done"
"""The receipt's button; the clearing's random id follows after a colon."""
RECEIPT_LIFETIME = timedelta(minutes=10)
"""The receipt is cleared from the chat this long after it was shown, if the reporter has not done it."""
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
    clearing: str | None = None
    """With `submitted`: the clearing that will delete the conversation with its receipt, to which the
    messages sent now belong."""
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
    reach: int | None = None
    """How to reach the chat to clear it later (its id), kept only while there is something to clear."""
    active_at: str | None = None
    """When the reporter last did something (ISO time), to clear a conversation left idle."""
    bundle: str | None = None
    """The random id under which this draft's files are stored."""
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
        """Forget the report in progress but keep the trace, so the chat can still be cleared."""
        self.draft, self.identifier, self.kept, self.preview = None, None, [], False

    def files_bundle(self) -> str:
        if self.bundle is None:
            self.bundle = random_id()
        return self.bundle

    def to_json(self) -> dict[str, Any]:
        return {
            "lang": self.lang,
            "draft": self.draft.to_json() if self.draft else None,
            "last_update": self.last_update,
            "trace": self.trace[-MAX_TRACE:],
            "reach": self.reach,
            "active_at": self.active_at,
            "bundle": self.bundle,
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
            reach=data.get("reach"),
            active_at=data.get("active_at"),
            bundle=data.get("bundle"),
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
    clearings: Clearings
    scrub: Callable[[], Awaitable[None]]
    """Called after a conversation's rows were deleted, so nothing of them stays in the database's files."""
    voice_pitch_shift: bool = True
    discreet: bool = True
    idle_minutes: int = 30
    limits: Limits = field(default_factory=Limits)
    """What one chat may send; by default the counters are named with a key of this process only."""


@dataclass(frozen=True)
class ChatClearing:
    """A chat to clear now: delete these messages, then leave one neutral line in the chat's language."""

    reach: int
    message_ids: list[int]
    lang: str


class Conversation:
    def __init__(self, services: Services):
        self.services = services
        self._locks = KeyedLocks()
        self._follow_ups = follow_up.FollowUps()
        self._receipts: dict[str, str] = {}
        """chat key -> clearing id of a receipt still on screen, in memory only (after a restart the
        clearing's own timer deletes it)."""

    async def handle(
        self,
        chat_key: str,
        event: Event,
        update_id: int | None = None,
        message_id: int | None = None,
        preferred: str | None = None,
        reach: int | None = None,
    ) -> Reply:
        """Apply one event; updates Telegram delivers twice (after a restart) are applied once.

        `message_id` is the reporter's message that carried the event, kept only to delete it later;
        `preferred` is the language Telegram reports, used only until the reporter chooses one; `reach` is
        the chat's id, kept encrypted in the draft only while there is something to clear from the chat.
        """
        async with self._locks.hold(chat_key):
            stored = await self.services.repository.load_draft(chat_key)
            session = Session.from_json(stored) if stored else Session()
            if stored and "bundle" not in stored:
                session.bundle = chat_key  # a draft begun before bundles stored its files under its key
            if update_id is not None and update_id <= session.last_update:
                return Reply()
            if isinstance(event, Press) and event.action.startswith(RECEIPT_DONE):
                return await self._acknowledge_receipt(chat_key, event.action, reach)
            leftover = await self._take_receipt(chat_key)  # a receipt still shown when something else happens
            session.fallback = _fallback_language(preferred)
            session.reach = reach if reach is not None else session.reach
            session.active_at = self.services.now().isoformat()
            if message_id is not None and not _is_shared_contact(event):
                session.trace.append(message_id)
            reply = await self._dispatch(chat_key, session, event)
            if _is_shared_contact(event) and message_id is not None:
                reply.delete.append(message_id)
            reply.delete[:0] = leftover
            if update_id is not None:
                session.last_update = update_id
            await self._persist(chat_key, session, existed=stored is not None)
            if stored and stored.get("draft") and session.draft is None and not session.discard and session.bundle:
                await self.services.repository.delete_draft_files(session.bundle)
            if session.discard or reply.clearing or leftover:
                await self.services.scrub()
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

    async def remember(self, chat_key: str, message_ids: list[int], clearing: str | None = None) -> None:
        """Add the bot's messages just sent to the conversation's trace (or to the clearing that holds the
        conversation since the report was sent), for deletion later."""
        if not message_ids:
            return
        async with self._locks.hold(chat_key):
            if clearing is not None:
                state = await self.services.clearings.get(clearing)
                if state is not None:
                    state["message_ids"].extend(message_ids)
                    await self.services.clearings.save(clearing, state)
                return
            stored = await self.services.repository.load_draft(chat_key)
            if stored is None:
                return
            session = Session.from_json(stored)
            session.trace.extend(message_ids)
            await self._persist(chat_key, session, existed=True)

    async def end_idle(self, idle: timedelta) -> int:
        """Hand every conversation silent for `idle` over to a clearing due now; an unfinished report stays
        (without the way to reach the chat) until it expires, so the reporter can still send it."""
        cutoff = self.services.now() - idle
        ended = 0
        for chat_key, state in await self.services.repository.drafts():
            if not _idle_since(state, cutoff):
                continue
            async with self._locks.hold(chat_key):
                stored = await self.services.repository.load_draft(chat_key)
                if stored is None or not _idle_since(stored, cutoff):
                    continue
                session = Session.from_json(stored)
                self._follow_ups.close(chat_key)
                clearing = {"reach": session.reach, "message_ids": session.trace, "lang": session.language}
                await self.services.clearings.save(random_id(), clearing | {"due": self.services.now().isoformat()})
                session.trace, session.reach, session.checking, session.answering = [], None, False, False
                session.discard = session.draft is None
                await self._persist(chat_key, session, existed=True)
                ended += 1
        if ended:
            await self.services.scrub()
        return ended

    async def due_clearings(self) -> list[tuple[str, ChatClearing]]:
        """Clearings whose time has come: receipts not acknowledged, conversations left idle."""
        now = self.services.now()
        return [
            (clearing_id, ChatClearing(state["reach"], state["message_ids"], state["lang"]))
            for clearing_id, state in await self.services.clearings.all()
            if datetime.fromisoformat(state["due"]) <= now
        ]

    async def finish_clearing(self, clearing_id: str) -> None:
        """The chat has been cleared: forget how to reach it."""
        await self.services.clearings.delete(clearing_id)
        self._receipts = {key: value for key, value in self._receipts.items() if value != clearing_id}
        await self.services.scrub()

    async def _acknowledge_receipt(self, chat_key: str, action: str, reach: int | None) -> Reply:
        """"I have written it down": the conversation with its receipt is deleted, one neutral line stays."""
        clearing_id = action.removeprefix(RECEIPT_DONE).lstrip(":")
        state = await self.services.clearings.get(clearing_id) if clearing_id else None
        if state is None or (reach is not None and state["reach"] != reach):
            return Reply()  # already cleared (by the timer, or another tap)
        self._receipts.pop(chat_key, None)
        await self.services.clearings.delete(clearing_id)
        await self.services.scrub()
        return Reply(delete=state["message_ids"], messages=[Screen(gettext_for(state["lang"])(CLEARED))])

    async def _take_receipt(self, chat_key: str) -> list[int]:
        """The messages of a receipt still on screen, to delete with this event's reply."""
        clearing_id = self._receipts.pop(chat_key, None)
        state = await self.services.clearings.get(clearing_id) if clearing_id else None
        if clearing_id is None or state is None:
            return []
        await self.services.clearings.delete(clearing_id)
        return state["message_ids"]

    async def _persist(self, chat_key: str, session: Session, existed: bool) -> None:
        if session.discard:
            if existed:
                await self.services.repository.delete_draft(chat_key, session.bundle)
        elif session.lang or session.draft or session.trace:
            await self.services.repository.save_draft(chat_key, session.to_json(), self.services.now())

    # ---- dispatch ---------------------------------------------------------------------------------------

    async def _dispatch(self, chat_key: str, session: Session, event: Event) -> Reply:
        erase = isinstance(event, Press) and event.action == ERASE
        if erase or (isinstance(event, Command) and event.name == "forget"):
            self._follow_ups.close(chat_key)
            return self._clear(session, FORGOTTEN)
        if isinstance(event, Command) and event.name == "cancel":
            self._follow_ups.close(chat_key)
            return self._cancel(session)
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
            text,
            chat_key,
            services.repository,
            services.records,
            services.receipt_salts,
            services.now(),
            services.limits,
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
            if session.draft is None:
                return self._clear(session, CLEARED)
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
        services, today = self.services, self.services.today()
        if isinstance(event, Upload) or (isinstance(event, Text) and event.text.strip()):
            reached = await services.limits.take(services.records, ANSWERS, chat_key, services.now())
            if reached:  # refused, not stored: staff are never flooded by one chat
                done = ((Button(_("Done"), follow_up.DONE),),)
                return Reply(messages=[Screen(reached_text(ANSWERS, reached, lang), done)])
        if isinstance(event, Text) and event.text.strip():
            await self.services.records.add_exchange(tip_id, "reporter", event.text.strip(), today)
            return Reply(messages=[follow_up.answer_sent(lang, files=False)], notify_staff=True)
        if isinstance(event, Upload):
            clean = await self._clean_upload(chat_key, event, lang)
            if isinstance(clean, Reply):
                return clean
            await self.services.records.add_exchange(tip_id, "reporter", "", today, [(clean.mime, clean.data)])
            return Reply(messages=[follow_up.answer_sent(lang, files=True)], notify_staff=True)
        return Reply(messages=[follow_up.answer_prompt(lang)])

    async def _clean_upload(self, chat_key: str, upload: Upload, lang: str) -> CleanFile | Reply:
        """Fetch and sanitize a file, or the reply that explains why it is refused. Every file fetched counts
        towards the chat's files an hour, refused ones too: each costs a download and a sanitizer's time."""
        services = self.services
        if upload.size is not None and upload.size > services.max_file_bytes:
            return Reply(messages=[Screen(file_refusal("too_large", lang, services.max_file_bytes))])
        reached = await services.limits.take(services.records, FILES, chat_key, services.now())
        if reached:
            return Reply(messages=[Screen(reached_text(FILES, reached, lang))])
        try:
            return await services.sanitize(await upload.fetch())
        except SanitizeError as error:
            return Reply(messages=[Screen(file_refusal(error.reason, lang, services.max_file_bytes))])

    def _clear(self, session: Session, message: str) -> Reply:
        """Delete the draft and every message of the conversation, leaving one line: in discreet mode one
        that says nothing about what the bot is for."""
        session.discard = True
        line = CLEARED if self.services.discreet else message
        return Reply(delete=list(session.trace), messages=[Screen(gettext_for(session.language)(line))])

    def _privacy(self, lang: str, with_start: bool) -> Screen:
        services = self.services
        return privacy_screen(lang, with_start, services.voice_pitch_shift, services.idle_minutes, services.discreet)

    def _cancel(self, session: Session) -> Reply:
        if session.draft is None:
            return self._clear(session, N_("There is no report in progress. Chat cleared."))
        return self._clear(session, N_("Your unfinished report has been deleted. Send /start to begin again."))

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
            return Reply(messages=[self._privacy(lang, with_start=False)])
        return Reply(messages=[help_screen(lang, self.services.discreet)])

    def _choose_language(self, session: Session, lang: str) -> Reply:
        if lang not in LANGUAGES:  # a button of a language that is no longer offered
            return Reply(toast=render_problem(engine.Problem("stale"), session.language))
        session.lang = lang
        _ = gettext_for(lang)
        chosen = Screen(_("Language: {language}").format(language=LANGUAGE_NAMES[lang]))
        if session.draft is None:
            return Reply(edit=chosen, messages=[self._privacy(lang, with_start=True)])
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
            return self._clear(session, N_("Your report has been deleted. Nothing was sent."))
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
        clean = await self._clean_upload(chat_key, upload, lang)
        if isinstance(clean, CleanFile):
            first = not draft.pending and not _detach_files(flow, draft.answers)[1]  # a new report's first file
            services = self.services
            size = kilobytes(clean.data)
            reached = await services.limits.take(services.records, REPORT_KB, chat_key, services.now(), size, first)
            if reached:
                clean = Reply(messages=[Screen(reached_text(REPORT_KB, reached, lang))])
        if isinstance(clean, Reply):
            clean.messages.append(self._screen(session, flow, engine.view(flow, draft)))
            return clean
        bundle = session.files_bundle()  # stored with the draft before any file is stored under it
        await self.services.repository.save_draft(chat_key, session.to_json(), self.services.now())
        ref = await self.services.repository.add_draft_file(bundle, clean.mime, clean.data, self.services.now())
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
        reached = await self.services.limits.take(self.services.records, REPORTS, chat_key, self.services.now())
        if reached:  # the draft stays as it is, to be sent once the day's window has passed
            return Reply(edit=Screen(review.text), messages=[Screen(reached_text(REPORTS, reached, lang)), review])
        answers, file_refs = _detach_files(flow, submitted.answers)
        code = new_code()
        tip = NewTip(
            flow_id=flow.id,
            flow_version=flow.version,
            answers=answers,
            urgent=submitted.urgent,
            created_on=self.services.today(),
            receipt_hash=await follow_up.hash_receipt(code, self.services.receipt_salts[0]),
            flow_hash=self.services.flows.hash_of(flow),
        )
        clearing_id = random_id() if session.reach is not None else None
        clearing = None
        if clearing_id is not None:
            due = (self.services.now() + RECEIPT_LIFETIME).isoformat()
            clearing = (clearing_id, {"reach": session.reach, "message_ids": session.trace, "lang": lang, "due": due})
        await self.services.repository.submit_tip(chat_key, tip, file_refs, session.bundle, clearing)
        session.drop_draft()
        session.discard = True
        if clearing_id is not None:
            self._receipts[chat_key] = clearing_id
        done = f"{RECEIPT_DONE}:{clearing_id}" if clearing_id else RECEIPT_DONE
        receipt = Screen(
            _("Thank you. Your report has been received.")
            + "\n\n"
            + _("Your receipt code: {code}").format(code=format_code(code))
            + "\n\n"
            + _("Write the code down somewhere safe, not on this phone. Staff read new reports every day.")
            + "\n\n"
            + _("When you press the button, this whole conversation is deleted from the chat."),
            ((Button(_("I have written it down"), done),),),
        )
        sent = Screen(review.text + "\n\n" + _("✅ Sent."))
        return Reply(
            edit=sent, messages=[receipt], submitted=True, clearing=clearing_id, notify_staff=submitted.urgent
        )


# ---- screens not driven by the engine -----------------------------------------------------------------------


def language_picker(preferred: str | None, has_draft: bool) -> Screen:
    order = ordered_languages(preferred)
    lines = [gettext_for(lang)(CHOOSE_LANGUAGE) for lang in order]
    if has_draft:
        _ = gettext_for(_fallback_language(preferred))
        lines.extend(["", _("Your unfinished report is kept.")])
    buttons = tuple((Button(LANGUAGE_NAMES[lang], LANGUAGE_PREFIX + lang),) for lang in order)
    return Screen("\n".join(lines), buttons)


def privacy_screen(
    lang: str, with_start: bool, voice_shift: bool = True, idle_minutes: int = 30, discreet: bool = True
) -> Screen:
    """The same facts as the README's "What tipbot stores and what it does not", for reporters."""
    _ = gettext_for(lang)
    voice = _("• Voice messages are re-recorded with a changed voice, so that it is harder to recognise.")
    neutral = _(
        "• The bot's description and menu say nothing about reports, and after the chat is cleared only the "
        "line “{cleared}” is left."
    ).format(cleared=_(CLEARED))
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
                "• Telegram itself can see this chat, as it sees every chat with a bot. However the conversation "
                "ends (report sent, /cancel, /forget or the “🧹 Erase and leave” button), the bot deletes it from "
                "the chat. If you stop answering for {minutes} minutes, the chat is cleared too; an unfinished "
                "report is kept for a day so that you can still send it, unless you erase it."
            ).format(minutes=idle_minutes),
            _("• “🧹 Erase and leave”, under every question, deletes the report and this whole conversation at once."),
            *([neutral] if discreet else []),
            _(
                "• Staff read reports in their own Telegram group: Telegram and their phones keep those messages. "
                "An urgent report reaches them at once, so they see when it was sent."
            ),
        ]
    )
    start = ((Button(_("Start a report"), BEGIN),), (Button(_("Check my report"), follow_up.CHECK),))
    buttons = start if with_start else ()
    return Screen(text, buttons)


def help_screen(lang: str, discreet: bool) -> Screen:
    """What /help shows, also to strangers: in discreet mode nothing about what the bot is for."""
    _ = gettext_for(lang)
    if discreet:
        lines = [_("Send /start to begin. The chat is cleared when you finish."), ""]
    else:
        lines = [_("This bot takes anonymous reports about forced and child labour."), ""]
    lines.extend(f"/{name}: {_(description)}" for name, description in commands(discreet))
    return Screen("\n".join(lines))


def commands(discreet: bool) -> tuple[tuple[str, str], ...]:
    """The reporter's commands with their (untranslated) descriptions, for /help and the command menu."""
    return DISCREET_COMMANDS if discreet else REPORTER_COMMANDS


def start_screen(lang: str) -> Screen:
    _ = gettext_for(lang)
    buttons = ((Button(_("Start a report"), BEGIN),), (Button(_("Check my report"), follow_up.CHECK),))
    return Screen(_("Press the button to begin a new report."), buttons)


def flow_picker(flows: list[Flow], lang: str) -> Screen:
    _ = gettext_for(lang)
    buttons = tuple((Button(flow.text(flow.title, lang)[:60], FLOW_PREFIX + flow.id),) for flow in flows)
    return Screen(_("What is your report about?"), (*buttons, erase_row(lang)))


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
    buttons = ((Button(_("Remove it"), REMOVE_IDENTIFIER), Button(_("Keep it"), KEEP_IDENTIFIER)), erase_row(lang))
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
    if reason == "busy":
        return _("Many files are being checked right now. Please send this file again in a minute.")
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


def _idle_since(state: dict[str, Any], cutoff: datetime) -> bool:
    """A conversation with messages to clear, silent since before `cutoff`."""
    active_at = state.get("active_at")
    return bool(state.get("reach") and state.get("trace") and active_at and datetime.fromisoformat(active_at) < cutoff)


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
