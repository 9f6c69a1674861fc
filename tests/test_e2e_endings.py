"""A seized phone shows nothing, however the conversation ended: sent (button, timer, timer after a restart),
/cancel, "Delete the report", /forget, the one-tap "Erase and leave", abandoned past the idle time (with a
restart in between) and a follow-up check left half-way. Every message of the conversation is deleted
through the Bot API and one neutral line stays. In discreet mode (the default) nothing a phone shows before
or after a conversation says what the bot is for."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest
from telegram import Bot

from bot import conversation
from bot.flows.engine import actions
from bot.follow_up import ANSWER, CHECK
from bot.i18n import LANGUAGES, gettext_for
from bot.render import ERASE
from bot.runtime import Runtime
from bot.screens import CLEARED, DISCREET_COMMANDS, RECEIPT_DONE, help_screen
from bot.telegram import reporter as reporter_handlers
from bot.telegram.profile import publish_profile

from .fakebotapi import FakeBotAPI, FakeUser
from .harness import Reporter, asks, bot_settings, eventually, handled_so_far, photo_with_gps, running_bot
from .test_e2e_reporter import answer_first_part, complete_tip, describe_and_place, open_questionnaire

PURPOSE_WORDS = {
    "en": ("report", "labour", "forced", "child"),
    "ru": ("сообщени", "труд", "принуд", "детск"),
    "uz": ("xabar", "mehnat", "majbur", "bola"),
    "kk": ("хабар", "еңбек", "мәжбүр", "бала"),
    "tk": ("habar", "zähmet", "mejbur", "çaga"),
    "uz_Cyrl": ("хабар", "меҳнат", "мажбур", "бола"),
}
"""Words that would tell someone looking at the phone what the bot is for."""


@pytest.fixture
def fast_clearing(monkeypatch):
    """The clearing job looks every 0.2 s instead of every 20 s, and receipts wait 1 s instead of 10 minutes."""
    monkeypatch.setattr(reporter_handlers, "CLEARING_INTERVAL", timedelta(seconds=0.2))
    monkeypatch.setattr(conversation, "RECEIPT_LIFETIME", timedelta(seconds=1))


def visible(reporter: Reporter) -> list[str | None]:
    return [message.get("text") for message in reporter.api.remaining_messages(reporter.chat)]


def cleared_line(lang: str) -> str:
    return gettext_for(lang)(CLEARED)


async def conversation_is_gone(reporter: Reporter, lang: str) -> None:
    """Only the neutral line is left, and everything else went through deleteMessage(s)."""
    line = cleared_line(lang)
    await reporter.api.wait_until(lambda: visible(reporter) == [line], message=lambda: str(visible(reporter)))
    deleted = [m for m in reporter.messages() if m.deleted]
    assert deleted, "the bot's messages were deleted"
    assert reporter.api.calls_to("deleteMessages") or reporter.api.calls_to("deleteMessage")


def travel(runtime: Runtime, ahead: timedelta) -> None:
    """Move the bot's clock forward (the conversation reads time only through its services)."""
    services = runtime.conversation.services
    runtime.conversation.services = dataclasses.replace(services, now=lambda: services.now() + ahead)


async def test_sent_and_written_down(api, make_settings):
    reporter = Reporter(api, FakeUser(id=7500001, first_name="Malika", language_code="uz"))
    async with running_bot(bot_settings(make_settings, api)):
        await open_questionnaire(reporter, "uz")
        await complete_tip(reporter, "uz", photo_with_gps())
        await reporter.press_and_wait(RECEIPT_DONE, lambda m: m.text == cleared_line("uz"))
        await conversation_is_gone(reporter, "uz")


async def test_sent_and_never_acknowledged_is_cleared_by_the_timer(api, make_settings, fast_clearing):
    reporter = Reporter(api, FakeUser(id=7500002, first_name="Nodira", language_code="ru"))
    async with running_bot(bot_settings(make_settings, api)) as runtime:
        await open_questionnaire(reporter, "ru")
        await complete_tip(reporter, "ru", photo_with_gps())
        await conversation_is_gone(reporter, "ru")

        async def forgotten() -> bool:
            return await runtime.conversation.services.clearings.all() == []

        await eventually(forgotten)  # how to reach the chat is forgotten once it is cleared


