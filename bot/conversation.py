"""The conversation with one reporter, independent of Telegram: events in, screens out.

Both the Telegram handlers and `tipbot try` drive this class, so the terminal shows exactly what a
reporter would see. A chat is known here only by `chat_key` (an HMAC of its id). Its state (language
and the engine's draft) is kept encrypted in storage between events, so a restart loses nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from storage.clearings import Clearings
from storage.coordination import KeyedLocks
from storage.repository import NewTip, Repository, random_id
from storage.staff_records import StaffRecords

from . import callbacks, follow_up
from .flows import engine
from .flows.catalog import FlowCatalog
from .flows.engine import Draft, Press, Text, Unsupported
from .flows.model import Flow, QuestionType
from .i18n import LANGUAGE_NAMES, LANGUAGES, N_, gettext_for
from .limits import ANSWERS, FILES, REPORT_KB, REPORTS, Limits, kilobytes, reached_text
from .privacy.clean import CleanFile, SanitizeError
from .privacy.pii import MASK, find_identifiers
from .privacy.receipts import new_code, normalise
from .render import ERASE, Button, Screen, format_answer, question_title, render_problem, render_step
from .screens import (
    CLEARED,
    KEEP_IDENTIFIER,
    REMOVE_IDENTIFIER,
    fallback_language,
    file_refusal,
    flow_picker,
    help_screen,
    identifier_screen,
    language_picker,
    privacy_screen,
    receipt_screen,
    start_screen,
)
from .session import Mode, Session

BEGIN = callbacks.BEGIN
FORGOTTEN = N_("Forgotten: your unfinished report and this conversation have been deleted.")
SENT_KEPT = N_(
    "Forgotten: this conversation has been deleted from the chat. The report you sent is kept, and you can still "
    "check it with its receipt code."
)
SENT_KEPT_DISCREET = N_("Chat cleared. What you already sent is kept.")
"""After sending, /forget deletes the conversation only; in discreet mode the line still names nothing."""
RECEIPT_LIFETIME = timedelta(minutes=10)
"""The receipt is cleared from the chat this long after it was shown, if the reporter has not done it."""
UNSHOWN_RECEIPT_LIFETIME = timedelta(hours=24)
"""A receipt that never reached the phone (Telegram failed) waits this long for the reporter to come back."""
STEP_FAILED = N_("Sorry, that did not work. What you answered before is kept; here is where you were:")
RECEIPT_SHOWN = N_("Your report has been sent. Write down the receipt code above, then press “I have written it down”.")


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
    album: str | None = None
    """Telegram's id of the album the file came in: an album is acknowledged with one message."""


Event = Command | Press | Text | Upload | Unsupported


@dataclass
class Reply:
    messages: list[Screen] = field(default_factory=list)
    edit: Screen | None = None
    """New content for the message whose button was pressed."""
    rewrite: tuple[int, Screen] | None = None
    """New content for one of the bot's earlier messages (by id), instead of sending another one."""
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
    ended: bool = False
    """The conversation's stored rows were deleted or replaced (it ended, or the report was sent), and the
    database's files scrubbed of them: whatever else recorded this event must go the same way."""


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
    hold_chat: Callable[[str], AbstractAsyncContextManager[None]] = field(default_factory=lambda: KeyedLocks().hold)
    """Held while a chat's conversation is read and written, so two updates of one chat never interleave: in
    this process by default, across instances on PostgreSQL (storage/coordination.py)."""


@dataclass(frozen=True)
class ChatClearing:
    """A chat to clear now: delete these messages, then leave one neutral line in the chat's language."""

    reach: int
    message_ids: list[int]
    lang: str


@dataclass
class Turn:
    """One event being handled, with the session it applies to; nothing here is stored."""

    chat_key: str
    session: Session
    event: Event
    fallback: str
    """The language Telegram reports for this event, used only until the reporter chooses one."""
    update_id: int | None = None
    pressed_id: int | None = None
    """The bot's message whose button was pressed, if the event is a press."""
    end: bool = False
    """The conversation is over: its stored state is deleted and scrubbed from the database's files."""

    @property
    def lang(self) -> str:
        return self.session.lang or self.fallback

    @property
    def on_newest_screen(self) -> bool:
        """The press came from the newest screen the bot knows it showed (or from one it never learnt of, as
        when it stopped before noting the ids): that message is the one to bring up to date."""
        newest = self.session.last_screen
        return self.pressed_id is not None and (newest is None or self.pressed_id >= newest)


