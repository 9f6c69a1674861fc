"""Every mode of the conversation and the ways between them, driven in process through `Conversation.handle`.

No Telegram here: each test sends events as the Telegram handlers would and checks the `Reply` a reporter
would see, and the mode stored for the chat. The end-to-end tests check the same paths over HTTP.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from bot import callbacks, follow_up
from bot.conversation import BEGIN, Command, Conversation, Reply, Upload
from bot.flows import engine
from bot.flows.engine import Press, Text, Unsupported, actions
from bot.flows.model import QuestionType
from bot.flows.regions import REGIONS
from bot.i18n import gettext_for
from bot.render import ERASE
from bot.runtime import Runtime
from bot.screens import CLEARED, KEEP_IDENTIFIER, RECEIPT_DONE, REMOVE_IDENTIFIER
from bot.session import Mode, Session

from .harness import photo_with_gps

_ = gettext_for("en")
REACH = 424242
CODE = re.compile(r"\d{4} \d{4} \d{4} \d{4}")


@pytest.fixture
async def runtime(make_settings, tmp_path):
    opened = await Runtime.open(make_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'tipbot.db'}"))
    yield opened
    await opened.close()


class Chat:
    """One reporter's chat: numbered updates and messages, as Telegram would deliver them."""

    def __init__(self, runtime: Runtime, key: str = "chat-key-1"):
        self.runtime = runtime
        self.key = key
        self.update = 0

    async def send(self, event, preferred: str | None = "en", pressed: int | None = None) -> Reply:
        """Presses carry no message of the reporter's (`pressed` is the bot's message pressed); everything else
        is message 1000 + its update number."""
        self.update += 1
        message_id = None if isinstance(event, Press) else 1000 + self.update
        return await self.runtime.conversation.handle(
            self.key, event, self.update, message_id=message_id, preferred=preferred, reach=REACH, pressed_id=pressed
        )

    async def again(self, event, pressed: int | None = None) -> Reply:
        """The last update delivered once more, as after a crash."""
        self.update -= 1
        return await self.send(event, pressed=pressed)

    async def session(self) -> Session | None:
        stored = await self.runtime.repository.load_draft(self.key)
        return Session.from_json(stored, self.key) if stored else None

    async def mode(self) -> Mode | None:
        session = await self.session()
        return session.mode if session else None

    async def welcome(self, lang: str = "en") -> Reply:
        await self.send(Command("start"))
        return await self.send(Press(callbacks.language(lang)))

    async def answer_current(self, story: str = "Teachers were sent to the cotton fields.") -> Reply:
        """Answer whatever is asked the way a hurried reporter would."""
        session = await self.session()
        assert session is not None and session.draft is not None
        flow = self.runtime.flows.get(session.draft.flow_id, session.draft.flow_version)
        step = engine.view(flow, session.draft)
        assert isinstance(step, engine.Ask), step
        question = step.question
        kind = question.type
        if kind in (QuestionType.TEXT,):
            return await self.send(Text(story))
        if kind is QuestionType.NUMBER:
            return await self.send(Text("12"))
        if kind is QuestionType.DATE:
            return await self.send(Text("today"))
        if kind is QuestionType.YESNO:
            return await self.send(Press(actions.option(question.id, "no")))
        if kind is QuestionType.CHOICE:
            return await self.send(Press(actions.option(question.id, question.options[0].id)))
        if kind is QuestionType.MULTI:
            await self.send(Press(actions.option(question.id, question.options[0].id)))
            return await self.send(Press(actions.nav(question.id, "done")))
        if kind is QuestionType.REGION:
            country = question.countries[0]
            await self.send(Press(actions.country(question.id, country)))
            region = next(iter(REGIONS[country].regions))
            return await self.send(Press(actions.region(question.id, region)))
        if kind is QuestionType.ATTACHMENTS:
            return await self.send(Press(actions.nav(question.id, "skip" if step.can_skip else "done")))
        return await self.send(Press(actions.nav(question.id, "next")))

    async def reach_review(self, story: str = "Teachers were sent to the cotton fields.") -> Reply:
        reply = await self.send(Press(BEGIN))
        for _step in range(40):
            if await self.mode() is not Mode.QUESTIONNAIRE:
                return reply
            session = await self.session()
            if session.draft.screen == engine.REVIEW:
                return reply
            reply = await self.answer_current(story)
        raise AssertionError("the questionnaire did not reach the review")

    async def send_report(self) -> str:
        await self.reach_review()
        reply = await self.send(Press(actions.CONFIRM))
        assert reply.submitted
        return CODE.search(reply.messages[0].text).group(0)


