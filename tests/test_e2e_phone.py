"""Nothing left on the reporter's phone: the conversation is deleted after sending and on /forget,
and a shared contact or location is deleted at once."""

from __future__ import annotations

import asyncio

from bot.conversation import RECEIPT_DONE
from bot.i18n import gettext_for
from bot.telegram import reporter as reporter_handlers

from .fakebotapi import FakeUser
from .harness import RECEIPT, Reporter, bot_settings, photo_with_gps, running_bot
from .test_e2e_reporter import answer_first_part, complete_tip, open_questionnaire


def visible_texts(reporter: Reporter) -> list[str | None]:
    return [message.get("text") for message in reporter.api.remaining_messages(reporter.chat)]


async def test_forget_deletes_the_draft_and_every_message(api, make_settings):
    settings = bot_settings(make_settings, api)
    reporter = Reporter(api, FakeUser(id=7400001, first_name="Malika", language_code="uz"))
    async with running_bot(settings) as runtime:
        await open_questionnaire(reporter, "uz")
        await answer_first_part(reporter)
        forgotten = gettext_for("uz")("Forgotten: your unfinished report and this conversation have been deleted.")
        await reporter.say("/forget", lambda m: m.text == forgotten)
        assert visible_texts(reporter) == [forgotten]
        assert api.calls_to("deleteMessages"), "deleted in batches"
        assert await runtime.repository.load_draft(runtime.keys.chat_key(reporter.chat)) is None


async def test_shared_contact_is_deleted_and_explained(api, make_settings):
    settings = bot_settings(make_settings, api)
    reporter = Reporter(api, FakeUser(id=7400002, first_name="Yerlan", language_code="kk"))
    async with running_bot(settings) as runtime:
        await open_questionnaire(reporter, "kk")
        after = api.mark(reporter.chat)
        contact = api.send_contact(reporter.user, "+77011234567")
        await reporter.question("what", after)
        _ = gettext_for("kk")
        assert reporter.messages()[after].text == _(
            "For your safety I have deleted the contact or location you sent: it could show who you are. "
            "Please describe the place in words instead."
        )
        contact_id = contact["message"]["message_id"]
        assert contact_id not in [m["message_id"] for m in api.remaining_messages(reporter.chat)]
        stored = await runtime.repository.load_draft(runtime.keys.chat_key(reporter.chat))
        assert contact_id not in stored["trace"] and "77011234567" not in str(stored)


async def test_receipt_is_cleared_by_itself_if_the_button_is_never_pressed(api, make_settings, monkeypatch):
    from datetime import timedelta

    monkeypatch.setattr(reporter_handlers, "RECEIPT_LIFETIME", timedelta(seconds=0.5))
    settings = bot_settings(make_settings, api)
    reporter = Reporter(api, FakeUser(id=7400003, first_name="Nodira", language_code="ru"))
    async with running_bot(settings):
        await open_questionnaire(reporter, "ru")
        await complete_tip(reporter, "ru", photo_with_gps())
        cleared = gettext_for("ru")("Chat cleared.")
        await api.wait_until(lambda: visible_texts(reporter) == [cleared])


async def test_pressing_the_button_before_the_timer_leaves_one_line_only(api, make_settings, monkeypatch):
    from datetime import timedelta

    monkeypatch.setattr(reporter_handlers, "RECEIPT_LIFETIME", timedelta(seconds=0.5))
    settings = bot_settings(make_settings, api)
    reporter = Reporter(api, FakeUser(id=7400007, first_name="Quick", language_code="en"))
    async with running_bot(settings):
        await open_questionnaire(reporter, "en")
        await complete_tip(reporter, "en", photo_with_gps())
        await reporter.press_and_wait(RECEIPT_DONE, lambda m: m.text == "Chat cleared.")
        await asyncio.sleep(1.0)  # the timer fires and finds nothing to do
        assert visible_texts(reporter) == ["Chat cleared."]


async def test_a_receipt_left_by_a_restart_is_cleared_with_the_next_message(api, make_settings, monkeypatch):
    from datetime import timedelta

    monkeypatch.setattr(reporter_handlers, "RECEIPT_LIFETIME", timedelta(hours=1))
    settings = bot_settings(make_settings, api)
    reporter = Reporter(api, FakeUser(id=7400004, first_name="Aibek", language_code="en"))
    async with running_bot(settings):
        await open_questionnaire(reporter, "en")
        await complete_tip(reporter, "en", photo_with_gps())
        assert any(RECEIPT.search(text or "") for text in visible_texts(reporter))
    async with running_bot(settings):  # the in-memory timer died with the old process
        await reporter.say("/start", lambda m: bool(m.buttons()))
        texts = visible_texts(reporter)
        assert not any(RECEIPT.search(text or "") for text in texts)
        assert texts[0] == "/start" and len(texts) == 2  # the new /start and the language question


async def test_forget_after_cancel_still_clears_the_cancelled_conversation(api, make_settings):
    settings = bot_settings(make_settings, api)
    reporter = Reporter(api, FakeUser(id=7400006, first_name="Shirin", language_code="ru"))
    async with running_bot(settings):
        await open_questionnaire(reporter, "ru")
        await answer_first_part(reporter)
        await reporter.say("/cancel", lambda m: "/start" in (m.text or ""))
        forgotten = gettext_for("ru")("Forgotten: your unfinished report and this conversation have been deleted.")
        await reporter.say("/forget", lambda m: m.text == forgotten)
        assert visible_texts(reporter) == [forgotten]