class Conversation:
    """Routes each event: first the few that mean the same in every mode (leaving, commands, language and
    follow-up buttons, a shared contact), then the handler of the session's mode."""

    def __init__(self, services: Services):
        self.services = services
        self._modes: dict[Mode, Callable[[Turn], Awaitable[Reply]]] = {
            Mode.LANGUAGE: self._on_language,
            Mode.WELCOME: self._on_welcome,
            Mode.QUESTIONNAIRE: self._on_questionnaire,
            Mode.IDENTIFIER: self._on_identifier,
            Mode.CODE_CHECK: self._on_code_check,
            Mode.FOLLOW_UP: self._on_follow_up,
            Mode.ANSWERING: self._on_answering,
        }

    async def handle(
        self,
        chat_key: str,
        event: Event,
        update_id: int | None = None,
        message_id: int | None = None,
        preferred: str | None = None,
        reach: int | None = None,
        pressed_id: int | None = None,
    ) -> Reply:
        """Apply one event; updates Telegram delivers twice (after a restart) are applied once.

        `message_id` is the reporter's message that carried the event, kept only to delete it later;
        `preferred` is the language Telegram reports, used only until the reporter chooses one; `reach` is
        the chat's id, kept encrypted in the draft only while there is something to clear from the chat;
        `pressed_id` is the bot's message whose button was pressed.
        """
        async with self.services.hold_chat(chat_key):
            stored = await self.services.repository.load_draft(chat_key)
            session = Session.from_json(stored, chat_key) if stored else Session()
            await self._know_flow(session)
            turn = Turn(chat_key, session, event, fallback_language(preferred), update_id, pressed_id)
            repeated = update_id is not None and update_id <= session.last_update
            if repeated and session.mode is not Mode.RECEIPT:  # a receipt is shown again, even on a redelivery
                return self._answered_before(turn, message_id)
            if (pressed := _decoded(event)) and pressed.kind == callbacks.RECEIPT:
                return await self._acknowledge_receipt(chat_key, session, pressed, reach)
            if session.mode is not Mode.RECEIPT:
                session.reach = reach if reach is not None else session.reach
            session.active_at = self.services.now().isoformat()
            if message_id is not None and not _is_shared_contact(event):
                session.trace.append(message_id)
            reply = await self._route(turn)
            if _is_shared_contact(event) and message_id is not None:
                reply.delete.append(message_id)
            if update_id is not None:
                session.last_update = update_id
            await self._persist(chat_key, session, existed=stored is not None, end=turn.end)
            if stored and stored.get("draft") and session.draft is None and not turn.end and session.bundle:
                await self.services.repository.delete_draft_files(session.bundle)
            closed = bool(stored and stored.get("follow_up")) and session.follow_up is None  # its tip id went
            if turn.end or reply.submitted or closed:
                await self.services.scrub()
                reply.ended = True
            return reply

    async def start_preview(self, chat_key: str, flow: Flow, lang: str) -> Reply:
        """An admin answers an uploaded questionnaire exactly as a reporter would; no tip is stored."""
        async with self.services.hold_chat(chat_key):
            stored = await self.services.repository.load_draft(chat_key)
            session = Session.from_json(stored, chat_key) if stored else Session()
            session.drop_draft()
            session.lang, session.preview = lang, True
            outcome = engine.start(flow, quick=True)  # as a reporter pressing "Start a report" would see it
            session.draft, session.mode = outcome.draft, Mode.QUESTIONNAIRE
            await self._persist(chat_key, session, existed=stored is not None)
            return Reply(messages=[render_step(flow, outcome.step, lang)])

    async def recover(self, chat_key: str, preferred: str | None) -> Reply:
        """After a step failed (an error, or Telegram never took the reply): an apology in the reporter's own
        language and the screen they are on again. What they answered before is in the stored session."""
        stored = await self.services.repository.load_draft(chat_key)
        session = Session.from_json(stored, chat_key) if stored else Session()
        await self._know_flow(session)
        lang = session.lang or fallback_language(preferred)
        apology = Screen(gettext_for(lang)(STEP_FAILED))
        receipt = session.receipt if session.mode is Mode.RECEIPT else None
        return Reply(messages=[apology, *self._where(session, lang)], clearing=receipt and receipt["clearing"])

    def _answered_before(self, turn: Turn, message_id: int | None) -> Reply:
        """An update applied before, delivered again after a crash. The crash may have come between storing
        its effect and showing it, so unless a newer screen was shown since, the current screen is shown: on
        the pressed message, or as a new message after the reporter's own."""
        session = turn.session
        screen = self._where(session, turn.lang)[-1]
        if turn.pressed_id is not None:
            return Reply(edit=screen) if turn.on_newest_screen else Reply()
        if message_id is not None and (session.last_screen is None or message_id > session.last_screen):
            return Reply(messages=[screen])
        return Reply()

    def _stale(self, turn: Turn, screen: Screen) -> Reply:
        """A button of an earlier step. If it is on the newest screen, that screen was never brought up to date
        (the bot stopped between storing the step and showing it): it is now; the reporter is never stuck."""
        toast = render_problem(engine.Problem("stale"), turn.lang)
        return Reply(toast=toast, edit=screen) if turn.on_newest_screen else Reply(toast=toast)

    def _where(self, session: Session, lang: str) -> list[Screen]:
        """The screen of the mode the conversation is in, drawn from the stored session alone."""
        flow = self._flow_of(session)
        if session.mode is Mode.RECEIPT and session.receipt is not None:
            receipt = session.receipt
            return [receipt_screen(receipt["code"], callbacks.receipt_done(receipt["clearing"]), lang)]
        if session.mode is Mode.IDENTIFIER and flow is not None and session.identifier is not None:
            return [identifier_screen(flow, session.identifier, lang)]
        if session.mode is Mode.QUESTIONNAIRE and flow is not None and session.draft is not None:
            return [render_step(flow, engine.view(flow, session.draft), lang)]
        if session.mode is Mode.CODE_CHECK:
            return [follow_up.ask_code_screen(lang)]
        if session.mode is Mode.ANSWERING:
            return [follow_up.answer_prompt(lang)]
        if session.lang is None:
            return [language_picker(None, has_draft=session.draft is not None)]
        return [start_screen(lang)]

    async def remember(self, chat_key: str, message_ids: list[int], clearing: str | None = None) -> None:
        """Add the bot's messages just sent to the conversation's trace (or to the clearing that holds the
        conversation since the report was sent), for deletion later."""
        if not message_ids:
            return
        async with self.services.hold_chat(chat_key):
            if clearing is not None:
                state = await self.services.clearings.get(clearing)
                if state is not None:  # the receipt is on screen now: the chat is cleared a few minutes later
                    state["message_ids"].extend(message_ids)
                    state["due"] = (self.services.now() + RECEIPT_LIFETIME).isoformat()
                    state["shown"] = True
                    await self.services.clearings.save(clearing, state)
                return
            stored = await self.services.repository.load_draft(chat_key)
            if stored is None:
                return
            session = Session.from_json(stored, chat_key)
            session.trace.extend(message_ids)
            session.last_screen = message_ids[-1]
            await self.services.repository.save_draft(chat_key, session.to_json(), self.services.now())

    async def end_idle(self, idle: timedelta) -> int:
        """Hand every conversation silent for `idle` over to a clearing due now; an unfinished report stays
        (without the way to reach the chat) until it expires, so the reporter can still send it. Follow-ups
        whose time has passed are closed here too, so their tip id does not wait for the chat's next update."""
        now = self.services.now()
        cutoff = now - idle
        ended = closed = 0
        for chat_key, state in await self.services.repository.drafts():
            if _follow_up_over(state, now):
                closed += await self._close_follow_up(chat_key, now)
            if not _idle_since(state, cutoff):
                continue
            async with self.services.hold_chat(chat_key):
                stored = await self.services.repository.load_draft(chat_key)
                if stored is None or not _idle_since(stored, cutoff):
                    continue
                session = Session.from_json(stored, chat_key)
                session.follow_up = None
                clearing = {"reach": session.reach, "message_ids": session.trace, "lang": session.lang or "ru"}
                await self.services.clearings.save(random_id(), clearing | {"due": self.services.now().isoformat()})
                session.trace, session.reach, session.last_screen = [], None, None
                session.mode = session.resting_mode()
                await self._persist(chat_key, session, existed=True, end=session.draft is None)
                ended += 1
        if ended or closed:
            await self.services.scrub()
        return ended

    async def _close_follow_up(self, chat_key: str, now: datetime) -> bool:
        """Forget the tip of a follow-up whose time has passed (the chat is told at its next update)."""
        async with self.services.hold_chat(chat_key):
            stored = await self.services.repository.load_draft(chat_key)
            if stored is None or not _follow_up_over(stored, now):
                return False
            session = Session.from_json(stored, chat_key)
            session.follow_up = None
            await self._persist(chat_key, session, existed=True, end=not session.worth_keeping())
            return True

    async def due_clearings(self) -> list[tuple[str, ChatClearing]]:
        """Clearings whose time has come: receipts not acknowledged, conversations left idle."""
        now = self.services.now()
        return [
            (clearing_id, ChatClearing(state["reach"], state["message_ids"], state["lang"]))
            for clearing_id, state in await self.services.clearings.all()
            if datetime.fromisoformat(state["due"]) <= now
        ]

    async def finish_clearing(self, clearing_id: str) -> None:
        """The chat has been cleared: forget how to reach it, and the receipt if it was this one's."""
        state = await self.services.clearings.get(clearing_id)
        await self.services.clearings.delete(clearing_id)
        chat_key = state.get("chat") if state else None
        if chat_key is not None:
            async with self.services.hold_chat(chat_key):
                stored = await self.services.repository.load_draft(chat_key)
                if stored is not None and (stored.get("receipt") or {}).get("clearing") == clearing_id:
                    await self.services.repository.delete_draft(chat_key, stored.get("bundle"))
        await self.services.scrub()

    # ---- the receipt --------------------------------------------------------------------------------------

    async def _acknowledge_receipt(
        self, chat_key: str, session: Session, pressed: callbacks.Callback, reach: int | None
    ) -> Reply:
        """"I have written it down": the conversation with its receipt is deleted, one neutral line stays."""
        clearing_id = pressed.args[1] if len(pressed.args) > 1 else None
        state = await self.services.clearings.get(clearing_id) if clearing_id else None
        if state is None or (reach is not None and state["reach"] != reach):
            return Reply()  # already cleared (by the timer, or another tap)
        await self.services.clearings.delete(clearing_id)
        ids = state["message_ids"]
        if session.receipt is not None and session.receipt["clearing"] == clearing_id:
            ids = [*ids, *session.trace]
            await self.services.repository.delete_draft(chat_key, session.bundle)
        await self.services.scrub()
        return Reply(delete=ids, messages=[Screen(gettext_for(state["lang"])(CLEARED))], ended=True)

    async def _end_receipt(self, turn: Turn) -> list[int]:
        """The receipt's clearing is done now (the reporter erased the chat): the messages to delete with it."""
        receipt, turn.session.receipt = turn.session.receipt, None
        state = await self.services.clearings.get(receipt["clearing"]) if receipt else None
        if state is None:
            return []
        await self.services.clearings.delete(receipt["clearing"])
        return state["message_ids"]

    async def _persist(self, chat_key: str, session: Session, existed: bool, end: bool = False) -> None:
        """Store the session, or with `end` delete it (and its files) for good."""
        if end:
            if existed:
                await self.services.repository.delete_draft(chat_key, session.bundle)
        elif session.worth_keeping():
            await self.services.repository.save_draft(chat_key, session.to_json(), self.services.now())

    # ---- events that mean the same in every mode ------------------------------------------------------------

    async def _route(self, turn: Turn) -> Reply:
        event = turn.event
        if turn.session.mode is Mode.RECEIPT:
            return await self._on_receipt(turn)
        if _pressed(event, ERASE) or _commanded(event, "forget"):
            turn.session.follow_up = None
            return self._forget(turn)
        if _commanded(event, "cancel"):
            turn.session.follow_up = None
            return self._cancel(turn)
        if _commanded(event, "status") or _pressed(event, follow_up.CHECK):
            return self._ask_code(turn)
        if isinstance(event, Command):
            turn.session.follow_up = None
            turn.session.mode = turn.session.resting_mode()
            return self._command(turn, event)
        pressed = _decoded(event)
        if pressed is not None and pressed.kind == callbacks.LANGUAGE:
            return self._choose_language(turn, pressed.args[0])
        if _pressed(event, follow_up.ANSWER) or _pressed(event, follow_up.DONE):
            return self._follow_up_press(turn, event)
        if _is_shared_contact(event):
            return self._refuse_contact(turn)
        return await self._modes[turn.session.mode](turn)

    def _command(self, turn: Turn, command: Command) -> Reply:
        if command.name in ("start", "language"):
            return Reply(messages=[language_picker(command.preferred, has_draft=turn.session.draft is not None)])
        if command.name == "privacy":
            return Reply(messages=[self._privacy(turn.lang, with_start=False)])
        return Reply(messages=[help_screen(turn.lang, self.services.discreet)])

    def _choose_language(self, turn: Turn, lang: str) -> Reply:
        session = turn.session
        if lang not in LANGUAGES:  # a button of a language that is no longer offered
            return Reply(toast=render_problem(engine.Problem("stale"), turn.lang))
        session.lang = lang
        session.mode = session.resting_mode()
        _ = gettext_for(lang)
        chosen = Screen(_("Language: {language}").format(language=LANGUAGE_NAMES[lang]))
        if session.draft is None:
            return Reply(edit=chosen, messages=[self._privacy(lang, with_start=True)])
        flow = self._flow_of(session)
        if flow is None:
            return Reply(edit=chosen, messages=[start_screen(lang)])
        return Reply(edit=chosen, messages=[self._screen(session, flow, engine.view(flow, session.draft))])

    def _clear(self, turn: Turn, message: str, discreet_message: str = CLEARED) -> Reply:
        """Delete the draft and every message of the conversation, leaving one line: in discreet mode one
        that says nothing about what the bot is for."""
        turn.end = True
        line = discreet_message if self.services.discreet else message
        return Reply(delete=list(turn.session.trace), messages=[Screen(gettext_for(turn.lang)(line))])

    def _forget(self, turn: Turn) -> Reply:
        if turn.session.draft is None:
            return self._clear(turn, N_("Forgotten: this conversation has been deleted."))
        return self._clear(turn, FORGOTTEN)

    def _cancel(self, turn: Turn) -> Reply:
        if turn.session.draft is None:
            return self._clear(turn, N_("There is no report in progress. Chat cleared."))
        return self._clear(turn, N_("Your unfinished report has been deleted. Send /start to begin again."))

    def _refuse_contact(self, turn: Turn) -> Reply:
        """A shared contact or location would identify the reporter: it is deleted, never stored."""
        _ = gettext_for(turn.lang)
        text = _(
            "For your safety I have deleted the contact or location you sent: it could show who you are. "
            "Please describe the place in words instead."
        )
        reply = Reply(messages=[Screen(text)])
        session = turn.session
        flow = self._flow_of(session)
        if session.draft is not None and flow is not None:
            reply.messages.append(self._screen(session, flow, engine.view(flow, session.draft)))
        return reply

    def _privacy(self, lang: str, with_start: bool) -> Screen:
        services = self.services
        return privacy_screen(lang, with_start, services.voice_pitch_shift, services.idle_minutes, services.discreet)

    # ---- RECEIPT ------------------------------------------------------------------------------------------

    async def _on_receipt(self, turn: Turn) -> Reply:
        """Until the code is written down every event shows the receipt again (a second tap on Send, a message,
        a redelivery after a crash); erasing the chat is the one way out besides the button."""
        session, event, lang = turn.session, turn.event, turn.lang
        receipt = session.receipt
        leaving = _pressed(event, ERASE) or any(_commanded(event, name) for name in ("forget", "cancel"))
        if leaving or receipt is None:
            ids = await self._end_receipt(turn)
            reply = self._clear(turn, SENT_KEPT, SENT_KEPT_DISCREET)  # the report is kept: say so
            reply.delete[:0] = ids
            return reply
        state = await self.services.clearings.get(receipt["clearing"])
        if state is not None and session.trace:  # the reporter's own messages go with the receipt when cleared
            state["message_ids"].extend(session.trace)
            await self.services.clearings.save(receipt["clearing"], state)
            session.trace = []
        if isinstance(event, Press) and state is not None and state.get("shown"):
            return Reply(toast=gettext_for(lang)(RECEIPT_SHOWN))
        done = callbacks.receipt_done(receipt["clearing"])
        return Reply(messages=[receipt_screen(receipt["code"], done, lang)], clearing=receipt["clearing"])

    # ---- LANGUAGE and WELCOME -------------------------------------------------------------------------------

    async def _on_language(self, turn: Turn) -> Reply:
        return Reply(messages=[language_picker(None, has_draft=False)])

    async def _on_welcome(self, turn: Turn) -> Reply:
        """The start buttons; a story typed or a file sent straight away begins a quick report with it, and a
        receipt code is checked."""
        event = turn.event
        await self.services.flows.fresh()  # a flow published on another instance or from the CLI is used here
        if _pressed(event, BEGIN):
            return self._begin(turn)
        if (pressed := _decoded(event)) and pressed.kind == callbacks.FLOW:
            return self._begin(turn, pressed.args[0])
        if isinstance(event, Text) and normalise(event.text) is not None:  # a receipt code pasted straight away
            turn.session.mode = Mode.CODE_CHECK
            return await self._on_code_check(turn)
        story = isinstance(event, Text) and len(event.text.strip()) >= engine.STORY_MIN_LENGTH
        if not (story or isinstance(event, Upload)) or len(self.services.flows.active_flows()) > 1:
            return Reply(messages=[start_screen(turn.lang)])
        self._begin(turn)
        flow, draft = self._flow_of(turn.session), turn.session.draft
        assert flow is not None and draft is not None
        description = flow.description_question
        answers_it = isinstance(event, Text) and description is not None and draft.current == description.id
        reply = await self._answer(turn, flow)  # on a first question of buttons the engine files it the same way
        if answers_it:
            reply.messages.insert(0, Screen(_described(flow, description.id, turn.lang)))
        return reply

    def _begin(self, turn: Turn, flow_id: str | None = None) -> Reply:
        """Start a report, quick where the flow has a quick path: on the chosen flow when several are active."""
        session = turn.session
        active = self.services.flows.active_flows()
        chosen = next((flow for flow in active if flow.id == flow_id), None)
        if chosen is None and len(active) > 1:
            return Reply(messages=[flow_picker(active, turn.lang)])
        flow = chosen or self.services.flows.active
        outcome = engine.start(flow, quick=True)
        session.draft, session.mode = outcome.draft, Mode.QUESTIONNAIRE
        return Reply(messages=[render_step(flow, outcome.step, turn.lang)])

    # ---- QUESTIONNAIRE and IDENTIFIER -----------------------------------------------------------------------

    async def _on_questionnaire(self, turn: Turn) -> Reply:
        session, event = turn.session, turn.event
        flow = self._flow_of(session)
        if flow is None:
            return self._flow_gone(turn)
        if _pressed(event, BEGIN):  # "Start a report" on an old message: carry on where the reporter was
            return Reply(messages=[self._screen(session, flow, engine.view(flow, session.draft))])
        return await self._answer(turn, flow)

    async def _on_identifier(self, turn: Turn) -> Reply:
        session, event = turn.session, turn.event
        flow = self._flow_of(session)
        if flow is None:
            return self._flow_gone(turn)
        pending, draft, lang = session.identifier, session.draft, turn.lang
        assert pending is not None and draft is not None
        prompt = identifier_screen(flow, pending, lang)
        if not isinstance(event, Press) or event.action not in (REMOVE_IDENTIFIER, KEEP_IDENTIFIER):
            message = render_problem(engine.Problem("use_buttons"), lang)
            return Reply(toast=message) if isinstance(event, Press) else Reply(messages=[Screen(message), prompt])
        _ = gettext_for(lang)
        if event.action == REMOVE_IDENTIFIER:
            answer = draft.answers.get(pending["question"])
            if isinstance(answer, str):
                draft.answers[pending["question"]] = answer.replace(pending["text"], MASK)
            decision = _("Removed from the report.")
        else:
            session.kept.append(pending["text"])
            decision = _("Kept.")
        session.identifier, session.mode = None, Mode.QUESTIONNAIRE
        screen = self._screen(session, flow, engine.view(flow, draft))
        return Reply(edit=Screen(f"{prompt.text}\n\n→ {decision}"), messages=[screen])

    async def _know_flow(self, session: Session) -> None:
        """Have the flow the draft was begun on at hand, so the lookups below find it: it may have been published
        on another instance, or be an admin's preview begun there (see FlowCatalog.find)."""
        if session.draft is not None:
            await self.services.flows.find(session.draft.flow_id, session.draft.flow_version)

    def _flow_of(self, session: Session) -> Flow | None:
        draft = session.draft
        return self.services.flows.get(draft.flow_id, draft.flow_version) if draft is not None else None

    def _flow_gone(self, turn: Turn) -> Reply:
        turn.session.drop_draft()
        _ = gettext_for(turn.lang)
        text = _("The questionnaire has been updated since you started. Please start again.")
        return Reply(messages=[Screen(text, ((Button(_("Start a report"), BEGIN),),))])

    def _screen(self, session: Session, flow: Flow, step: engine.Step) -> Screen:
        """The screen for a step; before the review, any likely identifier in the answers is asked about."""
        lang = session.lang or "ru"
        if isinstance(step, engine.Review) and session.draft is not None:
            session.identifier = session.identifier or _next_identifier(flow, session.draft, session.kept)
            if session.identifier is not None:
                session.mode = Mode.IDENTIFIER
                return identifier_screen(flow, session.identifier, lang)
        return render_step(flow, step, lang)

    async def _answer(self, turn: Turn, flow: Flow) -> Reply:
        session, event, lang = turn.session, turn.event, turn.lang
        draft = session.draft
        assert draft is not None
        if isinstance(event, Upload):
            received = await self._receive_file(turn, flow, event)
            if isinstance(received, Reply):
                return received
            event = received
        before = render_step(flow, engine.view(flow, draft), lang)
        asked = draft.current
        outcome = engine.step(flow, draft, event, self.services.today())
        session.draft = outcome.draft
        if isinstance(outcome.step, engine.Submitted):
            return await self._submit(turn, flow, outcome.step, before)
        if isinstance(outcome.step, engine.Cancelled):
            return self._clear(turn, N_("Your report has been deleted. Nothing was sent."))
        screen = self._screen(session, flow, outcome.step)
        if outcome.problem is not None and outcome.problem.code == "stale" and isinstance(event, Press):
            return self._stale(turn, screen)
        if outcome.problem is not None:
            message = render_problem(outcome.problem, lang, flow, flow.question(asked or ""))
            return Reply(toast=message) if isinstance(event, Press) else Reply(messages=[Screen(message), screen])
        if outcome.event == "updated":  # the same question, a step further ("Kazakhstan" typed: its regions)
            return Reply(edit=screen) if isinstance(event, Press) else Reply(messages=[screen])
        if outcome.event == "described":
            return Reply(messages=[Screen(_described(flow, outcome.filed_under, lang)), screen])
        if outcome.event == "file_added" and isinstance(event, engine.File):
            return self._file_added(turn, flow, event, screen)
        if isinstance(event, Press):
            answered = outcome.event == "answered"
            return Reply(
                edit=_answered(flow, before, asked, outcome.draft, lang) if answered else Screen(before.text),
                messages=[screen],
            )
        return Reply(messages=[screen])

    def _file_added(self, turn: Turn, flow: Flow, added: engine.File, screen: Screen) -> Reply:
        """The current screen with the count of files; the further files of an album update that one message."""
        session, lang = turn.session, turn.lang
        _ = gettext_for(lang)
        count = engine.attached_files(flow, session.draft)
        question = flow.question(session.draft.current or "")
        if question is None or question.type is not QuestionType.ATTACHMENTS:  # files sent beside a typed answer
            received = _("Files received: {count}. They will be sent with your report.").format(count=count)
            screen = Screen(f"{received}\n\n{screen.text}", screen.buttons)
        album = turn.event.album if isinstance(turn.event, Upload) else None
        if album is not None and album == session.album and session.last_screen is not None:
            return Reply(rewrite=(session.last_screen, screen))
        session.album = album
        if added.kind == "voice" and self.services.voice_pitch_shift:
            return Reply(messages=[Screen(_("Your voice was changed so that it is harder to recognise.")), screen])
        return Reply(messages=[screen])

    async def _receive_file(self, turn: Turn, flow: Flow, upload: Upload) -> engine.File | Unsupported | Reply:
        session, lang = turn.session, turn.lang
        draft = session.draft
        assert draft is not None
        if not engine.accepts_file(flow, draft):
            return Unsupported("file")
        clean = await self._clean_upload(turn.chat_key, upload, lang)
        if isinstance(clean, CleanFile):
            first = not draft.pending and not _detach_files(flow, draft.answers)[1]  # a new report's first file
            services = self.services
            size = kilobytes(clean.data)
            reached = await services.limits.take(
                services.records, REPORT_KB, turn.chat_key, services.now(), size, first
            )
            if reached:
                clean = Reply(messages=[Screen(reached_text(REPORT_KB, reached, lang))])
        if isinstance(clean, Reply):
            clean.messages.append(self._screen(session, flow, engine.view(flow, draft)))
            return clean
        bundle = session.files_bundle()  # stored with the draft before any file is stored under it
        await self.services.repository.save_draft(turn.chat_key, session.to_json(), self.services.now())
        ref = await self.services.repository.add_draft_file(bundle, clean.mime, clean.data, self.services.now())
        return engine.File(ref, clean.kind)

    async def _submit(self, turn: Turn, flow: Flow, submitted: engine.Submitted, review: Screen) -> Reply:
        session, lang, services = turn.session, turn.lang, self.services
        _ = gettext_for(lang)
        if session.preview:
            session.drop_draft()
            done = Screen(_("Preview finished: nothing was stored."))
            return Reply(edit=Screen(review.text), messages=[done])
        reached = await services.limits.take(services.records, REPORTS, turn.chat_key, services.now())
        if reached:  # the draft stays as it is, to be sent once the day's window has passed
            return Reply(edit=Screen(review.text), messages=[Screen(reached_text(REPORTS, reached, lang)), review])
        answers, file_refs = _detach_files(flow, submitted.answers)
        code = new_code()
        tip = NewTip(
            flow_id=flow.id,
            flow_version=flow.version,
            answers=answers,
            urgent=submitted.urgent,
            created_on=services.today(),
            receipt_hash=await follow_up.hash_receipt(code, services.receipt_salts[0]),
            flow_hash=services.flows.hash_of(flow),
        )
        clearing_id = random_id() if session.reach is not None else None
        clearing = after = None
        bundle = session.bundle
        session.drop_draft()
        if clearing_id is None:  # `tipbot try`: no chat to clear, the receipt is printed once
            turn.end = True
        else:  # until the receipt is on screen (a send can fail) its clearing waits as long as a draft would
            due = (services.now() + UNSHOWN_RECEIPT_LIFETIME).isoformat()
            state = {"reach": session.reach, "message_ids": session.trace, "lang": lang, "due": due}
            clearing = (clearing_id, state | {"chat": turn.chat_key})
            session.receipt, session.mode = {"code": code, "clearing": clearing_id}, Mode.RECEIPT
            session.follow_up = None  # the row stored with the receipt leads to no other tip
            session.trace, session.reach, session.last_screen, session.bundle = [], None, None, None
            session.last_update = turn.update_id or session.last_update
            after = session.to_json()
        await services.repository.submit_tip(turn.chat_key, tip, file_refs, bundle, clearing, after, services.now())
        done = callbacks.receipt_done(clearing_id)
        sent = Screen(review.text + "\n\n" + _("✅ Sent."))
        return Reply(
            edit=sent,
            messages=[receipt_screen(code, done, lang)],
            submitted=True,
            clearing=clearing_id,
            notify_staff=submitted.urgent,
        )

    # ---- CODE_CHECK, FOLLOW_UP and ANSWERING ----------------------------------------------------------------

    def _ask_code(self, turn: Turn) -> Reply:
        turn.session.follow_up = None
        turn.session.mode = Mode.CODE_CHECK
        return Reply(messages=[follow_up.ask_code_screen(turn.lang)])

    async def _on_code_check(self, turn: Turn) -> Reply:
        event = turn.event
        if isinstance(event, Press):  # any other button ends the check
            return await self._leave(turn)
        if not isinstance(event, Text):
            return Reply(messages=[follow_up.ask_code_screen(turn.lang)])
        services = self.services
        found = await follow_up.check_code(
            event.text,
            turn.chat_key,
            services.repository,
            services.records,
            services.receipt_salts,
            services.now(),
            services.limits,
        )
        if found.tip_id is None:
            if found.problem == "limit":
                turn.session.mode = turn.session.resting_mode()
            return Reply(messages=[Screen(follow_up.code_problem(found.problem or "unknown", turn.lang))])
        turn.session.mode = Mode.FOLLOW_UP
        turn.session.open_follow_up(found.tip_id, services.now() + follow_up.LIFETIME)
        return Reply(messages=[await self._report_screen(found.tip_id, turn.lang)])

    async def _on_follow_up(self, turn: Turn) -> Reply:
        """Reading a report's messages: the screen's buttons are handled in every mode, anything else is
        meant for the conversation underneath (the follow-up stays open for its buttons)."""
        return await self._leave(turn)

    async def _on_answering(self, turn: Turn) -> Reply:
        event, lang, chat_key = turn.event, turn.lang, turn.chat_key
        if isinstance(event, Press):
            return await self._leave(turn)
        tip_id = turn.session.follow_up_tip(self.services.now())
        if tip_id is None:
            return self._follow_up_expired(turn)
        services, today = self.services, self.services.today()
        sends = isinstance(event, Upload) or (isinstance(event, Text) and event.text.strip())
        if not sends:
            return Reply(messages=[follow_up.answer_prompt(lang)])
        reached = await services.limits.take(services.records, ANSWERS, chat_key, services.now())
        if reached:  # refused, not stored: staff are never flooded by one chat
            _ = gettext_for(lang)
            done = ((Button(_("Done"), follow_up.DONE),),)
            return Reply(messages=[Screen(reached_text(ANSWERS, reached, lang), done)])
        if isinstance(event, Text):
            await services.records.add_exchange(tip_id, "reporter", event.text.strip(), today)
            return Reply(messages=[follow_up.answer_sent(lang, files=False)], notify_staff=True)
        assert isinstance(event, Upload)
        clean = await self._clean_upload(chat_key, event, lang)
        if isinstance(clean, Reply):
            return clean
        await services.records.add_exchange(tip_id, "reporter", "", today, [(clean.mime, clean.data)])
        return Reply(messages=[follow_up.answer_sent(lang, files=True)], notify_staff=True)

    def _follow_up_press(self, turn: Turn, event: Press) -> Reply:
        """"Answer" and "Done" under a report's messages, wherever the conversation is now."""
        session, lang = turn.session, turn.lang
        if event.action == follow_up.DONE:
            session.follow_up = None
            session.mode = session.resting_mode()
            if session.draft is None:
                return self._clear(turn, CLEARED)
            cleared = Reply(delete=list(session.trace), messages=[Screen(gettext_for(lang)(CLEARED))])
            session.trace = []
            return cleared
        if session.follow_up_tip(self.services.now()) is None:
            return self._follow_up_expired(turn)
        session.mode = Mode.ANSWERING
        return Reply(messages=[follow_up.answer_prompt(lang)])

    def _follow_up_expired(self, turn: Turn) -> Reply:
        turn.session.mode = turn.session.resting_mode()
        _ = gettext_for(turn.lang)
        text = _("This has taken too long; please check your report again with the code.")
        return Reply(messages=[Screen(text, ((Button(_("Check my report"), follow_up.CHECK),),))])

    async def _leave(self, turn: Turn) -> Reply:
        """Leave a check or a follow-up: the event is handled by the mode the conversation rests in."""
        turn.session.mode = turn.session.resting_mode()
        return await self._modes[turn.session.mode](turn)

    async def _report_screen(self, tip_id: str, lang: str) -> Screen:
        tip = await self.services.repository.get_tip(tip_id, files=False)
        exchanges = await self.services.records.exchanges(tip_id)
        return follow_up.report_screen(tip.status if tip else "closed", exchanges, lang)

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