def texts(reply: Reply) -> str:
    return "\n".join(screen.text for screen in reply.messages)


def actions_of(reply: Reply) -> list[str]:
    return [button.action for screen in reply.messages for row in screen.buttons for button in row]


# ---- LANGUAGE ----------------------------------------------------------------------------------------------


async def test_a_new_chat_is_asked_for_its_language_whatever_it_sends(runtime):
    chat = Chat(runtime)
    for event in (Text("hello"), Press(BEGIN), Unsupported("sticker")):
        reply = await chat.send(event, preferred="kk")
        assert gettext_for("kk")("Choose your language") in texts(reply)
        assert callbacks.language("kk") in actions_of(reply)
    assert await chat.mode() is Mode.LANGUAGE  # only the messages to delete later are kept


async def test_choosing_a_language_shows_the_safety_notice_with_the_start_buttons(runtime):
    chat = Chat(runtime)
    reply = await chat.welcome("uz")
    assert reply.edit is not None and "O‘zbekcha" in reply.edit.text
    assert BEGIN in actions_of(reply) and follow_up.CHECK in actions_of(reply)
    assert await chat.mode() is Mode.WELCOME
    stale = await chat.send(Press(callbacks.language("xx")))
    assert stale.toast and await chat.mode() is Mode.WELCOME


# ---- WELCOME -----------------------------------------------------------------------------------------------


async def test_welcome_answers_stray_buttons_with_the_start_screen_and_begins_on_start(runtime):
    chat = Chat(runtime)
    await chat.welcome()
    stray = await chat.send(Press(actions.option("what", "quota")))
    assert _("Press the button to begin a new report.") in texts(stray)
    begun = await chat.send(Press(BEGIN))
    assert begun.messages and await chat.mode() is Mode.QUESTIONNAIRE
    assert ERASE in actions_of(begun)


# ---- QUESTIONNAIRE -----------------------------------------------------------------------------------------


async def test_questionnaire_takes_answers_and_explains_stale_buttons(runtime):
    chat = Chat(runtime)
    await chat.welcome()
    await chat.send(Press(BEGIN))
    stale = await chat.send(Press(actions.option("no_such_question", "x")))
    assert stale.toast == _("That button belongs to an earlier question.")
    again = await chat.send(Press(BEGIN))  # "Start a report" on an old message carries on where it was
    assert again.messages and await chat.mode() is Mode.QUESTIONNAIRE


async def test_cancel_and_erase_end_the_conversation_and_delete_every_message(runtime):
    for ending in (Command("cancel"), Press(ERASE), Command("forget")):
        chat = Chat(runtime, key=f"chat-{ending}")
        await chat.welcome()
        await chat.send(Press(BEGIN))
        reply = await chat.send(ending)
        assert texts(reply) == _(CLEARED)  # discreet mode: the one neutral line
        typed = [] if isinstance(ending, Press) else [1000 + chat.update]
        assert reply.delete == [1001, *typed]  # /start and the ending command (presses have no message)
        assert await chat.session() is None


async def test_a_language_button_mid_questionnaire_switches_language_and_repeats_the_question(runtime):
    chat = Chat(runtime)
    await chat.welcome()
    first = await chat.send(Press(BEGIN))
    switched = await chat.send(Press(callbacks.language("ru")))
    assert switched.edit is not None and "Русский" in switched.edit.text
    labels = [button.label for row in switched.messages[0].buttons for button in row]
    assert gettext_for("ru")("🧹 Erase and leave") in labels
    assert switched.messages[0].text != first.messages[0].text  # the same question, now in Russian
    assert await chat.mode() is Mode.QUESTIONNAIRE