async def test_a_receipt_left_by_a_restart_is_still_cleared(api, make_settings, fast_clearing):
    settings = bot_settings(make_settings, api)
    reporter = Reporter(api, FakeUser(id=7500003, first_name="Aibek", language_code="kk"))
    async with running_bot(settings):
        await open_questionnaire(reporter, "kk")
        await complete_tip(reporter, "kk", photo_with_gps())
    assert len(visible(reporter)) > 5, "the bot stopped before the receipt's time was up"
    async with running_bot(settings):
        await conversation_is_gone(reporter, "kk")


async def test_pressing_the_button_before_the_timer_leaves_one_line_only(api, make_settings, fast_clearing):
    reporter = Reporter(api, FakeUser(id=7500004, first_name="Quick", language_code="en"))
    async with running_bot(bot_settings(make_settings, api)):
        await open_questionnaire(reporter, "en")
        await complete_tip(reporter, "en", photo_with_gps())
        await reporter.press_and_wait(RECEIPT_DONE, lambda m: m.text == "Chat cleared.")
        sent_before = len(reporter.messages())
        await asyncio.sleep(1.5)  # the timer's time passes and it finds nothing left to do
        assert visible(reporter) == ["Chat cleared."] and len(reporter.messages()) == sent_before


@pytest.mark.parametrize(("command", "lang", "user_id"), [("/cancel", "ru", 7500005), ("/forget", "uz", 7500007)])
async def test_cancel_and_forget_clear_the_chat(api, make_settings, command, lang, user_id):
    reporter = Reporter(api, FakeUser(id=user_id, first_name="Shirin", language_code=lang))
    async with running_bot(bot_settings(make_settings, api)) as runtime:
        await open_questionnaire(reporter, lang)
        await answer_first_part(reporter)
        await reporter.say(command, lambda m: m.text == cleared_line(lang))
        await conversation_is_gone(reporter, lang)
        assert await runtime.repository.load_draft(runtime.keys.chat_key(reporter.chat)) is None


async def test_delete_the_report_on_the_review_clears_the_chat(api, make_settings):
    reporter = Reporter(api, FakeUser(id=7500006, first_name="Gulnara", language_code="kk"))
    async with running_bot(bot_settings(make_settings, api)) as runtime:
        await open_questionnaire(reporter, "kk")
        await answer_until_review(reporter)
        await reporter.press_and_wait(actions.CANCEL, lambda m: m.text == cleared_line("kk"))
        await conversation_is_gone(reporter, "kk")
        assert await runtime.repository.pending_tips() == []


async def test_erase_and_leave_is_on_every_screen_and_clears_everything_at_once(api, make_settings):
    reporter = Reporter(api, FakeUser(id=7500008, first_name="Dilshod", language_code="en"))
    async with running_bot(bot_settings(make_settings, api)) as runtime:
        await open_questionnaire(reporter, "en")
        review = await answer_until_review(reporter)
        assert ERASE in str(review.reply_markup)
        await reporter.press(actions.EDIT)
        edit_menu, _button = reporter.holder(actions.REVIEW)
        assert ERASE in str(edit_menu.reply_markup)
        await reporter.press(actions.edit("people"))
        question, _button = reporter.holder(actions.nav("people", "skip"))
        assert "🧹 Erase and leave" in question.button_texts()
        await reporter.press_and_wait(ERASE, lambda m: m.text == "Chat cleared.")
        await conversation_is_gone(reporter, "en")
        assert await runtime.repository.load_draft(runtime.keys.chat_key(reporter.chat)) is None
        assert await runtime.repository.pending_tips() == []


async def test_an_abandoned_conversation_is_cleared_after_the_idle_time_even_across_a_restart(
    api, make_settings, fast_clearing
):
    settings = bot_settings(make_settings, api)
    reporter = Reporter(api, FakeUser(id=7500009, first_name="Zarina", language_code="ru"))
    async with running_bot(settings):
        await open_questionnaire(reporter, "ru")
        await answer_first_part(reporter)
        await asyncio.sleep(0.5)
        assert len(visible(reporter)) > 5, "not cleared before the idle time"
    async with running_bot(settings) as runtime:
        travel(runtime, timedelta(minutes=settings.clear_idle_minutes, seconds=1))
        await conversation_is_gone(reporter, "ru")
        stored = await runtime.repository.load_draft(runtime.keys.chat_key(reporter.chat))
        assert stored["draft"] is not None, "the unfinished report is kept, so it can still be sent"
        assert stored.get("reach") is None and stored["trace"] == [], "how to reach the chat is gone"
        await reporter.say("/start", lambda m: "lang:" in str(m.reply_markup))
        assert gettext_for("ru")("Your unfinished report is kept.") in reporter.messages()[-1].text