def _follow_up_over(state: dict[str, Any], now: datetime) -> bool:
    """A stored session whose follow-up is open past its time."""
    opened = state.get("follow_up")
    return bool(opened) and datetime.fromisoformat(opened["until"]) <= now


def _decoded(event: Event) -> callbacks.Callback | None:
    return callbacks.decode(event.action) if isinstance(event, Press) else None


def _pressed(event: Event, action: str) -> bool:
    return isinstance(event, Press) and event.action == action


def _commanded(event: Event, name: str) -> bool:
    return isinstance(event, Command) and event.name == name


def _is_shared_contact(event: Event) -> bool:
    return isinstance(event, Unsupported) and event.kind == "contact"


def _answered(flow: Flow, before: Screen, question_id: str | None, draft: Draft, lang: str) -> Screen:
    """The question message once answered: its text plus the answer, without buttons."""
    question = flow.question(question_id or "")
    if question is None or not question.asks or question.id not in draft.answers:
        return Screen(before.text)
    answer = format_answer(flow, question, draft.answers[question.id], lang)
    return Screen(f"{before.text}\n\n→ {answer}")


def _described(flow: Flow, question_id: str | None, lang: str) -> str:
    """Where text typed on a screen of buttons went, so the reporter is not left wondering."""
    _ = gettext_for(lang)
    question = flow.question(question_id or "")
    title = question_title(flow, question, lang) if question else ""
    return _("I have added your text to “{question}”; you can change it before sending. Now the question:").format(
        question=title
    )


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