async def test_a_delivered_twice_update_is_applied_once(runtime):
    chat = Chat(runtime)
    await chat.welcome()
    chat.update -= 1  # Telegram delivers the language press again after a restart
    assert await chat.send(Press(callbacks.language("en"))) == Reply()


async def test_a_step_stored_but_never_shown_before_a_crash_is_shown_when_delivered_again(runtime):
    """Message ids of a private chat count up for both sides: the bot's answer is newer than what it answers."""
    chat = Chat(runtime)
    conversation = runtime.conversation
    story = Text("Teachers of school 5 were sent to the cotton fields for a month.")
    await chat.welcome()
    await chat.send(Press(BEGIN))
    region = await chat.send(story)  # message 1004, stored; the bot stops before sending the region question
    assert await chat.again(story) == Reply(messages=region.messages[-1:])
    await conversation.remember(chat.key, [1010])  # this time it was shown, as message 1010
    assert await chat.again(story) == Reply()

    await chat.send(Press(actions.country("region", "UZ")), pressed=1010)  # 1010 now lists the regions
    choice = Press(actions.region("region", "UZ-AN"))
    review = await chat.send(choice, pressed=1010)  # stored; the bot stops before editing 1010 and sending more
    assert review.messages and review.edit is not None
    assert await chat.again(choice, pressed=1010) == Reply(edit=review.messages[-1])  # 1010 becomes the review

    pressed_again = await chat.send(choice, pressed=1010)  # or the reporter presses the old button once more
    assert pressed_again.toast == _("That button belongs to an earlier question.")
    assert pressed_again.edit == review.messages[-1]
    await conversation.remember(chat.key, [1020])  # the review was shown as message 1020
    assert await chat.again(choice, pressed=1010) == Reply()
    on_old_message = await chat.send(choice, pressed=1010)
    assert on_old_message.toast and on_old_message.edit is None  # the review is below it: nothing to bring up
    assert (await chat.session()).draft.screen == engine.REVIEW


# ---- IDENTIFIER --------------------------------------------------------------------------------------------


async def test_an_identifier_in_an_answer_is_asked_about_before_the_review(runtime):
    chat = Chat(runtime)
    await chat.welcome()
    reply = await chat.reach_review(story="Call the brigadier at +998 90 123 45 67, he took our passports.")
    assert await chat.mode() is Mode.IDENTIFIER
    assert "+998 90 123 45 67" in texts(reply)
    typed = await chat.send(Text("what?"))
    assert _("Please answer with one of the buttons.") in texts(typed) and await chat.mode() is Mode.IDENTIFIER
    pressed = await chat.send(Press(actions.CONFIRM))
    assert pressed.toast and await chat.mode() is Mode.IDENTIFIER
    removed = await chat.send(Press(REMOVE_IDENTIFIER))
    assert removed.edit is not None and _("Removed from the report.") in removed.edit.text
    assert "+998" not in texts(removed) and await chat.mode() is Mode.QUESTIONNAIRE
    assert actions.CONFIRM in actions_of(removed)


async def test_a_kept_identifier_is_not_asked_about_again(runtime):
    chat = Chat(runtime)
    await chat.welcome()
    await chat.reach_review(story="The order came from +998 71 234 56 78, the district office line.")
    kept = await chat.send(Press(KEEP_IDENTIFIER))
    assert "+998 71 234 56 78" in texts(kept) and actions.CONFIRM in actions_of(kept)
    assert await chat.mode() is Mode.QUESTIONNAIRE


async def test_an_admins_preview_is_answered_like_a_report_and_stores_nothing(runtime):
    chat = Chat(runtime, key="admin")
    flow = runtime.flows.active
    first = await runtime.conversation.start_preview(chat.key, flow, "kk")
    assert first.messages[0].text.startswith(flow.text(flow.question("description").text, "kk"))
    assert await chat.mode() is Mode.QUESTIONNAIRE and (await chat.session()).preview
    session = await chat.session()
    while session.draft.screen != engine.REVIEW:
        await chat.answer_current()
        session = await chat.session()
    done = await chat.send(Press(actions.CONFIRM))
    assert texts(done) == gettext_for("kk")("Preview finished: nothing was stored.") and not done.submitted
    assert await runtime.repository.count_tips() == 0
    assert await chat.mode() is Mode.WELCOME and not (await chat.session()).preview