async def test_a_follow_up_check_left_half_way_is_cleared(api, make_settings, fast_clearing):
    reporter = Reporter(api, FakeUser(id=7500010, first_name="Laziz", language_code="en"))
    other_phone = Reporter(api, FakeUser(id=7500011, first_name="Other", language_code="en"))
    async with running_bot(bot_settings(make_settings, api)) as runtime:
        await open_questionnaire(reporter, "en")
        code = await complete_tip(reporter, "en", photo_with_gps())
        api.send_command(other_phone.user, "/start")
        await other_phone.wait(lambda m: bool(m.buttons()))
        await other_phone.press_and_wait("lang:en", lambda m: CHECK in str(m.reply_markup))
        await other_phone.press_and_wait(CHECK, lambda m: "16-digit" in (m.text or ""))
        await other_phone.say(code, lambda m: ANSWER in str(m.reply_markup))
        await other_phone.press_and_wait(ANSWER, lambda m: "Done" in str(m.reply_markup))
        travel(runtime, timedelta(minutes=runtime.settings.clear_idle_minutes, seconds=1))
        await conversation_is_gone(other_phone, "en")


async def test_without_discreet_mode_the_last_line_may_speak_plainly(api, make_settings):
    reporter = Reporter(api, FakeUser(id=7500012, first_name="Open", language_code="en"))
    forgotten = "Forgotten: your unfinished report and this conversation have been deleted."
    async with running_bot(bot_settings(make_settings, api, discreet=False)):
        await open_questionnaire(reporter, "en")
        await reporter.say("/forget", lambda m: m.text == forgotten)
        assert visible(reporter) == [forgotten]


async def test_what_a_phone_shows_outside_the_questionnaire_is_neutral(api, make_settings):
    async with Bot(FakeBotAPI.token, base_url=api.base_url) as bot:
        await publish_profile(bot, discreet=True)
    menus = {call.params.get("language_code"): call.params["commands"] for call in api.calls_to("setMyCommands")}
    assert set(menus) == {None, "ru", "uz", "kk", "en", "tk"}
    assert [c["command"] for c in menus["kk"]] == [name for name, _text in DISCREET_COMMANDS]
    assert menus[None] == menus["ru"]
    published = [
        *(c["description"] for menu in menus.values() for c in menu),
        *(call.params["description"] for call in api.calls_to("setMyDescription")),
        *(call.params["short_description"] for call in api.calls_to("setMyShortDescription")),
    ]
    assert len(api.calls_to("setMyDescription")) == len(api.calls_to("setMyShortDescription")) == 6
    for lang in LANGUAGES:
        shown = [*published, help_screen(lang, discreet=True).text, cleared_line(lang)]
        for text in shown:
            for word in (*PURPOSE_WORDS[lang], *PURPOSE_WORDS["en"]):
                assert word not in text.lower(), (lang, word, text)

    stranger = FakeUser(id=7500013, first_name="Stranger", language_code="ru")
    group = -1009876543210
    async with running_bot(bot_settings(make_settings, api)):
        api.send_group_text(group, stranger, "/tips")
        await handled_so_far(api, stranger, {"id": group, "type": "supergroup"})
        assert api.sent_to(group) == []  # a group that is not a staff chat hears nothing at all


async def test_with_discreet_mode_off_the_profile_says_what_the_bot_is_for(api):
    async with Bot(FakeBotAPI.token, base_url=api.base_url) as bot:
        await publish_profile(bot, discreet=False)
    calls = api.calls_to("setMyShortDescription")
    short = {call.params.get("language_code"): call.params["short_description"] for call in calls}
    assert short["en"] == "Anonymous reports about forced and child labour."
    assert short["uz"] == gettext_for("uz")("Anonymous reports about forced and child labour.")


async def answer_until_review(reporter: Reporter):
    """The shortest way through the default flow to its review screen."""
    await answer_first_part(reporter)
    await reporter.say("15.09.2026", lambda m: asks(m, "people"))
    await reporter.say("40", lambda m: asks(m, "children"))
    await reporter.press_and_wait(actions.option("children", "no"), lambda m: asks(m, "ordered_by"))
    await reporter.press_and_wait(actions.option("ordered_by", "hokimiyat"), lambda m: asks(m, "description"))
    await describe_and_place(reporter, "Teachers were sent to the fields.")
    await reporter.press_and_wait(actions.nav("evidence", "done"), lambda m: asks(m, "danger_now"))
    return await reporter.press_and_wait(
        actions.option("danger_now", "no"), lambda m: actions.CONFIRM in str(m.reply_markup)
    )