# ---- RECEIPT -----------------------------------------------------------------------------------------------


async def test_the_receipt_says_what_the_code_is_for_and_stays_until_written_down(runtime):
    chat = Chat(runtime)
    await chat.welcome()
    await chat.reach_review()
    reply = await chat.send(Press(actions.CONFIRM))
    assert reply.submitted and reply.clearing
    receipt = reply.messages[0]
    code = CODE.search(receipt.text).group(0)
    assert "may write to you with questions or an answer" in receipt.text
    assert "any other Telegram account" in receipt.text and "2–3 days" in receipt.text
    assert receipt.buttons[0][0].action == f"{RECEIPT_DONE}:{reply.clearing}"
    session = await chat.session()  # stored with the tip: a crash right now loses neither
    assert session.mode is Mode.RECEIPT
    assert session.receipt == {"code": code.replace(" ", ""), "clearing": reply.clearing}
    assert session.draft is None and session.reach is None and session.trace == []  # all moved to the clearing

    await runtime.conversation.remember(chat.key, [2000], reply.clearing)
    written = await chat.send(Press(f"{RECEIPT_DONE}:{reply.clearing}"))
    assert texts(written) == _(CLEARED) and 2000 in written.delete and 1001 in written.delete
    assert await chat.session() is None  # nothing of the chat is left once the code is written down
    assert await chat.send(Press(f"{RECEIPT_DONE}:{reply.clearing}")) == Reply()  # a second tap: nothing


async def test_until_written_down_every_event_shows_the_same_receipt(runtime):
    chat = Chat(runtime)
    await chat.welcome()
    await chat.reach_review()
    first = await chat.send(Press(actions.CONFIRM))
    code = CODE.search(first.messages[0].text).group(0)
    again = await chat.send(Press(actions.CONFIRM))  # a second tap before the receipt reached the phone
    assert not again.submitted and CODE.search(again.messages[0].text).group(0) == code
    assert again.clearing == first.clearing  # its message is deleted with the rest
    await runtime.conversation.remember(chat.key, [2000], first.clearing)
    tapped = await chat.send(Press(actions.CONFIRM))  # once it is on screen, a tap only points at it
    assert tapped.messages == [] and "Write down the receipt code above" in tapped.toast
    typed = await chat.send(Text("did it work?"))
    assert CODE.search(texts(typed)).group(0) == code and await chat.mode() is Mode.RECEIPT
    assert await runtime.repository.count_tips() == 1
    clearing = await runtime.conversation.services.clearings.get(first.clearing)
    assert 1000 + chat.update in clearing["message_ids"]  # the reporter's message goes with the receipt


async def test_a_receipt_survives_a_restart_and_a_redelivered_send(runtime):
    chat = Chat(runtime)
    await chat.welcome()
    await chat.reach_review()
    sent = await chat.send(Press(actions.CONFIRM))
    code = CODE.search(sent.messages[0].text).group(0)
    restarted = Conversation(runtime.conversation.services)  # the bot was killed before the reply went out
    chat.runtime = type("Restarted", (), {"conversation": restarted, "repository": runtime.repository})()
    chat.update -= 1  # Telegram delivers the same press again
    redelivered = await chat.send(Press(actions.CONFIRM))
    assert CODE.search(redelivered.messages[0].text).group(0) == code and not redelivered.submitted
    assert await runtime.repository.count_tips() == 1


async def test_the_receipt_timer_waits_until_the_receipt_was_shown(runtime):
    chat = Chat(runtime)
    await chat.welcome()
    await chat.reach_review()
    sent = await chat.send(Press(actions.CONFIRM))
    conversation = runtime.conversation
    now = conversation.services.now()
    object.__setattr__(conversation.services, "now", lambda: now + timedelta(minutes=11))
    assert await conversation.due_clearings() == []  # never reached the phone: kept for the reporter's return
    object.__setattr__(conversation.services, "now", lambda: now)
    await conversation.remember(chat.key, [2000], sent.clearing)
    object.__setattr__(conversation.services, "now", lambda: now + timedelta(minutes=11))
    due = await conversation.due_clearings()
    assert [clearing for clearing, _c in due] == [sent.clearing] and due[0][1].reach == REACH
    await conversation.finish_clearing(sent.clearing)
    assert await chat.session() is None
    reply = await chat.send(Command("help"))
    assert reply.delete == [] and "/start" in texts(reply)


async def test_forget_after_sending_says_the_report_is_kept(runtime):
    chat = Chat(runtime)
    await chat.welcome()
    await chat.send_report()
    reply = await chat.send(Command("forget"))
    assert texts(reply) == _("Chat cleared. What you already sent is kept.")
    assert 1001 in reply.delete and await chat.session() is None
    object.__setattr__(runtime.conversation.services, "discreet", False)
    other = Chat(runtime, key="chat-2")
    await other.welcome()
    await other.send_report()
    plain = await other.send(Press(ERASE))
    assert "The report you sent is kept" in texts(plain)
    nothing = await other.send(Command("forget"))
    assert texts(nothing) == _("Forgotten: this conversation has been deleted.")


# ---- CODE_CHECK, FOLLOW_UP, ANSWERING ----------------------------------------------------------------------


async def test_checking_a_code_reading_and_answering_staff(runtime):
    reporter = Chat(runtime, key="sender")
    await reporter.welcome()
    code = await reporter.send_report()
    tip_id = (await runtime.repository.list_tips(None))[0].id
    await runtime.records.add_exchange(tip_id, "staff", "Which school was it?", runtime.today())

    chat = Chat(runtime, key="checker")
    await chat.welcome()
    asked = await chat.send(Command("status"))
    assert _("Send the 16-digit receipt code of your report (spaces are fine).") in texts(asked)
    assert "any other Telegram account" in texts(asked)
    assert await chat.mode() is Mode.CODE_CHECK
    sticker = await chat.send(Unsupported("sticker"))
    assert _("Send the 16-digit receipt code of your report (spaces are fine).") in texts(sticker)
    wrong = await chat.send(Text("hello"))
    assert _("That is not a receipt code: it has 16 digits, like 1234 5678 9012 3456.") in texts(wrong)
    assert await chat.mode() is Mode.CODE_CHECK

    report = await chat.send(Text(code))
    assert "Which school was it?" in texts(report) and await chat.mode() is Mode.FOLLOW_UP
    assert (await chat.session()).follow_up["tip"] == tip_id  # stored, so any instance can continue it
    assert "check again in 2–3 days with the same code" in texts(report)
    assert follow_up.ANSWER in actions_of(report)
    prompt = await chat.send(Press(follow_up.ANSWER))
    assert await chat.mode() is Mode.ANSWERING and follow_up.DONE in actions_of(prompt)
    answered = await chat.send(Text("School 12 in Andijan district"))
    assert answered.notify_staff and _("Sent to staff.") in texts(answered)
    exchanges = await runtime.records.exchanges(tip_id)
    assert [exchange.text for exchange in exchanges][-1] == "School 12 in Andijan district"
    blank = await chat.send(Text("   "))
    assert not blank.notify_staff and await chat.mode() is Mode.ANSWERING

    done = await chat.send(Press(follow_up.DONE))
    assert texts(done) == _(CLEARED) and await chat.session() is None


async def test_a_receipt_code_pasted_on_the_start_screen_is_checked(runtime):
    reporter = Chat(runtime, key="sender")
    await reporter.welcome()
    code = await reporter.send_report()
    chat = Chat(runtime, key="returning")
    await chat.welcome()
    report = await chat.send(Text(code.replace(" ", "")))
    assert _("Staff have not written to you yet.") in texts(report) and await chat.mode() is Mode.FOLLOW_UP


async def test_a_button_of_the_questionnaire_ends_a_code_check(runtime):
    chat = Chat(runtime)
    await chat.welcome()
    await chat.send(Command("status"))
    reply = await chat.send(Press(BEGIN))
    assert await chat.mode() is Mode.QUESTIONNAIRE and reply.messages


async def test_a_follow_up_left_too_long_asks_for_the_code_again(runtime):
    too_long = _("This has taken too long; please check your report again with the code.")
    chat = Chat(runtime)
    await chat.welcome()
    reply = await chat.send(Press(follow_up.ANSWER))  # an old "Answer" button, no report open
    assert too_long in texts(reply)
    assert follow_up.CHECK in actions_of(reply) and await chat.mode() is Mode.WELCOME

    reporter = Chat(runtime, key="sender")
    await reporter.welcome()
    code = await reporter.send_report()
    await chat.send(Text(code))
    await chat.send(Press(follow_up.ANSWER))
    services = runtime.conversation.services
    opened = services.now()
    object.__setattr__(services, "now", lambda: opened + follow_up.LIFETIME - timedelta(seconds=1))
    assert _("Sent to staff.") in texts(await chat.send(Text("Still there?")))
    object.__setattr__(services, "now", lambda: opened + follow_up.LIFETIME + timedelta(seconds=1))
    late = await chat.send(Text("And now?"))
    assert too_long in texts(late) and not late.notify_staff
    session = await chat.session()
    assert session.mode is Mode.WELCOME and session.follow_up is None and late.ended  # scrubbed with its tip id


async def test_a_follow_up_holds_its_tip_only_while_open(runtime):
    reporter = Chat(runtime, key="sender")
    await reporter.welcome()
    code = await reporter.send_report()
    chat = Chat(runtime, key="checker")
    await chat.welcome()
    await chat.send(Press(BEGIN))  # a report in progress: the session row stays after the follow-up
    for leaving in (Command("help"), Command("status"), Press(follow_up.DONE)):
        await chat.send(Command("status"))
        await chat.send(Text(code))
        assert (await chat.session()).follow_up is not None
        reply = await chat.send(leaving)
        session = await chat.session()
        assert session.follow_up is None and session.draft is not None and reply.ended, leaving

    await chat.send(Command("status"))
    await chat.send(Text(code))  # the fourth of five tries an hour
    assert (await chat.session()).follow_up is not None
    conversation = runtime.conversation
    later = conversation.services.now() + follow_up.LIFETIME
    object.__setattr__(conversation.services, "now", lambda: later)
    assert await conversation.end_idle(timedelta(hours=1)) == 0  # not idle yet, but the follow-up is over
    session = await chat.session()
    assert session.follow_up is None and session.mode is Mode.FOLLOW_UP and session.draft is not None
    answer = await chat.send(Press(follow_up.ANSWER))
    assert _("This has taken too long; please check your report again with the code.") in texts(answer)


async def test_a_check_with_a_report_in_progress_returns_to_it(runtime):
    chat = Chat(runtime)
    await chat.welcome()
    await chat.send(Press(BEGIN))
    await chat.send(Command("status"))
    done = await chat.send(Press(follow_up.DONE))
    assert texts(done) == _(CLEARED) and done.delete == [1001, 1004]  # /start and /status
    session = await chat.session()
    assert session.mode is Mode.QUESTIONNAIRE and session.draft is not None and session.trace == []


# ---- in every mode -----------------------------------------------------------------------------------------


async def test_help_and_privacy_answer_in_every_mode_and_leave_checks(runtime):
    chat = Chat(runtime)
    await chat.welcome()
    await chat.send(Command("status"))
    helped = await chat.send(Command("help"))
    assert "/start" in texts(helped) and await chat.mode() is Mode.WELCOME
    await chat.send(Press(BEGIN))
    private = await chat.send(Command("privacy"))
    assert _("Before you start:") in texts(private) and await chat.mode() is Mode.QUESTIONNAIRE


async def test_a_shared_contact_is_deleted_and_the_question_repeated_in_any_mode(runtime):
    chat = Chat(runtime)
    await chat.welcome()
    await chat.send(Press(BEGIN))
    reply = await chat.send(Unsupported("contact"))
    contact = 1000 + chat.update
    assert contact in reply.delete and len(reply.messages) == 2
    assert contact not in (await chat.session()).trace


async def test_a_story_or_a_file_sent_on_the_start_screen_begins_a_quick_report_with_it(runtime):
    chat = Chat(runtime)
    await chat.welcome()
    greeting = await chat.send(Text("hello"))
    assert _("Press the button to begin a new report.") in texts(greeting) and await chat.mode() is Mode.WELCOME
    story = await chat.send(Text("They sent all the teachers of school 5 to pick cotton."))
    assert "“Description”" in texts(story)
    session = await chat.session()
    assert session.draft.answers["description"] == "They sent all the teachers of school 5 to pick cotton."
    assert session.draft.current == "region"

    other = Chat(runtime, key="photographer")
    await other.welcome()

    async def photo() -> bytes:
        return photo_with_gps()

    reply = await other.send(Upload(None, photo))
    assert "Files received: 1. They will be sent with your report." in texts(reply)
    draft = (await other.session()).draft
    assert draft.current == "description" and len(draft.answers["evidence"]) == 1


async def test_an_album_is_acknowledged_once_with_its_count(runtime):
    chat = Chat(runtime)
    await chat.welcome()
    await chat.send(Press(BEGIN))

    async def photo() -> bytes:
        return photo_with_gps()

    first = await chat.send(Upload(None, photo, album="a1"))
    assert "Files received: 1." in texts(first)
    await runtime.conversation.remember(chat.key, [3000])
    second = await chat.send(Upload(None, photo, album="a1"))
    third = await chat.send(Upload(None, photo, album="a1"))
    assert second.messages == [] and third.messages == []
    assert third.rewrite is not None and third.rewrite[0] == 3000
    assert "Files received: 3." in third.rewrite[1].text
    alone = await chat.send(Upload(None, photo))
    assert "Files received: 4." in texts(alone) and alone.rewrite is None


async def test_a_conversation_left_idle_is_handed_to_a_clearing_and_its_draft_kept(runtime):
    chat = Chat(runtime)
    await chat.welcome()
    await chat.send(Press(BEGIN))
    await chat.send(Command("status"))
    conversation = runtime.conversation
    later = conversation.services.now() + timedelta(minutes=31)
    object.__setattr__(conversation.services, "now", lambda: later)
    assert await conversation.end_idle(timedelta(minutes=30)) == 1
    session = await chat.session()
    assert session.mode is Mode.QUESTIONNAIRE and session.draft is not None
    assert session.reach is None and session.trace == []
    ((_id, clearing),) = await conversation.due_clearings()
    assert clearing.reach == REACH and 1001 in clearing.message_ids


async def test_sessions_stored_before_modes_keep_their_meaning(runtime):
    chat = Chat(runtime)
    await chat.welcome()
    stored = await runtime.repository.load_draft(chat.key)
    del stored["mode"]
    await runtime.repository.save_draft(chat.key, stored | {"checking": True}, runtime.now())
    assert await chat.mode() is Mode.CODE_CHECK
    reply = await chat.send(Text("1234"))
    assert _("That is not a receipt code: it has 16 digits, like 1234 5678 9012 3456.") in texts(reply)


async def test_after_a_failed_step_the_apology_is_in_the_chosen_language_with_the_screen_again(runtime):
    chat = Chat(runtime)
    await chat.welcome("kk")
    await chat.send(Press(BEGIN))
    await chat.answer_current()  # the description
    conversation = runtime.conversation
    reply = await conversation.recover(chat.key, preferred="en")  # the phone says English; the reporter chose kk
    apology, screen = reply.messages
    assert apology.text == gettext_for("kk")(
        "Sorry, that did not work. What you answered before is kept; here is where you were:"
    )
    assert actions.country("region", "UZ") in [button.action for row in screen.buttons for button in row]
    assert (await chat.session()).draft.answers["description"]  # nothing answered was lost

    await chat.answer_current()  # the region: the review
    sent = await chat.send(Press(actions.CONFIRM))
    again = await conversation.recover(chat.key, preferred="en")
    assert again.clearing == sent.clearing  # its messages are cleared with the receipt
    assert CODE.search(again.messages[1].text).group(0) == CODE.search(sent.messages[0].text).group(0)

    stranger = await conversation.recover("never-seen", preferred="uz")
    assert gettext_for("uz")("Choose your language") in stranger.messages[1].text
